//go:build unix

package recovery

import "syscall"

// ownProcessGroup starts a side call in a new process group, outside the
// terminal's foreground group: a Ctrl-C typed during recovery reaches tf,
// which finishes the step, and not the side call.
func ownProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
