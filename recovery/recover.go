package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// Kind is what recovery concluded.
type Kind string

// Outcomes. The wrapper maps them to exit codes: NotCredentials, Intact,
// Recovered, Abandoned and Elsewhere keep terraform's own code; NeedsPerson
// is ExitRecoveryIncomplete.
const (
	// NotCredentials: the run did not die of expired credentials; nothing
	// was touched.
	NotCredentials Kind = "not-credentials"
	// Intact: credentials expired but terraform left no errored.tfstate and
	// no lock of its own; nothing to repair.
	Intact Kind = "intact"
	// Recovered: the state is in the backend (verified) and no lock of
	// this run's is left.
	Recovered Kind = "recovered"
	// NeedsPerson: tf stopped; the state is secured and the report says
	// what it saw and what to run. Outcome.Pending says whether the journal
	// stays open (a later tf retries) or was closed.
	NeedsPerson Kind = "needs-person"
	// Abandoned: a person gave up on a pending recovery (backups kept).
	Abandoned Kind = "abandoned"
	// Elsewhere: a recovery is pending for another state than the one the
	// directory points at now; nothing was done, nothing is blocked.
	Elsewhere Kind = "elsewhere"
)

// Run is one guarded terraform run that exited, as the wrapper saw it.
type Run struct {
	// Dir is terraform's working directory; Terraform the resolved binary
	// (side calls use it); Flavor "terraform" or "tofu" for printed commands
	// ("" = guessed from the output).
	Dir, Terraform, Flavor string
	// Env is the environment terraform ran with (KEY=VALUE).
	Env []string
	// Args are terraform's arguments (without the binary).
	Args     []string
	ExitCode int
	// Stderr is a bounded tail of terraform's stderr.
	Stderr []byte
	// Stdout holds the lines of terraform's stdout that KeepProgressLine
	// accepts (the plan's list, each change's start and end); nil when tf
	// did not read stdout.
	Stdout         []byte
	Started, Ended time.Time
	// Observed is what the Watch saw around the run (nil: nothing).
	Observed *Observation
	// Interactive: a person is at a terminal. CI: running in CI.
	Interactive, CI bool
	// ReportPath, when set, receives the JSON report.
	ReportPath string
	// Out is tf's stderr (people and CI annotations); In is where
	// RecoverCommand reads a person's answers.
	Out io.Writer
	In  io.Reader
	// Renew, when set, renews credentials (credguard) and returns the
	// environment to use from now on. nil: whatever the run's environment
	// gives a new process.
	Renew func(ctx context.Context, env []string) ([]string, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// OnStep, when set, is called as each step begins, after the journal
	// says so (progress for people; tests use it to kill tf at a step).
	OnStep func(step string)

	// side calls and backend reads; nil = the real ones.
	runner  runner
	backend func(ctx context.Context, b Backend, env []string) (backendReader, error)
}

// Outcome is the result, also written as the JSON report.
type Outcome struct {
	Kind    Kind                 `json:"outcome"`
	Summary string               `json:"summary"`
	Class   tfout.Classification `json:"classification"`
	Backend *Backend             `json:"backend,omitempty"`
	// Pending: the journal stays open; the next guarded command or
	// `tf guard recover` continues it (after the condition in Summary).
	Pending bool `json:"pending,omitempty"`
	// RecoveryDir holds journal.json, the errored.tfstate backup and report.
	RecoveryDir string `json:"recovery_dir,omitempty"`
	// LockID is the lock proven to be this run's; Evidence how.
	LockID   string          `json:"lock_id,omitempty"`
	Evidence string          `json:"evidence,omitempty"`
	Holder   *tfout.LockInfo `json:"foreign_lock,omitempty"`
	Errored  *StateSummary   `json:"errored_state,omitempty"`
	Remote   *StateSummary   `json:"remote_state,omitempty"`
	Diff     *StateDiff      `json:"diff,omitempty"`
	// Made: what the failed run had changed before it stopped (instances
	// created, changed, destroyed), now recorded in the backend's state.
	Made *StateDiff `json:"made,omitempty"`
	// Dropped: what a push a person chose removed from the backend's
	// state (instances only the backend recorded).
	Dropped []string `json:"dropped,omitempty"`
	// Progress is what terraform's own output says the run did: the plan,
	// the changes that completed, were cut off, failed or never started.
	Progress *tfout.Progress `json:"progress,omitempty"`
	// Saved lists where the state terraform could not save is kept.
	Saved []string `json:"saved_at,omitempty"`
	// RetryOn names what must change before a pending recovery can go on
	// (credentials, lock-holder, backend, interrupted, configuration, disk).
	RetryOn string `json:"retry_on,omitempty"`
	// Advice says what the failure's cause is and what fixes it.
	Advice *Advice `json:"advice,omitempty"`
	// Did lists what tf did, in order; Next the exact commands to run next.
	Did   []string     `json:"did,omitempty"`
	Next  []string     `json:"next,omitempty"`
	Steps []StepRecord `json:"steps,omitempty"`
	Error string       `json:"error,omitempty"`

	// failedArgs are the failed run's arguments (the journal's): what the
	// report calls "the terraform apply"; superseded is the state someone
	// wrote after tf verified its push.
	failedArgs []string
	// otherDir: the pending recovery belongs to this other working
	// directory (sharing the data directory); nothing was done.
	otherDir   string
	superseded string
}

const erroredFile = "errored.tfstate"

// sideCallTimeout bounds one terraform side call (state pull/push,
// force-unlock).
const sideCallTimeout = 5 * time.Minute

func (r *Run) setDefaults() {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	if r.Terraform == "" {
		r.Terraform = "terraform"
	}
	if r.runner == nil {
		r.runner = execRunner{timeout: sideCallTimeout}
	}
	if r.backend == nil {
		r.backend = func(ctx context.Context, b Backend, env []string) (backendReader, error) {
			return newAWSBackend(ctx, b, env)
		}
	}
}

// Recover is called after a guarded command exited non-zero. It decides
// whether the run died of expired credentials and, if so, repairs the
// workspace where it can prove that is safe, and otherwise secures the
// state and stops. ctx ending (Ctrl-C) stops it between steps, never in the
// middle of a side call.
func Recover(ctx context.Context, r Run) Outcome {
	r.setDefaults()
	c := tfout.Classify(r.Stderr)
	if r.Flavor == "" {
		r.Flavor = c.Tool
	}
	root := RecoveryRoot(r.Dir, r.Env)
	errPath := filepath.Join(r.Dir, erroredFile)
	fresh := freshErrored(errPath, r.Started, r.Observed)
	// A failed save with nothing else to go on (no errored.tfstate, no
	// failed release) is tf's business only when its cause is one tf acts
	// on: otherwise terraform's own error stands, as plain terraform leaves
	// it, and no pending recovery blocks the next command.
	wreck := fresh || c.ReleaseFailed || c.PersistFailed || (c.Wreck() && c.Cause.Acts())
	switch {
	case c.Cause == tfout.CauseNone || c.Cause == "":
		return Outcome{Kind: NotCredentials, Class: c, Summary: "terraform's save and lock release did not fail; left as terraform left it"}
	case !wreck && !c.Expired:
		return Outcome{Kind: NotCredentials, Class: c, Summary: "nothing to secure; left as terraform left it"}
	case !wreck:
		// No failed save, no failed release: terraform failed at the
		// backend before it changed anything (an SSO session that ended
		// before the plan started). Nothing to recover; logging in is the
		// fix. No report: there is no recovery to speak of.
		o := Outcome{Kind: Intact, Class: c, Summary: loginSummary(c, r.Flavor)}
		o.Next = loginSteps(renewHint(r.Env, Backend{}))
		writeHuman(r.Out, r, &o)
		return o
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
			report(r, &out)
			return out
		}
		if o.Pending {
			return o
		}
	}
	b, berr := LoadBackend(r.Dir, r.Env)
	j, err := newJournal(root, r.Dir, r.Now())
	if err != nil {
		return noRecord(r, c, fmt.Errorf("could not create the recovery directory: %w", err), fresh, errPath)
	}
	j.Tool, j.ExitCode, j.Started, j.Ended, j.Class, j.Backend = r.Flavor, r.ExitCode, r.Started, r.Ended, c, b
	j.VarNames, j.Args = varNames(r.Args), redactVars(r.Args)
	j.Who, j.Operation, j.Observed = whoAmI(), operationFor(r.Args), r.Observed
	if r.Stdout != nil {
		if p := tfout.ReadProgress(append(append([]byte{}, r.Stdout...), r.Stderr...)); p.PlanSeen || len(p.Done) > 0 || len(p.Cut) > 0 {
			j.Progress = &p
		}
	}
	if fresh {
		j.ErroredSeen = markFile(errPath)
	}
	if !fresh {
		note := "terraform wrote no errored.tfstate during this run"
		if _, err := os.Stat(errPath); err == nil {
			note = "the errored.tfstate in the directory is older than this run: not this run's, left alone"
		}
		j.Steps = append(j.Steps, StepRecord{Step: StepSecure, Status: "skipped", At: r.Now().UTC(), Note: note})
	}
	if fresh {
		// Until the copy exists, runs with other data directories must not
		// overwrite the file (best effort: a full disk here is not a stop).
		_ = markUnsecured(r.Dir, j)
	}
	if err := j.open(); err != nil {
		clearUnsecured(r.Dir, j)
		return noRecord(r, c, fmt.Errorf("could not write the recovery journal in %s: %w", root, err), fresh, errPath)
	}
	st := newSeqState(r, j)
	if !c.Cause.Acts() {
		// Not something time or new credentials cure (access denied, KMS, a
		// missing bucket, clock skew, ...): secure the state, keep the lock,
		// say what is wrong. Once it is fixed, the next guarded command
		// finishes under the same proof rules.
		if fresh {
			if stop := st.secure(ctx); stop != nil {
				return st.stop(stop)
			}
			_ = j.record(StepSecure, "done", st.note, r.Now())
			clearUnsecured(r.Dir, j)
			st.note = ""
		}
		return st.stop(&stepStop{step: StepCredentials, retry: retryConfig, err: fmt.Errorf("%s could not save the state or release its lock, and it is not something tf can cure by itself: %s",
			r.Flavor, adviceFor(c, r.Flavor, r.Env, b).Summary)})
	}
	if (c.PersistFailed || c.SaveFailed) && !fresh {
		msg := "terraform could not save the state and tf finds no errored.tfstate written by this run " +
			"(terraform says \"Failed to persist state to backend\" even when it cannot write that file): the changes this run made are recorded in no state file tf can find."
		if c.ReleaseFailed {
			msg += " The lock is kept so nobody builds on the old state"
		}
		return st.stop(&stepStop{step: StepSecure, final: true, noState: true, err: errors.New(msg)})
	}
	if berr != nil {
		return st.stop(&stepStop{step: StepSecure, retry: retryConfig, err: fmt.Errorf("the backend configuration cannot be read: %w", berr)})
	}
	o := st.sequence(ctx)
	if c.Cause != tfout.CauseTransient {
		return o
	}
	// The backend did not answer: try again a few times, briefly, in this
	// run; then the journal waits for the next command.
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

// adviceFor is the advice for c, with the profile in play.
func adviceFor(c tfout.Classification, flavor string, env []string, b Backend) *Advice {
	profile := firstNonEmpty(b.Profile, envLookup(env, envProfile))
	a := Advise(c, flavor, profile)
	if a.Summary == "" {
		return nil
	}
	return &a
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

// Resume finishes or explains the unfinished recovery for r.Dir's state.
// The wrapper calls it before running a guarded command when Pending.
func Resume(ctx context.Context, r Run) Outcome {
	r.setDefaults()
	root := RecoveryRoot(r.Dir, r.Env)
	lk, err := lockRoot(ctx, root, r.Out)
	if err != nil {
		o := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error(), Pending: true, Next: againSteps()}
		report(r, &o)
		return o
	}
	defer lk.unlock()
	if !Pending(r.Dir, r.Env) {
		return Outcome{Kind: Intact, Summary: "another tf finished the pending recovery"}
	}
	return resumeLocked(ctx, r, root)
}

func resumeLocked(ctx context.Context, r Run, root string) Outcome {
	j, err := loadPending(root, r.Dir)
	if err != nil {
		o := Outcome{Kind: NeedsPerson, Pending: true, Summary: "an interrupted recovery cannot be read: " + err.Error(), Error: err.Error(),
			Next: unreadableSteps(root)}
		report(r, &o)
		return o
	}
	if j.Tool == "" {
		j.Tool = "terraform"
	}
	if r.Flavor == "" {
		r.Flavor = j.Tool
	}
	st := newSeqState(r, j)
	if j.Backend.Type == "" {
		return st.stop(&stepStop{step: StepSecure, final: true, err: errors.New("the interrupted recovery recorded nothing about its run; closed it. If errored.tfstate is in the directory, `tf guard recover` shows what to do with it")})
	}
	cur, err := LoadBackend(r.Dir, r.Env)
	if !sameDir(j.WorkDir, r.Dir) && (err != nil || j.Backend.DataDir == "" || cur.DataDir == j.Backend.DataDir) {
		// Another checkout sharing this data directory (an absolute
		// TF_DATA_DIR): the failed run's files are in its own directory,
		// so the recovery is finished there; the journal is left as it is.
		o := Outcome{Kind: NeedsPerson, Pending: true, RecoveryDir: j.dir(), Backend: &j.Backend, otherDir: j.WorkDir,
			Summary: fmt.Sprintf("a recovery of %s is pending; run tf guard recover in %s", j.WorkDir, j.WorkDir)}
		o.Next = []string{"cd " + tfargs.Quote(j.WorkDir) + " && tf guard recover"}
		writeHuman(r.Out, r, &o)
		return o
	}
	if err != nil {
		return st.stop(&stepStop{step: StepSecure, retry: retryConfig, err: fmt.Errorf("the backend configuration cannot be read: %w", err)})
	}
	if !cur.SameAddress(j.Backend) {
		// errored.tfstate belongs to the working directory, not to a
		// state: a run here now would overwrite the pending one's file.
		if st := st.secureAhead(ctx); st != nil {
			o := Outcome{Kind: NeedsPerson, Pending: true, RetryOn: string(st.retry), RecoveryDir: j.dir(), Backend: &j.Backend, Error: st.err.Error(),
				Summary: fmt.Sprintf("a recovery of %s is pending and tf could not secure its run's errored.tfstate yet (%v); a run here could overwrite that file, so tf starts none until it is secured", j.Backend, st.err),
				Saved:   []string{filepath.Join(r.Dir, erroredFile)}}
			o.Next = unsecuredElsewhereSteps()
			writeHuman(r.Out, r, &o)
			return o
		}
		o := Outcome{Kind: Elsewhere, Pending: true, RecoveryDir: j.dir(), Backend: &j.Backend,
			Summary: fmt.Sprintf("a recovery of %s is pending, but this directory now uses %s; tf acts only on the state that failed, so it leaves both alone", j.Backend, cur)}
		o.Next = elsewhereSteps(j.Backend.Workspace, j.dir())
		writeHuman(r.Out, r, &o)
		return o
	}
	if !cur.SameLocks(j.Backend) {
		return st.stop(&stepStop{step: StepProve, retry: retryConfig, err: fmt.Errorf("the state's lock settings changed since the run failed (then: %s; now: %s): tf can prove this run's lock only under the settings it ran with; restore them (terraform init -reconfigure)",
			strings.Join(j.Backend.LockModes(), "+"), strings.Join(cur.LockModes(), "+"))})
	}
	j.Backend.keys = cur.keys
	if moved := movedDataDir(j, cur); moved != "" {
		j.WorkDir = r.Dir
		_ = j.save()
		fmt.Fprintf(r.Out, "tf: %s\n", moved)
		st = newSeqState(r, j)
	}
	fmt.Fprintf(r.Out, "tf: finishing the recovery interrupted in %s (%s)\n", root, j.Name)
	return st.sequence(ctx)
}

// SameAddress says whether b and o address the same state object.
func (b Backend) SameAddress(o Backend) bool {
	return b.Type == o.Type && b.Bucket == o.Bucket && b.StateKey() == o.StateKey() && b.Workspace == o.Workspace &&
		b.Endpoints["s3"] == o.Endpoints["s3"]
}

// SameLocks says whether b and o lock the state the same way.
func (b Backend) SameLocks(o Backend) bool {
	return b.Table == o.Table && b.UseLockfile == o.UseLockfile && b.Endpoints["dynamodb"] == o.Endpoints["dynamodb"]
}

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

// seqState is the working memory of one pass over the steps.
type seqState struct {
	r      Run
	j      *journal
	env    []string
	remote *StateSummary
	note   string
	// seen is what the last read of the lock records found (nil: none yet).
	seen *Locks
	// superseded: the journal says the push was verified, and the
	// backend holds another state now (someone wrote after tf).
	superseded string
}

func newSeqState(r Run, j *journal) *seqState {
	return &seqState{r: r, j: j, env: sideCallEnv(r.Env, j.Backend)}
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
func (s *seqState) sequence(ctx context.Context) Outcome {
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
				s.j.Errored = &sum
			}
		}
		if err != nil {
			return s.stop(&stepStop{step: StepSecure, final: true, err: fmt.Errorf("tf's backup of errored.tfstate in %s cannot be used (%v); nothing more is done", s.j.dir(), err)})
		}
	}
	for _, step := range []struct {
		name string
		fn   func(context.Context) *stepStop
		redo bool // re-run even when an earlier pass finished it
	}{
		{StepSecure, s.secure, false},
		{StepCredentials, s.credentials, true},
		{StepProve, s.prove, false},
		{StepPush, s.push, false},
		{StepVerify, s.verify, true},
		{StepUnlock, s.unlock, true},
		{StepClose, s.close, true},
	} {
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
		if st := step.fn(sctx); st != nil {
			return s.stop(st)
		}
		if err := s.j.record(step.name, "done", s.note, s.r.Now()); err != nil {
			return s.stop(&stepStop{step: step.name, retry: retryDisk, err: err})
		}
		if step.name == StepSecure {
			clearUnsecured(s.r.Dir, s.j)
		}
		s.note = ""
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
	report(s.r, &o)
	return o
}

// subcommand is the first argument that is not an option.
func subcommand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// stop ends the sequence. A retryable stop keeps the journal pending; a
// final one closes it. Either way the report says what tf saw, where the
// state is kept and what to run.
func (s *seqState) stop(st *stepStop) Outcome {
	j := s.j
	_ = j.record(st.step, "stopped", st.err.Error(), s.r.Now())
	final := st.final || st.retry == retryNone
	released, kept := "", ""
	if final && j.Evidence == EvidenceTaken && j.LockID != "" {
		// The lock tf took for its own push: nobody else would release it.
		id := j.LockID
		if us := s.unlock(context.WithoutCancel(context.Background())); us == nil {
			released = "tf released the lock it had taken for its push (" + id + ")"
			if !strings.HasPrefix(s.note, "released") {
				released = "the lock tf had taken for its push (" + id + ") is not on the state any more"
			}
			s.note = ""
			j.LockID, j.Evidence = "", ""
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
		o.Next = append(o.Next, "# release the lock tf took for its push once the cause above is fixed:", unlockCommand(s.r.Flavor, kept))
	}
	report(s.r, &o)
	return o
}

// savedAt lists where the state terraform could not save is: the working
// directory's errored.tfstate and tf's backup, whichever exist.
func (s *seqState) savedAt() []string {
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

func (s *seqState) outcome(k Kind) Outcome {
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

// secureAhead secures the pending recovery's errored.tfstate now, before a
// run for another state in the same working directory may overwrite it.
// Nothing to do when it is secured already or the file is no longer the
// run's own (the resumed recovery says so).
func (s *seqState) secureAhead(ctx context.Context) *stepStop {
	j := s.j
	if j.done(StepSecure) || j.ErroredSeen == nil {
		return nil
	}
	if now := markFile(filepath.Join(s.r.Dir, erroredFile)); now == nil || now.SHA256 != j.ErroredSeen.SHA256 {
		clearUnsecured(s.r.Dir, j) // nothing of the run's left to secure here
		return nil
	}
	if err := j.record(StepSecure, "begun", "", s.r.Now()); err != nil {
		return &stepStop{step: StepSecure, retry: retryDisk, err: err}
	}
	if st := s.secure(ctx); st != nil {
		_ = j.record(StepSecure, "stopped", st.err.Error(), s.r.Now())
		return st
	}
	if err := j.record(StepSecure, "done", s.note, s.r.Now()); err != nil {
		return &stepStop{step: StepSecure, retry: retryDisk, err: err}
	}
	clearUnsecured(s.r.Dir, j)
	fmt.Fprintf(s.r.Out, "tf: %s, for the recovery pending in %s\n", s.note, j.dir())
	s.note = ""
	return nil
}

// secure copies errored.tfstate, fsync'd, into the recovery directory:
// only the very file the failed run left.
func (s *seqState) secure(ctx context.Context) *stepStop {
	src := filepath.Join(s.r.Dir, erroredFile)
	dst := filepath.Join(s.j.dir(), backupName)
	raw, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return &stepStop{step: StepSecure, final: true, noState: true, err: fmt.Errorf("%s is gone before tf secured a copy of it (removed or moved by hand?): tf cannot tell whether its content reached the backend, so it does nothing more here", src)}
	}
	if err != nil {
		return &stepStop{step: StepSecure, retry: retryDisk, err: fmt.Errorf("read %s: %w", src, err)}
	}
	if seen := s.j.ErroredSeen; seen != nil {
		if now := markBytes(raw, time.Time{}); now.SHA256 != seen.SHA256 {
			return &stepStop{step: StepSecure, final: true, noState: true, err: fmt.Errorf("%s is not the file this run left: when the run failed it was %s; now it is %s (written since, by another run in this directory or by hand). "+
				"tf secures and pushes only the failed run's own file, so it does nothing more here; the lock is kept so nobody builds on the old state", src, seen, now)}
		}
	}
	sum, err := parseState(raw)
	if err != nil {
		return &stepStop{step: StepSecure, final: true, err: fmt.Errorf("%s: %w; left where it is", src, err)}
	}
	if err := writeFileSync(dst, raw); err != nil {
		return &stepStop{step: StepSecure, retry: retryDisk, err: err}
	}
	s.j.Errored = &sum
	s.note = fmt.Sprintf("copied errored.tfstate (%s) to %s", sum, dst)
	return nil
}

// credentials renews (when the wrapper can) and proves the credentials
// work by pulling the remote state with terraform itself.
func (s *seqState) credentials(ctx context.Context) *stepStop {
	if c := s.j.Class.Cause; s.r.Renew != nil && (c == tfout.CauseExpired || c == tfout.CauseVanished || c == "") {
		env, err := s.r.Renew(ctx, s.r.Env)
		if st := interrupted(ctx, StepCredentials); err != nil && st != nil {
			return st
		}
		if err != nil {
			return &stepStop{step: StepCredentials, retry: retryCredentials, err: fmt.Errorf("credentials could not be renewed: %w", err)}
		}
		if env != nil {
			s.r.Env = env
			s.env = sideCallEnv(env, s.j.Backend)
		}
	}
	remote, st := s.pull(ctx, StepCredentials)
	if st != nil {
		return st
	}
	s.remote = &remote
	s.note = "credentials work: pulled the backend's state (" + remote.String() + ")"
	return nil
}

// pull runs `state pull`; its failure is a retryable stop at step.
func (s *seqState) pull(ctx context.Context, step string) (StateSummary, *stepStop) {
	out, errb, err := s.r.runner.Run(ctx, buildPull(s.r.Terraform, s.r.Dir, s.env))
	if err != nil {
		c := tfout.ClassifySideCall(errb)
		if c.Expired {
			return StateSummary{}, &stepStop{step: step, retry: retryCredentials,
				err: fmt.Errorf("the credentials are still expired (%s): %s state pull failed", strings.Join(c.Shapes, ", "), s.r.Flavor)}
		}
		return StateSummary{}, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("%s state pull failed: %w: %s", s.r.Flavor, err, lastLines(errb, 6))}
	}
	sum, err := parseState(out)
	if err != nil {
		return StateSummary{}, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("the backend's state: %w", err)}
	}
	return sum, nil
}

// reader returns the backend reader, or a retryable stop.
func (s *seqState) reader(ctx context.Context, step string) (backendReader, *stepStop) {
	rd, err := s.r.backend(ctx, s.j.Backend, s.r.Env)
	if st := interrupted(ctx, step); err != nil && st != nil {
		return nil, st
	}
	if err != nil {
		return nil, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("cannot read the backend with %s: %w", credentialSource(s.j.Backend, s.r.Env), err)}
	}
	return rd, nil
}

// interrupted is the stop for a read cut short by Ctrl-C or SIGTERM.
func interrupted(ctx context.Context, step string) *stepStop {
	if ctx.Err() == nil {
		return nil
	}
	return &stepStop{step: step, retry: retryInterrupted, err: errors.New("interrupted: tf stopped before finishing this step; nothing of it was done")}
}

func (s *seqState) readLocks(ctx context.Context, step string) (Locks, *stepStop) {
	l, st := readBackend(s, ctx, step, "the lock records", backendReader.ReadLocks)
	if st == nil {
		s.seen = &l
	}
	return l, st
}

func (s *seqState) readStateObject(ctx context.Context, step string) (StateObject, *stepStop) {
	return readBackend(s, ctx, step, "the state object", backendReader.StateObject)
}

// readBackend makes one read of the backend; a failure is a retryable stop
// at step (interrupted when ctx ended).
func readBackend[T any](s *seqState, ctx context.Context, step, what string, read func(backendReader, context.Context) (T, error)) (T, *stepStop) {
	var zero T
	rd, st := s.reader(ctx, step)
	if st != nil {
		return zero, st
	}
	v, err := read(rd, ctx)
	if st := interrupted(ctx, step); err != nil && st != nil {
		return zero, st
	}
	if err != nil {
		return zero, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("cannot read %s with %s: %w", what, credentialSource(s.j.Backend, s.r.Env), err)}
	}
	return v, nil
}

// close removes errored.tfstate from the working directory once the
// backend holds its content (verified) and tf's backup is byte-identical.
func (s *seqState) close(ctx context.Context) *stepStop {
	if s.j.Errored == nil {
		return nil
	}
	src := filepath.Join(s.r.Dir, erroredFile)
	now := stampFile(src)
	if now == nil {
		return nil
	}
	backup := stampFile(filepath.Join(s.j.dir(), backupName))
	if now.SHA256 != s.j.Errored.SHA256 || backup == nil || backup.SHA256 != now.SHA256 {
		s.note = "left " + src + ": it is not the file this recovery pushed"
		return nil
	}
	if err := os.Remove(src); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &stepStop{step: StepClose, retry: retryDisk, err: fmt.Errorf("remove errored.tfstate: %w", err)}
	}
	if err := syncDir(s.r.Dir); err != nil {
		return &stepStop{step: StepClose, retry: retryDisk, err: err}
	}
	held := "the backend holds it"
	if s.superseded != "" {
		held = "the backend held it when tf verified it"
	}
	s.note = "removed errored.tfstate from the working directory (" + held + "; tf's copy stays in " + s.j.dir() + ")"
	return nil
}

// whoAmI is terraform's lock "Who": user@host.
func whoAmI() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// operationFor is the Operation terraform records in its lock for args.
func operationFor(args []string) string {
	switch subcommand(args) {
	case "apply", "destroy":
		return "OperationTypeApply"
	case "plan":
		return "OperationTypePlan"
	case "refresh":
		return "OperationTypeRefresh"
	}
	return ""
}

func lastLines(b []byte, n int) string {
	ls := strings.Split(strings.TrimSpace(tfout.Flatten(b)), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	s := strings.Join(ls, " ")
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return s
}

// varNames lists the names given with -var (never the values).
func varNames(args []string) []string {
	var out []string
	for i, a := range args {
		var kv string
		switch {
		case (a == "-var" || a == "--var") && i+1 < len(args):
			kv = args[i+1]
		case strings.HasPrefix(a, "-var=") || strings.HasPrefix(a, "--var="):
			_, kv, _ = strings.Cut(a, "=")
		default:
			continue
		}
		if k, _, ok := strings.Cut(kv, "="); ok {
			out = append(out, k)
		}
	}
	return out
}

// redactVars replaces the values of -var arguments (`-var k=v`,
// `-var=k=v`) with "..." and keeps everything else.
func redactVars(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		switch {
		case a == "-var" || a == "--var":
			if i+1 < len(out) {
				if k, _, ok := strings.Cut(out[i+1], "="); ok {
					out[i+1] = k + "=..."
				}
			}
		case strings.HasPrefix(a, "-var=") || strings.HasPrefix(a, "--var="):
			flag, kv, _ := strings.Cut(a, "=")
			if k, _, ok := strings.Cut(kv, "="); ok {
				out[i] = flag + "=" + k + "=..."
			}
		}
	}
	return out
}

// sameDir says whether a and b name the same directory (after symbolic
// links); an empty a (a journal that recorded none) matches any.
func sameDir(a, b string) bool {
	if a == "" || filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// runHeldLock says whether the failed run took the state lock: the backend
// has locking and the run did not turn it off (-lock=false).
func (s *seqState) runHeldLock() bool {
	j := s.j
	if len(j.Backend.LockModes()) == 0 || !takesLock(j.Args) {
		return false
	}
	return j.Observed == nil || j.Observed.TakesLock
}
