package recovery

import (
	"context"
	"fmt"
)

// prove decides whether tf may push by itself and which lock is this
// run's, from the evidence and the backend as it is now.
func (s *pass) prove(ctx context.Context) (note string, stop *stepStop) {
	j := s.j
	if !j.Backend.IsS3() {
		if j.Errored == nil && j.Class.LockID == "" && j.GivenLockID == "" {
			note = "no lock of this run's is known and there is nothing to push"
			return note, nil
		}
		return note, &stepStop{step: StepProve, final: true, err: fmt.Errorf("tf cannot read the lock records of the %s backend, so it cannot prove that the state is still fenced: it does nothing by itself", j.Backend.Type)}
	}
	locks, st := s.readLocks(ctx, StepProve)
	if st != nil {
		return note, st
	}
	if j.Route == RouteChosen {
		if locks.Held() {
			l := locks.All()[0]
			return note, &stepStop{step: StepProve, retry: retryHolder, holder: l, err: fmt.Errorf("the state is locked by %s (ID %s) since you looked", l.Who, l.ID)}
		}
		note = "a person chose to push errored.tfstate over the backend's state"
		return note, nil
	}
	v := judgeLocks(s.j, locks)
	if v.foreign != nil {
		return note, &stepStop{step: StepProve, retry: retryHolder, holder: v.foreign,
			err: fmt.Errorf("the state is locked by %s since %s (%s, ID %s), which tf cannot prove is this run's lock", v.foreign.Who, v.foreign.Created, v.foreign.Operation, v.foreign.ID)}
	}
	if len(v.own) > 0 {
		j.setLock(v.id, v.evidence)
		if mustPush(s.j.Errored, s.remote) {
			// The lock keeps out only writers that take it: terraform's own
			// lock error suggests -lock=false. The state object itself must
			// be one the run started from or wrote.
			so, st := s.readStateObject(ctx, StepProve)
			if st != nil {
				return note, st
			}
			if !knownState(s.j, so) {
				return note, s.drift(StepProve, movedUnderLock(s.j, v.id, so))
			}
		}
		j.setRoute(RouteFence)
		note = fmt.Sprintf("lock %s is this run's own (%s) and still fences the state", v.id, describeEvidence(v.evidence))
		if mustPush(s.j.Errored, s.remote) {
			note += "; the state object is " + knownAs(s.j)
		}
		return note, nil
	}
	j.clearLock()
	if j.Errored == nil {
		note = v.none + "; nothing to push"
		return note, nil
	}
	if s.remote != nil && !s.remote.Empty && sameContent(*s.remote, *j.Errored) {
		j.setRoute(RouteUnchanged)
		note = v.none + "; the backend already holds errored.tfstate's content"
		return note, nil
	}
	so, st := s.readStateObject(ctx, StepProve)
	if st != nil {
		return note, st
	}
	if knownState(s.j, so) {
		j.setRoute(RouteUnchanged)
		note = v.none + "; the backend's state object is " + knownAs(s.j) + " (" + so.String() + ")"
		return note, nil
	}
	why := v.none
	switch {
	case j.Observed == nil || j.Observed.StartState == nil:
		why += "; tf did not see the state object when the run started, so it cannot tell whether anyone wrote it since"
	default:
		why += fmt.Sprintf("; the state object changed since the run started (then: %s; now: %s)", j.Observed.StartState, so)
	}
	return note, s.drift(StepProve, "the backend may have moved on since the run started: "+why)
}
