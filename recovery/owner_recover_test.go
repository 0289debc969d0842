package recovery

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ownerFixture writes an owner record for lock id in x's recovery root:
// alive names this test process; otherwise a process that has exited.
func ownerFixture(t *testing.T, x *ws, id string, alive bool, progress string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("owner records are judged with /proc")
	}
	host, _ := os.Hostname()
	rec := OwnerRecord{Host: host, BootID: BootID(), PidNS: PidNamespace(), Command: "apply", Started: x.started, LockID: id}
	if alive {
		rec.TfPID = os.Getpid()
	} else {
		c := exec.Command("true")
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		rec.TfPID = c.Process.Pid
	}
	s, _, _ := ProcStart(rec.TfPID)
	if !alive {
		s = 1 // a start time no process started after boot has now
	}
	rec.TfStart = s
	rec.TerraformPID, rec.TerraformStart = rec.TfPID, rec.TfStart
	root := RecoveryRoot(x.dir, nil)
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rec)
	path := filepath.Join(root, "owner-1.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "owner-1.progress"), []byte(progress), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const ownerLockID = "aaaaaaaa-0000-4000-8000-0000000000aa"

func TestDeadOwnersLockReleased(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.lock(ownerLockID)
	path := ownerFixture(t, x, ownerLockID, false, "start create terraform_data.a\ndone create terraform_data.a\nstart create aws_s3_bucket.b\n")
	o := RecoverCommand(context.Background(), x.run(""), CommandOptions{Yes: true})
	if o.Kind != Recovered || x.w.ddb != nil {
		t.Fatalf("%s: %s\n%s", o.Kind, o.Summary, x.out)
	}
	out := x.out.String()
	for _, want := range []string{"lock owner: dead", "aws_s3_bucket.b (create)", "terraform import aws_s3_bucket.b <ID>", "released lock " + ownerLockID} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "terraform_data.a (create)") {
		t.Errorf("a completed create named as possibly orphaned:\n%s", out)
	}
	if !strings.Contains(strings.Join(x.w.calls, "\n"), "force-unlock -force "+ownerLockID) {
		t.Errorf("no force-unlock by ID: %q", x.w.calls)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("owner record left after its lock was released")
	}
}

func TestLiveOwnersLockNeverTouched(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.lock(ownerLockID)
	ownerFixture(t, x, ownerLockID, true, "")
	o := RecoverCommand(context.Background(), x.run(""), CommandOptions{Yes: true})
	if o.Kind != NeedsPerson || x.w.ddb == nil || len(x.w.calls) != 0 {
		t.Fatalf("%s: %s calls %q\n%s", o.Kind, o.Summary, x.w.calls, x.out)
	}
	if !strings.Contains(x.out.String(), "lock owner: alive") {
		t.Fatalf("not said alive:\n%s", x.out)
	}
}

func TestDeadOwnerNeedsYes(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.lock(ownerLockID)
	ownerFixture(t, x, ownerLockID, false, "")
	o := RecoverCommand(context.Background(), x.run(""), CommandOptions{})
	if o.Kind != NeedsPerson || x.w.ddb == nil || len(x.w.calls) != 0 || !strings.Contains(o.Summary, "re-run with --yes") {
		t.Fatalf("no terminal, no --yes: %s: %s calls %q", o.Kind, o.Summary, x.w.calls)
	}
	r := x.run("")
	r.Interactive, r.In = true, strings.NewReader("no\n")
	o = RecoverCommand(context.Background(), r, CommandOptions{})
	if o.Kind != NeedsPerson || x.w.ddb == nil || len(x.w.calls) != 0 {
		t.Fatalf("answered no: %s: %s calls %q", o.Kind, o.Summary, x.w.calls)
	}
	r.In = strings.NewReader("yes\n")
	o = RecoverCommand(context.Background(), r, CommandOptions{})
	if o.Kind != Recovered || x.w.ddb != nil {
		t.Fatalf("answered yes: %s: %s\n%s", o.Kind, o.Summary, x.out)
	}
}

// swapReader replaces the lock after the first read: another run took the
// state between tf's two reads.
type swapReader struct {
	*world
	n int
}

func (s *swapReader) ReadLocks(ctx context.Context) (Locks, error) {
	l, err := s.world.ReadLocks(ctx)
	s.n++
	if s.n == 1 {
		s.world.ddb = lockRec(ownerLockID, "bob@other", time.Now())
	}
	return l, err
}

func TestDeadOwnersLockChangedIsKept(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.lock(ownerLockID)
	ownerFixture(t, x, ownerLockID, false, "")
	r := x.run("")
	sr := &swapReader{world: x.w}
	r.backend = func(context.Context, Backend, []string) (backendReader, error) { return sr, nil }
	o := RecoverCommand(context.Background(), r, CommandOptions{Yes: true})
	if o.Kind != NeedsPerson || x.w.ddb == nil || strings.Contains(strings.Join(x.w.calls, " "), "force-unlock") {
		t.Fatalf("%s: %s calls %q\n%s", o.Kind, o.Summary, x.w.calls, x.out)
	}
	if !strings.Contains(o.Summary, "the lock changed since tf read it") {
		t.Fatalf("summary: %s", o.Summary)
	}
}
