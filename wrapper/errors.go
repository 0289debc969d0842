package wrapper

import (
	"errors"
	"fmt"
)

// ExitCoder is implemented by errors that decide tf's exit code. Any package
// (credguard, recovery) can return one from a hook without importing wrapper.
type ExitCoder interface {
	ExitCode() int
}

// exitError gives an error an exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// withExitCode attaches code to err unless err already carries one.
func withExitCode(err error, code int) error {
	var ec ExitCoder
	if err == nil || errors.As(err, &ec) {
		return err
	}
	return &exitError{code: code, err: err}
}

// ExecError: the terraform binary could not be started.
type ExecError struct {
	Path string
	Err  error
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("cannot start %s: %v", e.Path, e.Err)
}
func (e *ExecError) Unwrap() error { return e.Err }

// ExitCode is ExitNotExecutable.
func (e *ExecError) ExitCode() int { return ExitNotExecutable }

// exitCodeOf is the one place that maps an error to tf's exit code:
// an ExitCoder decides; anything else is 1.
func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}
