//go:build !linux

package rig

import (
	"os"
	"os/exec"
	"syscall"
)

var errProcessDone = os.ErrProcessDone

func childSysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
