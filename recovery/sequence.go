package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// retry conditions: what must change before a later tf can go on.
type retryOn string

const (
	retryNone        retryOn = ""
	retryCredentials retryOn = "credentials"
	retryHolder      retryOn = "lock-holder"
	retryBackend     retryOn = "backend"
	retryInterrupted retryOn = "interrupted"
	retryConfig      retryOn = "configuration"
	retryDisk        retryOn = "disk"
)

// stepStop carries why a step stopped: retryable (retry says on what) or
// final (the journal is closed, every backup kept).
type stepStop struct {
	step   string
	err    error
	retry  retryOn
	final  bool
	holder *tfout.LockInfo
	diff   *StateDiff
	// noState: the run's state exists nowhere; its changes must be
	// reconciled by hand before the lock goes.
	noState bool
}

// pass is the working memory of one pass over the steps.
type pass struct {
	r      Run
	j      *journal
	env    []string
	remote *StateSummary
	// seen is what the last read of the lock records found (nil: none yet).
	seen *Locks
	// superseded: the journal says the push was verified, and the
	// backend holds another state now (someone wrote after tf).
	superseded string
}

func newPass(r Run, j *journal) *pass {
	return &pass{r: r, j: j, env: sideCallEnv(r.Env, j.Backend)}
}

// sideCallEnv is the run's environment pointed at the journal's data
// directory and workspace, whatever the directory selects now.
func sideCallEnv(env []string, b Backend) []string {
	out := append([]string(nil), env...)
	if b.DataDir != "" {
		out = append(out, "TF_DATA_DIR="+b.DataDir)
	}
	if b.Workspace != "" {
		out = append(out, "TF_WORKSPACE="+b.Workspace)
	}
	return out
}

// sequence runs every step not yet done. Each step re-checks the world, so
// running it again after a kill converges. Order: secure, credentials,
// prove, push, verify, unlock, close: the fence goes last.
func (s *pass) sequence(ctx context.Context) Outcome {
	if s.j.Errored != nil {
		// A resumed journal keeps only the summary: the content compared
		// by push and verify is read again from tf's own backup.
		raw, err := readBackup(s.j)
		if err == nil {
			var sum StateSummary
			if sum, err = parseState(raw); err == nil && sum.SHA256 != s.j.Errored.SHA256 {
				err = fmt.Errorf("its digest is %s, the journal says %s", sum.SHA256, s.j.Errored.SHA256)
			}
			if err == nil {
				s.j.setErrored(&sum)
			}
		}
		if err != nil {
			return s.stop(&stepStop{step: StepSecure, final: true, err: fmt.Errorf("tf's backup of errored.tfstate in %s cannot be used (%v); nothing more is done", s.j.dir(), err)})
		}
	}
	for _, step := range stepTable() {

		if !step.redo && s.j.done(step.name) {
			continue
		}
		if ctx.Err() != nil {
			return s.stop(&stepStop{step: step.name, retry: retryInterrupted, err: errors.New("interrupted: tf finished the step it was in and stopped before this one")})
		}
		if err := s.j.record(step.name, "begun", "", s.r.Now()); err != nil {
			return s.stop(&stepStop{step: step.name, retry: retryDisk, err: err})
		}
		if s.r.OnStep != nil {
			s.r.OnStep(step.name)
		}
		testHookAt(s.r.Env, step.name)
		// A step that has begun is finished: an interrupt (ctx) is looked at
		// between steps. Only a login waiting for a person stops at once.
		sctx := context.WithoutCancel(ctx)
		if step.name == StepCredentials {
			sctx = ctx
		}
		note, st := step.run(s, sctx)
		if st != nil {
			return s.stop(st)
		}
		if err := s.j.record(step.name, "done", note, s.r.Now()); err != nil {
			return s.stop(&stepStop{step: step.name, retry: retryDisk, err: err})
		}
		if step.name == StepSecure {
			clearUnsecured(s.r.Dir, s.j)
		}
	}
	if err := s.j.finish(Recovered); err != nil {
		return s.stop(&stepStop{step: StepClose, retry: retryDisk, err: err})
	}
	prune(filepath.Dir(s.j.dir()), s.r.Now())
	o := s.outcome(Recovered)
	switch {
	case s.j.Errored != nil && !s.runHeldLock():
		o.Summary = "recovered: the state terraform could not save is in the backend (verified)"
	case s.j.Errored != nil:
		o.Summary = "recovered: the state terraform could not save is in the backend (verified) and this run's lock is released"
	default:
		o.Summary = "recovered: terraform had saved the state; this run's stale lock is released"
	}
	if s.j.Errored == nil && s.j.LockID == "" {
		o.Summary = "nothing left to repair: no state to put back and no lock of this run's"
	}
	if s.superseded != "" {
		o.Summary = "recovered: the state terraform could not save reached the backend (verified) and this run's lock is released; someone wrote the state since"
		if !s.runHeldLock() {
			o.Summary = "recovered: the state terraform could not save reached the backend (verified); someone wrote the state since"
		}
	}
	o.Next = nextSteps(s.facts(nil, nil))
	return reported(s.r, o)
}

// stop ends the sequence. A retryable stop keeps the journal pending; a
// final one closes it. Either way the report says what tf saw, where the
// state is kept and what to run.
func (s *pass) stop(st *stepStop) Outcome {
	j := s.j
	_ = j.record(st.step, "stopped", st.err.Error(), s.r.Now())
	final := st.final || st.retry == retryNone
	released, kept := "", ""
	if final && j.Evidence == EvidenceTaken && j.LockID != "" {
		// The lock tf took for its own push: nobody else would release it.
		id := j.LockID
		if note, us := s.unlock(context.WithoutCancel(context.Background())); us == nil {
			released = "tf released the lock it had taken for its push (" + id + ")"
			if !strings.HasPrefix(note, "released") {
				released = "the lock tf had taken for its push (" + id + ") is not on the state any more"
			}
			j.clearLock()
		} else {
			kept = id
			st.err = fmt.Errorf("%w; tf could not release the lock it had taken for its push (%s): %v", st.err, id, us.err)
		}
	}
	if final {
		_ = j.finish(NeedsPerson)
		clearUnsecured(s.r.Dir, j)
	}
	o := s.outcome(NeedsPerson)
	if released != "" {
		o.Did = append(o.Did, released)
	}
	o.Pending = !st.final && st.retry != retryNone
	if o.Pending {
		o.RetryOn = string(st.retry)
	}
	o.Summary = fmt.Sprintf("recovery stopped at %q: %v", st.step, st.err)
	o.Error = st.err.Error()
	o.Holder = st.holder
	o.Diff = st.diff
	o.Saved = s.savedAt()
	o.Next = nextSteps(s.facts(st, o.Saved))
	if kept != "" {
		o.Next = append(o.Next, takenLockSteps(s.r.Flavor, kept)...)
	}
	return reported(s.r, o)
}

// savedAt lists where the state terraform could not save is: the working
// directory's errored.tfstate and tf's backup, whichever exist.
func (s *pass) savedAt() []string {
	var out []string
	if s.j.Errored == nil {
		p := filepath.Join(s.r.Dir, erroredFile)
		if _, err := os.Stat(p); err == nil && !s.j.done(StepSecure) {
			if seen := s.j.ErroredSeen; seen == nil || func() bool { m := markFile(p); return m != nil && m.SHA256 == seen.SHA256 }() {
				out = append(out, p)
			}
		}
		return out
	}
	for _, p := range []string{filepath.Join(s.r.Dir, erroredFile), filepath.Join(s.j.dir(), backupName)} {
		if st := stampFile(p); st != nil && st.SHA256 == s.j.Errored.SHA256 {
			out = append(out, p)
		}
	}
	return out
}

func (s *pass) outcome(k Kind) Outcome {
	b := s.j.Backend
	o := Outcome{Kind: k, Class: s.j.Class, Backend: &b, RecoveryDir: s.j.dir(), LockID: s.j.LockID, Evidence: s.j.Evidence,
		Errored: s.j.Errored, Remote: s.remote, Steps: s.j.Steps, Advice: adviceFor(s.j.Class, s.r.Flavor, s.r.Env, s.j.Backend), Made: s.j.Made, Progress: s.j.Progress,
		failedArgs: s.j.Args, superseded: s.superseded}
	if s.j.Pushed != nil {
		o.Dropped = s.j.Dropped
	}
	for _, st := range s.j.Steps {
		if st.Status == "done" && st.Note != "" {
			o.Did = append(o.Did, st.Note)
		}
	}
	return o
}

// runHeldLock says whether the failed run took the state lock: the backend
// has locking and the run did not turn it off (-lock=false).
func (s *pass) runHeldLock() bool {
	j := s.j
	if len(j.Backend.LockModes()) == 0 || !tfargs.Parse(j.ranWith()).TakesLock() {
		return false
	}
	return j.Observed == nil || j.Observed.TakesLock
}
