package recovery

import (
	"context"
	"fmt"

	"github.com/tfguard/tf/tfout"
)

// unlock releases this run's lock by its ID, after re-reading that it is
// still the same record; a partial release is finished on the next pass.
func (s *pass) unlock(ctx context.Context) (note string, stop *stepStop) {
	id := s.j.LockID
	if id == "" {
		return note, nil
	}
	present := func(l Locks) bool {
		for _, rec := range l.All() {
			if rec.ID == id {
				return true
			}
		}
		return false
	}
	locks, st := s.readLocks(ctx, StepUnlock)
	if st != nil {
		return note, st
	}
	if !present(locks) {
		note = "lock " + id + " is released"
		return note, nil
	}
	_, errb, err := s.r.runner.Run(ctx, buildUnlock(s.r.Terraform, s.r.Dir, s.env, id))
	after, st := s.readLocks(ctx, StepUnlock)
	if st != nil {
		return note, st
	}
	if present(after) {
		msg := "is still held"
		if err != nil {
			msg = fmt.Sprintf("is still held: %s force-unlock failed: %s", s.r.Flavor, lastLines(errb, 4))
			if tfout.ClassifySideCall(errb).Expired {
				return note, &stepStop{step: StepUnlock, retry: retryCredentials, err: fmt.Errorf("lock %s %s", id, msg)}
			}
		}
		return note, &stepStop{step: StepUnlock, retry: retryBackend, err: fmt.Errorf("lock %s %s", id, msg)}
	}
	note = "released lock " + id
	if err != nil {
		note += " (" + s.r.Flavor + " force-unlock reported an error for a record that was already gone; none is left)"
	}
	return note, nil
}
