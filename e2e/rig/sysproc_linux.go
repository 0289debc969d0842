package rig

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

var errProcessDone = os.ErrProcessDone

// childSysProcAttr puts a rig child in its own process group and has the
// kernel kill it if the test binary dies first, so nothing is left running.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the child's whole process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return errProcessDone
	}
	return err
}
