package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// Recover is called after a guarded command exited non-zero. It decides
// whether the run died of expired credentials and, if so, repairs the
// workspace where it can prove that is safe, and otherwise secures the
// state and stops. ctx ending (Ctrl-C) stops it between steps, never in the
// middle of a side call.
//
// It reads top to bottom: triage (what failed); a recovery already pending
// here goes first; open this run's journal; then either secure and stop
// (a cause tf cannot cure), stop (no state of the run's to secure), or run
// the steps, retried briefly when the backend did not answer.
func Recover(ctx context.Context, r Run) Outcome {
	r.setDefaults()
	c := tfout.Classify(r.Stderr)
	if r.Flavor == "" {
		r.Flavor = c.Tool
	}
	root := RecoveryRoot(r.Dir, r.Env)
	errPath := filepath.Join(r.Dir, erroredFile)
	fresh := freshErrored(errPath, r.Started, r.Observed)
	switch t := triage(c, fresh); t {
	case triageNotOurs, triageNothingToSecure:
		return Outcome{Kind: NotCredentials, Class: c, Summary: t.summary()}
	case triageLogin:
		// No failed save, no failed release: terraform failed at the
		// backend before it changed anything (an SSO session that ended
		// before the plan started). Nothing to recover; logging in is the
		// fix. No report: there is no recovery to speak of.
		o := Outcome{Kind: Intact, Class: c, Summary: loginSummary(c, r.Flavor)}
		o.Next = loginSteps(renewHint(r.Env, Backend{}))
		return sayOnly(r, o)
	}
	lk, err := lockRoot(ctx, root, r.Out)
	if err != nil {
		return noRecord(r, c, err, fresh, errPath)
	}
	defer lk.unlock()
	if Pending(r.Dir, r.Env) {
		// A recovery is already pending here: of this state (only the
		// manual steps, state push and force-unlock, run meanwhile, and one
		// of them failed too), or of another state the directory pointed at
		// before. The earlier one comes first; tf keeps one at a time and
		// never overwrites it.
		o := resumeLocked(ctx, r, root)
		if o.Kind == Elsewhere || o.otherDir != "" {
			out := Outcome{Kind: NeedsPerson, Class: c, Summary: "this run could not save its state either, but " + o.Summary +
				"; tf keeps one recovery at a time per data directory and leaves this run's files as terraform left them"}
			if fresh {
				out.Saved = []string{errPath}
			}
			out.Next = otherPendingSteps(o.Next)
			return reported(r, out)
		}
		if o.Pending {
			return o
		}
	}
	b, berr := LoadBackend(r.Dir, r.Env)
	j, err := openRunJournal(r, c, b, root, errPath, fresh)
	if err != nil {
		return noRecord(r, c, err, fresh, errPath)
	}
	st := newPass(r, j)
	switch {
	case !c.Cause.Acts():
		return st.secureAndStop(ctx, fresh)
	case (c.PersistFailed || c.SaveFailed) && !fresh:
		msg := "terraform could not save the state and tf finds no errored.tfstate written by this run " +
			"(terraform says \"Failed to persist state to backend\" even when it cannot write that file): the changes this run made are recorded in no state file tf can find."
		if c.ReleaseFailed {
			msg += " The lock is kept so nobody builds on the old state"
		}
		return st.stop(&stepStop{step: StepSecure, final: true, noState: true, err: errors.New(msg)})
	case berr != nil:
		return st.stop(&stepStop{step: StepSecure, retry: retryConfig, err: fmt.Errorf("the backend configuration cannot be read: %w", berr)})
	}
	o := st.sequence(ctx)
	if c.Cause != tfout.CauseTransient {
		return o
	}
	return retryUnanswered(ctx, r, root, o)
}

// triaged is what failed, as far as recovery is concerned.
type triaged int

const (
	triageRecover         triaged = iota // a failed save or release, or errored.tfstate: recovery's business
	triageNotOurs                        // terraform's save and lock release did not fail
	triageNothingToSecure                // not expired credentials, nothing written, nothing locked
	triageLogin                          // expired credentials before terraform changed anything
)

func (t triaged) summary() string {
	switch t {
	case triageNotOurs:
		return "terraform's save and lock release did not fail; left as terraform left it"
	case triageNothingToSecure:
		return "nothing to secure; left as terraform left it"
	}
	return ""
}

// triage decides from terraform's text (c) and whether this run wrote
// errored.tfstate (fresh) whether recovery has anything to do. A failed
// save with nothing else to go on (no errored.tfstate, no failed release)
// is tf's business only when its cause is one tf acts on: otherwise
// terraform's own error stands, as plain terraform leaves it, and no
// pending recovery blocks the next command.
func triage(c tfout.Classification, fresh bool) triaged {
	wreck := fresh || c.ReleaseFailed || c.PersistFailed || (c.Wreck() && c.Cause.Acts())
	switch {
	case c.Cause == tfout.CauseNone || c.Cause == "":
		return triageNotOurs
	case !wreck && !c.Expired:
		return triageNothingToSecure
	case !wreck:
		return triageLogin
	}
	return triageRecover
}

// openRunJournal creates the journal of a failed run, filled with the
// run's facts, and makes it the pending one. The caller holds root's lock.
func openRunJournal(r Run, c tfout.Classification, b Backend, root, errPath string, fresh bool) (*journal, error) {
	j, err := newJournal(root, r.Dir, r.Now())
	if err != nil {
		return nil, fmt.Errorf("could not create the recovery directory: %w", err)
	}
	j.Tool, j.ExitCode, j.Started, j.Ended, j.Class, j.Backend = r.Flavor, r.ExitCode, r.Started, r.Ended, c, b
	j.VarNames, j.Args = tfargs.Parse(r.Args).VarNames(), tfargs.Redact(r.Args)
	ran := terraformArgs(r)
	if !slices.Equal(ran, r.Args) {
		j.TerraformArgs = tfargs.Redact(ran)
	}
	j.Who, j.Operation, j.Observed = whoAmI(), tfargs.Parse(ran).LockOperation(), r.Observed
	if r.Stdout != nil {
		if p := tfout.ReadProgress(append(append([]byte{}, r.Stdout...), r.Stderr...)); p.PlanSeen || len(p.Done) > 0 || len(p.Cut) > 0 {
			j.Progress = &p
		}
	}
	if fresh {
		j.ErroredSeen = markFile(errPath)
		// Until the copy exists, runs with other data directories must not
		// overwrite the file (best effort: a full disk here is not a stop).
		_ = markUnsecured(r.Dir, j)
	} else {
		note := "terraform wrote no errored.tfstate during this run"
		if _, err := os.Stat(errPath); err == nil {
			note = "the errored.tfstate in the directory is older than this run: not this run's, left alone"
		}
		j.Steps = append(j.Steps, StepRecord{Step: StepSecure, Status: "skipped", At: r.Now().UTC(), Note: note})
	}
	if err := j.open(); err != nil {
		clearUnsecured(r.Dir, j)
		return nil, fmt.Errorf("could not write the recovery journal in %s: %w", root, err)
	}
	return j, nil
}

// secureAndStop handles a cause time or new credentials do not cure
// (access denied, KMS, a missing bucket, clock skew, ...): secure the
// state, keep the lock, say what is wrong. Once it is fixed, the next
// guarded command finishes under the same proof rules.
func (s *pass) secureAndStop(ctx context.Context, fresh bool) Outcome {
	if fresh {
		note, stop := s.secure(ctx)
		if stop != nil {
			return s.stop(stop)
		}
		_ = s.j.record(StepSecure, "done", note, s.r.Now())
		clearUnsecured(s.r.Dir, s.j)
	}
	return s.stop(&stepStop{step: StepCredentials, retry: retryConfig, err: fmt.Errorf("%s could not save the state or release its lock, and it is not something tf can cure by itself: %s",
		s.r.Flavor, adviceFor(s.j.Class, s.r.Flavor, s.r.Env, s.j.Backend).Summary)})
}

// retryUnanswered tries a recovery stopped because the backend did not
// answer again a few times, briefly, in this run; then the journal waits
// for the next command.
func retryUnanswered(ctx context.Context, r Run, root string, o Outcome) Outcome {
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if o.Kind != NeedsPerson || !o.Pending || o.RetryOn != string(retryBackend) || ctx.Err() != nil {
			return o
		}
		fmt.Fprintf(r.Out, "tf: the backend did not answer; trying again in %s\n", wait)
		select {
		case <-ctx.Done():
			return o
		case <-time.After(wait):
		}
		o = resumeLocked(ctx, r, root)
	}
	return o
}

// freshErrored says whether errored.tfstate at path was written during the
// run that started at started: it exists, differs from the one seen before
// the run (if any) and was modified after the start.
func freshErrored(path string, started time.Time, obs *Observation) bool {
	now := stampFile(path)
	if now == nil || started.IsZero() {
		return false
	}
	if obs != nil && obs.Errored != nil && obs.Errored.SHA256 == now.SHA256 && obs.Errored.ModTime.Equal(now.ModTime) {
		return false
	}
	return !now.ModTime.Before(started.Add(-time.Second))
}

// terraformArgs are the arguments terraform ran with: r.Args with
// TF_CLI_ARGS and TF_CLI_ARGS_<command> from the run's environment, as
// terraform merges them (a -lock=false may come from there).
func terraformArgs(r Run) []string {
	return tfargs.WithEnv(func(k string) string { return envlist.Get(r.Env, k) }, r.Args)
}
