package recovery

import (
	"context"
	"fmt"
)

// verify pulls the state again: what was pushed must be there, while this
// run's lock (if any) still fences it.
func (s *pass) verify(ctx context.Context) (note string, stop *stepStop) {
	rem, st := s.pull(ctx, StepVerify)
	if st != nil {
		return note, st
	}
	s.remote = &rem
	e := s.j.Errored
	if e == nil {
		note = "the backend holds " + rem.String()
		return note, nil
	}
	if rem.Empty || !sameContent(rem, *e) || (!e.First && rem.Serial < e.Serial) {
		if s.j.Pushed != nil && s.j.done(StepVerify) {
			// An earlier pass verified the push (and was stopped before the
			// unlock): the backend held this content then. Another state
			// now means someone wrote after tf, not that the push failed.
			s.superseded = rem.String()
			note = "the push was verified earlier; the backend now holds " + rem.String() + ": someone wrote the state after tf"
			return note, nil
		}
		return note, &stepStop{step: StepVerify, final: true, err: fmt.Errorf("the backend does not hold what was pushed: backend %s, pushed %s; the lock is kept", rem, e)}
	}
	note = "verified: the backend holds " + rem.String() + ", the content of errored.tfstate"
	return note, nil
}
