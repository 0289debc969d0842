package recovery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pendingUnsecured leaves a pending recovery whose secure step could not
// finish (the backup's place is taken: a disk error), as a full disk does.
func pendingUnsecured(t *testing.T, x *ws, id string) (run []byte, jdir string) {
	t.Helper()
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	run = stateJSONFor("L", 3, "base", "long")
	x.errored(run)
	r := x.run(saveExpired + fmt.Sprintf(ddbRelease, id))
	r.OnStep = func(step string) {
		if step != StepSecure {
			return
		}
		name, err := os.ReadFile(filepath.Join(x.dir, ".terraform", recoveryDirName, pendingName))
		if err != nil {
			t.Fatal(err)
		}
		jdir = filepath.Join(x.dir, ".terraform", recoveryDirName, strings.TrimSpace(string(name)))
		if err := os.MkdirAll(filepath.Join(jdir, backupName, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	o := Recover(context.Background(), r)
	if o.Kind != NeedsPerson || !o.Pending || o.RetryOn != string(retryDisk) || x.w.state == nil || bytes.Contains(x.w.state, []byte(`"long"`)) {
		t.Fatalf("setup: %+v\n%s", o, x.out)
	}
	return run, jdir
}

// A run for another state in the same working directory would overwrite
// the pending recovery's errored.tfstate: tf secures it first; once the
// pending state is selected again, what is pushed is the failed run's own
// file, not the one the other run left.
func TestPendingUnsecuredErroredIsSecuredBeforeAnotherStateRuns(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	run, jdir := pendingUnsecured(t, x, "aaaaaaaa-0000-4000-8000-0000000000f1")
	x.backend(`"bucket":"b","key":"green","region":"us-east-1","dynamodb_table":"t"`)

	// Still no room for the backup: the other state's run is refused.
	o := Resume(context.Background(), x.run(""))
	if o.Kind != NeedsPerson || !o.Pending || !strings.Contains(o.Summary, "could not secure") {
		t.Fatalf("the other state's run is not refused while the backup cannot be made: %+v", o)
	}
	if !strings.Contains(strings.Join(o.Next, "\n"), "tf guard recover") {
		t.Fatalf("no way on: %v", o.Next)
	}
	// Room again: secured, then the other state's run goes on.
	if err := os.RemoveAll(filepath.Join(jdir, backupName)); err != nil {
		t.Fatal(err)
	}
	o = Resume(context.Background(), x.run(""))
	if o.Kind != Elsewhere {
		t.Fatalf("%+v\n%s", o, x.out)
	}
	if b, err := os.ReadFile(filepath.Join(jdir, backupName)); err != nil || !bytes.Equal(b, run) {
		t.Fatalf("the run's errored.tfstate was not secured before the other run: %v", err)
	}
	// The other run overwrites errored.tfstate; back on the pending state,
	// the recovery pushes the run's own file.
	green := stateJSONFor("G", 7, "green")
	x.errored(green)
	x.backend(`"bucket":"b","key":"k","region":"us-east-1","dynamodb_table":"t"`)
	o = Resume(context.Background(), x.run(""))
	if o.Kind != Recovered || !bytes.Contains(x.w.state, []byte(`"long"`)) || bytes.Contains(x.w.state, []byte(`"green"`)) {
		t.Fatalf("%+v\nstate %s\n%s", o, x.w.state, x.out)
	}
	if b, _ := os.ReadFile(filepath.Join(x.dir, erroredFile)); !bytes.Equal(b, green) {
		t.Fatal("the other run's errored.tfstate was not left as it is")
	}
}

// A resumed recovery whose errored.tfstate was replaced before tf secured
// it never secures or pushes the new file, and never names it as where the
// failed run's state is.
func TestResumeNeverSecuresAnotherErroredFile(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	_, jdir := pendingUnsecured(t, x, "aaaaaaaa-0000-4000-8000-0000000000f2")
	if err := os.RemoveAll(filepath.Join(jdir, backupName)); err != nil {
		t.Fatal(err)
	}
	x.errored(stateJSONFor("L", 9, "base", "other"))
	calls := len(x.w.calls)
	o := Resume(context.Background(), x.run(""))
	if o.Kind != NeedsPerson || o.Pending {
		t.Fatalf("%+v\n%s", o, x.out)
	}
	if !strings.Contains(o.Summary, "is not the file this run left") || !strings.Contains(o.Summary, "serial 3") || !strings.Contains(o.Summary, "serial 9") {
		t.Fatalf("the stop does not say what tf saw: %s", o.Summary)
	}
	if len(o.Saved) != 0 {
		t.Fatalf("the other file is named as the failed run's state: %v", o.Saved)
	}
	if _, err := os.Stat(filepath.Join(jdir, backupName)); !os.IsNotExist(err) {
		t.Fatalf("the other file was secured as this run's: %v", err)
	}
	if len(x.w.calls) != calls || x.w.ddb == nil {
		t.Fatalf("tf acted: %v (lock %v)", x.w.calls[calls:], x.w.ddb)
	}
	if !strings.Contains(x.out.String(), "force-unlock -force aaaaaaaa-0000-4000-8000-0000000000f2") {
		t.Fatalf("no way on:\n%s", x.out)
	}
}

// terraform refuses a push for good (same serial, other content): retrying
// cannot change it, so the recovery is closed with the difference shown,
// never left pending to be refused on every command.
func TestPushRefusedForGoodIsClosed(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-0000000000f3"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 1, "base", "long"))
	o := Recover(context.Background(), x.run(saveExpired+fmt.Sprintf(ddbRelease, id)))
	if o.Kind != NeedsPerson || o.Pending || o.Diff == nil || Pending(x.dir, nil) {
		t.Fatalf("%+v\n%s", o, x.out)
	}
	if !strings.Contains(o.Summary, "cannot overwrite existing state with serial 1 with a different state that has the same serial") {
		t.Fatalf("terraform's refusal is not said: %s", o.Summary)
	}
	if x.w.ddb == nil || len(o.Saved) == 0 {
		t.Fatalf("lock released or the state not kept: %+v", o)
	}
}

// pendingOnRead is a person's answer typed while another tf's run in the
// same directory failed and left a pending recovery.
type pendingOnRead struct {
	root   string
	answer string
	done   bool
}

func (p *pendingOnRead) Read(b []byte) (int, error) {
	if !p.done {
		p.done = true
		if err := os.MkdirAll(p.root, 0o700); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(p.root, pendingName), []byte("20990101T000000.000000000Z\n"), 0o600); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.answer)
	p.answer = p.answer[n:]
	return n, nil
}

// `tf guard recover` without a pending journal checks again under the root
// lock: another tf's PENDING marker is never overwritten.
func TestRecoverCommandNeverOverwritesAnotherPendingMarker(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	root := filepath.Join(x.dir, ".terraform", recoveryDirName)
	r := x.run("")
	r.Interactive, r.In = true, &pendingOnRead{root: root, answer: "errored\n"}
	o := RecoverCommand(context.Background(), r, CommandOptions{})
	marker, _ := os.ReadFile(filepath.Join(root, pendingName))
	if strings.TrimSpace(string(marker)) != "20990101T000000.000000000Z" {
		t.Fatalf("the other tf's PENDING marker was overwritten: %q (%+v)", marker, o)
	}
	if o.Kind != NeedsPerson || !o.Pending || x.w.calls[len(x.w.calls)-1] != "state pull" {
		t.Fatalf("%+v calls %v", o, x.w.calls)
	}
}

// Several data directories share one working directory's errored.tfstate:
// a guarded run with another TF_DATA_DIR secures the pending recovery's
// file first, or does not start while it cannot.
func TestOtherDataDirSecuresThePendingErroredFirst(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	run, jdir := pendingUnsecured(t, x, "aaaaaaaa-0000-4000-8000-0000000000f4")
	if _, err := os.Stat(filepath.Join(x.dir, unsecuredName)); err != nil {
		t.Fatalf("no marker beside errored.tfstate while it is not secured: %v", err)
	}
	other := x.run("")
	other.Env = []string{"TF_DATA_DIR=" + filepath.Join(x.dir, ".tf-b")}
	o, refused := SecureShared(context.Background(), other)
	if !refused || o.Kind != NeedsPerson || o.Pending || !strings.Contains(o.Summary, "could not secure") || !strings.Contains(strings.Join(o.Next, "\n"), "TF_DATA_DIR=") {
		t.Fatalf("a run with another data directory is not refused while the file cannot be secured: %v %+v", refused, o)
	}
	if err := os.RemoveAll(filepath.Join(jdir, backupName)); err != nil {
		t.Fatal(err)
	}
	if o, refused := SecureShared(context.Background(), other); refused {
		t.Fatalf("refused once the file could be secured: %+v", o)
	}
	if b, err := os.ReadFile(filepath.Join(jdir, backupName)); err != nil || !bytes.Equal(b, run) {
		t.Fatalf("not secured: %v", err)
	}
	if _, err := os.Stat(filepath.Join(x.dir, unsecuredName)); !os.IsNotExist(err) {
		t.Fatalf("the marker outlived the copy: %v", err)
	}
	// The first data directory's recovery goes on from its copy.
	if o := Resume(context.Background(), x.run("")); o.Kind != Recovered || !bytes.Contains(x.w.state, []byte(`"long"`)) {
		t.Fatalf("%+v\n%s", o, x.out)
	}
}

// The watch records the state object each time it changes while the run
// runs: the run's own saves are what recovery may push over, the last one
// counts.
func TestWatchRecordsTheRunsOwnSaves(t *testing.T) {
	w := newWorld(t)
	w.write(stateJSONFor("L", 1, "base"))
	start := w.objectLocked()
	wt := &Watch{obs: Observation{StartState: &start}}
	clock := time.Unix(100, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	ctx := context.Background()
	wt.readState(ctx, w, now)
	if len(wt.obs.States) != 0 || !wt.obs.LastState().Same(start) {
		t.Fatalf("an unchanged object was recorded as a save: %+v", wt.obs.States)
	}
	w.write(stateJSONFor("L", 2, "base", "mid"))
	wt.readState(ctx, w, now)
	wt.readState(ctx, w, now)
	saved := w.objectLocked()
	if len(wt.obs.States) != 1 || !wt.obs.LastState().Same(saved) || wt.obs.LastState().Same(start) {
		t.Fatalf("the run's save was not recorded once: %+v", wt.obs.States)
	}
}
