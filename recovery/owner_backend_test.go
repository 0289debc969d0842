package recovery

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// ownerWorld is the in-memory backend of proof_test.go plus the backend
// owner record, with the same conditions as awsBackend's.
type ownerWorld struct {
	*world
	om      sync.Mutex
	rec     *BackendOwner
	denied  bool // a policy denies the record's writes
	readErr error
	// hang: a write lands, and its answer never comes (until the caller
	// gives up).
	hang bool
	puts int
	dels int
}

func (o *ownerWorld) PutOwner(ctx context.Context, rec BackendOwner, first bool) error {
	o.om.Lock()
	defer o.om.Unlock()
	if o.hang {
		c := rec
		o.rec, o.hang = &c, false
		o.om.Unlock()
		<-ctx.Done()
		o.om.Lock()
		return ctx.Err()
	}
	if o.denied {
		return errors.New("AccessDenied")
	}
	if first && o.rec != nil && o.rec.LockID == rec.LockID && o.rec.Run != rec.Run {
		return errOwnerNotOurs
	}
	if !first && (o.rec == nil || o.rec.Run != rec.Run) {
		return errOwnerNotOurs
	}
	c := rec
	o.rec = &c
	o.puts++
	return nil
}

func (o *ownerWorld) GetOwner(context.Context) (*BackendOwner, error) {
	o.om.Lock()
	defer o.om.Unlock()
	if o.readErr != nil {
		return nil, o.readErr
	}
	if o.rec == nil {
		return nil, nil
	}
	c := *o.rec
	return &c, nil
}

func (o *ownerWorld) DeleteOwner(_ context.Context, run string) error {
	o.om.Lock()
	defer o.om.Unlock()
	if o.denied {
		return errors.New("AccessDenied")
	}
	if o.rec == nil || o.rec.Run != run {
		return errOwnerNotOurs
	}
	o.rec = nil
	o.dels++
	return nil
}

func (o *ownerWorld) get() *BackendOwner {
	o.om.Lock()
	defer o.om.Unlock()
	if o.rec == nil {
		return nil
	}
	c := *o.rec
	return &c
}

func openOwner(o *ownerWorld) func(context.Context) (ownerStore, error) {
	return func(context.Context) (ownerStore, error) { return o, nil }
}

// waitFor polls cond (the heartbeat runs in its own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func TestBackendOwnerHeartbeatAndRemoval(t *testing.T) {
	o := &ownerWorld{world: &world{}}
	rec := BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID, Host: "build-7", Started: time.Now().UTC()}
	h := startBackendHeart(openOwner(o), rec, 20*time.Millisecond)
	waitFor(t, "first write", func() bool { return o.get() != nil })
	first := o.get().LastSeen
	waitFor(t, "a heartbeat rewrite", func() bool { r := o.get(); return r != nil && r.LastSeen.After(first) })
	h.end(true, 0)
	if o.get() != nil || o.dels != 1 {
		t.Fatalf("the record of a run that released its lock is left: %+v", o.get())
	}

	// A run that leaves its lock keeps the record, marked ended.
	o = &ownerWorld{world: &world{}}
	h = startBackendHeart(openOwner(o), rec, time.Hour)
	waitFor(t, "first write", func() bool { return o.get() != nil })
	h.end(false, 1)
	if r := o.get(); r == nil || r.Ended.IsZero() || r.ExitCode != 1 {
		t.Fatalf("kept record not marked ended: %+v", r)
	}
}

// The run ends while its first write is in flight: the write may have
// landed, so the end removes it all the same (conditioned on the run).
func TestBackendOwnerFirstWriteCutShortIsRemoved(t *testing.T) {
	o := &ownerWorld{world: &world{}, hang: true}
	h := startBackendHeart(openOwner(o), BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID}, time.Hour)
	waitFor(t, "the write to land", func() bool { return o.get() != nil })
	h.end(true, 0)
	if r := o.get(); r != nil {
		t.Fatalf("a record whose write was cut short by the end is left: %+v", r)
	}
}

func TestBackendOwnerNeverTouchesAnotherRunsRecord(t *testing.T) {
	o := &ownerWorld{world: &world{}}
	rec := BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID, Host: "build-7"}
	h := startBackendHeart(openOwner(o), rec, 20*time.Millisecond)
	waitFor(t, "first write", func() bool { return o.get() != nil })
	// Another run took the state and wrote its record.
	o.om.Lock()
	o.rec = &BackendOwner{Tool: "tf", Run: "r2", LockID: "bbbbbbbb-0000-4000-8000-0000000000bb", Host: "laptop"}
	o.om.Unlock()
	time.Sleep(100 * time.Millisecond) // several heartbeats
	h.end(true, 0)
	if r := o.get(); r == nil || r.Run != "r2" {
		t.Fatalf("another run's record was rewritten or removed: %+v", r)
	}

	// A record naming the same lock written by another run is not replaced.
	o = &ownerWorld{world: &world{}, rec: &BackendOwner{Tool: "tf", Run: "r0", LockID: ownerLockID, Host: "ci-1"}}
	h = startBackendHeart(openOwner(o), rec, 20*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	h.end(true, 0)
	if r := o.get(); r == nil || r.Run != "r0" || o.puts != 0 || o.dels != 0 {
		t.Fatalf("the owner's own record was replaced: %+v (puts %d, dels %d)", r, o.puts, o.dels)
	}
}

func TestBackendOwnerDeniedCostsNothing(t *testing.T) {
	o := &ownerWorld{world: &world{}, denied: true}
	h := startBackendHeart(openOwner(o), BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID}, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	h.end(true, 0)
	if o.puts != 0 || o.dels != 0 || h.wrote {
		t.Fatalf("puts %d dels %d wrote %v", o.puts, o.dels, h.wrote)
	}
	var nilHeart *backendHeart
	nilHeart.end(true, 0) // no record kept: safe
}

// elsewhereRun is `tf guard recover` in a directory with no local owner
// record, on a backend whose lock is held.
func elsewhereRun(t *testing.T, o *ownerWorld) (*ws, Run) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w = o.world
	x.lock(ownerLockID)
	r := x.run("")
	r.backend = func(context.Context, Backend, []string) (backendReader, error) { return o, nil }
	return x, r
}

func TestElsewhereLockShowsBackendEvidence(t *testing.T) {
	o := &ownerWorld{world: &world{}}
	seen := time.Now().Add(-12 * time.Minute).UTC()
	o.rec = &BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID, Host: "build-agent-7", Command: "apply", Dir: "/ci/infra",
		CI: "github-actions", CIRunID: "4242", CIAttempt: "2", CIJobURL: "https://github.com/o/r/actions/runs/4242/attempts/2",
		TfPID: 77, BootID: "b00t", Started: seen.Add(-time.Hour), LastSeen: seen}
	for _, show := range []bool{true, false} {
		x, r := elsewhereRun(t, o)
		out := RecoverCommand(context.Background(), r, CommandOptions{Show: show, Yes: !show})
		if out.Kind != NeedsPerson || x.w.ddb == nil || len(x.w.calls) != 0 {
			t.Fatalf("show=%v: %s: %s, calls %q\n%s", show, out.Kind, out.Summary, x.w.calls, x.out)
		}
		text := x.out.String()
		for _, want := range []string{"owner record in the backend (DynamoDB table t, item tfguard-owner:b/k)",
			"on host build-agent-7, github-actions run 4242 attempt 2", "CI job: https://github.com/o/r/actions/runs/4242/attempts/2",
			"last seen alive 12 min ago", "never releases a lock by its age", "terraform force-unlock -force " + ownerLockID} {
			if !strings.Contains(text, want) {
				t.Errorf("show=%v: output lacks %q:\n%s", show, want, text)
			}
		}
	}
}

func TestElsewhereLockEndedBackendRecord(t *testing.T) {
	o := &ownerWorld{world: &world{}}
	at := time.Now().Add(-3 * time.Minute).UTC()
	o.rec = &BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID, Host: "build-agent-7", Command: "apply", LastSeen: at, Ended: at, ExitCode: 1}
	x, r := elsewhereRun(t, o)
	RecoverCommand(context.Background(), r, CommandOptions{Show: true})
	if want := "saw terraform end at " + at.Format("2006-01-02 15:04:05 MST") + " (exit 1)"; !strings.Contains(x.out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, x.out)
	}
}

func TestElsewhereLockStaleOrMissingBackendRecord(t *testing.T) {
	cases := map[string]struct {
		rec  *BackendOwner
		err  error
		want string
	}{
		"stale":      {rec: &BackendOwner{Tool: "tf", Run: "r1", LockID: "bbbbbbbb-0000-4000-8000-0000000000bb", Host: "old"}, want: "stale: it names lock bbbbbbbb-0000-4000-8000-0000000000bb, not the lock held"},
		"none":       {want: "owner record in the backend (DynamoDB table t, item tfguard-owner:b/k): none"},
		"unreadable": {err: errors.New("AccessDenied: no GetItem"), want: "cannot be read: AccessDenied: no GetItem"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := &ownerWorld{world: &world{}, rec: c.rec, readErr: c.err}
			x, r := elsewhereRun(t, o)
			out := RecoverCommand(context.Background(), r, CommandOptions{Yes: true})
			text := x.out.String()
			if !strings.Contains(text, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, text)
			}
			if strings.Contains(text, "last seen alive") || strings.Contains(strings.Join(out.Next, "\n"), "force-unlock") || x.w.ddb == nil || len(x.w.calls) != 0 {
				t.Errorf("%s record used as evidence or acted on: %s %q calls %q\n%s", name, out.Kind, out.Next, x.w.calls, text)
			}
		})
	}
}

func TestBackendOwnerLocation(t *testing.T) {
	b := Backend{Type: "s3", Bucket: "tf-state", Key: "net/terraform.tfstate", Workspace: "blue", WorkspaceKeyPrefix: "ws"}
	if got := b.OwnerLocation(); got != "" {
		t.Errorf("no locking: %q", got)
	}
	b.UseLockfile = true
	if got := b.OwnerLocation(); got != "s3://tf-state/ws/blue/net/terraform.tfstate.tfowner" {
		t.Errorf("lockfile: %q", got)
	}
	b.Table = "locks"
	if got := b.OwnerLocation(); got != "DynamoDB table locks, item tfguard-owner:tf-state/ws/blue/net/terraform.tfstate" {
		t.Errorf("table: %q", got)
	}
	// terraform's own items: the lock and the digest; ours cannot be either.
	for _, theirs := range []string{b.LockPath(), b.LockPath() + "-md5"} {
		if theirs == b.ownerItemID() {
			t.Errorf("owner item collides with %q", theirs)
		}
	}
}

func TestCIJobURL(t *testing.T) {
	gh := []string{"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=o/r", "GITHUB_RUN_ID=9", "GITHUB_RUN_ATTEMPT=3"}
	if got := ciJobURL(gh); got != "https://github.com/o/r/actions/runs/9/attempts/3" {
		t.Errorf("github: %q", got)
	}
	if got := ciJobURL([]string{"CI_JOB_URL=https://gitlab.example/g/p/-/jobs/5"}); got != "https://gitlab.example/g/p/-/jobs/5" {
		t.Errorf("gitlab: %q", got)
	}
	if got := ciJobURL(nil); got != "" {
		t.Errorf("no CI: %q", got)
	}
}

// TestS3OwnerObjectConditions runs awsBackend's S3 record (use_lockfile)
// against gofakes3: written, read, rewritten only while it is this run's,
// removed only if it is this run's.
func TestS3OwnerObjectConditions(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	b := Backend{Type: "s3", Bucket: "tf-state", Key: "k/terraform.tfstate", UseLockfile: true, PathStyle: true}
	cl := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	ctx := context.Background()
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tf-state")}); err != nil {
		t.Fatal(err)
	}
	l := &awsBackend{b: b, s3: cl}
	if r, err := l.GetOwner(ctx); r != nil || err != nil {
		t.Fatalf("empty bucket: %+v %v", r, err)
	}
	mine := BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID, Host: "a"}
	if err := l.PutOwner(ctx, mine, true); err != nil {
		t.Fatal(err)
	}
	mine.LastSeen = time.Now().UTC()
	if err := l.PutOwner(ctx, mine, false); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if r, err := l.GetOwner(ctx); err != nil || r == nil || !r.LastSeen.Equal(mine.LastSeen) {
		t.Fatalf("read back: %+v %v", r, err)
	}
	theirs := BackendOwner{Tool: "tf", Run: "r2", LockID: "bbbbbbbb-0000-4000-8000-0000000000bb", Host: "b"}
	if err := l.PutOwner(ctx, theirs, true); err != nil {
		t.Fatal(err)
	}
	if err := l.PutOwner(ctx, mine, false); !errors.Is(err, errOwnerNotOurs) {
		t.Fatalf("heartbeat over another run's record: %v", err)
	}
	if err := l.DeleteOwner(ctx, "r1"); !errors.Is(err, errOwnerNotOurs) {
		t.Fatalf("removal of another run's record: %v", err)
	}
	if err := l.DeleteOwner(ctx, "r2"); err != nil {
		t.Fatalf("removal: %v", err)
	}
	if r, err := l.GetOwner(ctx); r != nil || err != nil {
		t.Fatalf("after removal: %+v %v", r, err)
	}
	keys, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tf-state")})
	if err != nil || len(keys.Contents) != 0 {
		t.Fatalf("objects left: %v %v", keys, err)
	}
}

// A backend record written on this machine (same host and boot, another
// directory): described with whether its tf runs, never answered with a
// force-unlock command; the proof is in that run's directory.
func TestBackendRecordFromThisMachineIsOnlyDescribed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("boot IDs are read from /proc")
	}
	host, _ := os.Hostname()
	start, _, _ := ProcStart(os.Getpid())
	o := &ownerWorld{world: &world{}, rec: &BackendOwner{Tool: "tf", Run: "r1", LockID: ownerLockID, Host: host, Command: "apply",
		Dir: "/elsewhere", TfPID: os.Getpid(), TfStart: start, BootID: BootID(), PidNS: PidNamespace(), LastSeen: time.Now().UTC()}}
	x, r := elsewhereRun(t, o)
	out := RecoverCommand(context.Background(), r, CommandOptions{Yes: true})
	text := x.out.String()
	for _, want := range []string{"that is this machine (same host and boot)", "is running now (same start time): the run is alive"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if out.Kind != NeedsPerson || x.w.ddb == nil || len(x.w.calls) != 0 || strings.Contains(strings.Join(out.Next, "\n"), "force-unlock") {
		t.Fatalf("%s %q calls %q\n%s", out.Kind, out.Next, x.w.calls, text)
	}
}
