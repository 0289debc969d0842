package recovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/tfguard/tf/tfdir"
	"github.com/tfguard/tf/tfout"
)

// Layout of the recovery directory, under terraform's data directory
// (<TF_DATA_DIR or .terraform>/tf-recovery/): one recovery directory per
// data directory, so that a directory used with several TF_DATA_DIRs keeps
// their recoveries apart.
const (
	recoveryDirName = "tf-recovery"
	pendingName     = "PENDING" // holds the name of the unfinished recovery
	lockName        = ".lock"   // flock'd by the one tf working on this recovery directory
	journalName     = "journal.json"
	backupName      = "errored.tfstate" // the copy taken first, kept 0600
	reportName      = "report.json"
	// Closed recoveries are pruned by age and count, newest kept: never a
	// pending one, never one whose state was not verified in the backend.
	pruneAge  = 30 * 24 * time.Hour
	pruneKeep = 5
	// lockWait bounds how long a tf waits for another one working on the
	// same recovery directory.
	lockWait = 2 * time.Minute
)

// Step names, in order. They are also the values the test hook
// TFGUARD_TEST_KILL_AT accepts (builds with the tfguard_testhooks tag).
const (
	StepSecure      = "secure"
	StepCredentials = "credentials"
	StepProve       = "prove"
	StepPush        = "push"
	StepVerify      = "verify"
	StepUnlock      = "unlock"
	StepClose       = "close"
)

// StepNames lists the recovery steps in order.
func StepNames() []string {
	return []string{StepSecure, StepCredentials, StepProve, StepPush, StepVerify, StepUnlock, StepClose}
}

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
	Version   int                  `json:"version"`
	Name      string               `json:"name"`
	WorkDir   string               `json:"work_dir"`
	Tool      string               `json:"tool"`
	Args      []string             `json:"args"`
	ExitCode  int                  `json:"exit_code"`
	Started   time.Time            `json:"run_started"`
	Ended     time.Time            `json:"run_ended"`
	Class     tfout.Classification `json:"classification"`
	Backend   Backend              `json:"backend"`
	Who       string               `json:"who"`
	Operation string               `json:"operation"`
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
	// Route is how the push is justified: "fence" (our lock held from the
	// failure until the push) or "unchanged" (the remote is the state the
	// run started from).
	Route string `json:"route,omitempty"`
	// GivenLockID: a person named this lock with --lock-id (evidence c).
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

// RecoveryRoot is where recoveries of dir's state are kept: under
// terraform's data directory for the run's environment.
func RecoveryRoot(dir string, env []string) string {
	return filepath.Join(tfdir.DataDir(dir, env), recoveryDirName)
}

// Pending says whether dir (with env's TF_DATA_DIR) holds an unfinished
// recovery journal (one stat).
func Pending(dir string, env []string) bool {
	_, err := os.Stat(filepath.Join(RecoveryRoot(dir, env), pendingName))
	return err == nil
}

// rootLock is the exclusive lock of one recovery directory: one tf at a
// time reads or writes its journals and makes side calls for it.
type rootLock struct{ fl *flock.Flock }

// lockRoot takes root's lock, waiting up to lockWait for another tf (saying
// so once on out).
func lockRoot(ctx context.Context, root string, out io.Writer) (*rootLock, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create recovery directory: %w", err)
	}
	fl := flock.New(filepath.Join(root, lockName))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	if !ok {
		fmt.Fprintf(out, "tf: another tf is working on the recovery in %s; waiting for it (up to %s)\n", root, lockWait)
		wctx, cancel := context.WithTimeout(ctx, lockWait)
		defer cancel()
		ok, err = fl.TryLockContext(wctx, 200*time.Millisecond)
		if !ok || err != nil {
			return nil, fmt.Errorf("another tf is still working on the recovery in %s after %s; run the command again when it has finished", root, lockWait)
		}
	}
	return &rootLock{fl: fl}, nil
}

func (l *rootLock) unlock() {
	if l != nil {
		_ = l.fl.Unlock()
	}
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

// writeFileSync writes path atomically and durably (0600), through a
// temporary file of its own in the same directory.
func writeFileSync(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		_ = err // Windows: no modes; the directory is the user's
	}
	if _, err := f.Write(data); err != nil {
		return fail(fmt.Errorf("write %s: %w", path, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("sync %s: %w", path, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// prune removes recovery directories under root whose state was verified
// in the backend (outcome "recovered") once they are older than pruneAge or
// beyond the pruneKeep newest recovered ones. Any other (pending, stopped
// for a person, abandoned) is never removed by tf: its backup may be the
// only copy of a state.
func prune(root string, now time.Time) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	pending := ""
	if raw, err := os.ReadFile(filepath.Join(root, pendingName)); err == nil {
		pending = strings.TrimSpace(string(raw))
	}
	type closed struct {
		name    string
		outcome Kind
		at      time.Time
	}
	var dirs []closed
	for _, e := range entries {
		if !e.IsDir() || e.Name() == pending {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(root, e.Name(), journalName))
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(raw, &j) != nil || j.Outcome == "" {
			continue
		}
		at := time.Time{}
		if len(j.Steps) > 0 {
			at = j.Steps[len(j.Steps)-1].At
		}
		dirs = append(dirs, closed{e.Name(), j.Outcome, at})
	}
	sort.Slice(dirs, func(a, b int) bool { return dirs[a].name > dirs[b].name })
	kept := 0
	for _, d := range dirs {
		if d.outcome != Recovered {
			continue
		}
		if kept >= pruneKeep || now.Sub(d.at) > pruneAge {
			_ = os.RemoveAll(filepath.Join(root, d.name))
			continue
		}
		kept++
	}
}

// copyFileSync copies src to dst durably.
func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer in.Close()
	b, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	return writeFileSync(dst, b)
}

// syncDir makes a rename in dir durable. Windows has no directory fsync
// (FlushFileBuffers on a directory handle is refused): there NTFS's own
// journal orders the rename, and this is a no-op.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
