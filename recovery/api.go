package recovery

import (
	"context"
	"io"
	"time"

	"github.com/tfguard/tf/tfout"
)

// Kind is what recovery concluded: the kind of an Outcome. (Not the
// other "kinds" nearby: tfout.Classification.Kind is the shape of a
// failure within its cause; Locks.Kind and KindWatch are about one lock
// type, DynamoDB or the lockfile.)
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
		r.runner = execRunner{timeout: stateCallTimeout}
	}
	if r.backend == nil {
		r.backend = func(ctx context.Context, b Backend, env []string) (backendReader, error) {
			return newAWSBackend(ctx, b, env)
		}
	}
}

// stateCallTimeout bounds one of recovery's terraform calls (state pull,
// state push, force-unlock). It is long because a push of a big state over
// a slow link is the one thing recovery must not cut short; the wrapper's
// own short probes (version, show) have their own 30 s bound.
const stateCallTimeout = 5 * time.Minute
