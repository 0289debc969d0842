package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errored.tfstate belongs to the working directory, while recoveries live
// under a data directory: several TF_DATA_DIRs share one errored.tfstate.
// While a pending recovery has not yet secured its copy, a marker beside
// errored.tfstate names it, so that a guarded run with any data directory
// secures that file (or refuses to start) before terraform can overwrite it.
const unsecuredName = ".errored.tfstate.tf-recovery"

type unsecuredMarker struct {
	Root   string `json:"recovery_root"`
	Name   string `json:"recovery"`
	SHA256 string `json:"sha256"`
}

// markUnsecured writes the marker for j (its errored.tfstate not secured
// yet).
func markUnsecured(dir string, j *journal) error {
	if j.ErroredSeen == nil {
		return nil
	}
	root, err := filepath.Abs(filepath.Dir(j.dir()))
	if err != nil {
		return err
	}
	b, _ := json.Marshal(unsecuredMarker{Root: root, Name: j.Name, SHA256: j.ErroredSeen.SHA256})
	return writeFileSync(filepath.Join(dir, unsecuredName), b)
}

// clearUnsecured removes the marker when it names j.
func clearUnsecured(dir string, j *journal) {
	m, ok := readUnsecured(dir)
	if ok && m.Name == j.Name {
		_ = os.Remove(filepath.Join(dir, unsecuredName))
	}
}

func readUnsecured(dir string) (unsecuredMarker, bool) {
	var m unsecuredMarker
	raw, err := os.ReadFile(filepath.Join(dir, unsecuredName))
	if err != nil || json.Unmarshal(raw, &m) != nil || m.Root == "" || m.Name == "" {
		return m, false
	}
	return m, true
}

// SecureShared is called before a guarded command runs in r.Dir: when a
// pending recovery of another data directory has not secured this working
// directory's errored.tfstate yet, tf secures it now. When that fails, the
// command must not run (terraform could overwrite the file): the returned
// outcome is NeedsPerson and says why and what to run. Without a marker it
// is one stat.
func SecureShared(ctx context.Context, r Run) (Outcome, bool) {
	r.setDefaults()
	m, ok := readUnsecured(r.Dir)
	if !ok {
		return Outcome{}, false
	}
	own, _ := filepath.Abs(RecoveryRoot(r.Dir, r.Env))
	if m.Root == own {
		return Outcome{}, false // this data directory's own: its resume secures it
	}
	if _, err := os.Stat(filepath.Join(m.Root, pendingName)); errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(filepath.Join(r.Dir, unsecuredName)) // finished or given up since
		return Outcome{}, false
	}
	lk, err := lockRoot(ctx, m.Root, r.Out)
	if err != nil {
		o := Outcome{Kind: NeedsPerson, Summary: "a recovery pending in " + m.Root + " has not secured errored.tfstate yet, and tf cannot reach it: " + err.Error(),
			Error: err.Error(), Saved: []string{filepath.Join(r.Dir, erroredFile)}, Next: otherDataDirSteps(filepath.Dir(m.Root), false)}
		report(r, &o)
		return o, true
	}
	defer lk.unlock()
	j, err := loadPending(m.Root, r.Dir)
	if err != nil || j.Name != m.Name || j.done(StepSecure) || j.ErroredSeen == nil {
		_ = os.Remove(filepath.Join(r.Dir, unsecuredName)) // finished or given up since
		return Outcome{}, false
	}
	s := newPass(r, j)
	if st := s.secureAhead(ctx); st != nil {
		// Not Pending/RecoveryDir: the recovery is another data
		// directory's; only its own command (printed) continues it.
		o := Outcome{Kind: NeedsPerson, RetryOn: string(st.retry), Error: st.err.Error(),
			Summary: fmt.Sprintf("the recovery pending in %s (data directory %s) could not secure this directory's errored.tfstate yet (%v); a run here could overwrite that file, so tf starts none until it is secured", j.dir(), filepath.Dir(m.Root), st.err),
			Saved:   []string{filepath.Join(r.Dir, erroredFile)}}
		o.Next = otherDataDirSteps(filepath.Dir(m.Root), true)
		report(r, &o)
		return o, true
	}
	return Outcome{}, false
}
