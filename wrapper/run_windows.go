//go:build windows

package wrapper

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
)

// execTerraform on Windows cannot replace the process: it runs terraform as
// a child with the same stdio and returns its exit code.
func execTerraform(p Process, inv *Invocation) error {
	res, err := runWindowsChild(p, inv, nil)
	if err != nil {
		return err
	}
	return &exitError{code: res.ExitCode, err: errSilent}
}

var errSilent = errors.New("")

// runGuarded on Windows: the console delivers Ctrl-C to terraform and tf
// alike, so tf ignores it and forwards nothing. Stderr is passed through
// unchanged (no tail is kept: recovery has no text to read on Windows).
func runGuarded(ctx context.Context, p Process, hooks Hooks, inv *Invocation) int {
	if err := hooks.Guard.Before(ctx, inv); err != nil {
		return fail(p.Stderr, withExitCode(err, ExitPreflight))
	}
	res, err := runWindowsChild(p, inv, nil)
	if err != nil {
		abort(hooks)
		return fail(p.Stderr, err)
	}
	return hooks.Guard.After(ctx, inv, res)
}

func runWindowsChild(p Process, inv *Invocation, _ []byte) (*Result, error) {
	signal.Ignore(os.Interrupt)
	defer signal.Reset(os.Interrupt)
	cmd := exec.Command(inv.Terraform.Path, inv.Args...)
	cmd.Env = inv.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	res := &Result{Start: p.now()}
	err := cmd.Run()
	res.End = p.now()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		return nil, &ExecError{Path: inv.Terraform.Path, Err: err}
	}
	return res, nil
}
