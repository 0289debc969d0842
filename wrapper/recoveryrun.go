package wrapper

// Recovery as the wrapper runs it: the Run it is given, how it renews
// credentials, and its progress line at a terminal.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"golang.org/x/term"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/recovery"
)

// renewCredentials is how recovery renews the run's credentials, after a
// failed run and when a pending recovery is resumed: credguard's Renew with
// the run's login rules (the configured login mode; a login only for a
// person at a terminal, never in CI). tf ignores signals while it finishes
// its work, but a login waiting for a person stops at Ctrl-C or SIGTERM.
func renewCredentials(inv *Invocation) func(ctx context.Context, env []string) ([]string, error) {
	o := credOptions(inv)
	return func(ctx context.Context, env []string) ([]string, error) {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		ro := o
		ro.Env = env
		return env, credguard.Renew(ctx, ro)
	}
}

// recoveryRun describes the finished run to recovery; res is nil when
// there is no run (a journal resumed on start, `tf guard recover`).
func recoveryRun(inv *Invocation, res *Result) recovery.Run {
	r := recovery.Run{
		Dir:         inv.WorkDir,
		Terraform:   inv.Terraform.Path,
		Flavor:      inv.Terraform.Flavor,
		Env:         inv.Env,
		Args:        inv.Args,
		Interactive: inv.Interactive,
		CI:          inv.CI,
		ReportPath:  inv.Config.ReportFile,
		Out:         inv.Stderr,
		In:          os.Stdin,
	}
	r.OnStep, r.Out = recoveryProgress(inv)
	if res != nil {
		r.ExitCode = res.ExitCode
		r.Stderr = res.StderrTail
		r.Stdout = res.Stdout
		r.Started, r.Ended = res.Start, res.End
	}
	return r
}

// recoveryStepWords says what a recovery step does, for the progress line.
func recoveryStepWords(step string) string {
	switch step {
	case recovery.StepSecure:
		return "securing errored.tfstate"
	case recovery.StepCredentials:
		return "renewing and checking the credentials"
	case recovery.StepProve:
		return "proving which lock is this run's"
	case recovery.StepPush:
		return "putting the state back"
	case recovery.StepVerify:
		return "verifying the backend's state"
	case recovery.StepUnlock:
		return "releasing this run's lock"
	}
	return "cleaning up"
}

// recoveryProgress shows each recovery step: at a terminal one updating
// line (cleared before recovery writes anything else, and not drawn while
// the credentials step may ask a person to log in), elsewhere one plain line
// per step.
func recoveryProgress(inv *Invocation) (func(string), io.Writer) {
	if inv.Stderr == nil {
		return nil, inv.Stderr
	}
	live := !inv.CI && isTerminal(inv.Stderr)
	p := newProgress(inv.Stderr, live, nil)
	steps := recovery.StepNames()
	onStep := func(step string) {
		n := slices.Index(steps, step) + 1
		msg := fmt.Sprintf("recovery %d/%d: %s", n, len(steps), recoveryStepWords(step))
		if live && step == recovery.StepCredentials {
			p.Done("") // a login may talk to the person now
			return
		}
		p.Step(msg)
	}
	return onStep, clearingWriter{p: p, w: inv.Stderr}
}

// clearingWriter clears the live progress line before anything else is
// written to the same terminal.
type clearingWriter struct {
	p *progress
	w io.Writer
}

func (c clearingWriter) Write(b []byte) (int, error) {
	c.p.Done("")
	return c.w.Write(b)
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(fdOf(f)))
}
