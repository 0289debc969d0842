package recovery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// stateWithIDs is a state whose terraform_data instances have the given id
// attributes, in order: name, id, name, id, ...
func stateWithIDs(lineage string, serial int, nameIDs ...string) []byte {
	var res []string
	for i := 0; i+1 < len(nameIDs); i += 2 {
		res = append(res, fmt.Sprintf(`{"mode":"managed","type":"terraform_data","name":%q,"instances":[{"attributes":{"id":%q}}]}`, nameIDs[i], nameIDs[i+1]))
	}
	return []byte(fmt.Sprintf(`{"version":4,"serial":%d,"lineage":%q,"outputs":{},"resources":[%s]}`, serial, lineage, strings.Join(res, ",")))
}

// midRunChange: a locked run whose watch saw one write while it ran (mid),
// and whose credentials then expired at the final save.
func midRunChange(t *testing.T, start, mid, errored []byte, stdout string) (*ws, Outcome) {
	t.Helper()
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(start)
	so := x.w.objectLocked()
	x.w.write(mid)
	mo := x.w.objectLocked()
	x.errored(errored)
	id := "aaaaaaaa-0000-4000-8000-0000000000ab"
	x.lock(id)
	r := x.run(saveExpired + "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"" + id + "\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n")
	r.Stdout = []byte(stdout)
	r.Observed = &Observation{Started: x.started.UTC(), TakesLock: true, StartState: &so,
		States: []StateSighting{{Object: mo, First: x.started.Add(30 * time.Second)}}}
	return x, Recover(context.Background(), r)
}

// TestMidRunAttributeChangeByAnotherWriterIsNotPushedAway: while the run
// held its lock, a colleague with -lock=false changed an instance the run
// never touched (the review's remaining gap: the watch took that write for
// the run's own save, and the push restored the old attributes without a
// word). tf stops with the difference; the colleague's change stays.
func TestMidRunAttributeChangeByAnotherWriterIsNotPushedAway(t *testing.T) {
	stdout := "terraform_data.new: Creating...\nterraform_data.new: Creation complete after 0s [id=n]\n"
	x, o := midRunChange(t,
		stateWithIDs("L", 1, "base", "b", "shared", "v1"),
		stateWithIDs("L", 2, "base", "b", "shared", "v2-colleague"),
		stateWithIDs("L", 3, "base", "b", "shared", "v1", "new", "n"),
		stdout)
	out := x.out.String()
	if !bytes.Contains(x.w.state, []byte(`"v2-colleague"`)) {
		t.Errorf("the colleague's change was pushed away:\n%s", out)
	}
	for _, c := range x.w.calls {
		if strings.HasPrefix(c, "state push") {
			t.Errorf("tf pushed: %v", x.w.calls)
		}
	}
	if o.Kind != NeedsPerson || o.Pending {
		t.Errorf("kind %s pending %v, want a closed stop:\n%s", o.Kind, o.Pending, out)
	}
	if o.Diff == nil || !slices.Contains(o.Diff.Changed, "terraform_data.shared") {
		t.Errorf("the stop does not show the difference: %+v\n%s", o.Diff, out)
	}
	if !strings.Contains(out, "records terraform_data.shared differently from errored.tfstate, and terraform's output does not show this run changing it") {
		t.Errorf("the stop does not say why:\n%s", out)
	}
}

// TestMidRunSaveWithTheRunsOwnChangesIsPushedOver: the mid-run write is the
// run's own save (an instance the run changed afterwards, as its output
// shows): tf pushes, as before.
func TestMidRunSaveWithTheRunsOwnChangesIsPushedOver(t *testing.T) {
	stdout := "terraform_data.shared: Modifying... [id=v1]\nterraform_data.shared: Modifications complete after 0s [id=v2]\n" +
		"terraform_data.new: Creating...\nterraform_data.new: Creation complete after 0s [id=n]\n"
	x, o := midRunChange(t,
		stateWithIDs("L", 1, "base", "b", "shared", "v1"),
		stateWithIDs("L", 2, "base", "b", "shared", "v1"),
		stateWithIDs("L", 3, "base", "b", "shared", "v2", "new", "n"),
		stdout)
	if o.Kind != Recovered {
		t.Fatalf("kind %s, want recovered:\n%s", o.Kind, x.out)
	}
	if !bytes.Contains(x.w.state, []byte(`"v2"`)) || !bytes.Contains(x.w.state, []byte(`"new"`)) {
		t.Errorf("errored.tfstate was not pushed:\n%s", x.w.state)
	}
}

// TestMidRunChangeWithoutTerraformsOutput: with terraform's output unread
// (read_stdout = off) tf cannot tell the run's changes from another
// writer's, so it does not push over a mid-run write that differs.
func TestMidRunChangeWithoutTerraformsOutput(t *testing.T) {
	x, o := midRunChange(t,
		stateWithIDs("L", 1, "shared", "v1"),
		stateWithIDs("L", 2, "shared", "v2-colleague"),
		stateWithIDs("L", 3, "shared", "v1", "new", "n"),
		"")
	if o.Kind != NeedsPerson || !bytes.Contains(x.w.state, []byte(`"v2-colleague"`)) {
		t.Fatalf("kind %s, want a stop that keeps the backend's state:\n%s", o.Kind, x.out)
	}
}

// TestIsDataSource: a data source's address, also inside modules (whose
// keys may hold dots), and not a managed resource in a module named data.
func TestIsDataSource(t *testing.T) {
	for a, want := range map[string]bool{
		"data.aws_caller_identity.me":                   true,
		"module.net.data.aws_vpc.main":                  true,
		`module.m["a.data.b"].data.x.y[0]`:              true,
		"module.m[2].module.n.data.x.y":                 true,
		"module.data.aws_s3_bucket.b":                   false,
		`module.m["data."].aws_s3_bucket.b`:             false,
		"aws_s3_bucket.data":                            false,
		"terraform_data.x":                              false,
		`module.m["k\"].data.x"].aws_instance.web["a"]`: false,
	} {
		if got := isDataSource(a); got != want {
			t.Errorf("isDataSource(%q) = %v, want %v", a, got, want)
		}
	}
}

// runWithOutput is a locked run that died at its final save, with the
// watch having seen only the state it started from, and stdout as
// terraform printed it.
func runWithOutput(t *testing.T, start, errored []byte, stdout string) (*ws, Outcome) {
	t.Helper()
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(start)
	so := x.w.objectLocked()
	x.errored(errored)
	id := "aaaaaaaa-0000-4000-8000-0000000000ac"
	x.lock(id)
	r := x.run(saveExpired + fmt.Sprintf(ddbRelease, id))
	r.Stdout = []byte(stdout)
	r.Observed = &Observation{Started: x.started.UTC(), TakesLock: true, StartState: &so}
	return x, Recover(context.Background(), r)
}

// TestMovedAndForgottenAreTheRunsOwn: an apply with moved blocks and a
// removed block (destroy = false) takes addresses out of the state with no
// "Destruction complete" line (recorded from terraform 1.11.4); they are the
// run's own doing, so tf pushes, and does not say someone else recorded
// them.
func TestMovedAndForgottenAreTheRunsOwn(t *testing.T) {
	stdout, err := os.ReadFile("../tfout/testdata/progress/tf1.11.4_moved_removed.stdout")
	if err != nil {
		t.Fatal(err)
	}
	x, o := runWithOutput(t,
		stateWithIDs("L", 1, "a", "ida", "x", "idx", "m", "idm"),
		stateWithIDs("L", 2, "b", "ida", "m2", "idm2", "new", "idn"),
		string(stdout))
	if o.Kind != Recovered {
		t.Fatalf("kind %s, want recovered:\n%s", o.Kind, x.out)
	}
	if strings.Contains(x.out.String(), "someone else") {
		t.Errorf("the run's own moves are attributed to someone else:\n%s", x.out)
	}
	if !bytes.Contains(x.w.state, []byte(`"new"`)) || bytes.Contains(x.w.state, []byte(`"idx"`)) {
		t.Errorf("errored.tfstate was not pushed:\n%s", x.w.state)
	}
}

// TestMidRunRemovalByAnotherWriterIsNotUndone: while the run held its lock,
// a colleague with -lock=false took an instance out of the state (state rm)
// after the run's last save; errored.tfstate still records it, and the
// run's output does not show it creating it: pushing would bring it back
// (and a later plan without its configuration would destroy it). tf stops.
func TestMidRunRemovalByAnotherWriterIsNotUndone(t *testing.T) {
	stdout := "terraform_data.new: Creating...\nterraform_data.new: Creation complete after 0s [id=n]\n"
	x, o := midRunChange(t,
		stateWithIDs("L", 1, "base", "b", "shared", "s"),
		stateWithIDs("L", 2, "base", "b"),
		stateWithIDs("L", 3, "base", "b", "shared", "s", "new", "n"),
		stdout)
	out := x.out.String()
	if o.Kind != NeedsPerson || bytes.Contains(x.w.state, []byte(`"shared"`)) {
		t.Fatalf("kind %s, want a stop that leaves the colleague's removal:\n%s", o.Kind, out)
	}
	if !strings.Contains(out, "does not record terraform_data.shared, which errored.tfstate does, and terraform's output does not show this run creating or importing it") {
		t.Errorf("the stop does not say why:\n%s", out)
	}
}
