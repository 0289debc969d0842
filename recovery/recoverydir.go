package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/tfguard/tf/tfdir"
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
