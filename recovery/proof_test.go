package recovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfguard/tf/tfout"
)

// world is an in-memory S3 backend (state object, DynamoDB item, .tflock
// object) that the fake runner changes the way terraform's state pull,
// state push and force-unlock change the real one. It lets the ownership
// and fence rules be tested cell by cell without processes; the e2e fault
// matrix checks the same rules with real terraform.
type world struct {
	mu       sync.Mutex
	state    []byte // nil: no state object
	etag     int
	ddb      *Lock
	lockfile *Lock
	calls    []string
	// failNext makes the next call whose args start with the key fail with
	// the value as stderr.
	failNext map[string]string
	// out is what the runs on this world printed; log is every call to
	// terraform and to the backend, in order (the snapshot records both).
	out *bytes.Buffer
	log []string
	// taken are the IDs of the locks tf asked to take (random; the
	// snapshot numbers them).
	taken []string
}

func (w *world) objectLocked() StateObject {
	if w.state == nil {
		return StateObject{}
	}
	return StateObject{Exists: true, ETag: fmt.Sprintf("e%d", w.etag), Size: int64(len(w.state)), LastModified: time.Unix(int64(w.etag), 0)}
}

func (w *world) ReadLocks(context.Context) (Locks, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, "backend: read locks")
	return Locks{DynamoDB: w.ddb, Lockfile: w.lockfile}, nil
}

func (w *world) StateObject(context.Context) (StateObject, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, "backend: read state object")
	return w.objectLocked(), nil
}

func (w *world) TakeLock(_ context.Context, info tfout.LockInfo) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, "backend: take lock "+info.ID+" ("+info.Operation+")")
	w.taken = append(w.taken, info.ID)
	if w.ddb != nil || w.lockfile != nil {
		return errLockHeld
	}
	raw, _ := json.Marshal(info)
	sum := sha256.Sum256(raw)
	l := &Lock{Info: info, Version: "sha256:" + hex.EncodeToString(sum[:8])}
	// The cells use one lock kind or both; a record per kind in use is
	// what terraform's force-unlock later removes.
	w.ddb, w.lockfile = l, l
	w.calls = append(w.calls, "take-lock "+info.ID)
	return nil
}

var _ backendReader = (*world)(nil)

func (w *world) write(b []byte) { w.state = b; w.etag++ }

const emptyState = `{"version":4,"terraform_version":"1.11.4","serial":0,"lineage":"","outputs":{},"resources":[],"check_results":null}`

func (w *world) Run(_ context.Context, c tfCall) ([]byte, []byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	call := strings.Join(c.Args, " ")
	w.calls = append(w.calls, call)
	w.log = append(w.log, "terraform "+call)
	for prefix, stderr := range w.failNext {
		if strings.HasPrefix(call, prefix) {
			delete(w.failNext, prefix)
			return nil, []byte(stderr), fmt.Errorf("exit status 1")
		}
	}
	switch {
	case call == "state pull":
		if w.state == nil {
			return []byte(emptyState), nil, nil
		}
		return w.state, nil, nil
	case strings.HasPrefix(call, "state push"):
		path := c.Args[len(c.Args)-1]
		if !strings.Contains(call, "-lock=false") && (w.ddb != nil || w.lockfile != nil) {
			return nil, []byte("Error: Error acquiring the state lock\n"), fmt.Errorf("exit status 1")
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, []byte(err.Error()), err
		}
		if w.state != nil {
			cur, _ := parseState(w.state)
			in, _ := parseState(raw)
			// terraform's statemgr.CheckValidImport, as state push prints it.
			if !cur.Empty && cur.Lineage != in.Lineage && !in.First {
				return nil, []byte(fmt.Sprintf("Failed to write state: cannot import state with lineage %q over unrelated state with lineage %q\n", in.Lineage, cur.Lineage)), fmt.Errorf("exit status 1")
			}
			if !cur.Empty && cur.Serial > in.Serial {
				return nil, []byte(fmt.Sprintf("Failed to write state: cannot import state with serial %d over newer state with serial %d\n", in.Serial, cur.Serial)), fmt.Errorf("exit status 1")
			}
			if !cur.Empty && cur.Serial == in.Serial && !sameContent(cur, in) {
				return nil, []byte(fmt.Sprintf("Failed to write state: cannot overwrite existing state with serial %d with a different state that has the same serial\n", in.Serial)), fmt.Errorf("exit status 1")
			}
		}
		w.write(raw)
		return nil, nil, nil
	case strings.HasPrefix(call, "force-unlock -force "):
		id := c.Args[2]
		found := false
		if w.ddb != nil && w.ddb.Info.ID == id {
			w.ddb, found = nil, true
		}
		if w.lockfile != nil && w.lockfile.Info.ID == id {
			w.lockfile, found = nil, true
		}
		if !found {
			return nil, []byte("Failed to unlock state: lock not found"), fmt.Errorf("exit status 1")
		}
		return nil, nil, nil
	}
	return nil, []byte("unexpected call " + call), fmt.Errorf("exit status 1")
}

func stateJSONFor(lineage string, serial int, names ...string) []byte {
	var res []string
	for _, n := range names {
		res = append(res, fmt.Sprintf(`{"mode":"managed","type":"terraform_data","name":%q,"instances":[{"attributes":{"id":%q}}]}`, n, n))
	}
	return []byte(fmt.Sprintf(`{"version":4,"serial":%d,"lineage":%q,"outputs":{},"resources":[%s]}`, serial, lineage, strings.Join(res, ",")))
}

func lockRec(id, who string, created time.Time) *Lock {
	info := tfout.LockInfo{ID: id, Operation: "OperationTypeApply", Who: who, Version: "1.11.4", Created: created.UTC().Format(time.RFC3339Nano), Path: "b/k"}
	raw, _ := json.Marshal(info)
	sum := sha256.Sum256(raw)
	return &Lock{Info: info, Version: "sha256:" + hex.EncodeToString(sum[:8])}
}

// cell is one situation after a run died of expired credentials.
type cell struct {
	mode     string // dynamodb, lockfile, both
	evidence string // printed, observed, none, lockfalse
	meantime string // nothing, colleague-applied, colleague-running, switched
}

type cellResult struct {
	out     Outcome
	w       *world
	dir     string
	ourID   string
	errored []byte
	other   *Lock
}

func runCell(t *testing.T, c cell) cellResult {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	lockCfg := map[string]string{
		"dynamodb": `"dynamodb_table":"t"`, "lockfile": `"use_lockfile":true`, "both": `"dynamodb_table":"t","use_lockfile":true`,
	}[c.mode]
	rec := `{"backend":{"type":"s3","config":{"bucket":"b","key":"k","region":"us-east-1",` + lockCfg + `}}}`
	if err := os.WriteFile(filepath.Join(dir, ".terraform", "terraform.tfstate"), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	who := whoAmI()
	started := time.Now().Add(-30 * time.Second)
	w := newWorld(t)
	w.write(stateJSONFor("L", 1, "base", "long"))
	startObj := w.objectLocked()

	// The failed run: it took its lock (unless -lock=false), its intermediate
	// persists failed (serial +3), it wrote errored.tfstate.
	ourID := "11111111-1111-1111-1111-111111111111"
	our := lockRec(ourID, who, started.Add(time.Second))
	obs := &Observation{Started: started.UTC(), TakesLock: c.evidence != "lockfalse", StartState: &startObj, Locks: map[string]*KindWatch{}}
	kinds := map[string][]string{"dynamodb": {"dynamodb"}, "lockfile": {"lockfile"}, "both": {"dynamodb", "lockfile"}}[c.mode]
	for _, k := range kinds {
		kw := &KindWatch{Reads: 10, LastRead: started.Add(20 * time.Second)}
		if c.evidence != "lockfalse" {
			kw.Sightings = []Sighting{{Lock: *our, First: started.Add(1500 * time.Millisecond), Last: started.Add(20 * time.Second)}}
			kw.LastID = ourID
			if k == "dynamodb" {
				w.ddb = our
			} else {
				w.lockfile = our
			}
		}
		obs.Locks[k] = kw
	}
	if c.evidence == "none" {
		obs = &Observation{Started: started.UTC(), TakesLock: true}
	}
	errored := stateJSONFor("L", 4, "base", "long", "new")
	if err := os.WriteFile(filepath.Join(dir, erroredFile), errored, 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := "Error: Failed to save state\n\nError saving state: failed to upload state: operation error S3: PutObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n\nError: Failed to persist state to backend\n\n"
	if c.evidence != "lockfalse" {
		switch {
		case c.mode == "lockfile":
			stderr += "Error: Error releasing the state lock\n\nError message: unable to retrieve file from S3 bucket 'b' with key 'k.tflock': operation error S3: GetObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n"
		case c.evidence == "printed":
			stderr += "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"" + ourID + "\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
		default:
			// DynamoDB without the ID in the text (e.g. an older terraform):
			// the observation is the only evidence.
			stderr += "Error: Error releasing the state lock\n\nError message: Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
		}
	}
	if c.evidence == "printed" && c.mode == "lockfile" {
		t.Fatalf("terraform prints no lock ID in lockfile mode")
	}

	// Meanwhile.
	var other *Lock
	switch c.meantime {
	case "colleague-applied":
		w.ddb, w.lockfile = nil, nil
		w.write(stateJSONFor("L", 2, "base", "long", "colleague"))
	case "colleague-running":
		w.ddb, w.lockfile = nil, nil
		other = lockRec("22222222-2222-2222-2222-222222222222", who, time.Now())
	case "switched":
		w.ddb, w.lockfile = nil, nil
		other = lockRec("33333333-3333-3333-3333-333333333333", who, time.Now())
		w.write(stateJSONFor("L", 2, "base", "long", "switched"))
	case "lockfalse-writer":
		// terraform's lock error suggests -lock=false: a colleague writes
		// the state while this run's lock is still there.
		w.write(stateJSONFor("L", 2, "base", "long", "colleague"))
	case "run-saved":
		// The run's own intermediate save went through, seen by the watch;
		// the final one failed.
		w.write(stateJSONFor("L", 2, "base", "long"))
		obs.States = append(obs.States, StateSighting{Object: w.objectLocked(), First: started.Add(21 * time.Second)})
	}
	if other != nil {
		for _, k := range kinds {
			if k == "dynamodb" {
				w.ddb = other
			} else {
				w.lockfile = other
			}
		}
	}
	args := []string{"apply", "-auto-approve"}
	if c.evidence == "lockfalse" {
		args = append(args, "-lock=false")
	}
	r := Run{Dir: dir, Terraform: "terraform", Flavor: "terraform", Args: args, ExitCode: 1, Stderr: []byte(stderr),
		Started: started, Ended: time.Now(), Observed: obs, Out: w.out, runner: w,
		backend: func(context.Context, Backend, []string) (backendReader, error) { return w, nil }}
	if c.evidence == "none" {
		r.Observed = obs
	}
	if c.meantime == "run-saved" {
		// What terraform printed after that save: the change the failed
		// save lost (without it tf cannot tell the run's later changes
		// from another writer's: TestMidRunChangeWithoutTerraformsOutput).
		r.Stdout = []byte("terraform_data.new: Creating...\nterraform_data.new: Creation complete after 1s [id=n]\n")
	}
	out := Recover(context.Background(), r)
	return cellResult{out: out, w: w, dir: dir, ourID: ourID, errored: errored, other: other}
}

// TestRecoveryActsOnlyOnProof crosses lock mode x evidence x what happened
// meanwhile and checks the safety rules in every cell: nobody's recorded
// resource is lost from the state, no lock of another run is released,
// the failed run's state is always somewhere named in the report, and the
// outcome is the one the rules call for.
func TestRecoveryActsOnlyOnProof(t *testing.T) {
	for _, mode := range []string{"dynamodb", "lockfile", "both"} {
		for _, ev := range []string{"printed", "observed", "none", "lockfalse"} {
			if ev == "printed" && mode == "lockfile" {
				continue // terraform prints no ID for the lockfile
			}
			for _, mt := range []string{"nothing", "colleague-applied", "colleague-running", "switched", "lockfalse-writer", "run-saved"} {
				c := cell{mode, ev, mt}
				t.Run(fmt.Sprintf("%s/%s/%s", mode, ev, mt), func(t *testing.T) {
					res := runCell(t, c)
					o, w := res.out, res.w
					st, _ := parseState(w.state)
					// Nobody's recorded resource is lost.
					for _, keep := range []string{"colleague", "switched"} {
						if mt != "nothing" && strings.Contains(mt, strings.TrimSuffix(keep, "d")) {
							_ = keep
						}
					}
					if (mt == "colleague-applied" || mt == "lockfalse-writer") && !bytes.Contains(w.state, []byte(`"colleague"`)) {
						t.Fatalf("the colleague's resource was dropped from the state: %s", w.state)
					}
					if mt == "switched" && !bytes.Contains(w.state, []byte(`"switched"`)) {
						t.Fatalf("the other run's resource was dropped from the state: %s", w.state)
					}
					// No lock of another run is released.
					if res.other != nil {
						for _, call := range w.calls {
							if strings.Contains(call, res.other.Info.ID) {
								t.Fatalf("tf acted on another run's lock: %s", call)
							}
						}
						if w.ddb == nil && w.lockfile == nil {
							t.Fatal("another run's lock disappeared")
						}
					}
					// The failed run's state is somewhere the report names.
					saved := false
					if o.Kind == Recovered {
						saved = sameContent(st, mustParse(t, res.errored))
					}
					for _, p := range o.Saved {
						if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, res.errored) {
							saved = true
						}
					}
					if !saved {
						t.Fatalf("errored.tfstate is neither in the backend nor at a place the report names (%v): %+v", o.Saved, o)
					}
					// Every stop says how to go on.
					if o.Kind == NeedsPerson && len(o.Next) == 0 {
						t.Fatal("a stop without next steps")
					}
					if o.Pending && !strings.Contains(strings.Join(o.Next, "\n"), "--abandon") {
						t.Fatalf("a pending stop without the way to give up: %v", o.Next)
					}
					want := expectedKind(c)
					if o.Kind != want {
						t.Fatalf("outcome %s (%s), want %s; calls %v", o.Kind, o.Summary, want, w.calls)
					}
					if o.Kind == Recovered && (w.ddb != nil || w.lockfile != nil) {
						t.Fatalf("recovered but a lock is left: %+v %+v", w.ddb, w.lockfile)
					}
				})
			}
		}
	}
}

func mustParse(t *testing.T, b []byte) StateSummary {
	t.Helper()
	s, err := parseState(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// expectedKind is what the rules call for in a cell: a push by tf itself
// only with this run's lock proven and present, or the state object
// unchanged since the run started.
func expectedKind(c cell) Kind {
	switch {
	case c.meantime == "run-saved" && c.evidence == "none":
		return NeedsPerson // no watch: tf saw neither the start nor the save
	case c.meantime == "run-saved" && c.evidence == "lockfalse":
		// The run held no lock: the watch cannot tell its save from anyone
		// else's write, so only the start state is the run's.
		return NeedsPerson
	case c.meantime != "nothing" && c.meantime != "run-saved":
		return NeedsPerson
	case c.evidence == "printed" || c.evidence == "observed":
		return Recovered
	case c.evidence == "lockfalse":
		return Recovered // the state object is the one the run started from
	}
	return NeedsPerson // a stale lock tf cannot prove is its own
}

// TestPushVerifyUnlockOrder: the fence goes last.
func TestPushVerifyUnlockOrder(t *testing.T) {
	res := runCell(t, cell{"dynamodb", "printed", "nothing"})
	if res.out.Kind != Recovered {
		t.Fatalf("%+v", res.out)
	}
	got := strings.Join(res.w.calls, " | ")
	want := "state pull | state push -lock=false " + filepath.Join(res.out.RecoveryDir, backupName) + " | state pull | force-unlock -force " + res.ourID
	if got != want {
		t.Fatalf("calls\n got %s\nwant %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(res.dir, erroredFile)); !os.IsNotExist(err) {
		t.Fatalf("errored.tfstate left after a verified recovery: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(res.out.RecoveryDir, backupName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup: %v %v", fi, err)
	}
	if Pending(res.dir, nil) {
		t.Fatal("still pending")
	}
}
