package recovery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pendingInA leaves a pending recovery of checkout a, whose secure step
// could not write its copy, in a data directory shared by absolute
// TF_DATA_DIR; it returns the environment and the journal's path.
func pendingInA(t *testing.T, x *ws, a string) ([]string, string) {
	t.Helper()
	shared := filepath.Join(x.dir, ".terraform")
	env := []string{"TF_DATA_DIR=" + shared}
	id := "aaaaaaaa-0000-4000-8000-0000000000bb"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	if err := os.WriteFile(filepath.Join(a, erroredFile), stateJSONFor("L", 3, "base", "new"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := x.run(saveExpired + fmt.Sprintf(ddbRelease, id))
	r.Dir, r.Env = a, env
	var journalPath string
	r.OnStep = func(step string) {
		if step == StepSecure { // the copy cannot be written
			matches, _ := filepath.Glob(filepath.Join(shared, "tf-recovery", "*", journalName))
			for _, m := range matches {
				journalPath = m
				_ = os.Mkdir(filepath.Join(filepath.Dir(m), backupName), 0o700)
			}
		}
	}
	if o := Recover(context.Background(), r); !o.Pending || o.RetryOn != string(retryDisk) {
		t.Fatalf("setup: A's recovery is not pending on the disk: %+v", o)
	}
	return env, journalPath
}

// TestOtherCheckoutSharingDataDirLeavesPendingRecovery: a guarded command
// in checkout B never acts on checkout A's pending recovery: it stops,
// names A, and leaves A's journal as it was.
func TestOtherCheckoutSharingDataDirLeavesPendingRecovery(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	a, b := t.TempDir(), t.TempDir()
	env, jp := pendingInA(t, x, a)
	before, err := os.ReadFile(jp)
	if err != nil {
		t.Fatal(err)
	}
	x.out.Reset()
	rb := x.run("")
	rb.Dir, rb.Env = b, env
	ob := Resume(context.Background(), rb)
	out := x.out.String()
	if !ob.Pending || !Pending(a, env) {
		t.Errorf("B closed A's recovery: %+v\n%s", ob, out)
	}
	if after, _ := os.ReadFile(jp); !bytes.Equal(before, after) {
		t.Errorf("B wrote A's journal:\n%s", after)
	}
	if !strings.Contains(out, "a recovery of "+a+" is pending; run tf guard recover in "+a) {
		t.Errorf("B does not name A:\n%s", out)
	}
	if strings.Contains(out, "next guarded command here") {
		t.Errorf("B says a command in B continues A's recovery:\n%s", out)
	}
	if strings.Contains(out, "force-unlock") || strings.Contains(out, "is gone") {
		t.Errorf("B prints A's lock or a false loss:\n%s", out)
	}
	for _, c := range x.w.calls {
		if strings.Contains(c, "force-unlock") || strings.Contains(c, "state push") {
			t.Errorf("B acted on the backend: %v", x.w.calls)
		}
	}
	// A itself finishes it.
	x.out.Reset()
	_ = os.Remove(filepath.Join(filepath.Dir(jp), backupName))
	ra := x.run("")
	ra.Dir, ra.Env = a, env
	if oa := Resume(context.Background(), ra); oa.Kind != Recovered {
		t.Errorf("A's own resume: %s\n%s", oa.Kind, x.out)
	}
}

// TestGoneErroredReconcilesBeforeUnlock: when the run's errored.tfstate is
// gone before tf secured it, the next steps never offer the unlock alone:
// reconciling the run's changes comes first.
func TestGoneErroredReconcilesBeforeUnlock(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	a := t.TempDir()
	env, _ := pendingInA(t, x, a)
	if err := os.Remove(filepath.Join(a, erroredFile)); err != nil {
		t.Fatal(err)
	}
	x.out.Reset()
	ra := x.run("")
	ra.Dir, ra.Env = a, env
	o := Resume(context.Background(), ra)
	next := strings.Join(o.Next, "\n")
	u, i := strings.Index(next, "force-unlock"), strings.Index(next, "import")
	if o.Kind != NeedsPerson || i < 0 || (u >= 0 && u < i) {
		t.Errorf("kind %s; the unlock is not preceded by the reconciliation:\n%s", o.Kind, next)
	}
}
