package recovery

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// midRunWrite is a run whose watch saw the state object change while it
// ran: a colleague's write after the run's last successful save (serial 1),
// which the watch cannot tell from the run's own save.
func midRunWrite(t *testing.T, takes bool, stdout string) (*ws, Outcome) {
	t.Helper()
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 1, "base"))
	start := x.w.objectLocked()
	x.w.write(stateJSONFor("L", 2, "base", "colleague"))
	mid := x.w.objectLocked()
	x.errored(stateJSONFor("L", 3, "base", "new"))
	stderr := saveExpired
	id := "aaaaaaaa-0000-4000-8000-0000000000aa"
	if takes {
		x.lock(id)
		stderr += "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"" + id + "\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
	}
	r := x.run(stderr)
	if stdout != "" {
		r.Stdout = []byte(stdout)
	}
	if !takes {
		r.Args = append(r.Args, "-lock=false")
	}
	r.Observed = &Observation{Started: x.started.UTC(), TakesLock: takes, StartState: &start,
		States: []StateSighting{{Object: mid, First: x.started.Add(30 * time.Second)}}}
	return x, Recover(context.Background(), r)
}

// TestMidRunWriteIsNotTakenForTheRunsOwnSave: an instance only the backend
// records, which terraform's output does not show this run destroying, is
// never pushed away nor reported as the run's destroy; tf stops with the
// difference.
func TestMidRunWriteIsNotTakenForTheRunsOwnSave(t *testing.T) {
	for _, takes := range []bool{false, true} {
		name := map[bool]string{false: "lock=false run", true: "locked run, -lock=false colleague"}[takes]
		t.Run(name, func(t *testing.T) {
			x, o := midRunWrite(t, takes, "")
			out := x.out.String()
			if !bytes.Contains(x.w.state, []byte(`"colleague"`)) {
				t.Errorf("the colleague's resource was dropped from the backend's state:\n%s", out)
			}
			if strings.Contains(out, "destroyed terraform_data.colleague") {
				t.Errorf("the report attributes the colleague's resource to the failed run:\n%s", out)
			}
			if o.Kind != NeedsPerson || o.Pending {
				t.Errorf("kind %s pending %v, want a closed stop:\n%s", o.Kind, o.Pending, out)
			}
			if o.Diff == nil || !slices.Contains(o.Diff.OnlyRemote, "terraform_data.colleague") {
				t.Errorf("the stop does not show the difference: %+v\n%s", o.Diff, out)
			}
			if takes && !strings.Contains(out, "terraform's output does not show this run destroying it: someone else may have recorded it") {
				t.Errorf("the stop does not say why:\n%s", out)
			}
			for _, c := range x.w.calls {
				if strings.HasPrefix(c, "state push") {
					t.Errorf("tf pushed: %v", x.w.calls)
				}
			}
		})
	}
}

// TestDestroyShownByTerraformIsTheRunsOwn: when terraform's output shows
// the run destroying the instance, a locked run's mid-run save is its own
// and tf pushes.
func TestDestroyShownByTerraformIsTheRunsOwn(t *testing.T) {
	stdout := "terraform_data.colleague: Destroying... [id=c]\nterraform_data.colleague: Destruction complete after 0s\n" +
		"terraform_data.new: Creating...\nterraform_data.new: Creation complete after 0s [id=n]\n"
	x, o := midRunWrite(t, true, stdout)
	if o.Kind != Recovered {
		t.Fatalf("kind %s, want recovered:\n%s", o.Kind, x.out)
	}
	if !strings.Contains(x.out.String(), "destroyed terraform_data.colleague") {
		t.Errorf("the run's destroy is not reported:\n%s", x.out)
	}
}

// TestRefusedPushReleasesTfsOwnLock: on the "unchanged" route tf takes its
// own lock; when terraform refuses the push for good (same serial, other
// content), the final stop releases that lock and says so.
func TestRefusedPushReleasesTfsOwnLock(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 2, "base"))
	start := x.w.objectLocked()
	x.errored(stateJSONFor("L", 2, "base", "new")) // one failed persist, same serial
	r := x.run(saveExpired)
	r.Args = append(r.Args, "-lock=false")
	r.Observed = &Observation{Started: x.started.UTC(), StartState: &start}
	o := Recover(context.Background(), r)
	out := x.out.String()
	took := ""
	for _, c := range x.w.calls {
		if id, ok := strings.CutPrefix(c, "take-lock "); ok {
			took = id
		}
	}
	if took == "" || !strings.Contains(out, "refused to push") {
		t.Fatalf("setup: tf did not take its lock and see the push refused: %v\n%s", x.w.calls, out)
	}
	if o.Kind != NeedsPerson || o.Pending {
		t.Errorf("kind %s pending %v, want a closed stop", o.Kind, o.Pending)
	}
	if x.w.ddb != nil {
		t.Errorf("tf's own lock %s is left on the state after a final stop:\n%s", x.w.ddb.Info.ID, out)
	}
	if !strings.Contains(out, "tf released the lock it had taken for its push ("+took+")") {
		t.Errorf("the release is not said:\n%s", out)
	}
}
