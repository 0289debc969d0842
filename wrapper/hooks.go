package wrapper

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tfguard/tf/recovery"
)

// Invocation is one run of terraform through tf, as the hooks see it.
type Invocation struct {
	Args      []string  // terraform's arguments, verbatim (without argv[0])
	Command   Command   // subcommand words, -chdir, guarded or not
	Cwd       string    // tf's working directory
	WorkDir   string    // terraform's working directory (Cwd with -chdir applied)
	Terraform Terraform // the binary, how it was found, its flavor
	Env       []string  // terraform's environment: the user's, plus TFGUARD_CHAIN
	// Interactive: a person is at a terminal (stdin is a terminal and not CI).
	Interactive bool
	CI          bool   // config ci, or auto: CI or GITHUB_ACTIONS set in the environment
	Config      Config // tf's merged configuration
	// Stderr is the user's real stderr, for the hooks' own messages.
	Stderr io.Writer
	// stop, when a guard sets it, interrupts terraform once before its
	// credentials end (stopintime.go).
	stop *stopInTime
	// owner, when set, is the run's owner record (recovery/owner.go).
	owner *recovery.OwnerWriter
}

// Result is how terraform's run ended.
type Result struct {
	ExitCode   int       // terraform's exit code; 128+n when signal n killed it
	Signal     os.Signal // the signal that killed terraform, nil if it exited
	Start, End time.Time
	StderrTail []byte // the last DefaultTailSize bytes terraform wrote to stderr
	// Stdout: the lines of an apply's or destroy's stdout that recovery
	// reads its progress from (tfout.KeepProgressLine); nil when tf did
	// not read stdout or kept more than DefaultKeptSize.
	Stdout []byte
}

// Starter runs for every command, guarded or not, before terraform starts.
// Without anything pending it must be cheap (a stat, no network); with a
// pending recovery it may finish it. stop true ends tf with exit.
type Starter interface {
	Startup(ctx context.Context, inv *Invocation) (exit int, stop bool)
}

// Guard runs around guarded commands only. Before returning an error stops
// the run before terraform starts (exit code: the error's ExitCode(), else
// ExitPreflight). After returns tf's exit code; it must return
// res.ExitCode unless it has its own documented reason (terraform's code
// wins), and runs with tf still catching SIGINT/SIGTERM/SIGHUP/SIGQUIT:
// such a signal cancels After's ctx instead of killing tf.
type Guard interface {
	Before(ctx context.Context, inv *Invocation) error
	After(ctx context.Context, inv *Invocation, res *Result) int
}

// Aborter is implemented by a Guard that holds something between Before
// and After (a credentials endpoint with files of its own, background
// watchers): Abort releases it when After will not run (a signal during
// Before, terraform could not be started).
type Aborter interface {
	Abort()
}

// Hooks are where the credential guard and recovery plug into the wrapper
// (ProductHooks); a passthrough tf runs with the zero value: no-ops.
type Hooks struct {
	Startup Starter
	Guard   Guard
	// Commands are extra `tf guard` subcommands (check, login, recover ...),
	// appended after the built-in ones. Their Action can reach the loaded
	// configuration and terraform through SessionFrom(c).
	Commands []*cli.Command
}

type noStartup struct{}

func (noStartup) Startup(context.Context, *Invocation) (int, bool) { return 0, false }

type noGuard struct{}

func (noGuard) Before(context.Context, *Invocation) error { return nil }
func (noGuard) After(_ context.Context, _ *Invocation, res *Result) int {
	return res.ExitCode
}

func (h Hooks) withDefaults() Hooks {
	if h.Startup == nil {
		h.Startup = noStartup{}
	}
	if h.Guard == nil {
		h.Guard = noGuard{}
	}
	return h
}

// abort releases what the guard holds when After will not run.
func abort(h Hooks) {
	if a, ok := h.Guard.(Aborter); ok {
		a.Abort()
	}
}
