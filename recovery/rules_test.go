package recovery

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// ws is one working directory on the in-memory backend of proof_test.go.
type ws struct {
	t       *testing.T
	dir     string
	w       *world
	out     *bytes.Buffer
	started time.Time
}

func newWS(t *testing.T, lockCfg string) *ws {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	x := &ws{t: t, dir: dir, w: w, out: w.out, started: time.Now().Add(-time.Minute)}
	x.backend(`"bucket":"b","key":"k","region":"us-east-1",` + lockCfg)
	return x
}

func (x *ws) backend(cfg string) {
	x.t.Helper()
	rec := `{"backend":{"type":"s3","config":{` + cfg + `}}}`
	if err := os.WriteFile(filepath.Join(x.dir, ".terraform", "terraform.tfstate"), []byte(rec), 0o600); err != nil {
		x.t.Fatal(err)
	}
}

func (x *ws) errored(b []byte) {
	x.t.Helper()
	if err := os.WriteFile(filepath.Join(x.dir, erroredFile), b, 0o600); err != nil {
		x.t.Fatal(err)
	}
}

// run is the failed run as the wrapper hands it over: the watch saw the
// state object as the world holds it now (the run started from it).
func (x *ws) run(stderr string) Run {
	start, _ := x.w.StateObject(context.Background())
	return Run{Dir: x.dir, Terraform: "terraform", Flavor: "terraform", Args: []string{"apply", "-auto-approve"}, ExitCode: 1,
		Stderr: []byte(stderr), Started: x.started, Ended: time.Now(), Out: x.out, runner: x.w,
		Observed: &Observation{Started: x.started.UTC(), TakesLock: true, StartState: &start},
		backend:  func(context.Context, Backend, []string) (backendReader, error) { return x.w, nil }}
}

const (
	saveExpired = "Error: Failed to save state\n\nError saving state: failed to upload state: operation error S3: PutObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n\nError: Failed to persist state to backend\n\n"
	ddbRelease  = "Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"%s\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 400, api error ExpiredTokenException: The security token included in the request is expired\n"
	saveDenied  = "Error: Failed to save state\n\nError saving state: failed to upload state: operation error S3: PutObject, https response error StatusCode: 403, RequestID: X, HostID: Y, api error AccessDenied: User: arn:aws:sts::111122223333:assumed-role/Deploy/ci is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:PutObject action\n\nError: Failed to persist state to backend\n\n"
)

func (x *ws) lock(id string) *Lock {
	l := lockRec(id, whoAmI(), x.started.Add(time.Second))
	x.w.ddb = l
	return l
}

func TestFirstApplyIsAValidFirstPush(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-000000000001"
	x.lock(id)
	first := []byte(`{"version":4,"terraform_version":"1.11.4","serial":0,"lineage":"","outputs":{},"resources":[{"mode":"managed","type":"terraform_data","name":"base","instances":[{"attributes":{"id":"b"}}]}]}`)
	x.errored(first)
	o := Recover(context.Background(), x.run(saveExpired+fmt.Sprintf(ddbRelease, id)))
	if o.Kind != Recovered || !bytes.Equal(x.w.state, first) || x.w.ddb != nil {
		t.Fatalf("%s: %s\n%s", o.Kind, o.Summary, x.out)
	}
	if !strings.Contains(x.out.String(), "a first state") {
		t.Errorf("the report does not say it was a first state:\n%s", x.out)
	}
}

func TestPersistFailureWithoutErroredFileKeepsTheLock(t *testing.T) {
	for name, old := range map[string]bool{"none written": false, "an older one": true} {
		t.Run(name, func(t *testing.T) {
			x := newWS(t, `"dynamodb_table":"t"`)
			id := "aaaaaaaa-0000-4000-8000-000000000002"
			x.lock(id)
			x.w.write(stateJSONFor("L", 1, "base"))
			if old {
				x.errored(stateJSONFor("L", 7, "ancient"))
				past := x.started.Add(-time.Hour)
				if err := os.Chtimes(filepath.Join(x.dir, erroredFile), past, past); err != nil {
					t.Fatal(err)
				}
			}
			o := Recover(context.Background(), x.run(saveExpired+fmt.Sprintf(ddbRelease, id)))
			if o.Kind != NeedsPerson || x.w.ddb == nil || len(x.w.calls) != 0 {
				t.Fatalf("%s, lock %v, calls %v: %s", o.Kind, x.w.ddb, x.w.calls, x.out)
			}
			if strings.Contains(x.out.String(), "RECOVERED") || strings.Contains(x.out.String(), "nothing is lost") {
				t.Fatalf("claims the state is safe:\n%s", x.out)
			}
			if old {
				if b, _ := os.ReadFile(filepath.Join(x.dir, erroredFile)); !bytes.Contains(b, []byte("ancient")) {
					t.Fatal("the older errored.tfstate was touched")
				}
			}
		})
	}
}

// pendingCI leaves a pending recovery: the credentials are still dead.
func pendingCI(t *testing.T, x *ws, id string) Outcome {
	t.Helper()
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	x.w.failNext = map[string]string{"state pull": "Error: error loading state: operation error S3: GetObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n"}
	o := Recover(context.Background(), x.run(saveExpired+fmt.Sprintf(ddbRelease, id)))
	if o.Kind != NeedsPerson || !o.Pending || o.RetryOn != string(retryCredentials) {
		t.Fatalf("setup: %+v\n%s", o, x.out)
	}
	return o
}

func TestInterruptFinishesTheStepAndStaysPending(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-000000000003"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	ctx, cancel := context.WithCancel(context.Background())
	r := x.run(saveExpired + fmt.Sprintf(ddbRelease, id))
	r.OnStep = func(step string) {
		if step == StepPush {
			cancel() // Ctrl-C while the push runs
		}
	}
	o := Recover(ctx, r)
	if o.Kind != NeedsPerson || !o.Pending || o.RetryOn != string(retryInterrupted) {
		t.Fatalf("%+v", o)
	}
	if !bytes.Contains(x.w.state, []byte(`"long"`)) || x.w.ddb == nil {
		t.Fatalf("the push was not finished, or the fence was dropped: %s %v", x.w.state, x.w.ddb)
	}
	if !Pending(x.dir, nil) {
		t.Fatal("not pending")
	}
	o = Resume(context.Background(), x.run(""))
	if o.Kind != Recovered || x.w.ddb != nil {
		t.Fatalf("resume: %+v\n%s", o, x.out)
	}
}

func TestAbandonClosesAndKeepsTheBackup(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	o := pendingCI(t, x, "aaaaaaaa-0000-4000-8000-000000000004")
	if !strings.Contains(strings.Join(o.Next, "\n"), "tf guard recover --abandon") {
		t.Fatalf("no way out printed: %v", o.Next)
	}
	a := RecoverCommand(context.Background(), x.run(""), CommandOptions{Abandon: true})
	if a.Kind != Abandoned || Pending(x.dir, nil) {
		t.Fatalf("%+v", a)
	}
	if _, err := os.Stat(filepath.Join(o.RecoveryDir, backupName)); err != nil {
		t.Fatalf("backup gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(x.dir, erroredFile)); err != nil {
		t.Fatalf("errored.tfstate gone: %v", err)
	}
	if x.w.ddb == nil {
		t.Fatal("abandon released a lock")
	}
}

func TestPendingForAnotherStateDoesNotBlock(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	pendingCI(t, x, "aaaaaaaa-0000-4000-8000-000000000005")
	x.backend(`"bucket":"b","key":"stage","region":"us-east-1","dynamodb_table":"t"`)
	calls := len(x.w.calls)
	o := Resume(context.Background(), x.run(""))
	if o.Kind != Elsewhere || len(x.w.calls) != calls || !Pending(x.dir, nil) {
		t.Fatalf("%+v calls %v", o, x.w.calls)
	}
	if !strings.Contains(x.out.String(), "--abandon") {
		t.Errorf("no way out printed:\n%s", x.out)
	}
}

func TestLockSettingsChangedSinceTheFailureStops(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	pendingCI(t, x, "aaaaaaaa-0000-4000-8000-000000000006")
	x.backend(`"bucket":"b","key":"k","region":"us-east-1","use_lockfile":true`)
	calls := len(x.w.calls)
	o := Resume(context.Background(), x.run(""))
	if o.Kind != NeedsPerson || !o.Pending || o.RetryOn != string(retryConfig) || len(x.w.calls) != calls {
		t.Fatalf("%+v", o)
	}
	// Settings restored: it finishes.
	x.backend(`"bucket":"b","key":"k","region":"us-east-1","dynamodb_table":"t"`)
	if o := Resume(context.Background(), x.run("")); o.Kind != Recovered {
		t.Fatalf("%+v\n%s", o, x.out)
	}
}

func TestLockIDOnAHealthyWorkspaceChangesNothing(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 1, "base"))
	o := RecoverCommand(context.Background(), x.run(""), CommandOptions{Yes: true, LockID: "1234"})
	if o.Kind != Intact || Pending(x.dir, nil) || len(x.w.calls) != 0 {
		t.Fatalf("%+v calls %v", o, x.w.calls)
	}
	// A local backend: tf cannot read its locks and changes nothing either.
	y := newWS(t, `"dynamodb_table":"t"`)
	if err := os.Remove(filepath.Join(y.dir, ".terraform", "terraform.tfstate")); err != nil {
		t.Fatal(err)
	}
	o = RecoverCommand(context.Background(), y.run(""), CommandOptions{Yes: true, LockID: "1234"})
	if o.Kind == Recovered || Pending(y.dir, nil) || len(y.w.calls) != 0 {
		t.Fatalf("local: %+v", o)
	}
}

func TestErroredRemovedBeforeItWasSecuredClosesTheJournal(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-000000000007"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	r := x.run(saveExpired + fmt.Sprintf(ddbRelease, id))
	r.OnStep = func(step string) {
		if step == StepSecure {
			_ = os.Remove(filepath.Join(x.dir, erroredFile)) // a person repairs by hand meanwhile
		}
	}
	o := Recover(context.Background(), r)
	if o.Kind != NeedsPerson || o.Pending || Pending(x.dir, nil) || x.w.ddb == nil || len(x.w.calls) != 0 {
		t.Fatalf("%+v calls %v", o, x.w.calls)
	}
}

func TestAPersonsLockIDCannotOverruleTheRunsOwnEvidence(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	pendingCI(t, x, "aaaaaaaa-0000-4000-8000-000000000008")
	other := lockRec("bbbbbbbb-0000-4000-8000-000000000009", "ci@runner", time.Now())
	x.w.ddb = other // ours was released by someone, another run holds the lock
	o := RecoverCommand(context.Background(), x.run(""), CommandOptions{LockID: other.Info.ID, Yes: true})
	if o.Kind != NeedsPerson || x.w.ddb != other {
		t.Fatalf("%+v", o)
	}
	for _, c := range x.w.calls {
		if strings.Contains(c, "push") || strings.Contains(c, "force-unlock") {
			t.Fatalf("acted: %v", x.w.calls)
		}
	}
}

func TestAccessDeniedOnSaveIsSecuredNotRetried(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-00000000000a"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	release := strings.ReplaceAll(fmt.Sprintf(ddbRelease, id), "ExpiredTokenException: The security token included in the request is expired", "AccessDeniedException: User is not authorized to perform: dynamodb:GetItem")
	o := Recover(context.Background(), x.run(saveDenied+release))
	if o.Kind != NeedsPerson || !o.Pending || x.w.ddb == nil || len(x.w.calls) != 0 {
		t.Fatalf("%+v calls %v", o, x.w.calls)
	}
	if _, err := os.Stat(filepath.Join(o.RecoveryDir, backupName)); err != nil {
		t.Fatalf("not secured: %v", err)
	}
	if !strings.Contains(x.out.String(), "s3:PutObject") || strings.Contains(x.out.String(), "aws sso login") {
		t.Fatalf("the report does not name the denied action, or tells to log in:\n%s", x.out)
	}
}

func TestTransientSaveFailureIsPutBackWhenTheBackendAnswers(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-00000000000b"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	reset := "Error: Failed to save state\n\nError saving state: failed to upload state: operation error S3: PutObject, https response error StatusCode: 0, RequestID: , HostID: , request send failed, Put \"https://b.s3.amazonaws.com/k\": read tcp 10.0.0.2:51000->52.1.1.1:443: read: connection reset by peer\n\nError: Failed to persist state to backend\n\n" +
		"Error: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"" + id + "\": Unable to retrieve item from DynamoDB table \"t\": operation error DynamoDB: GetItem, https response error StatusCode: 0, request send failed, Post \"https://dynamodb.us-east-1.amazonaws.com/\": dial tcp: lookup dynamodb.us-east-1.amazonaws.com: i/o timeout\n"
	if c := tfout.Classify([]byte(reset)); c.Cause != tfout.CauseTransient {
		t.Fatalf("setup: classified %s/%s", c.Cause, c.Kind)
	}
	// The backend still does not answer the first pull.
	x.w.failNext = map[string]string{"state pull": "Error: error loading state: operation error S3: GetObject, https response error StatusCode: 0, request send failed: dial tcp 52.1.1.1:443: connect: connection refused\n"}
	o := Recover(context.Background(), x.run(reset))
	if o.Kind != Recovered || !bytes.Contains(x.w.state, []byte(`"long"`)) || x.w.ddb != nil {
		t.Fatalf("%+v\n%s", o, x.out)
	}
	if !strings.Contains(x.out.String(), "trying again") {
		t.Errorf("the retry is not said:\n%s", x.out)
	}
}

// The lock reader uses the run's environment: with tf's GitHub OIDC
// endpoint, the credentials come from the container endpoint in the run's
// environment, not from tf's own process environment.
func TestLockReaderUsesTheRunsContainerCredentials(t *testing.T) {
	var credCalls atomic.Int32
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		credCalls.Add(1)
		fmt.Fprintf(w, `{"AccessKeyId":"ASIARUNENV","SecretAccessKey":"s","Token":"t","Expiration":%q}`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer creds.Close()
	var seenAuth atomic.Value
	ddb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		fmt.Fprint(w, `{}`)
	}))
	defer ddb.Close()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	runEnv := []string{"AWS_REGION=us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI=" + creds.URL + "/creds",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=tok", "AWS_ENDPOINT_URL_DYNAMODB=" + ddb.URL}
	b := Backend{Type: "s3", Bucket: "b", Key: "k", Table: "t", Workspace: "default"}
	l, err := newAWSBackend(context.Background(), b, runEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadLocks(context.Background()); err != nil {
		t.Fatal(err)
	}
	auth, _ := seenAuth.Load().(string)
	if credCalls.Load() == 0 || !strings.Contains(auth, "ASIARUNENV") {
		t.Fatalf("the run's container credentials were not used (calls=%d, auth=%q)", credCalls.Load(), auth)
	}
	if s := credentialSource(b, runEnv); !strings.Contains(s, "container") {
		t.Errorf("source named %q", s)
	}
}

// The watch keeps what it saw: the record, when it was first and last
// seen, and what the last successful read found.
func TestWatchRecordsSightings(t *testing.T) {
	w := newWorld(t)
	wt := &Watch{obs: Observation{Locks: map[string]*KindWatch{lockDynamoDB: {}}}}
	clock := time.Unix(100, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	ctx := context.Background()
	wt.read(ctx, w, now) // nothing yet
	w.ddb = lockRec("id-1", "u@h", clock)
	wt.read(ctx, w, now)
	wt.read(ctx, w, now)
	kw := wt.obs.Locks[lockDynamoDB]
	if len(kw.Sightings) != 1 || kw.LastID != "id-1" || !kw.Sightings[0].Last.After(kw.Sightings[0].First) || kw.Reads != 3 {
		t.Fatalf("%+v", kw)
	}
	w.ddb = lockRec("id-2", "u@h", clock)
	wt.read(ctx, w, now)
	w.ddb = nil
	wt.read(ctx, w, now)
	if len(kw.Sightings) != 2 || kw.LastID != "" {
		t.Fatalf("%+v", kw)
	}
}

// Between the proof and the push a colleague force-unlocks and applies:
// the fence is read again right before the push, so nothing is pushed.
func TestFenceIsCheckedAgainRightBeforeThePush(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	id := "aaaaaaaa-0000-4000-8000-00000000000c"
	x.lock(id)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	r := x.run(saveExpired + fmt.Sprintf(ddbRelease, id))
	r.OnStep = func(step string) {
		if step == StepPush {
			x.w.mu.Lock()
			x.w.ddb = nil
			x.w.write(stateJSONFor("L", 2, "base", "colleague"))
			x.w.mu.Unlock()
		}
	}
	o := Recover(context.Background(), r)
	if o.Kind != NeedsPerson || !bytes.Contains(x.w.state, []byte("colleague")) || o.Diff == nil {
		t.Fatalf("%+v\nstate %s", o, x.w.state)
	}
}

// The printed ID is evidence only inside the release diagnostic: another
// run's Lock Info or trace lines elsewhere in stderr never name this run's
// lock.
func TestPrintedLockIDComesOnlyFromTheReleaseDiagnostic(t *testing.T) {
	stderr := "2026-11-26T10:00:00.000Z [DEBUG] backend/s3: lock ID \"cccccccc-0000-4000-8000-00000000000d\" held by someone\n" +
		"\nError: Error acquiring the state lock\n\nError message: operation error DynamoDB: PutItem, ConditionalCheckFailedException\nLock Info:\n  ID:        cccccccc-0000-4000-8000-00000000000d\n  Path:      b/k\n\n" +
		saveExpired +
		"Error: Error releasing the state lock\n\nError message: unable to retrieve file from S3 bucket 'b' with key 'k.tflock': operation error S3: GetObject, https response error StatusCode: 400, api error ExpiredToken: The provided token has expired.\n"
	c := tfout.Classify([]byte(stderr))
	if !c.ReleaseFailed || c.LockID != "" {
		t.Fatalf("release failed %v, lock ID %q", c.ReleaseFailed, c.LockID)
	}
}

// The printed next steps run as printed: no -var value, redacted or not,
// is ever in a command line (the names are listed instead).
func TestRerunCommandNamesVariablesInsteadOfValues(t *testing.T) {
	got := rerunCommand("terraform", []string{"apply", "-var", "db_password=hunter2", "-var=token=abc", "-var-file=prod.tfvars", "-auto-approve"},
		tfargs.Parse([]string{"apply", "-var", "db_password=hunter2", "-var=token=abc"}).VarNames()...)
	if strings.Contains(got, "hunter2") || strings.Contains(got, "abc") || strings.Contains(got, "=...") {
		t.Fatalf("a value (or a redacted one) is in the command: %s", got)
	}
	if !strings.HasPrefix(got, "terraform apply -var-file=prod.tfvars -auto-approve") || !strings.Contains(got, "db_password, token") {
		t.Fatalf("command %q", got)
	}
}

// Backups are pruned only once their state is verified in the backend:
// beyond the 5 newest recovered ones or after 30 days; a pending, stopped or
// abandoned recovery's directory is never removed.
func TestPruneKeepsEveryUnverifiedBackup(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	mk := func(name string, outcome Kind, age time.Duration) {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		j := &journal{Name: name, Outcome: outcome, path: filepath.Join(d, journalName),
			Steps: []StepRecord{{Step: StepClose, Status: "done", At: now.Add(-age)}}}
		if err := j.save(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 7; i++ {
		mk(fmt.Sprintf("2026010%dT000000Z", i+1), Recovered, time.Hour)
	}
	mk("20250101T000000Z", Recovered, 40*24*time.Hour)
	mk("20240101T000000Z", NeedsPerson, 400*24*time.Hour)
	mk("20240102T000000Z", Abandoned, 400*24*time.Hour)
	mk("20260109T000000Z", "", time.Minute) // pending
	if err := os.WriteFile(filepath.Join(root, pendingName), []byte("20260109T000000Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prune(root, now)
	left, _ := os.ReadDir(root)
	var names []string
	for _, e := range left {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	want := "20240101T000000Z 20240102T000000Z 20260103T000000Z 20260104T000000Z 20260105T000000Z 20260106T000000Z 20260107T000000Z 20260109T000000Z"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("left\n %s\nwant\n %s", got, want)
	}
}

// The report says what the failed run had done: the difference between the
// state it started from and errored.tfstate, which the push records.
func TestRecoveredSaysWhatTheRunMade(t *testing.T) {
	res := runCell(t, cell{"dynamodb", "printed", "nothing"})
	if res.out.Made == nil || strings.Join(res.out.Made.OnlyErrored, ",") != "terraform_data.new" || len(res.out.Made.Changed) != 0 {
		t.Fatalf("made %+v", res.out.Made)
	}
	got := res.out.Made.MadeSentence("terraform", "terraform apply")
	if got != "before it stopped, the failed run had made 1 change, now recorded in the state: created terraform_data.new; run terraform apply again for what is left (its plan shows it)" {
		t.Fatalf("sentence %q", got)
	}
}

// panicReader is a backend whose lock read panics (a bug in tf or the SDK).
type panicReader struct{ backendReader }

func (panicReader) ReadLocks(context.Context) (Locks, error) { panic("boom") }

// A panic in the watch, which runs beside terraform, ends the watch and
// leaves a failure on record; it never ends tf (whose relays keep
// terraform's output flowing) and leaves no evidence behind.
func TestWatchPanicStopsOnlyTheWatch(t *testing.T) {
	w := newWorld(t)
	w.ddb = lockRec("id-1", "u@h", time.Unix(100, 0))
	wt := &Watch{done: make(chan struct{}), obs: Observation{Locks: map[string]*KindWatch{lockDynamoDB: {}}}}
	ctx, cancel := context.WithCancel(context.Background())
	wt.cancel = cancel
	go wt.loop(ctx, func(context.Context) (backendReader, error) { return panicReader{w}, nil }, time.Now)
	obs := wt.Stop()
	kw := obs.Locks[lockDynamoDB]
	if kw.Failures != 1 || !strings.Contains(kw.LastError, "boom") || len(kw.Sightings) != 0 {
		t.Fatalf("%+v", kw)
	}
}
