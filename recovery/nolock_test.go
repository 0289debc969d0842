package recovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfout"
)

// noLockBackend is an S3 backend without dynamodb_table or use_lockfile:
// like awsBackend, TakeLock then writes nothing and returns nil.
type noLockBackend struct{ *world }

func (noLockBackend) TakeLock(context.Context, tfout.LockInfo) error { return nil }

func recoveredLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "tf: RECOVERED:") {
			return l
		}
	}
	return ""
}

// TestNoLockingBackendNamesNoLock: with no locking configured, tf takes
// no lock, so it names, journals and releases none, and says how the push
// was checked instead.
func TestNoLockingBackendNamesNoLock(t *testing.T) {
	x := newWS(t, `"encrypt":true`)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "new"))
	r := x.run(saveExpired)
	nb := noLockBackend{x.w}
	r.backend = func(context.Context, Backend, []string) (backendReader, error) { return nb, nil }
	o := Recover(context.Background(), r)
	out := x.out.String()
	if o.Kind != Recovered {
		t.Fatalf("kind %s:\n%s", o.Kind, out)
	}
	for _, bad := range []string{"under lock", "is released", "released lock"} {
		if strings.Contains(out, bad) {
			t.Errorf("claims a lock that never existed (%q):\n%s", bad, out)
		}
	}
	if l := recoveredLine(out); l == "" || strings.Contains(l, "lock") {
		t.Errorf("the summary speaks of a lock: %q", l)
	}
	if !strings.Contains(out, "the backend has no locking: the object was checked right before the push (it was the one the run started from)") {
		t.Errorf("the push note does not say how it was checked:\n%s", out)
	}
	if o.LockID != "" || o.Evidence != "" {
		t.Errorf("lock %q evidence %q, want none", o.LockID, o.Evidence)
	}
	raw, err := os.ReadFile(filepath.Join(o.RecoveryDir, journalName))
	if err != nil || strings.Contains(string(raw), `"lock_id"`) {
		t.Errorf("the journal records a lock (%v):\n%s", err, raw)
	}
}

// TestLockFalseRunSummaryNamesNoLock: a -lock=false run held no lock, so
// the summary does not say its lock is released.
func TestLockFalseRunSummaryNamesNoLock(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 1, "base"))
	start := x.w.objectLocked()
	x.errored(stateJSONFor("L", 3, "base", "new"))
	r := x.run(saveExpired)
	r.Args = append(r.Args, "-lock=false")
	r.Observed = &Observation{Started: x.started.UTC(), StartState: &start}
	o := Recover(context.Background(), r)
	out := x.out.String()
	if o.Kind != Recovered {
		t.Fatalf("kind %s:\n%s", o.Kind, out)
	}
	if l := recoveredLine(out); l == "" || strings.Contains(l, "lock") {
		t.Errorf("the summary speaks of the run's lock: %q\n%s", l, out)
	}
	if !strings.Contains(out, "which tf took after finding that the backend's state object is the one the run started from") {
		t.Errorf("the push note does not say what tf found:\n%s", out)
	}
}

// TestAbandonAfterPushBegunWithoutLockSaysBackendMayHaveChanged: without
// locking no lock of tf's marks a push in flight; a push step that began
// (and was cut off before its end was recorded) may have reached the
// backend, and the abandon says so.
func TestAbandonAfterPushBegunWithoutLockSaysBackendMayHaveChanged(t *testing.T) {
	j := &journal{Steps: []StepRecord{{Step: StepSecure, Status: "done"}, {Step: StepProve, Status: "done"}, {Step: StepPush, Status: "begun"}}}
	if got := abandonedWhat(j, "terraform"); !strings.Contains(got, "may have changed the backend") {
		t.Errorf("got %q", got)
	}
}
