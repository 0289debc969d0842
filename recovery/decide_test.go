package recovery

import (
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/tfout"
)

// The proof rules as pure functions: evidence in the journal and the
// records present now in, a verdict out; no backend, no files.

func proofJournal(mut func(j *journal)) *journal {
	j := &journal{
		Backend: Backend{Type: "s3", Table: "t"},
		Args:    []string{"apply"},
		Who:     "me@host",
		Class:   tfout.Classification{PersistFailed: true, ReleaseFailed: true},
	}
	if mut != nil {
		mut(j)
	}
	return j
}

func TestJudgeOwnership(t *testing.T) {
	started := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	ours := lockRec("our-id", "me@host", started.Add(time.Second))
	other := lockRec("other-id", "me@host", started.Add(time.Minute))
	watched := func(rec *Lock) *Observation {
		return &Observation{Started: started, TakesLock: true, Locks: map[string]*KindWatch{lockDynamoDB: {
			Sightings: []Sighting{{Lock: *rec, First: started.Add(2 * time.Second), Last: started.Add(30 * time.Second)}}, LastID: rec.Info.ID}}}
	}
	for _, c := range []struct {
		name    string
		j       *journal
		now     *Lock
		id, ev  string
		foreign string
		noneHas string
	}{
		{name: "printed ID on the record", j: proofJournal(func(j *journal) { j.Class.LockID = "our-id" }), now: ours, id: "our-id", ev: EvidencePrinted},
		{name: "printed ID, another record", j: proofJournal(func(j *journal) { j.Class.LockID = "our-id" }), now: other, foreign: "other-id"},
		{name: "printed ID, no record", j: proofJournal(func(j *journal) { j.Class.LockID = "our-id" }), noneHas: "this run's lock (ID our-id) is gone"},
		{name: "observed record still there", j: proofJournal(func(j *journal) { j.Observed = watched(ours) }), now: ours, id: "our-id", ev: EvidenceObserved},
		{name: "observed record of another user", j: proofJournal(func(j *journal) { j.Observed = watched(ours); j.Who = "you@elsewhere" }), now: ours, foreign: "our-id"},
		{name: "observed, then replaced", j: proofJournal(func(j *journal) { j.Observed = watched(ours) }), now: other, foreign: "other-id"},
		{name: "-lock=false holds no lock", j: proofJournal(func(j *journal) { j.Args = []string{"apply", "-lock=false"}; j.Class.LockID = "our-id" }), now: ours, foreign: "our-id", noneHas: "-lock=false"},
		{name: "no release failure", j: proofJournal(func(j *journal) { j.Class.ReleaseFailed = false; j.Class.LockID = "our-id" }), now: ours, foreign: "our-id", noneHas: "no failure to release"},
		{name: "never acquired", j: proofJournal(func(j *journal) { j.Class.AcquireFailed = true }), now: ours, foreign: "our-id", noneHas: "never acquired"},
		{name: "given ID, nothing against it", j: proofJournal(func(j *journal) { j.GivenLockID = "other-id" }), now: other, id: "other-id", ev: EvidenceGiven},
		{name: "given ID against the printed one", j: proofJournal(func(j *journal) { j.GivenLockID = "other-id"; j.Class.LockID = "our-id" }), now: other, foreign: "other-id"},
		{name: "taken by tf for its push", j: proofJournal(func(j *journal) { j.Evidence, j.LockID = EvidenceTaken, "our-id"; j.Class.ReleaseFailed = false }), now: ours, id: "our-id", ev: EvidenceTaken},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := judgeLocks(c.j, Locks{DynamoDB: c.now})
			if v.id != c.id || v.evidence != c.ev {
				t.Errorf("own %q (%q), want %q (%q)", v.id, v.evidence, c.id, c.ev)
			}
			if got := ""; v.foreign != nil {
				got = v.foreign.ID
				if got != c.foreign {
					t.Errorf("foreign %q, want %q", got, c.foreign)
				}
			} else if c.foreign != "" {
				t.Errorf("no foreign record, want %q", c.foreign)
			}
			if c.noneHas != "" && !strings.Contains(v.none, c.noneHas) {
				t.Errorf("why none: %q, want it to say %q", v.none, c.noneHas)
			}
		})
	}
}

// TestPushOverKnownStatesOnly: the "unchanged" route and the fence's own
// check push only over a state object the run started from, saved itself
// while holding its lock, or a person looked at; never over an unlocked
// run's mid-run change (anyone's write).
func TestPushOverKnownStatesOnly(t *testing.T) {
	start := StateObject{Exists: true, ETag: "e1", Size: 10, LastModified: time.Unix(1, 0)}
	saved := StateObject{Exists: true, ETag: "e2", Size: 11, LastModified: time.Unix(2, 0)}
	looked := StateObject{Exists: true, ETag: "e3", Size: 12, LastModified: time.Unix(3, 0)}
	other := StateObject{Exists: true, ETag: "e9", Size: 19, LastModified: time.Unix(9, 0)}
	locked := &Observation{TakesLock: true, StartState: &start, States: []StateSighting{{Object: saved}}}
	unlocked := &Observation{TakesLock: false, StartState: &start, States: []StateSighting{{Object: saved}}}
	for _, c := range []struct {
		name  string
		obs   *Observation
		known []StateMark
		now   StateObject
		want  bool
		as    string
	}{
		{"start state, nothing since", &Observation{TakesLock: true, StartState: &start}, nil, start, true, "the one the run started from"},
		{"the locked run's own save", locked, nil, saved, true, "the last one tf saw written while the run held its lock"},
		{"the locked run's start after its save", locked, nil, start, false, ""},
		{"an unlocked run's mid-run change", unlocked, nil, saved, false, ""},
		{"an unlocked run's start", unlocked, nil, start, true, ""},
		{"someone else's write", locked, nil, other, false, ""},
		{"no observation at all", nil, nil, start, false, ""},
		{"the object a person looked at", nil, []StateMark{{Why: knownLooked, Object: looked}}, looked, true, knownLooked},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := proofJournal(func(j *journal) { j.Observed, j.Known = c.obs, c.known })
			if got := knownState(j, c.now); got != c.want {
				t.Fatalf("knownState = %v, want %v", got, c.want)
			}
			if c.as != "" {
				if got := knownAs(j); got != c.as {
					t.Errorf("knownAs = %q, want %q", got, c.as)
				}
			}
		})
	}
}

func TestMustPush(t *testing.T) {
	e := mustParseBytes(t, stateJSONFor("L", 3, "a", "b"))
	same := mustParseBytes(t, stateJSONFor("L", 3, "a", "b"))
	older := mustParseBytes(t, stateJSONFor("L", 2, "a"))
	empty := mustParseBytes(t, []byte(emptyState))
	for _, c := range []struct {
		name            string
		errored, remote *StateSummary
		want            bool
	}{
		{"no errored.tfstate", nil, &older, false},
		{"backend not read yet", &e, nil, true},
		{"backend holds the same content", &e, &same, false},
		{"backend holds an older state", &e, &older, true},
		{"backend holds no state", &e, &empty, true},
	} {
		if got := mustPush(c.errored, c.remote); got != c.want {
			t.Errorf("%s: mustPush = %v, want %v", c.name, got, c.want)
		}
	}
}

func mustParseBytes(t *testing.T, b []byte) StateSummary {
	t.Helper()
	s, err := parseState(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTriage: what failed decides whether recovery opens at all. A failed
// save whose cause tf does not act on, with no errored.tfstate and no
// failed release, is left as plain terraform leaves it.
func TestTriage(t *testing.T) {
	for _, c := range []struct {
		name  string
		class tfout.Classification
		fresh bool
		want  triaged
	}{
		{"no backend failure", tfout.Classification{Cause: tfout.CauseNone}, false, triageNotOurs},
		{"no cause read", tfout.Classification{}, true, triageNotOurs},
		{"expired before anything was written", tfout.Classification{Cause: tfout.CauseExpired, Expired: true}, false, triageLogin},
		{"denied before anything was written", tfout.Classification{Cause: tfout.CausePermanent}, false, triageNothingToSecure},
		{"expired, errored.tfstate written", tfout.Classification{Cause: tfout.CauseExpired, Expired: true}, true, triageRecover},
		{"expired release", tfout.Classification{Cause: tfout.CauseExpired, Expired: true, ReleaseFailed: true}, false, triageRecover},
		{"persist failed, any cause", tfout.Classification{Cause: tfout.CausePermanent, PersistFailed: true}, false, triageRecover},
		{"save failed, cause tf acts on", tfout.Classification{Cause: tfout.CauseTransient, SaveFailed: true}, false, triageRecover},
		{"save failed, unknown cause, nothing else", tfout.Classification{Cause: tfout.CauseUnknown, SaveFailed: true}, false, triageNothingToSecure},
	} {
		if got := triage(c.class, c.fresh); got != c.want {
			t.Errorf("%s: triage = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestCheckPushable: before any route, errored.tfstate is pushed only over
// a state of the same configuration (same lineage, or none yet).
func TestCheckPushable(t *testing.T) {
	e := mustParseBytes(t, stateJSONFor("L", 3, "a", "b"))
	first := mustParseBytes(t, []byte(`{"version":4,"serial":0,"lineage":"","outputs":{},"resources":[{"mode":"managed","type":"terraform_data","name":"a","instances":[{"attributes":{"id":"a"}}]}]}`))
	empty := mustParseBytes(t, []byte(emptyState))
	for _, c := range []struct {
		name     string
		rem, e   StateSummary
		already  bool
		driftHas string
	}{
		{"backend holds the same", mustParseBytes(t, stateJSONFor("L", 3, "a", "b")), e, true, ""},
		{"backend holds the same at a later serial", mustParseBytes(t, stateJSONFor("L", 4, "a", "b")), e, true, ""},
		{"backend older, same lineage", mustParseBytes(t, stateJSONFor("L", 2, "a")), e, false, ""},
		{"backend empty", empty, e, false, ""},
		{"another lineage", mustParseBytes(t, stateJSONFor("M", 2, "a")), e, false, "different state (lineage M)"},
		{"a first state over someone's", mustParseBytes(t, stateJSONFor("M", 1, "x")), first, false, "first state of this configuration"},
		{"a first state over nothing", empty, first, false, ""},
	} {
		already, drift := checkPushable(c.rem, c.e)
		if already != c.already || (c.driftHas == "") != (drift == "") || !strings.Contains(drift, c.driftHas) {
			t.Errorf("%s: already %v, drift %q; want %v, %q", c.name, already, drift, c.already, c.driftHas)
		}
	}
}
