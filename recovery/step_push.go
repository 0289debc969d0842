package recovery

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tfguard/tf/tfout"
)

// push puts errored.tfstate back: under this run's lock with -lock=false
// (fence), or taking the lock as usual when the backend is the state the
// run started from. Both are re-checked right before the push. Never -force.
func (s *pass) push(ctx context.Context) (note string, stop *stepStop) {
	j := s.j
	e := j.Errored
	if e == nil {
		return "nothing to push: terraform saved the state", nil
	}
	if s.remote == nil {
		rem, st := s.pull(ctx, StepPush)
		if st != nil {
			return "", st
		}
		s.remote = &rem
	}
	rem := *s.remote
	already, drift := checkPushable(rem, *e)
	if already {
		j.setPushed(e)
		return "the backend already holds errored.tfstate's content (" + rem.String() + ")", nil
	}
	if drift != "" {
		return "", s.drift(StepPush, drift)
	}
	lockFalse, byRun, midRun, st := s.recheckRoute(ctx, rem)
	if st != nil {
		return "", st
	}
	if st := s.recordWhatPushAdds(rem, e, byRun, midRun); st != nil {
		return "", st
	}
	if st := s.runPush(ctx, lockFalse); st != nil {
		return "", st
	}
	j.setPushed(e)
	if so, err := s.stateObjectNow(ctx); err == nil {
		// tf's own write: a later pass may find it and go on from it.
		j.addKnown(StateMark{Why: knownPushed, Object: so, Lineage: e.Lineage, Serial: e.Serial, SHA256: e.SHA256})
	}
	return pushNote(j, lockFalse), nil
}

// checkPushable compares the backend's state (rem) with errored.tfstate
// (e) before any route is looked at: already says the backend holds e's
// content; drift says why a push would go over a state that is not the
// same configuration's ("" when it would not).
func checkPushable(rem, e StateSummary) (already bool, drift string) {
	switch {
	case !rem.Empty && sameContent(rem, e) && (e.First || rem.Serial >= e.Serial):
		return true, ""
	case e.First && !rem.Empty:
		return false, "errored.tfstate is the first state of this configuration, but the backend now holds a state (someone else applied meanwhile)"
	case !e.First && !rem.Empty && rem.Lineage != e.Lineage:
		return false, fmt.Sprintf("the backend holds a different state (lineage %s) than errored.tfstate (lineage %s)", rem.Lineage, e.Lineage)
	}
	return false, ""
}

// recheckRoute checks the route the prove step found once more, right
// before the push. lockFalse: push with -lock=false (tf's own or the run's
// lock fences the state). byRun: the backend holds the state the run
// started from or saved itself, so the difference is what the run did;
// otherwise it is the state a person looked at and chose to push over.
// midRun: the backend holds an object the watch saw written while the run
// held its lock, taken for the run's own save (see savedMidRun).
func (s *pass) recheckRoute(ctx context.Context, rem StateSummary) (lockFalse, byRun, midRun bool, stop *stepStop) {
	j := s.j
	switch j.Route {
	case RouteFence:
		locks, st := s.readLocks(ctx, StepPush)
		if st != nil {
			return false, false, false, st
		}
		v := judgeLocks(s.j, locks)
		if v.foreign != nil || len(v.own) == 0 || v.id != j.LockID {
			return false, false, false, s.drift(StepPush, "this run's lock "+j.LockID+" no longer fences the state ("+cmp.Or(v.none, "another lock is there")+")")
		}
		so, st := s.readStateObject(ctx, StepPush)
		if st != nil {
			return false, false, false, st
		}
		if !knownState(s.j, so) {
			return false, false, false, s.drift(StepPush, movedUnderLock(s.j, j.LockID, so))
		}
		return true, runsOwnState(s.j, so), savedMidRun(s.j, so), nil
	case RouteUnchanged:
		// Take the lock first, then check the object again: nobody can
		// write between that check and the push.
		if st := s.takeOwnLock(ctx); st != nil {
			return false, false, false, st
		}
		so, st := s.readStateObject(ctx, StepPush)
		if st != nil {
			return false, false, false, st
		}
		if !rem.Empty && !knownState(s.j, so) {
			return false, false, false, s.drift(StepPush, "the state object changed since tf checked it")
		}
		return true, rem.Empty || runsOwnState(s.j, so), !rem.Empty && savedMidRun(s.j, so), nil
	case RouteChosen:
		// A person chose, having seen the difference: the backend must
		// still hold the state they looked at.
		if len(j.Known) > 0 {
			so, st := s.readStateObject(ctx, StepPush)
			if st != nil {
				return false, false, false, st
			}
			if !knownState(s.j, so) {
				return false, false, false, s.drift(StepPush, "the backend's state object changed since you looked at it (now: "+so.String()+")")
			}
		}
		return false, false, false, nil
	}
	return false, false, false, s.drift(StepPush, "tf has no proof that pushing is safe")
}

// recordWhatPushAdds journals what the push changes in the backend's state
// rem: what the run made (byRun), or what a person's choice drops. It
// stops when the push would drop what the run's own output does not show
// it destroying.
func (s *pass) recordWhatPushAdds(rem StateSummary, e *StateSummary, byRun, midRun bool) *stepStop {
	j := s.j
	if d := diffStates(rem, *e); j.Route != RouteChosen && len(d.OnlyRemote) > 0 {
		// The watch cannot tell who wrote an object: a write by someone
		// else after the run's last save looks the same as the run's own.
		// Only terraform's output can say that the run destroyed them.
		if missing := notDestroyedByRun(j.Progress, d.OnlyRemote); len(missing) > 0 {
			them := plural(len(missing), "it", "them")
			return s.drift(StepPush, fmt.Sprintf("the backend's state records %s, which errored.tfstate does not, and terraform's output does not show this run destroying %s: someone else may have recorded %s",
				strings.Join(missing, ", "), them, them))
		}
	}
	if d := diffStates(rem, *e); midRun && len(d.OnlyErrored) > 0 {
		// The same for an instance only errored.tfstate records: unless
		// the run made it after its last save, someone else took it out of
		// the state (state rm, a removed block) after or over that save.
		if other := notAddedByRun(j.Progress, d.OnlyErrored); len(other) > 0 {
			them := plural(len(other), "it", "them")
			why := "terraform's output does not show this run creating or importing " + them
			if j.Progress == nil {
				why = noProgressLines
			}
			return s.drift(StepPush, fmt.Sprintf("the state object written while this run held its lock does not record %s, which errored.tfstate does, and %s: someone else (with -lock=false) may have removed %s from the state; pushing would put %s back",
				strings.Join(other, ", "), why, them, them))
		}
	}
	if d := diffStates(rem, *e); midRun && len(d.Changed) > 0 {
		// A save of the run's own holds every instance the run did not
		// touch as errored.tfstate does (both carry the plan's refresh):
		// one that differs was written by someone else (-lock=false),
		// after or over the run's last save.
		if other := notChangedByRun(j.Progress, d.Changed); len(other) > 0 {
			them := plural(len(other), "it", "them")
			why := "terraform's output does not show this run changing " + them
			if j.Progress == nil {
				why = noProgressLines
			}
			return s.drift(StepPush, fmt.Sprintf("the state object written while this run held its lock records %s differently from errored.tfstate, and %s: someone else (with -lock=false) may have written %s; pushing would undo that",
				strings.Join(other, ", "), why, them))
		}
	}
	if d := diffStates(rem, *e); byRun {
		// The difference between the backend's state (as the run started
		// from it, or as this run last saved it mid-apply) and
		// errored.tfstate is what the push adds.
		j.setMade(&d)
	} else if len(d.OnlyRemote) > 0 {
		// Not the run's doing: what the push drops, said as such.
		j.setDropped(d.OnlyRemote)
	}
	if j.Progress != nil {
		// What terraform said it completed, checked against the state that
		// is about to be pushed: the report never claims more than that.
		j.setUnrecorded(j.Progress.UnrecordedIn(e.holds))
	}
	return nil
}

// runPush runs terraform's state push of tf's backup (never -force).
func (s *pass) runPush(ctx context.Context, lockFalse bool) *stepStop {
	path := filepath.Join(s.j.dir(), backupName)
	_, errb, err := s.r.runner.Run(ctx, buildPush(s.r.Terraform, s.r.Dir, s.env, path, lockFalse))
	if err == nil {
		return nil
	}
	c := tfout.ClassifySideCall(errb)
	switch {
	case c.Expired:
		return &stepStop{step: StepPush, retry: retryCredentials, err: fmt.Errorf("%s state push failed: the credentials expired again", s.r.Flavor)}
	case c.AcquireFailed:
		return &stepStop{step: StepPush, retry: retryHolder, holder: c.Holder, err: fmt.Errorf("%s state push could not take the lock: another run holds it", s.r.Flavor)}
	}
	if why := tfout.PushRefused(errb); why != "" {
		// terraform refuses this push every time (lineage or serial):
		// retrying cannot change that. A person decides.
		s.j.setDropped(nil)
		st := s.drift(StepPush, fmt.Sprintf("%s refused to push errored.tfstate over the backend's state (%s) and will refuse it every time", s.r.Flavor, why))
		st.err = fmt.Errorf("%s refused to push errored.tfstate over the backend's state (%s) and will refuse it every time; tf never pushes with -force: a person decides which state to keep", s.r.Flavor, why)
		return st
	}
	return &stepStop{step: StepPush, retry: retryBackend, err: fmt.Errorf("%s state push failed: %w: %s", s.r.Flavor, err, lastLines(errb, 6))}
}

// pushNote is the push step's journal line.
func pushNote(j *journal, lockFalse bool) string {
	e := j.Errored
	switch {
	case j.Evidence == EvidenceTaken:
		return fmt.Sprintf("pushed errored.tfstate (%s) under lock %s, which tf took after finding that the backend's state object is %s", e, j.LockID, knownAs(j))
	case j.Route == RouteUnchanged && len(j.Backend.LockModes()) == 0:
		return fmt.Sprintf("pushed errored.tfstate (%s); the backend has no locking: the object was checked right before the push (it was %s)", e, knownAs(j))
	case lockFalse:
		return fmt.Sprintf("pushed errored.tfstate (%s) with -lock=false while this run's lock %s still fenced the state", e, j.LockID)
	}
	return fmt.Sprintf("pushed errored.tfstate (%s), taking the lock as usual", e)
}

// takeOwnLock takes the state lock for tf (once: a resumed journal knows
// the ID), or finds it still held.
func (s *pass) takeOwnLock(ctx context.Context) *stepStop {
	j := s.j
	rd, st := s.reader(ctx, StepPush)
	if st != nil {
		return st
	}
	if len(j.Backend.LockModes()) == 0 {
		// No locking configured: there is no lock to take (the backend's
		// TakeLock writes nothing), so none is named or journaled.
		return nil
	}
	if j.Evidence == EvidenceTaken && j.LockID != "" {
		// An earlier attempt took it (or may have: its answer was lost). If
		// it is there it is tf's; if not, tf takes a new one. Either way
		// the state object is checked again under it before the push.
		locks, st := s.readLocks(ctx, StepPush)
		if st != nil {
			return st
		}
		for _, rec := range locks.All() {
			if rec.ID == j.LockID {
				return nil
			}
		}
	}
	info := tfout.LockInfo{ID: newLockID(), Operation: "tf-recovery", Info: "tf is putting back the state a failed run could not save",
		Who: whoAmI(), Created: s.r.Now().UTC().Format(time.RFC3339Nano), Path: j.Backend.LockPath()}
	// Journaled before it exists: a kill right after leaves an ID that
	// the next tf recognises as its own.
	if err := j.takingLock(info.ID); err != nil {
		return &stepStop{step: StepPush, retry: retryDisk, err: err}
	}
	if err := rd.TakeLock(ctx, info); err != nil {
		if errors.Is(err, errLockHeld) {
			_ = j.lockNotTaken() // certainly not created
		}
		if st := interrupted(ctx, StepPush); st != nil {
			return st
		}
		if errors.Is(err, errLockHeld) {
			locks, _ := s.readLocks(ctx, StepPush)
			var holder *tfout.LockInfo
			if all := locks.All(); len(all) > 0 {
				holder = all[0]
			}
			return &stepStop{step: StepPush, retry: retryHolder, holder: holder, err: errors.New("another run took the lock since tf checked the state")}
		}
		return &stepStop{step: StepPush, retry: retryBackend, err: fmt.Errorf("tf could not lock the state: %w", err)}
	}
	return nil
}

// newLockID is a random UUID, as terraform's lock IDs are.
func newLockID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// notChangedByRun lists the managed-resource addresses terraform's output
// (p) does not show this run changing: no change of theirs completed,
// failed or was cut short. Data sources are left out: a run reads them
// again without a change line, and nothing is lost when their record is
// replaced.
func notChangedByRun(p *tfout.Progress, addrs []string) []string {
	return notShownByRun(p, addrs, func(a string) bool {
		touched := func(c tfout.Change) bool { return c.Address == a }
		return slices.ContainsFunc(p.Done, touched) || slices.ContainsFunc(p.Cut, touched) || slices.Contains(p.Failed, a)
	})
}

// notDestroyedByRun lists the addresses terraform's output (p) does not
// show this run destroying.
//
// Data sources are left out (a plan drops one removed from the
// configuration without a line, and nothing is lost with its record), and
// so are the addresses the run's plan takes out of the state without a
// destroy (Progress.Gone: moved, forgotten by a removed block, found
// deleted outside terraform).
func notDestroyedByRun(p *tfout.Progress, addrs []string) []string {
	return notShownByRun(p, addrs, func(a string) bool {
		return slices.Contains(p.Done, tfout.Change{Address: a, Action: "destroy"}) || slices.Contains(p.Gone, a)
	})
}

// notAddedByRun lists the managed-resource addresses terraform's output (p)
// does not show this run bringing into the state: no create of theirs
// completed, failed or was cut short, and the plan did not move or import
// them there (Progress.Adopted).
func notAddedByRun(p *tfout.Progress, addrs []string) []string {
	return notShownByRun(p, addrs, func(a string) bool {
		created := tfout.Change{Address: a, Action: "create"}
		return slices.Contains(p.Done, created) || slices.Contains(p.Cut, created) ||
			slices.Contains(p.Failed, a) || slices.Contains(p.Adopted, a)
	})
}

// notShownByRun lists the managed-resource addresses of addrs for which
// shown (asked only with progress lines to ask of) is false; without
// progress lines, none is shown. Data sources are always left out.
func notShownByRun(p *tfout.Progress, addrs []string, shown func(address string) bool) []string {
	var out []string
	for _, a := range addrs {
		if isDataSource(a) || p != nil && shown(a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// noProgressLines is why tf cannot tell a run's changes from another
// writer's when it has none of terraform's progress lines.
const noProgressLines = "tf has no progress lines of terraform's for this run (its output was not read, or held none), so it cannot tell this run's changes from someone else's"

// isDataSource says whether a resource instance address (as statefile.go
// writes it: module.NAME[KEY]. prefixes, then data.TYPE.NAME[KEY] for a
// data source) is a data source's.
func isDataSource(a string) bool {
	for strings.HasPrefix(a, "module.") {
		rest := a[len("module."):]
		i := strings.IndexAny(rest, ".[")
		if i < 0 {
			return false
		}
		if rest[i] == '[' {
			// A key: a number, or a quoted string that may hold dots
			// and brackets.
			j := i + 1
			if j < len(rest) && rest[j] == '"' {
				for j++; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' {
						j++
					}
				}
			}
			k := strings.IndexByte(rest[j:], ']')
			if k < 0 {
				return false
			}
			i = j + k + 1
		}
		if i >= len(rest) || rest[i] != '.' {
			return false
		}
		a = rest[i+1:]
	}
	return strings.HasPrefix(a, "data.")
}
