//go:build windows

package recovery

import "syscall"

// ownProcessGroup starts a side call in a new process group, so that a
// console Ctrl-C reaches tf and not the side call.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
