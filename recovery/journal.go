package recovery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfguard/tf/tfout"
)

// StepRecord is one journal entry.
type StepRecord struct {
	Step   string    `json:"step"`
	Status string    `json:"status"` // begun, done, skipped, stopped
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
}

// journal is the fsync'd record of one recovery; every step is written as
// begun before it is taken.
type journal struct {
	Version int      `json:"version"`
	Name    string   `json:"name"`
	WorkDir string   `json:"work_dir"`
	Tool    string   `json:"tool"`
	Args    []string `json:"args"`
	// TerraformArgs are the arguments terraform ran with, -var values
	// hidden, when TF_CLI_ARGS or TF_CLI_ARGS_<command> added some (nil
	// otherwise): what decides whether it took the lock. Args stay the
	// person's own, for the commands tf prints.
	TerraformArgs []string             `json:"terraform_args,omitempty"`
	ExitCode      int                  `json:"exit_code"`
	Started       time.Time            `json:"run_started"`
	Ended         time.Time            `json:"run_ended"`
	Class         tfout.Classification `json:"classification"`
	Backend       Backend              `json:"backend"`
	Who           string               `json:"who"`
	Operation     string               `json:"operation"`
	// Observed is what tf saw around the run (nil: nothing, e.g. a journal
	// started by `tf guard recover`).
	Observed *Observation `json:"observed,omitempty"`
	// VarNames are the names of -var values the run was given (values are
	// never kept).
	VarNames []string `json:"var_names,omitempty"`
	// LockID is the lock proven ours (empty until the prove step, or when
	// no lock of ours exists); Evidence says how it was proven.
	LockID   string `json:"lock_id,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Route is how the push is justified: RouteFence (our lock held from
	// the failure until the push), RouteUnchanged (the remote is the state
	// the run started from or saved itself) or RouteChosen (a person chose
	// errored.tfstate with tf guard recover --use errored).
	Route string `json:"route,omitempty"`
	// GivenLockID: a person named this lock with --lock-id (EvidenceGiven
	// once tf found it on this state).
	GivenLockID string `json:"given_lock_id,omitempty"`
	// ErroredSeen identifies the errored.tfstate this run left, taken when
	// the failure was first seen: only that very file is ever secured or
	// pushed (another run in the directory may write a new one meanwhile).
	ErroredSeen *FileMark `json:"errored_seen,omitempty"`
	// Errored is the secured state (nil when the run left no errored.tfstate).
	Errored *StateSummary `json:"errored,omitempty"`
	// Known are state objects besides the run's start state and its own
	// saves (Observed) that this recovery may push over: the one a person
	// looked at before choosing (tf guard recover), the one tf wrote itself.
	Known []StateMark `json:"known_states,omitempty"`
	// Dropped lists what a push a person chose (--use errored) removed from
	// the backend's state: instances only the backend recorded.
	Dropped []string      `json:"dropped,omitempty"`
	Pushed  *StateSummary `json:"pushed,omitempty"`
	// Made is what the failed run changed, by resource instance: the
	// difference between the backend's state it started from and
	// errored.tfstate (known once tf may push).
	Made *StateDiff `json:"made,omitempty"`
	// Progress is what the failed run's own output said it did (nil when
	// tf did not read it).
	Progress *tfout.Progress `json:"progress,omitempty"`
	Steps    []StepRecord    `json:"steps"`
	Outcome  Kind            `json:"outcome,omitempty"`

	path string // journal.json
}

// FileMark identifies a state file at one moment: its bytes (digest, size)
// and what it says it is (lineage, serial).
type FileMark struct {
	FileStamp
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
}

func (m FileMark) String() string {
	return fmt.Sprintf("%d bytes, serial %d, lineage %q, sha256 %.12s", m.Size, m.Serial, m.Lineage, m.SHA256)
}

// markFile identifies the state file at path, nil when it is absent.
func markFile(path string) *FileMark {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return markBytes(raw, fi.ModTime())
}

// markBytes identifies a state file's content.
func markBytes(raw []byte, mod time.Time) *FileMark {
	sum := sha256.Sum256(raw)
	m := &FileMark{FileStamp: FileStamp{Size: int64(len(raw)), ModTime: mod.UTC(), SHA256: hex.EncodeToString(sum[:])}}
	var head struct {
		Lineage string `json:"lineage"`
		Serial  uint64 `json:"serial"`
	}
	if json.Unmarshal(raw, &head) == nil {
		m.Lineage, m.Serial = head.Lineage, head.Serial
	}
	return m
}

// StateMark identifies a state object in the backend at one moment, and why
// the recovery may push over it.
type StateMark struct {
	Why    string      `json:"why"`
	Object StateObject `json:"object"`
	// The state it held as terraform's state pull printed it (when known).
	Lineage string `json:"lineage,omitempty"`
	Serial  uint64 `json:"serial,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// newJournal creates a recovery directory under root; open makes it the
// pending one. The caller holds root's lock.
func newJournal(root, workDir string, now time.Time) (*journal, error) {
	name := now.UTC().Format("20060102T150405.000000000Z")
	rdir := filepath.Join(root, name)
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, fmt.Errorf("create recovery directory: %w", err)
	}
	return &journal{Version: 2, Name: name, WorkDir: workDir, path: filepath.Join(rdir, journalName)}, nil
}

// open writes the journal, then the PENDING marker naming it: a pending
// journal always has its run's facts.
func (j *journal) open() error {
	if err := j.save(); err != nil {
		return err
	}
	return writeFileSync(filepath.Join(filepath.Dir(j.dir()), pendingName), []byte(j.Name+"\n"))
}

// loadPending reads the unfinished journal named by PENDING in root.
func loadPending(root, dir string) (*journal, error) {
	raw, err := os.ReadFile(filepath.Join(root, pendingName))
	if err != nil {
		return nil, fmt.Errorf("read pending recovery marker: %w", err)
	}
	name := strings.TrimSpace(string(raw))
	if name == "" || strings.ContainsAny(name, `/\`) || name == ".." {
		return nil, fmt.Errorf("pending recovery marker %s is corrupt (%q): inspect %s", filepath.Join(root, pendingName), name, root)
	}
	path := filepath.Join(root, name, journalName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// Killed between creating the marker and the first journal write:
		// nothing was done yet.
		return &journal{Version: 1, Name: name, WorkDir: dir, path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read recovery journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("recovery journal %s is corrupt: %w", path, err)
	}
	// The journal keeps the directory of the run that failed: another
	// checkout sharing this data directory is not that one.
	j.path = path
	if j.WorkDir == "" {
		j.WorkDir = dir
	}
	return &j, nil
}

func (j *journal) dir() string { return filepath.Dir(j.path) }

// save writes the journal durably (temp file, fsync, rename, fsync dir).
func (j *journal) save() error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encode journal: %w", err)
	}
	return writeFileSync(j.path, append(b, '\n'))
}

func (j *journal) record(step, status, note string, now time.Time) error {
	j.Steps = append(j.Steps, StepRecord{Step: step, Status: status, At: now.UTC(), Note: note})
	return j.save()
}

// done says whether step was completed by an earlier attempt.
func (j *journal) done(step string) bool {
	for _, s := range j.Steps {
		if s.Step == step && (s.Status == "done" || s.Status == "skipped") {
			return true
		}
	}
	return false
}

// begun says whether a pass started step (a push may have been sent even
// when its end was never recorded: a kill, or a backend without locking
// where no lock of tf's marks it).
func (j *journal) begun(step string) bool {
	for _, s := range j.Steps {
		if s.Step == step {
			return true
		}
	}
	return false
}

// finish removes the PENDING marker: the journal stays as history.
func (j *journal) finish(outcome Kind) error {
	j.Outcome = outcome
	if err := j.save(); err != nil {
		return err
	}
	root := filepath.Dir(j.dir())
	if err := os.Remove(filepath.Join(root, pendingName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clear pending recovery marker: %w", err)
	}
	return syncDir(root)
}

// The journal is the durable record of a recovery. Steps change it only
// through these setters (saved by the sequencer when it records the step),
// so every field a step writes can be found from here.

// setLock records the lock proven this run's (or taken by tf) and how.
func (j *journal) setLock(id, evidence string) { j.LockID, j.Evidence = id, evidence }

// clearLock records that no lock of this run's is known.
func (j *journal) clearLock() { j.setLock("", "") }

// takingLock journals the ID of the lock tf is about to take, and saves
// the journal BEFORE the lock exists: a kill right after leaves an ID the
// next tf recognises as its own, never a lock nobody knows.
func (j *journal) takingLock(id string) error {
	j.setLock(id, EvidenceTaken)
	return j.save()
}

// lockNotTaken undoes takingLock when the backend certainly created no
// lock (another lock was held).
func (j *journal) lockNotTaken() error {
	j.clearLock()
	return j.save()
}

// setRoute records how a push is justified (RouteFence, RouteUnchanged,
// RouteChosen).
func (j *journal) setRoute(route string) { j.Route = route }

// setErrored records the secured errored.tfstate.
func (j *journal) setErrored(sum *StateSummary) { j.Errored = sum }

// setPushed records the state tf pushed (nil: none, or the push is undone
// by the person's choice of the backend's state).
func (j *journal) setPushed(sum *StateSummary) { j.Pushed = sum }

// addKnown records a state object this recovery may push over.
func (j *journal) addKnown(m StateMark) { j.Known = append(j.Known, m) }

// setMade records what the failed run changed.
func (j *journal) setMade(d *StateDiff) { j.Made = d }

// setDropped records what a push a person chose removes from the backend.
func (j *journal) setDropped(addrs []string) { j.Dropped = addrs }

// setUnrecorded records the changes terraform reported that no state holds.
func (j *journal) setUnrecorded(changes []tfout.Change) { j.Progress.Unrecorded = changes }

// setGivenLockID records the lock a person named with --lock-id.
func (j *journal) setGivenLockID(id string) { j.GivenLockID = id }

// ranWith are the arguments terraform ran with (see TerraformArgs).
func (j *journal) ranWith() []string {
	if j.TerraformArgs != nil {
		return j.TerraformArgs
	}
	return j.Args
}
