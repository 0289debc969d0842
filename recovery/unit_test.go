package recovery

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSideCallsAreBuiltSafely(t *testing.T) {
	env := []string{"PATH=/bin", "TF_WORKSPACE=blue", "TF_CLI_ARGS=-lock=true", "TF_CLI_ARGS_state_push=-force", "TF_INPUT=1", "AWS_PROFILE=p"}
	push := buildPush("/tf", "/w", env, "/w/b/errored.tfstate", true)
	if want := []string{"state", "push", "-lock=false", "/w/b/errored.tfstate"}; !reflect.DeepEqual(push.Args, want) {
		t.Errorf("push args %v, want %v", push.Args, want)
	}
	if got := buildPush("/tf", "/w", env, "x", false).Args; !reflect.DeepEqual(got, []string{"state", "push", "x"}) {
		t.Errorf("locking push args %v", got)
	}
	for _, c := range []tfCall{push, buildPull("/tf", "/w", env), buildUnlock("/tf", "/w", env, "ID")} {
		for _, a := range c.Args {
			if a == "-force" && c.Args[0] != "force-unlock" {
				t.Errorf("%v passes -force", c.Args)
			}
		}
		joined := strings.Join(c.Env, "\n")
		for _, want := range []string{"TF_WORKSPACE=blue", "AWS_PROFILE=p", "TF_INPUT=0", "TF_IN_AUTOMATION=1"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%v env lacks %s", c.Args, want)
			}
		}
		for _, bad := range []string{"TF_CLI_ARGS=", "TF_CLI_ARGS_state_push=", "TF_INPUT=1"} {
			if strings.Contains(joined, bad) {
				t.Errorf("%v env keeps %s", c.Args, bad)
			}
		}
		if c.Dir != "/w" || c.Path != "/tf" {
			t.Errorf("call %+v", c)
		}
	}
	if got := buildUnlock("/tf", "/w", env, "abc").Args; !reflect.DeepEqual(got, []string{"force-unlock", "-force", "abc"}) {
		t.Errorf("unlock args %v", got)
	}
}

func TestLoadBackend(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The shape terraform 1.11 writes (every schema attribute, nulls kept).
	rec := `{"version":3,"terraform_version":"1.11.4","backend":{"type":"s3","config":{
	  "access_key":null,"bucket":"tf-state","dynamodb_table":"tf-locks","endpoints":{"s3":"http://127.0.0.1:9","dynamodb":null,"sts":null},
	  "key":"app/terraform.tfstate","profile":"deploy","region":"eu-west-1","use_lockfile":true,"use_path_style":true,
	  "workspace_key_prefix":null,"shared_config_files":["/h/.aws/config"]},"hash":1}}`
	for name, body := range map[string]string{"terraform.tfstate": rec, "environment": "blue\n"} {
		if err := os.WriteFile(filepath.Join(dir, ".terraform", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := LoadBackend(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Type != "s3" || b.Bucket != "tf-state" || b.Table != "tf-locks" || !b.UseLockfile || !b.PathStyle ||
		b.Profile != "deploy" || b.Region != "eu-west-1" || b.Endpoints["s3"] != "http://127.0.0.1:9" || b.Endpoints["dynamodb"] != "" ||
		!reflect.DeepEqual(b.ConfigFiles, []string{"/h/.aws/config"}) {
		t.Errorf("backend %+v", b)
	}
	if b.StateKey() != "env:/blue/app/terraform.tfstate" || b.LockPath() != "tf-state/env:/blue/app/terraform.tfstate" {
		t.Errorf("workspace from .terraform/environment: key %s", b.StateKey())
	}
	b, _ = LoadBackend(dir, []string{"TF_WORKSPACE=green"})
	if b.StateKey() != "env:/green/app/terraform.tfstate" {
		t.Errorf("TF_WORKSPACE wins: %s", b.StateKey())
	}
	b, _ = LoadBackend(dir, []string{"TF_WORKSPACE=default"})
	if b.StateKey() != "app/terraform.tfstate" {
		t.Errorf("default workspace: %s", b.StateKey())
	}
	b, err = LoadBackend(t.TempDir(), nil)
	if err != nil || b.Type != "local" || b.IsS3() {
		t.Errorf("no record = local backend: %+v %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".terraform", "terraform.tfstate"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBackend(dir, nil); err == nil || !strings.Contains(err.Error(), "terraform init") {
		t.Errorf("corrupt record: %v", err)
	}
}

// fakeLocks is a lockReader with a function field.
type fakeLocks struct{ read func() (Locks, error) }

func (f fakeLocks) ReadLocks(context.Context) (Locks, error) { return f.read() }

var _ lockReader = fakeLocks{}

// recordingRunner answers state pull with a fixed state and records calls.
type recordingRunner struct {
	pull  []byte
	calls []string
}

func (r *recordingRunner) Run(_ context.Context, c tfCall) ([]byte, []byte, error) {
	r.calls = append(r.calls, strings.Join(c.Args, " "))
	if c.Args[0] == "state" && c.Args[1] == "pull" {
		return r.pull, nil, nil
	}
	return nil, nil, nil
}

var _ runner = (*recordingRunner)(nil)

// s3Fixture writes an S3 backend record and an errored.tfstate one serial
// ahead of the "remote" the fake runner returns.
func s3Fixture(t *testing.T) (dir string, remote []byte) {
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	rec := `{"backend":{"type":"s3","config":{"bucket":"b","key":"k","region":"us-east-1","use_lockfile":true}}}`
	errored := `{"version":4,"serial":2,"lineage":"L","resources":[{"type":"terraform_data","name":"x"}],"outputs":{}}`
	for path, body := range map[string]string{filepath.Join(dir, ".terraform", "terraform.tfstate"): rec, filepath.Join(dir, erroredFile): errored} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []byte(`{"version":4,"serial":1,"lineage":"L","resources":[],"outputs":{}}`)
}

// TestLockOwnership: in lockfile mode terraform prints no lock ID, so a
// record is ours only when created during this run by this user@host for
// this operation; anything else is never unlocked and nothing is pushed.
func TestLockOwnership(t *testing.T) {
	lockfileText := readTestdata(t, "rig_b_lockfile.nocolor.stderr")
	started := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	ended := started.Add(10 * time.Minute)
	me := whoAmI()
	for _, c := range []struct {
		name    string
		rec     LockInfo
		ours    bool
		stderr  []byte
		wantRun []string
	}{
		{"ours", LockInfo{ID: "A", Who: me, Operation: "OperationTypeApply", Created: started.Add(time.Second).Format(time.RFC3339Nano)}, true, lockfileText,
			[]string{"state pull", "state push -lock=false", "force-unlock -force A", "state pull"}},
		{"other user", LockInfo{ID: "B", Who: "alice@elsewhere", Operation: "OperationTypeApply", Created: started.Add(time.Second).Format(time.RFC3339Nano)}, false, lockfileText, nil},
		{"before this run", LockInfo{ID: "C", Who: me, Operation: "OperationTypeApply", Created: started.Add(-time.Hour).Format(time.RFC3339Nano)}, false, lockfileText, nil},
		{"other operation", LockInfo{ID: "D", Who: me, Operation: "OperationTypePlan", Created: started.Add(time.Second).Format(time.RFC3339Nano)}, false, lockfileText, nil},
		{"ID in output differs", LockInfo{ID: "E", Who: me, Operation: "OperationTypeApply", Created: started.Add(time.Second).Format(time.RFC3339Nano)}, false,
			readTestdata(t, "rig_a_dynamodb.nocolor.stderr"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, remote := s3Fixture(t)
			run := &recordingRunner{pull: remote}
			held := &Locks{Lockfile: &c.rec}
			var out bytes.Buffer
			r := Run{Dir: dir, Terraform: "terraform", Args: []string{"apply", "-auto-approve"}, ExitCode: 1, Stderr: c.stderr,
				Started: started, Ended: ended, Out: &out, Now: func() time.Time { return ended }, runner: run,
				locks: func(context.Context, Backend, []string) (lockReader, error) {
					return fakeLocks{read: func() (Locks, error) { return *held, nil }}, nil
				}}
			// After force-unlock the record is gone.
			r.runner = runnerFunc(func(ctx context.Context, tc tfCall) ([]byte, []byte, error) {
				if tc.Args[0] == "force-unlock" {
					held = &Locks{}
				}
				if tc.Args[0] == "state" && tc.Args[1] == "push" {
					b, err := os.ReadFile(tc.Args[len(tc.Args)-1])
					if err != nil {
						return nil, nil, err
					}
					defer func() { run.pull = b }()
				}
				return run.Run(ctx, tc)
			})
			o := Recover(context.Background(), r)
			if c.ours {
				if o.Kind != Recovered {
					t.Fatalf("outcome %s: %s\n%s", o.Kind, o.Summary, out.String())
				}
				var got []string
				for _, call := range run.calls {
					got = append(got, strings.TrimSuffix(call, " "+filepath.Join(o.RecoveryDir, backupName)))
				}
				if !reflect.DeepEqual(got, c.wantRun) {
					t.Errorf("calls %v, want %v", got, c.wantRun)
				}
				return
			}
			if o.Kind != NeedsPerson || o.Holder == nil || o.Holder.ID != c.rec.ID {
				t.Fatalf("outcome %s holder %+v: %s", o.Kind, o.Holder, o.Summary)
			}
			for _, call := range run.calls {
				if call != "state pull" {
					t.Errorf("touched state or lock under a foreign lock: %s", call)
				}
			}
			if !strings.Contains(out.String(), c.rec.Who) {
				t.Errorf("does not say who holds the lock:\n%s", out.String())
			}
		})
	}
}

type runnerFunc func(ctx context.Context, c tfCall) ([]byte, []byte, error)

func (f runnerFunc) Run(ctx context.Context, c tfCall) ([]byte, []byte, error) { return f(ctx, c) }

// TestLockUnreadable: the record cannot be read (no permission, endpoint
// down): stop with the state secured, retry later.
func TestLockUnreadable(t *testing.T) {
	dir, remote := s3Fixture(t)
	var out bytes.Buffer
	r := Run{Dir: dir, Args: []string{"apply"}, Stderr: readTestdata(t, "rig_b_lockfile.nocolor.stderr"), Out: &out,
		runner: &recordingRunner{pull: remote},
		locks: func(context.Context, Backend, []string) (lockReader, error) {
			return fakeLocks{read: func() (Locks, error) { return Locks{}, errors.New("AccessDenied") }}, nil
		}}
	o := Recover(context.Background(), r)
	if o.Kind != NeedsPerson || !Pending(dir) || !strings.Contains(o.Summary, "AccessDenied") {
		t.Fatalf("%s %v %s", o.Kind, Pending(dir), o.Summary)
	}
	if _, err := os.Stat(filepath.Join(o.RecoveryDir, backupName)); err != nil {
		t.Errorf("backup: %v", err)
	}
}

func TestOperationFor(t *testing.T) {
	for args, want := range map[string]string{
		"apply -auto-approve": "OperationTypeApply", "-chdir=x destroy": "OperationTypeApply",
		"plan -out=p": "OperationTypePlan", "refresh": "OperationTypeRefresh", "import a b": "",
	} {
		if got := operationFor(strings.Fields(args)); got != want {
			t.Errorf("%s: %q, want %q", args, got, want)
		}
	}
}

// TestOnlyLockStuck: no errored.tfstate (the run wrote its state or never
// changed it) but the release failed: nothing is pushed, our lock (ID from
// the output) is released.
func TestOnlyLockStuck(t *testing.T) {
	dir, remote := s3Fixture(t)
	if err := os.Remove(filepath.Join(dir, erroredFile)); err != nil {
		t.Fatal(err)
	}
	text := readTestdata(t, "rig_a_dynamodb.nocolor.stderr")
	id := Classify(text).LockID
	// Only the release diagnostic: the state itself was saved.
	text = text[bytes.Index(text, []byte("Error: Error releasing the state lock")):]
	held := &Locks{DynamoDB: &LockInfo{ID: id, Who: "someone@else"}}
	run := &recordingRunner{pull: remote}
	var out bytes.Buffer
	r := Run{Dir: dir, Args: []string{"plan"}, Stderr: text, Out: &out,
		runner: runnerFunc(func(ctx context.Context, c tfCall) ([]byte, []byte, error) {
			if c.Args[0] == "force-unlock" {
				held = &Locks{}
			}
			return run.Run(ctx, c)
		}),
		locks: func(context.Context, Backend, []string) (lockReader, error) {
			return fakeLocks{read: func() (Locks, error) { return *held, nil }}, nil
		}}
	o := Recover(context.Background(), r)
	if o.Kind != Recovered {
		t.Fatalf("%s: %s\n%s", o.Kind, o.Summary, out.String())
	}
	if want := []string{"state pull", "force-unlock -force " + id, "state pull"}; !reflect.DeepEqual(run.calls, want) {
		t.Errorf("calls %v, want %v", run.calls, want)
	}
}

// TestIntactWhenNothingStuck: expired (the backend says so), but terraform
// saved and unlocked.
func TestIntactWhenNothingStuck(t *testing.T) {
	dir, _ := s3Fixture(t)
	if err := os.Remove(filepath.Join(dir, erroredFile)); err != nil {
		t.Fatal(err)
	}
	o := Recover(context.Background(), Run{Dir: dir, Args: []string{"plan"}, Stderr: readTestdata(t, "facts_sdk_sso_session.stderr"),
		runner: runnerFunc(func(context.Context, tfCall) ([]byte, []byte, error) {
			t.Error("terraform called")
			return nil, nil, nil
		})})
	if o.Kind != Intact || Pending(dir) {
		t.Fatalf("%s pending=%v", o.Kind, Pending(dir))
	}
}

func TestRedactVars(t *testing.T) {
	in := []string{"apply", "-var", "db_password=hunter2", "-var=token=abc=def", "-var-file=x.tfvars", "-auto-approve"}
	got := strings.Join(redactVars(in), " ")
	want := "apply -var db_password=... -var=token=... -var-file=x.tfvars -auto-approve"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if in[2] != "db_password=hunter2" {
		t.Fatal("the caller's arguments were changed")
	}
}
