package recovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layout of the recovery directory, under <dir>/.terraform/tf-recovery/.
const (
	recoveryDirName = "tf-recovery"
	pendingName     = "PENDING" // holds the name of the unfinished recovery
	journalName     = "journal.json"
	backupName      = "errored.tfstate"       // the copy taken first
	movedName       = "errored.tfstate.moved" // the working dir's file, moved after verification
	reportName      = "report.json"
)

// Step names, in order. They are also the values EnvTestKillAt accepts.
const (
	StepSecure      = "secure"
	StepCredentials = "credentials"
	StepLock        = "lock"
	StepPush        = "push"
	StepUnlock      = "unlock"
	StepVerify      = "verify"
	StepArchive     = "archive"
)

// StepNames lists the recovery steps in order.
func StepNames() []string {
	return []string{StepSecure, StepCredentials, StepLock, StepPush, StepUnlock, StepVerify, StepArchive}
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
	Version   int            `json:"version"`
	Name      string         `json:"name"`
	WorkDir   string         `json:"work_dir"`
	Tool      string         `json:"tool"`
	Args      []string       `json:"args"`
	ExitCode  int            `json:"exit_code"`
	Started   time.Time      `json:"run_started"`
	Ended     time.Time      `json:"run_ended"`
	Class     Classification `json:"classification"`
	Backend   Backend        `json:"backend"`
	Who       string         `json:"who"`
	Operation string         `json:"operation"`
	// LockID is the lock proven ours (empty until the lock step, or when no
	// lock was held).
	LockID string `json:"lock_id,omitempty"`
	// Errored is the secured state (nil when the run left no errored.tfstate).
	Errored *StateSummary `json:"errored,omitempty"`
	Pushed  *StateSummary `json:"pushed,omitempty"`
	Steps   []StepRecord  `json:"steps"`
	Outcome Kind          `json:"outcome,omitempty"`

	path string // journal.json
}

func recoveryRoot(dir string) string { return filepath.Join(dir, ".terraform", recoveryDirName) }

// Pending says whether dir holds an unfinished recovery journal (one stat).
func Pending(dir string) bool {
	_, err := os.Stat(filepath.Join(recoveryRoot(dir), pendingName))
	return err == nil
}

// newJournal creates the recovery directory and the PENDING marker.
func newJournal(dir string, now time.Time) (*journal, error) {
	root := recoveryRoot(dir)
	name := now.UTC().Format("20060102T150405.000000000Z")
	rdir := filepath.Join(root, name)
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, fmt.Errorf("create recovery directory: %w", err)
	}
	j := &journal{Version: 1, Name: name, WorkDir: dir, path: filepath.Join(rdir, journalName)}
	if err := writeFileSync(filepath.Join(root, pendingName), []byte(name+"\n")); err != nil {
		return nil, err
	}
	return j, nil
}

// loadPending reads the unfinished journal named by PENDING.
func loadPending(dir string) (*journal, error) {
	root := recoveryRoot(dir)
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
	j.path, j.WorkDir = path, dir
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

// writeFileSync writes path atomically and durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
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

func syncDir(dir string) error {
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
