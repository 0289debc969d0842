package recovery

// Situations found by the second adversarial review of recovery (after the
// act-on-proof rewrite). Each test asserts the behaviour the rules call for
// and failed on the code before its fix; the comments tell the situation.

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/tfout"
)

const (
	rv2Persist         = "Error: Failed to save state\n\nError saving state: failed to upload state: operation error S3: PutObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n\nError: Failed to persist state to backend\n\n"
	rv2ReleaseLockfile = "Error: Error releasing the state lock\n\nError message: unable to retrieve file from S3 bucket 'b' with key 'k.tflock': operation error S3: GetObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n"
	rv2PullExpired     = "Error: error loading state: operation error S3: GetObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n"
)

// rv2Dir is a working directory whose data directory records an S3 backend
// with the given lock settings and key.
func rv2Dir(t *testing.T, dir, lockCfg, key string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	rec := `{"backend":{"type":"s3","config":{"bucket":"b","key":"` + key + `","region":"us-east-1",` + lockCfg + `}}}`
	if err := os.WriteFile(filepath.Join(dir, ".terraform", "terraform.tfstate"), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func rv2Run(dir string, w *world, rn runner, args []string, stderr string, started time.Time, obs *Observation) Run {
	if rn == nil {
		rn = w
	}
	return Run{Dir: dir, Terraform: "terraform", Flavor: "terraform", Args: args, ExitCode: 1, Stderr: []byte(stderr),
		Started: started, Ended: time.Now(), Observed: obs, Out: w.out, runner: rn,
		backend: func(context.Context, Backend, []string) (backendReader, error) { return w, nil }}
}

func rv2Pushed(w *world) bool {
	for _, c := range w.calls {
		if strings.HasPrefix(c, "state push") {
			return true
		}
	}
	return false
}

// TestObservedLockThatChangedHandsIsNotEvidence: lockfile mode (no ID
// in terraform's text). While our apply ran, a second terminal of the same
// user force-unlocked our lock (taking it for a stale one) and started its
// own apply, which now holds the lock. The watch saw our record, then the
// other one, last. Our apply dies of expiry. The other run's record is the
// "last observed" one, same user@host, created during our run, still there:
// tf takes it for ours, pushes -lock=false under a live apply and releases
// that apply's lock.
func TestObservedLockThatChangedHandsIsNotEvidence(t *testing.T) {
	dir := rv2Dir(t, "", `"use_lockfile":true`, "k")
	who := whoAmI()
	started := time.Now().Add(-5 * time.Minute)
	w := newWorld(t)
	w.write(stateJSONFor("L", 1, "base"))
	start := w.objectLocked()
	ours := lockRec("11111111-1111-1111-1111-111111111111", who, started.Add(time.Second))
	other := lockRec("22222222-2222-2222-2222-222222222222", who, started.Add(2*time.Minute))
	w.lockfile = other // the other terminal's apply is still running
	obs := &Observation{Started: started.UTC(), TakesLock: true, StartState: &start, Locks: map[string]*KindWatch{
		lockFile: {Reads: 60, LastRead: started.Add(4 * time.Minute), LastID: other.Info.ID, Sightings: []Sighting{
			{Lock: *ours, First: started.Add(1200 * time.Millisecond), Last: started.Add(115 * time.Second)},
			{Lock: *other, First: started.Add(2 * time.Minute), Last: started.Add(4 * time.Minute)},
		}},
	}}
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("L", 4, "base", "ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := Recover(context.Background(), rv2Run(dir, w, nil, []string{"apply", "-auto-approve"}, rv2Persist+rv2ReleaseLockfile, started, obs))
	for _, c := range w.calls {
		if strings.Contains(c, other.Info.ID) || strings.HasPrefix(c, "state push") {
			t.Errorf("tf acted under or on the other run's live lock: %q (outcome %s: %s)", c, out.Kind, out.Summary)
		}
	}
	if w.lockfile == nil || w.lockfile.Info.ID != other.Info.ID {
		t.Errorf("the other run's live lock was released")
	}
	if out.Kind != NeedsPerson {
		t.Errorf("outcome %s, want needs-person: the record present is not the one the run took", out.Kind)
	}
}

// TestManualStepsNeverNameAReplacementLockAsOurs: the same situation, but
// the credentials are still expired at recovery (the usual first stop). The
// manual commands printed call the other run's lock "this run's" and tell
// the person to force-unlock it.
func TestManualStepsNeverNameAReplacementLockAsOurs(t *testing.T) {
	dir := rv2Dir(t, "", `"use_lockfile":true`, "k")
	who := whoAmI()
	started := time.Now().Add(-5 * time.Minute)
	w := newWorld(t)
	w.failNext = map[string]string{"state pull": rv2PullExpired}
	w.write(stateJSONFor("L", 1, "base"))
	start := w.objectLocked()
	ours := lockRec("11111111-1111-1111-1111-111111111111", who, started.Add(time.Second))
	other := lockRec("22222222-2222-2222-2222-222222222222", who, started.Add(2*time.Minute))
	w.lockfile = other
	obs := &Observation{Started: started.UTC(), TakesLock: true, StartState: &start, Locks: map[string]*KindWatch{
		lockFile: {Reads: 60, LastRead: started.Add(4 * time.Minute), LastID: other.Info.ID, Sightings: []Sighting{
			{Lock: *ours, First: started.Add(1200 * time.Millisecond), Last: started.Add(115 * time.Second)},
			{Lock: *other, First: started.Add(2 * time.Minute), Last: started.Add(4 * time.Minute)},
		}},
	}}
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("L", 4, "base", "ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := Recover(context.Background(), rv2Run(dir, w, nil, []string{"apply", "-auto-approve"}, rv2Persist+rv2ReleaseLockfile, started, obs))
	if next := strings.Join(out.Next, "\n"); strings.Contains(next, other.Info.ID) {
		t.Errorf("the printed next steps name the other run's live lock as this run's:\n%s", next)
	}
}

// TestRunWithoutLockIsNeverOfferedLockID: a -lock=false apply dies of
// expiry while another run (same runner user) holds the lock. tf knows the
// run held no lock, yet its stop tells the person to run
// `tf guard recover --lock-id <that live lock>` "only if you know that lock
// belongs to the run that failed here".
func TestRunWithoutLockIsNeverOfferedLockID(t *testing.T) {
	res := runCell(t, cell{"lockfile", "lockfalse", "colleague-running"})
	if res.out.Kind != NeedsPerson {
		t.Fatalf("outcome %s", res.out.Kind)
	}
	next := strings.Join(res.out.Next, "\n")
	if strings.Contains(next, "--lock-id") {
		t.Errorf("a run that held no lock (-lock=false) is offered --lock-id of the live lock %s:\n%s", res.other.Info.ID, next)
	}
}

// TestLockIDCannotOverruleProofOfNoLock: following that printed
// advice, tf pushes with -lock=false under the other run's live lock and
// releases it, although its own journal proves the run held no lock.
func TestLockIDCannotOverruleProofOfNoLock(t *testing.T) {
	res := runCell(t, cell{"lockfile", "lockfalse", "colleague-running"})
	w := res.w
	w.calls = nil
	r := rv2Run(res.dir, w, nil, nil, "", time.Time{}, nil)
	out := RecoverCommand(context.Background(), r, CommandOptions{Yes: true, LockID: res.other.Info.ID})
	for _, c := range w.calls {
		if strings.Contains(c, res.other.Info.ID) || strings.HasPrefix(c, "state push -lock=false") {
			t.Errorf("tf acted under or on a lock its journal proves is not the run's: %q (outcome %s: %s)", c, out.Kind, out.Summary)
		}
	}
	if w.lockfile == nil {
		t.Error("the other run's live lock was released")
	}
}

// TestPendingRecoveryOfAnotherStateIsNeverOverwritten: a recovery of state A is pending
// (credentials still expired). The directory is re-initialised for state B;
// tf says A's recovery is pending and "to finish it: point this directory at
// that state again, then tf guard recover". A run on B then dies of expiry
// too: its recovery overwrites PENDING, and when the person points the
// directory back at A, nothing is pending: A's stale lock and backup are
// forgotten, and the printed way to finish was false.
func TestPendingRecoveryOfAnotherStateIsNeverOverwritten(t *testing.T) {
	dir := rv2Dir(t, "", `"dynamodb_table":"t"`, "a")
	started := time.Now().Add(-time.Minute)
	w := newWorld(t)
	w.failNext = map[string]string{"state pull": rv2PullExpired}
	w.write(stateJSONFor("L", 1, "base"))
	w.ddb = lockRec("11111111-1111-1111-1111-111111111111", whoAmI(), started.Add(time.Second))
	release := "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"11111111-1111-1111-1111-111111111111\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("L", 4, "base", "a"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := Recover(context.Background(), rv2Run(dir, w, nil, []string{"apply"}, rv2Persist+release, started, nil))
	if !first.Pending {
		t.Fatalf("setup: recovery of A is not pending: %s", first.Summary)
	}
	nameA := first.RecoveryDir

	// Re-initialised for B; a run there fails the same way.
	rv2Dir(t, dir, `"dynamodb_table":"t"`, "b")
	time.Sleep(10 * time.Millisecond) // a distinct journal name
	w.failNext = map[string]string{"state pull": rv2PullExpired}
	started = time.Now().Add(-time.Second)
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("M", 3, "b"), 0o600); err != nil {
		t.Fatal(err)
	}
	Recover(context.Background(), rv2Run(dir, w, nil, []string{"apply"}, rv2Persist+strings.ReplaceAll(release, "1111", "2222"), started, nil))

	// Back to A, as tf told the person.
	rv2Dir(t, dir, `"dynamodb_table":"t"`, "a")
	if !Pending(dir, nil) {
		t.Fatal("A's recovery is no longer pending after pointing the directory back at A")
	}
	j, err := loadPending(RecoveryRoot(dir, nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	if j.dir() != nameA {
		t.Errorf("the pending recovery is %s (backend %s), not A's %s: A's recovery was silently dropped", j.dir(), j.Backend, nameA)
	}
}

// TestNamedLockDoesNotFenceAnOlderErroredFile: an errored.tfstate
// from an old incident lingers (serial inflated to 14 by failed persists);
// since then a colleague applied (remote serial 12, resource "colleague").
// Today a run was killed and left lock X. A person clears it with
// `tf guard recover --yes --lock-id X`: tf pushes the old errored.tfstate
// with -lock=false "under the fence" of X, although it was written long
// before X existed, and the colleague's resource is gone from the state.
func TestNamedLockDoesNotFenceAnOlderErroredFile(t *testing.T) {
	dir := rv2Dir(t, "", `"dynamodb_table":"t"`, "k")
	w := newWorld(t)
	w.write(stateJSONFor("L", 12, "base", "colleague"))
	x := lockRec("33333333-3333-3333-3333-333333333333", whoAmI(), time.Now().Add(-time.Hour))
	w.ddb = x
	p := filepath.Join(dir, erroredFile)
	if err := os.WriteFile(p, stateJSONFor("L", 14, "base", "old"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-72 * time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	out := RecoverCommand(context.Background(), rv2Run(dir, w, nil, nil, "", time.Time{}, nil), CommandOptions{Yes: true, LockID: x.Info.ID})
	if !bytes.Contains(w.state, []byte(`"colleague"`)) {
		t.Errorf("the colleague's resource was dropped: an errored.tfstate older than lock %s was pushed under it (outcome %s: %s)", x.Info.ID, out.Kind, out.Summary)
	}
}

// raceRunner lets a colleague's apply land between tf's last check of the
// state object and its own state push (terraform's start-up takes seconds).
type raceRunner struct {
	w     *world
	done  bool
	wrote bool // the colleague could take the lock and wrote
}

func (r *raceRunner) Run(ctx context.Context, c tfCall) ([]byte, []byte, error) {
	if !r.done && len(c.Args) > 1 && c.Args[0] == "state" && c.Args[1] == "push" {
		r.done = true
		// The colleague's apply takes the lock to write, as terraform does.
		r.w.mu.Lock()
		if r.w.ddb == nil && r.w.lockfile == nil {
			r.w.write(stateJSONFor("L", 2, "base", "long", "colleague"))
			r.wrote = true
		}
		r.w.mu.Unlock()
	}
	return r.w.Run(ctx, c)
}

// TestUnchangedRoutePushesUnderItsOwnLock: route "unchanged" (a -lock=false
// run, state object as the run started) checks the object, then starts
// `terraform state push`, which takes the lock only seconds later. A
// colleague's apply in between is overwritten (terraform's serial check
// passes: 4 > 2) and tf prints RECOVERED.
func TestUnchangedRoutePushesUnderItsOwnLock(t *testing.T) {
	dir := rv2Dir(t, "", `"use_lockfile":true`, "k")
	started := time.Now().Add(-time.Minute)
	w := newWorld(t)
	w.write(stateJSONFor("L", 1, "base", "long"))
	start := w.objectLocked()
	obs := &Observation{Started: started.UTC(), TakesLock: false, StartState: &start, Locks: map[string]*KindWatch{lockFile: {Reads: 10}}}
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("L", 4, "base", "long", "new"), 0o600); err != nil {
		t.Fatal(err)
	}
	rr := &raceRunner{w: w}
	out := Recover(context.Background(), rv2Run(dir, w, rr, []string{"apply", "-lock=false"}, rv2Persist, started, obs))
	if rr.wrote && !bytes.Contains(w.state, []byte(`"colleague"`)) {
		t.Errorf("a write that landed between tf's check and its push was overwritten (outcome %s: %s)", out.Kind, out.Summary)
	}
}

// TestKeepRemoteReleasesTheNamedLock: `tf guard recover --yes
// --lock-id X --use remote` on a workspace with a dead run's lock X and its
// errored.tfstate: tf moves errored.tfstate away, says "abandoned ... as you
// chose" (exit 0), and leaves lock X held without a word: the next plan
// fails on the lock the person had named.
func TestKeepRemoteReleasesTheNamedLock(t *testing.T) {
	dir := rv2Dir(t, "", `"dynamodb_table":"t"`, "k")
	w := newWorld(t)
	w.write(stateJSONFor("L", 2, "base"))
	x := lockRec("44444444-4444-4444-4444-444444444444", whoAmI(), time.Now().Add(-time.Hour))
	w.ddb = x
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("L", 5, "base", "x"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := RecoverCommand(context.Background(), rv2Run(dir, w, nil, nil, "", time.Time{}, nil), CommandOptions{Yes: true, LockID: x.Info.ID, Use: UseRemote})
	if w.ddb != nil && !strings.Contains(strings.Join(out.Next, "\n")+out.Summary, x.Info.ID) {
		t.Errorf("lock %s named by the person is still held and the report does not say so (outcome %s: %s; next %v)", x.Info.ID, out.Kind, out.Summary, out.Next)
	}
}

// cancelReader fails every read once ctx is done, as the SDK does.
type cancelReader struct{ w *world }

func (c cancelReader) ReadLocks(ctx context.Context) (Locks, error) {
	if err := ctx.Err(); err != nil {
		return Locks{}, err
	}
	return c.w.ReadLocks(ctx)
}

func (c cancelReader) TakeLock(ctx context.Context, info tfout.LockInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.w.TakeLock(ctx, info)
}

func (c cancelReader) StateObject(ctx context.Context) (StateObject, error) {
	if err := ctx.Err(); err != nil {
		return StateObject{}, err
	}
	return c.w.StateObject(ctx)
}

// TestInterruptDuringAReadIsReportedAsInterrupt: Ctrl-C arrives as the prove
// step begins. The lock read fails with "context canceled" and tf reports a
// backend that did not answer (retry on "backend", in CI: retried 4 times
// with waits) instead of "interrupted".
func TestInterruptDuringAReadIsReportedAsInterrupt(t *testing.T) {
	dir := rv2Dir(t, "", `"dynamodb_table":"t"`, "k")
	started := time.Now().Add(-time.Minute)
	w := newWorld(t)
	w.write(stateJSONFor("L", 1, "base"))
	id := "55555555-5555-5555-5555-555555555555"
	w.ddb = lockRec(id, whoAmI(), started.Add(time.Second))
	release := "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"" + id + "\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
	if err := os.WriteFile(filepath.Join(dir, erroredFile), stateJSONFor("L", 4, "base", "n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start, _ := w.StateObject(ctx)
	r := rv2Run(dir, w, nil, []string{"apply"}, rv2Persist+release, started, &Observation{Started: started.UTC(), TakesLock: true, StartState: &start})
	r.backend = func(context.Context, Backend, []string) (backendReader, error) { return cancelReader{w}, nil }
	r.OnStep = func(step string) {
		if step == StepProve {
			cancel()
		}
	}
	out := Recover(ctx, r)
	if out.RetryOn != string(retryInterrupted) {
		t.Errorf("interrupted during prove: retry_on %q (%s), want %q", out.RetryOn, out.Summary, retryInterrupted)
	}
}

// TestNoStateStopAsksToReconcileBeforeUnlock: terraform could not save and
// left no errored.tfstate this run wrote (read-only checkout). tf says "the
// lock is kept so nobody builds on the old state", then prints as the way to
// "finish by hand (push first, unlock last)" only `force-unlock` of that
// lock, with no push and no step that records the run's changes; and it
// says "its journal and backup stay in ..." although there is no backup.
func TestNoStateStopAsksToReconcileBeforeUnlock(t *testing.T) {
	dir := rv2Dir(t, "", `"dynamodb_table":"t"`, "k")
	started := time.Now().Add(-time.Minute)
	w := newWorld(t)
	w.write(stateJSONFor("L", 1, "base"))
	id := "66666666-6666-6666-6666-666666666666"
	w.ddb = lockRec(id, whoAmI(), started.Add(time.Second))
	release := "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"" + id + "\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
	r := rv2Run(dir, w, nil, []string{"apply"}, rv2Persist+release, started, nil)
	buf := &bytes.Buffer{}
	r.Out = io.MultiWriter(buf, w.out)
	out := Recover(context.Background(), r)
	next := strings.Join(out.Next, "\n")
	if strings.Contains(next, "force-unlock") && !strings.Contains(next, "state push") && !strings.Contains(next, "import") {
		t.Errorf("the only manual step offered unlocks a state that lacks the run's changes, contradicting %q:\n%s", "the lock is kept", next)
	}
	if strings.Contains(buf.String(), "backup stay") {
		if _, err := os.Stat(filepath.Join(out.RecoveryDir, backupName)); err != nil {
			t.Errorf("the report names a backup that does not exist:\n%s", buf)
		}
	}
}
