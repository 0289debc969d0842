package recovery

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
)

// RouteChosen: a person chose to push errored.tfstate over the backend's
// state with `tf guard recover --use errored`.
const RouteChosen = "chosen"

// keepRemote secures errored.tfstate in the recovery directory and removes
// it from the working directory: the person chose the backend's state.
func (s *pass) keepRemote(ctx context.Context) Outcome {
	note, st := s.secure(ctx)
	if st != nil {
		return s.stop(st)
	}
	_ = s.j.record(StepSecure, "done", note, s.r.Now())
	s.j.setPushed(nil)
	if _, st := s.close(ctx); st != nil {
		return s.stop(st)
	}
	if s.j.GivenLockID != "" {
		// The person named the lock as abandoned: with the backend's state
		// kept, nothing is left for it to fence.
		s.j.setLock(s.j.GivenLockID, EvidenceGiven)
		note, st := s.unlock(ctx)
		if st != nil {
			return s.stop(st)
		}
		_ = s.j.record(StepUnlock, "done", note, s.r.Now())
	}
	if err := s.j.finish(Abandoned); err != nil {
		return s.stop(&stepStop{step: StepClose, retry: retryDisk, err: err})
	}
	o := s.outcome(Abandoned)
	o.Summary = "kept the backend's state as you chose; errored.tfstate is kept in " + filepath.Join(s.j.dir(), backupName)
	if s.j.GivenLockID != "" {
		o.Summary += "; released lock " + s.j.GivenLockID + " as you named it"
	}
	o.Saved = []string{filepath.Join(s.j.dir(), backupName)}
	return reported(s.r, o)
}

// giveLockID records a person's --lock-id in the pending journal.
func giveLockID(root, dir, id string) error {
	lk, err := lockRoot(context.Background(), root, os.Stderr)
	if err != nil {
		return err
	}
	defer lk.unlock()
	j, err := loadPending(root, dir)
	if err != nil {
		return err
	}
	j.setGivenLockID(id)
	return j.save()
}

// abandon closes the pending recovery, keeping every file.
func abandon(ctx context.Context, r Run, root string) Outcome {
	lk, err := lockRoot(ctx, root, r.Out)
	if err != nil {
		return reported(r, failed(r, err))
	}
	defer lk.unlock()
	if !Pending(r.Dir, r.Env) {
		return sayOnly(r, Outcome{Kind: Intact, Summary: "no recovery is pending here; nothing to abandon"})
	}
	j, err := loadPending(root, r.Dir)
	if err != nil {
		if rmErr := os.Remove(filepath.Join(root, pendingName)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			return reported(r, failed(r, rmErr))
		}
		return reported(r, Outcome{Kind: Abandoned, Summary: "abandoned an unreadable recovery journal; everything under " + root + " is kept"})
	}
	_ = j.record("abandon", "done", "abandoned by a person with tf guard recover --abandon", r.Now())
	clearUnsecured(r.Dir, j)
	if err := j.finish(Abandoned); err != nil {
		return reported(r, failed(r, err))
	}
	st := newPass(r, j)
	o := st.outcome(Abandoned)
	o.Saved = st.savedAt()
	o.Summary = "abandoned the pending recovery: tf changes nothing more. " + abandonedWhat(j, r.Flavor) + "; every file is kept in " + j.dir()
	o.Next = abandonSteps(r.Flavor, cmp.Or(j.LockID, knownOwnID(st.j)), j.Pushed != nil && j.done(StepVerify), j.done(StepUnlock))
	return reported(r, o)
}
