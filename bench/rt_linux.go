package main

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// schedOther is SCHED_OTHER, the normal policy (x/sys/unix names only
// SCHED_FIFO, SCHED_RR and the flags).
const schedOther = 0

// realtime gives this thread, and so every process it starts from now on,
// the SCHED_FIFO policy (on=true) or the normal one back (on=false), so
// that other work on a shared machine delays the timed processes less. It
// needs root or CAP_SYS_NICE. The caller's goroutine stays on its thread.
func realtime(on bool) error {
	runtime.LockOSThread()
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: schedOther}
	if on {
		attr.Policy, attr.Priority = unix.SCHED_FIFO, 10
	}
	return unix.SchedSetAttr(0, &attr, 0)
}
