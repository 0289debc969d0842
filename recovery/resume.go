package recovery

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Resume finishes or explains the unfinished recovery for r.Dir's state.
// The wrapper calls it before running a guarded command when Pending.
func Resume(ctx context.Context, r Run) Outcome {
	r.setDefaults()
	root := RecoveryRoot(r.Dir, r.Env)
	lk, err := lockRoot(ctx, root, r.Out)
	if err != nil {
		return reported(r, Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error(), Pending: true, Next: againSteps()})
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
		return reported(r, Outcome{Kind: NeedsPerson, Pending: true, Summary: "an interrupted recovery cannot be read: " + err.Error(), Error: err.Error(),
			Next: unreadableSteps(root)})
	}
	if j.Tool == "" {
		j.Tool = "terraform"
	}
	if r.Flavor == "" {
		r.Flavor = j.Tool
	}
	st := newPass(r, j)
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
		o.Next = otherCheckoutSteps(j.WorkDir)
		return sayOnly(r, o)
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
			return sayOnly(r, o)
		}
		o := Outcome{Kind: Elsewhere, Pending: true, RecoveryDir: j.dir(), Backend: &j.Backend,
			Summary: fmt.Sprintf("a recovery of %s is pending, but this directory now uses %s; tf acts only on the state that failed, so it leaves both alone", j.Backend, cur)}
		o.Next = elsewhereSteps(j.Backend.Workspace, j.dir())
		return sayOnly(r, o)
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
		st = newPass(r, j)
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
