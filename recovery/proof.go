package recovery

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/tfguard/tf/tfargs"
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
func judgeLocks(j *journal, now Locks) ownership {
	var v ownership
	mayHold, none := mayHoldLock(j)
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
			ev = evidenceFor(j, kind, rec)
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
		if id := knownOwnID(j); id != "" {
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
func mayHoldLock(j *journal) (bool, string) {
	takes := tfargs.Parse(j.ranWith()).TakesLock()
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
func knownOwnID(j *journal) string {
	if ok, _ := mayHoldLock(j); !ok || j.GivenLockID != "" && j.Class.LockID == "" && j.Observed == nil {
		return ""
	}
	if j.Class.LockID != "" {
		return j.Class.LockID
	}
	for _, kind := range j.Backend.LockModes() {
		if seen := observedRecord(j, kind); seen != nil {
			return seen.Lock.Info.ID
		}
	}
	return ""
}

// evidenceFor says how rec is proven this run's, "" when it is not.
func evidenceFor(j *journal, kind string, rec *Lock) string {
	printed := j.Class.LockID
	observed := observedRecord(j, kind)
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
		if own := knownOwnID(j); own != "" && own != rec.Info.ID {
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
func observedRecord(j *journal, kind string) *Sighting {
	o := j.Observed
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
	if j.Who != "" && last.Lock.Info.Who != j.Who {
		return nil
	}
	return last
}

// mustPush says whether the push step will write: errored.tfstate exists
// and the backend (as last pulled: remote) does not already hold its content.
func mustPush(errored, remote *StateSummary) bool {
	return errored != nil && (remote == nil || remote.Empty || !sameContent(*remote, *errored))
}

// knownState says whether the state object now is one this recovery may
// push over: the last one the watch saw while the run ran (the one it
// started from, or its own latest save), one a person looked at before
// choosing, or one tf wrote itself. Compared by identity (ETag, version,
// size, time), never by serial: terraform counts failed saves too. A held
// lock alone proves nothing: a writer with -lock=false ignores it.
func knownState(j *journal, so StateObject) bool {
	if last := runsLast(j); last != nil && last.Same(so) {
		return true
	}
	for _, m := range j.Known {
		if m.Object.Same(so) {
			return true
		}
	}
	return false
}

// runsOwnState says whether so is the state object the run started from or
// saved itself, or one tf pushed for it (not one a person looked at).
func runsOwnState(j *journal, so StateObject) bool {
	if last := runsLast(j); last != nil && last.Same(so) {
		return true
	}
	for _, m := range j.Known {
		if m.Why == knownPushed && m.Object.Same(so) {
			return true
		}
	}
	return false
}

// savedMidRun says whether so is a state object the watch saw written while
// the run held its lock (taken for the run's own save): not the one the run
// started from, nor one tf pushed.
func savedMidRun(j *journal, so StateObject) bool {
	o := j.Observed
	if o == nil || !o.TakesLock {
		return false
	}
	if o.StartState != nil && o.StartState.Same(so) {
		return false
	}
	for _, m := range j.Known {
		if m.Why == knownPushed && m.Object.Same(so) {
			return false
		}
	}
	last := o.LastState()
	return last != nil && last.Same(so)
}

// runsLast is the state object the run is known to have left: the last
// one the watch saw while a locked run ran, or, for a run that took no
// lock (-lock=false), only the one it started from. The watch cannot tell
// who wrote an object: an unlocked run's lock kept nobody out, so a
// mid-run change may be anyone's.
func runsLast(j *journal) *StateObject {
	o := j.Observed
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
func knownAs(j *journal) string {
	o := j.Observed
	if o != nil && o.TakesLock && len(o.States) > 0 && (o.StartState == nil || !o.StartState.Same(o.States[len(o.States)-1].Object)) {
		return "the last one tf saw written while the run held its lock"
	}
	if o != nil && o.StartState != nil {
		return "the one the run started from"
	}
	if n := len(j.Known); n > 0 {
		return j.Known[n-1].Why
	}
	return "known"
}

// movedUnderLock says why the state object is not one the recovery may
// push over although the run's lock is still there.
func movedUnderLock(j *journal, id string, so StateObject) string {
	last := runsLast(j)
	if last == nil && len(j.Known) == 0 {
		return fmt.Sprintf("this run's lock %s is still there, but tf has no record of the state object the run started from (now: %s), and a held lock does not prove that nobody wrote the state: terraform's -lock=false ignores it", id, so)
	}
	then := "none"
	if last != nil {
		then = last.String()
	} else if n := len(j.Known); n > 0 {
		then = j.Known[n-1].Object.String()
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
func (s *pass) drift(step, why string) *stepStop {
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

// whoAmI is terraform's lock "Who": user@host.
func whoAmI() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
