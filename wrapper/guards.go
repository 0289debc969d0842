package wrapper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/recovery"
	"github.com/tfguard/tf/tfout"
)

// ProductHooks are the hooks that make tf more than a passthrough: the
// credential guard before and during a guarded command, recovery after it,
// an unfinished recovery finished before anything else runs, and the
// `tf guard check|login|recover` commands.
func ProductHooks() Hooks {
	g := &guards{}
	return Hooks{Startup: g, Guard: g, Commands: guardProductCommands()}
}

// guards holds what lives across one guarded run: the background refresher,
// the lock watch and, when opted in, the GitHub OIDC credentials endpoint.
type guards struct {
	stopRefresher func()
	oidc          oidcEndpoint
	watch         *recovery.Watch
	stdin         *stdinWatch // how long terraform waits at prompts
	stop          stopState   // stop in time (stopintime.go)
	owner         *recovery.OwnerWriter
}

// Startup deals with a recovery that an earlier tf could not complete for
// this directory's state, before anything else runs. Without a journal it
// is one stat. A command that could write state or take the lock (a
// guarded one) finishes the recovery first and is refused while it stays
// pending, so nobody forks the state; every refusal prints how to go on,
// including `tf guard recover --abandon`. Any other command, and the manual
// steps tf itself prints (state push, force-unlock), only gets a one-line
// explanation and runs: they must stay usable while a person repairs.
func (g *guards) Startup(ctx context.Context, inv *Invocation) (int, bool) {
	if inv.Config.Recovery && inv.Command.Guarded {
		// errored.tfstate is the working directory's: a recovery of another
		// data directory that has not secured it yet comes first.
		if _, refused := recovery.SecureShared(ctx, recoveryRun(inv, nil)); refused {
			return ExitRecoveryIncomplete, true
		}
	}
	if !inv.Config.Recovery || !recovery.Pending(inv.WorkDir, inv.Env) {
		return 0, false
	}
	cmd := strings.Join(inv.Command.Words, " ")
	if !inv.Command.Guarded || cmd == "state push" || cmd == "force-unlock" {
		fmt.Fprintf(inv.Stderr, "tf: an interrupted recovery is pending in %s; a guarded command (plan, apply, ...) or `tf guard recover` finishes it, `tf guard recover --abandon` gives up on it\n",
			recovery.RecoveryRoot(inv.WorkDir, inv.Env))
		return 0, false
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// In a GitHub OIDC job the endpoint may be the only credential there
	// is: it is up before the resume, and the command reuses it (a failed
	// start is said here, once; Before then refuses the command).
	if err := g.oidc.start(ctx, inv); err != nil {
		fmt.Fprintf(inv.Stderr, "tf: %v; the pending recovery is tried with the job's own credentials\n", err)
	}
	run := recoveryRun(inv, nil)
	// Expired credentials are renewed as after a failed run: refreshed, or
	// at a terminal (never in CI) logged in again the configured way.
	run.Renew = renewCredentials(inv)
	out := recovery.Resume(ctx, run)
	if out.Kind == recovery.NeedsPerson {
		// Pending: refused until the condition printed changes. Closed:
		// refused this once, so the report is read; the next command runs.
		g.oidc.close()
		return ExitRecoveryIncomplete, true
	}
	return 0, false
}

// Abort stops what Before started, when After will not run.
func (g *guards) Abort() {
	if g.stopRefresher != nil {
		g.stopRefresher()
		g.stopRefresher = nil
	}
	g.watch.Stop()
	if g.stdin != nil {
		g.stdin.Stop()
	}
	g.oidc.close()
}

// Before runs the credential guard: it refuses a run its credentials
// cannot finish (or renews them first) and keeps SSO tokens fresh while
// terraform runs. Last, it starts the lock watch (recovery's evidence).
func (g *guards) Before(ctx context.Context, inv *Invocation) (err error) {
	defer func() {
		if err != nil {
			g.Abort() // refused: After will not run
			annotateRefusal(inv, err)
		}
	}()
	g.stop.started = time.Now()
	// The OIDC endpoint comes first, whatever the preflight setting: the
	// preflight then judges the environment terraform will really get.
	said := g.oidc.tried // Startup tried it (and printed a failure)
	if err := g.oidc.start(ctx, inv); err != nil {
		if said {
			return withExitCode(errors.New("terraform does not run: it would not get the GitHub OIDC role credentials github_oidc_role sets up (the endpoint's failure is above); rerun once the job can get them, or unset github_oidc_role"), ExitPreflight)
		}
		return err
	}
	if inv.Config.Preflight {
		if err := g.preflight(ctx, inv); err != nil {
			return err
		}
	}
	if inv.Config.Recovery {
		// Whether terraform takes the lock is read from the arguments it
		// runs with: TF_CLI_ARGS and TF_CLI_ARGS_<command> may say -lock=false.
		args := terraformArgs(inv)
		g.watch = recovery.StartWatch(inv.WorkDir, inv.Env, args, nil)
		g.owner = recovery.StartOwner(inv.WorkDir, inv.Env, args, g.watch, inv.Config.OwnerRecord != OwnerRecordLocal)
		inv.owner = g.owner
	}
	inv.stop = g.stop.watch(inv)
	return nil
}

// After stops the refresher and the watch, records how long a successful
// run took (the next preflight requires that much), and runs recovery when
// the run failed. terraform's exit code wins unless a person must act.
// ctx ends at a signal: recovery then stops between steps.
func (g *guards) After(ctx context.Context, inv *Invocation, res *Result) (code int) {
	defer func() { code = g.stop.after(inv, res, code) }()
	if g.stopRefresher != nil {
		g.stopRefresher()
	}
	keepOwner := true // the owner record stays while the run's lock may (recovery/owner.go)
	defer func() { g.owner.End(keepOwner, res.ExitCode) }()
	observed := g.watch.Stop()
	defer g.oidc.close()
	o := credOptions(inv)
	var waited time.Duration
	watched := false
	if g.stdin != nil {
		waited, watched = g.stdin.Stop()
	}
	if res.ExitCode == 0 || (res.ExitCode == 2 && inv.Command.Words[0] == "plan") { // guarded commands always have Words
		// Learn only from the time terraform worked: time blocked at a
		// prompt is left out; where that cannot be seen, a run that may
		// have waited for its approval is not learnt from.
		if worked := res.End.Sub(res.Start) - waited; watched || !mayAskApproval(inv) {
			if err := credguard.RecordDuration(o, strings.Join(inv.Command.Words, " "), worked); err != nil {
				fmt.Fprintf(inv.Stderr, "tf: warning: could not record this run's duration: %v\n", err)
			}
		}
		// taint, untaint, state rm/mv and import exit 0 when only the lock
		// release failed: the stale lock is recovered as after a failure.
		if !inv.Config.Recovery || res.Signal != nil || !tfout.ReleaseFailedIn(res.StderrTail) {
			keepOwner = false
			return res.ExitCode
		}
	}
	if !inv.Config.Recovery || res.Signal != nil {
		return res.ExitCode
	}
	run := recoveryRun(inv, res)
	run.Observed = observed
	run.Renew = renewCredentials(inv)
	out := recovery.Recover(ctx, run)
	keepOwner = out.Kind == recovery.NeedsPerson // a lock may be left for a person
	if out.Kind == recovery.NeedsPerson {
		return ExitRecoveryIncomplete
	}
	return res.ExitCode
}

// guardProductCommands are `tf guard check`, `login` and `recover`.
func guardProductCommands() []*cli.Command {
	return []*cli.Command{guardCheckCommand(), guardLoginCommand(), guardRecoverCommand()}
}
