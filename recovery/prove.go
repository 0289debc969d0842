package recovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tfguard/tf/tfout"
)

// Evidence that a lock record is this run's own. Nothing else counts: not
// the same user@host, not the same operation, not a creation time inside
// the run.
const (
	// EvidencePrinted: terraform printed the ID in this run's own failure
	// to release its lock (DynamoDB locking does).
	EvidencePrinted = "printed"
	// EvidenceObserved: tf read this very record (ID, Created, version)
	// while its terraform ran, it was the record of the last successful
	// read, and it is still there: a record with that ID existed from
	// before terraform's failed release until now, and while terraform held
	// its lock no other record could exist.
	EvidenceObserved = "observed"
	// EvidenceGiven: a person named the ID (--lock-id) and tf checked it is
	// the lock on this state.
	EvidenceGiven = "given"
	// EvidenceTaken: tf took this lock itself, to push on the "unchanged"
	// route with no moment between its last check and the push.
	EvidenceTaken = "taken"
)

// Routes that justify a push by tf itself.
const (
	// RouteFence: this run's lock has been there, unchanged, from the
	// failure until now, so nobody else can have written the state: push
	// with -lock=false under it.
	RouteFence = "fence"
	// RouteUnchanged: the state object is exactly the one the run started
	// from (same ETag, size, time, version), so nothing anyone recorded is
	// lost by the push; it takes the lock as usual.
	RouteUnchanged = "unchanged"
)

// ownership is the verdict on the lock records present now.
type ownership struct {
	own      []*Lock // records proven this run's
	id       string
	evidence string
	foreign  *tfout.LockInfo // a record present that is not proven ours
	// why there is no lock of ours (for the report)
	none string
}

// judgeLocks applies the ownership rule to the records present now.
func (s *seqState) judgeLocks(now Locks) ownership {
	j := s.j
	var v ownership
	mayHold, none := s.mayHoldLock()
	v.none = none
	for _, kind := range j.Backend.LockModes() {
		rec := now.Kind(kind)
		if rec == nil {
			continue
		}
		ev := ""
		switch {
		case j.Evidence == EvidenceTaken && j.LockID != "" && rec.Info.ID == j.LockID:
			ev = EvidenceTaken // tf's own, taken for the push
		case mayHold:
			ev = s.evidenceFor(kind, rec)
		}
		if ev == "" || (v.id != "" && v.id != rec.Info.ID) {
			info := rec.Info
			v.foreign = &info
			continue
		}
		v.own = append(v.own, rec)
		v.id = rec.Info.ID
		if v.evidence == "" {
			v.evidence = ev
		}
	}
	if v.foreign != nil {
		v.own, v.id, v.evidence = nil, "", ""
	}
	if len(v.own) == 0 && v.none == "" && v.foreign == nil {
		if id := s.knownOwnID(); id != "" {
			v.none = "this run's lock (ID " + id + ") is gone: someone released it after the run failed"
		} else {
			v.none = "no lock record is present"
		}
	}
	return v
}

// mayHoldLock says whether a lock of this run's can exist at all, and why
// not when it cannot: a run with -lock=false holds none, a run that never
// acquired holds none, and a run whose terraform reported no failure to
// release holds none. A person's --lock-id cannot overrule that proof.
func (s *seqState) mayHoldLock() (bool, string) {
	j := s.j
	takes := takesLock(j.Args)
	if j.Observed != nil {
		takes = j.Observed.TakesLock
	}
	switch {
	case !takes:
		return false, "the run held no lock (-lock=false)"
	case j.Class.AcquireFailed:
		return false, "terraform never acquired the lock in this run"
	case !j.Class.ReleaseFailed:
		return false, "terraform reported no failure to release its lock, so no lock of this run's exists"
	}
	return true, ""
}

// knownOwnID is the ID of this run's lock as far as the evidence of the run
// itself goes (printed, or the last observed record), "" when unknown.
func (s *seqState) knownOwnID() string {
	if ok, _ := s.mayHoldLock(); !ok || s.j.GivenLockID != "" && s.j.Class.LockID == "" && s.j.Observed == nil {
		return ""
	}
	if s.j.Class.LockID != "" {
		return s.j.Class.LockID
	}
	for _, kind := range s.j.Backend.LockModes() {
		if seen := s.observedRecord(kind); seen != nil {
			return seen.Lock.Info.ID
		}
	}
	return ""
}

// evidenceFor says how rec is proven this run's, "" when it is not.
func (s *seqState) evidenceFor(kind string, rec *Lock) string {
	j := s.j
	printed := j.Class.LockID
	observed := s.observedRecord(kind)
	if printed != "" && observed != nil && observed.Lock.Info.ID != printed {
		observed = nil // the two disagree: only terraform's own word stands
	}
	switch {
	case j.Evidence == EvidenceTaken && j.LockID != "" && rec.Info.ID == j.LockID:
		return EvidenceTaken
	case j.GivenLockID != "":
		// A person's word, checked against the run's own evidence: a lock
		// the run proved to be its own elsewhere cannot be another.
		if rec.Info.ID != j.GivenLockID {
			return ""
		}
		if own := s.knownOwnID(); own != "" && own != rec.Info.ID {
			return ""
		}
		return EvidenceGiven
	case printed != "" && rec.Info.ID == printed:
		return EvidencePrinted
	case observed != nil && observed.Lock.Same(rec):
		return EvidenceObserved
	}
	return ""
}

// observedRecord is the record the watch saw last for kind, if it is
// acceptable as evidence: the last successful read saw it (nothing replaced
// or removed it before terraform's end), it is the one and only record that
// appeared while the run ran (a lock that changed hands during the run,
// someone's force-unlock and a new apply, disqualifies the observation), it
// was created after the run started, by this user@host (necessary, never
// sufficient).
func (s *seqState) observedRecord(kind string) *Sighting {
	o := s.j.Observed
	if o == nil {
		return nil
	}
	kw := o.Locks[kind]
	last := kw.last()
	if last == nil || kw.LastID != last.Lock.Info.ID || last.Gone {
		return nil
	}
	since := o.Started.Add(-2 * time.Second)
	for _, seen := range kw.Sightings {
		c, err := time.Parse(time.RFC3339Nano, seen.Lock.Info.Created)
		if (err != nil || !c.Before(since)) && !seen.Lock.Same(&last.Lock) {
			return nil
		}
	}
	created, err := time.Parse(time.RFC3339Nano, last.Lock.Info.Created)
	if err != nil || created.Before(since) {
		return nil
	}
	if s.j.Who != "" && last.Lock.Info.Who != s.j.Who {
		return nil
	}
	return last
}

// prove decides whether tf may push by itself and which lock is this
// run's, from the evidence and the backend as it is now.
func (s *seqState) prove(ctx context.Context) *stepStop {
	j := s.j
	if !j.Backend.IsS3() {
		if j.Errored == nil && j.Class.LockID == "" && j.GivenLockID == "" {
			s.note = "no lock of this run's is known and there is nothing to push"
			return nil
		}
		return &stepStop{step: StepProve, final: true, err: fmt.Errorf("tf cannot read the lock records of the %s backend, so it cannot prove that the state is still fenced: it does nothing by itself", j.Backend.Type)}
	}
	locks, st := s.readLocks(ctx, StepProve)
	if st != nil {
		return st
	}
	if j.Route == RouteChosen {
		if locks.Held() {
			l := locks.All()[0]
			return &stepStop{step: StepProve, retry: retryHolder, holder: l, err: fmt.Errorf("the state is locked by %s (ID %s) since you looked", l.Who, l.ID)}
		}
		s.note = "a person chose to push errored.tfstate over the backend's state"
		return nil
	}
	v := s.judgeLocks(locks)
	if v.foreign != nil {
		return &stepStop{step: StepProve, retry: retryHolder, holder: v.foreign,
			err: fmt.Errorf("the state is locked by %s since %s (%s, ID %s), which tf cannot prove is this run's lock", v.foreign.Who, v.foreign.Created, v.foreign.Operation, v.foreign.ID)}
	}
	if len(v.own) > 0 {
		j.LockID, j.Evidence = v.id, v.evidence
		if s.mustPush() {
			// The lock keeps out only writers that take it: terraform's own
			// lock error suggests -lock=false. The state object itself must
			// be one the run started from or wrote.
			so, st := s.readStateObject(ctx, StepProve)
			if st != nil {
				return st
			}
			if !s.knownState(so) {
				return s.drift(StepProve, s.movedUnderLock(v.id, so))
			}
		}
		j.Route = RouteFence
		s.note = fmt.Sprintf("lock %s is this run's own (%s) and still fences the state", v.id, describeEvidence(v.evidence))
		if s.mustPush() {
			s.note += "; the state object is " + s.knownAs()
		}
		return nil
	}
	j.LockID, j.Evidence = "", ""
	if j.Errored == nil {
		s.note = v.none + "; nothing to push"
		return nil
	}
	if s.remote != nil && !s.remote.Empty && sameContent(*s.remote, *j.Errored) {
		j.Route = RouteUnchanged
		s.note = v.none + "; the backend already holds errored.tfstate's content"
		return nil
	}
	so, st := s.readStateObject(ctx, StepProve)
	if st != nil {
		return st
	}
	if s.knownState(so) {
		j.Route = RouteUnchanged
		s.note = v.none + "; the backend's state object is " + s.knownAs() + " (" + so.String() + ")"
		return nil
	}
	why := v.none
	switch {
	case j.Observed == nil || j.Observed.StartState == nil:
		why += "; tf did not see the state object when the run started, so it cannot tell whether anyone wrote it since"
	default:
		why += fmt.Sprintf("; the state object changed since the run started (then: %s; now: %s)", j.Observed.StartState, so)
	}
	return s.drift(StepProve, "the backend may have moved on since the run started: "+why)
}

// mustPush says whether the push step will write: errored.tfstate exists
// and the backend (as last pulled) does not already hold its content.
func (s *seqState) mustPush() bool {
	e := s.j.Errored
	return e != nil && (s.remote == nil || s.remote.Empty || !sameContent(*s.remote, *e))
}

// knownState says whether the state object now is one this recovery may
// push over: the last one the watch saw while the run ran (the one it
// started from, or its own latest save), one a person looked at before
// choosing, or one tf wrote itself. Compared by identity (ETag, version,
// size, time), never by serial: terraform counts failed saves too. A held
// lock alone proves nothing: a writer with -lock=false ignores it.
func (s *seqState) knownState(so StateObject) bool {
	if last := s.runsLast(); last != nil && last.Same(so) {
		return true
	}
	for _, m := range s.j.Known {
		if m.Object.Same(so) {
			return true
		}
	}
	return false
}

// runsOwnState says whether so is the state object the run started from or
// saved itself, or one tf pushed for it (not one a person looked at).
func (s *seqState) runsOwnState(so StateObject) bool {
	if last := s.runsLast(); last != nil && last.Same(so) {
		return true
	}
	for _, m := range s.j.Known {
		if m.Why == knownPushed && m.Object.Same(so) {
			return true
		}
	}
	return false
}

// runsLast is the state object the run is known to have left: the last
// one the watch saw while a locked run ran, or, for a run that took no
// lock (-lock=false), only the one it started from. The watch cannot tell
// who wrote an object: an unlocked run's lock kept nobody out, so a
// mid-run change may be anyone's.
func (s *seqState) runsLast() *StateObject {
	o := s.j.Observed
	if o == nil {
		return nil
	}
	if !o.TakesLock {
		return o.StartState
	}
	return o.LastState()
}

// Why a state object is known besides the run's own observation.
const (
	knownPushed = "the one tf pushed"
	knownLooked = "the one tf read and showed before it acted"
)

// knownAs says which known state object the backend holds (after
// knownState said it is one).
func (s *seqState) knownAs() string {
	o := s.j.Observed
	if o != nil && o.TakesLock && len(o.States) > 0 && (o.StartState == nil || !o.StartState.Same(o.States[len(o.States)-1].Object)) {
		return "the last one tf saw written while the run held its lock"
	}
	if o != nil && o.StartState != nil {
		return "the one the run started from"
	}
	if n := len(s.j.Known); n > 0 {
		return s.j.Known[n-1].Why
	}
	return "known"
}

// movedUnderLock says why the state object is not one the recovery may
// push over although the run's lock is still there.
func (s *seqState) movedUnderLock(id string, so StateObject) string {
	last := s.runsLast()
	if last == nil && len(s.j.Known) == 0 {
		return fmt.Sprintf("this run's lock %s is still there, but tf has no record of the state object the run started from (now: %s), and a held lock does not prove that nobody wrote the state: terraform's -lock=false ignores it", id, so)
	}
	then := "none"
	if last != nil {
		then = last.String()
	} else if n := len(s.j.Known); n > 0 {
		then = s.j.Known[n-1].Object.String()
	}
	return fmt.Sprintf("this run's lock %s is still there, but the state object is not the one the run started from or saved itself (then: %s; now: %s): someone wrote the state without taking the lock (terraform's -lock=false, or a write to the bucket)", id, then, so)
}

func describeEvidence(ev string) string {
	switch ev {
	case EvidencePrinted:
		return "terraform printed its ID when it failed to release it"
	case EvidenceObserved:
		return "tf read this very record while its terraform ran"
	case EvidenceGiven:
		return "named by --lock-id, or by the owner record of a run proven dead, and found on this state"
	}
	return ev
}

// drift is the final stop for a backend that may have moved on: the state
// is secured, the difference is shown, a person chooses.
func (s *seqState) drift(step, why string) *stepStop {
	st := &stepStop{step: step, final: true, err: errors.New(why + ". tf does not push by itself")}
	if s.remote != nil && s.j.Errored != nil {
		if raw, err := readBackup(s.j); err == nil {
			if e, err := parseState(raw); err == nil {
				d := diffStates(*s.remote, e)
				st.diff = &d
			}
		}
	}
	return st
}

// push puts errored.tfstate back: under this run's lock with -lock=false
// (fence), or taking the lock as usual when the backend is the state the
// run started from. Both are re-checked right before the push. Never -force.
func (s *seqState) push(ctx context.Context) *stepStop {
	j := s.j
	e := j.Errored
	if e == nil {
		s.note = "nothing to push: terraform saved the state"
		return nil
	}
	if s.remote == nil {
		rem, st := s.pull(ctx, StepPush)
		if st != nil {
			return st
		}
		s.remote = &rem
	}
	rem := *s.remote
	switch {
	case !rem.Empty && sameContent(rem, *e) && (e.First || rem.Serial >= e.Serial):
		s.note = "the backend already holds errored.tfstate's content (" + rem.String() + ")"
		j.Pushed = e
		return nil
	case e.First && !rem.Empty:
		return s.drift(StepPush, "errored.tfstate is the first state of this configuration, but the backend now holds a state (someone else applied meanwhile)")
	case !e.First && !rem.Empty && rem.Lineage != e.Lineage:
		return s.drift(StepPush, fmt.Sprintf("the backend holds a different state (lineage %s) than errored.tfstate (lineage %s)", rem.Lineage, e.Lineage))
	}
	lockFalse := false
	// byRun: the backend holds the state the run started from or saved
	// itself, so the difference is what the run did; otherwise it is the
	// state a person looked at and chose to push over.
	byRun := true
	switch j.Route {
	case RouteFence:
		locks, st := s.readLocks(ctx, StepPush)
		if st != nil {
			return st
		}
		v := s.judgeLocks(locks)
		if v.foreign != nil || len(v.own) == 0 || v.id != j.LockID {
			return s.drift(StepPush, "this run's lock "+j.LockID+" no longer fences the state ("+firstNonEmpty(v.none, "another lock is there")+")")
		}
		so, st := s.readStateObject(ctx, StepPush)
		if st != nil {
			return st
		}
		if !s.knownState(so) {
			return s.drift(StepPush, s.movedUnderLock(j.LockID, so))
		}
		byRun = s.runsOwnState(so)
		lockFalse = true
	case RouteUnchanged:
		// Take the lock first, then check the object again: nobody can
		// write between that check and the push.
		if st := s.takeOwnLock(ctx); st != nil {
			return st
		}
		so, st := s.readStateObject(ctx, StepPush)
		if st != nil {
			return st
		}
		if !rem.Empty && !s.knownState(so) {
			return s.drift(StepPush, "the state object changed since tf checked it")
		}
		byRun = rem.Empty || s.runsOwnState(so)
		lockFalse = true
	case RouteChosen:
		// A person chose, having seen the difference: the backend must
		// still hold the state they looked at.
		if len(j.Known) > 0 {
			so, st := s.readStateObject(ctx, StepPush)
			if st != nil {
				return st
			}
			if !s.knownState(so) {
				return s.drift(StepPush, "the backend's state object changed since you looked at it (now: "+so.String()+")")
			}
		}
		byRun = false
	default:
		return s.drift(StepPush, "tf has no proof that pushing is safe")
	}
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
	if d := diffStates(rem, *e); byRun {
		// The difference between the backend's state (as the run started
		// from it, or as this run last saved it mid-apply) and
		// errored.tfstate is what the push adds.
		j.Made = &d
	} else if len(d.OnlyRemote) > 0 {
		// Not the run's doing: what the push drops, said as such.
		j.Dropped = d.OnlyRemote
	}
	if j.Progress != nil {
		// What terraform said it completed, checked against the state that
		// is about to be pushed: the report never claims more than that.
		j.Progress.Unrecorded = j.Progress.UnrecordedIn(e.holds)
	}
	path := filepath.Join(j.dir(), backupName)
	_, errb, err := s.r.runner.Run(ctx, buildPush(s.r.Terraform, s.r.Dir, s.env, path, lockFalse))
	if err != nil {
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
			j.Dropped = nil
			st := s.drift(StepPush, fmt.Sprintf("%s refused to push errored.tfstate over the backend's state (%s) and will refuse it every time", s.r.Flavor, why))
			st.err = fmt.Errorf("%s refused to push errored.tfstate over the backend's state (%s) and will refuse it every time; tf never pushes with -force: a person decides which state to keep", s.r.Flavor, why)
			return st
		}
		return &stepStop{step: StepPush, retry: retryBackend, err: fmt.Errorf("%s state push failed: %w: %s", s.r.Flavor, err, lastLines(errb, 6))}
	}
	j.Pushed = e
	if so, err := s.stateObjectNow(ctx); err == nil {
		// tf's own write: a later pass may find it and go on from it.
		j.Known = append(j.Known, StateMark{Why: knownPushed, Object: so, Lineage: e.Lineage, Serial: e.Serial, SHA256: e.SHA256})
	}
	switch {
	case j.Evidence == EvidenceTaken:
		s.note = fmt.Sprintf("pushed errored.tfstate (%s) under lock %s, which tf took after finding that the backend's state object is %s", e, j.LockID, s.knownAs())
	case j.Route == RouteUnchanged && len(j.Backend.LockModes()) == 0:
		s.note = fmt.Sprintf("pushed errored.tfstate (%s); the backend has no locking: the object was checked right before the push (it was %s)", e, s.knownAs())
	case lockFalse:
		s.note = fmt.Sprintf("pushed errored.tfstate (%s) with -lock=false while this run's lock %s still fenced the state", e, j.LockID)
	default:
		s.note = fmt.Sprintf("pushed errored.tfstate (%s), taking the lock as usual", e)
	}
	return nil
}

// stateObjectNow reads the state object's identity, nil error only on a
// successful read.
func (s *seqState) stateObjectNow(ctx context.Context) (StateObject, error) {
	rd, err := s.r.backend(ctx, s.j.Backend, s.r.Env)
	if err != nil {
		return StateObject{}, err
	}
	return rd.StateObject(ctx)
}

// takeOwnLock takes the state lock for tf (once: a resumed journal knows
// the ID), or finds it still held.
func (s *seqState) takeOwnLock(ctx context.Context) *stepStop {
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
	j.LockID, j.Evidence = info.ID, EvidenceTaken
	if err := j.save(); err != nil {
		return &stepStop{step: StepPush, retry: retryDisk, err: err}
	}
	if err := rd.TakeLock(ctx, info); err != nil {
		if errors.Is(err, errLockHeld) {
			j.LockID, j.Evidence = "", "" // certainly not created
			_ = j.save()
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

// verify pulls the state again: what was pushed must be there, while this
// run's lock (if any) still fences it.
func (s *seqState) verify(ctx context.Context) *stepStop {
	rem, st := s.pull(ctx, StepVerify)
	if st != nil {
		return st
	}
	s.remote = &rem
	e := s.j.Errored
	if e == nil {
		s.note = "the backend holds " + rem.String()
		return nil
	}
	if rem.Empty || !sameContent(rem, *e) || (!e.First && rem.Serial < e.Serial) {
		if s.j.Pushed != nil && s.j.done(StepVerify) {
			// An earlier pass verified the push (and was stopped before the
			// unlock): the backend held this content then. Another state
			// now means someone wrote after tf, not that the push failed.
			s.superseded = rem.String()
			s.note = "the push was verified earlier; the backend now holds " + rem.String() + ": someone wrote the state after tf"
			return nil
		}
		return &stepStop{step: StepVerify, final: true, err: fmt.Errorf("the backend does not hold what was pushed: backend %s, pushed %s; the lock is kept", rem, e)}
	}
	s.note = "verified: the backend holds " + rem.String() + ", the content of errored.tfstate"
	return nil
}

// unlock releases this run's lock by its ID, after re-reading that it is
// still the same record; a partial release is finished on the next pass.
func (s *seqState) unlock(ctx context.Context) *stepStop {
	id := s.j.LockID
	if id == "" {
		return nil
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
		return st
	}
	if !present(locks) {
		s.note = "lock " + id + " is released"
		return nil
	}
	_, errb, err := s.r.runner.Run(ctx, buildUnlock(s.r.Terraform, s.r.Dir, s.env, id))
	after, st := s.readLocks(ctx, StepUnlock)
	if st != nil {
		return st
	}
	if present(after) {
		msg := "is still held"
		if err != nil {
			msg = fmt.Sprintf("is still held: %s force-unlock failed: %s", s.r.Flavor, lastLines(errb, 4))
			if tfout.ClassifySideCall(errb).Expired {
				return &stepStop{step: StepUnlock, retry: retryCredentials, err: fmt.Errorf("lock %s %s", id, msg)}
			}
		}
		return &stepStop{step: StepUnlock, retry: retryBackend, err: fmt.Errorf("lock %s %s", id, msg)}
	}
	s.note = "released lock " + id
	if err != nil {
		s.note += " (" + s.r.Flavor + " force-unlock reported an error for a record that was already gone; none is left)"
	}
	return nil
}

func readBackup(j *journal) ([]byte, error) {
	return os.ReadFile(filepath.Join(j.dir(), backupName))
}

// notDestroyedByRun lists the addresses terraform's output (p) does not
// show this run destroying.
func notDestroyedByRun(p *tfout.Progress, addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if p == nil || !slices.Contains(p.Done, tfout.Change{Address: a, Action: "destroy"}) {
			out = append(out, a)
		}
	}
	return out
}
