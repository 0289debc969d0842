package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The local-backend tests run the real terraform. They skip only when it is
// missing on a laptop; with CI=true a missing terraform fails.
func terraformPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and terraform is missing: %v", err)
		}
		t.Skipf("terraform not installed: %v", err)
	}
	return p
}

const localMainTF = `
variable "run" {
  type    = string
  default = "1"
}

resource "terraform_data" "base" {
  input = "base"
}

resource "terraform_data" "long" {
  triggers_replace = [var.run]
}
`

// localWorkspace is a terraform directory using the local backend, where
// the "remote" is terraform.tfstate.
type localWorkspace struct {
	t   *testing.T
	dir string
	tf  string
	env []string
}

func newLocalWorkspace(t *testing.T) *localWorkspace {
	tf := terraformPath(t)
	dir := t.TempDir()
	rc := filepath.Join(dir, ".home", "empty.tfrc")
	if err := os.MkdirAll(filepath.Dir(rc), 0o700); err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]string{filepath.Join(dir, "main.tf"): localMainTF, rc: ""} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w := &localWorkspace{t: t, dir: dir, tf: tf, env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, ".home"),
		"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1",
	}}
	w.run("init", "-input=false", "-no-color")
	return w
}

func (w *localWorkspace) run(args ...string) (string, int) {
	w.t.Helper()
	return w.runEnv(nil, args...)
}

func (w *localWorkspace) runEnv(extra []string, args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.Command(w.tf, args...)
	cmd.Dir, cmd.Env = w.dir, append(append([]string{}, w.env...), extra...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		w.t.Fatalf("terraform %v: %v", args, err)
	}
	code := cmd.ProcessState.ExitCode()
	if code != 0 && args[0] != "plan" {
		w.t.Fatalf("terraform %v exited %d:\n%s", args, code, out.String())
	}
	return out.String(), code
}

func (w *localWorkspace) read(name string) []byte {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, name))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *localWorkspace) write(name string, b []byte) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), b, 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// incident leaves the workspace as a failed final write would: the
// "remote" (terraform.tfstate) one apply behind, errored.tfstate holding
// the newer state (run=2).
func (w *localWorkspace) incident() (before, errored StateSummary) {
	w.t.Helper()
	w.run("apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=1")
	old := w.read("terraform.tfstate")
	w.run("apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=2")
	newer := w.read("terraform.tfstate")
	w.write("terraform.tfstate", old)
	w.write(erroredFile, newer)
	_ = os.Remove(filepath.Join(w.dir, "terraform.tfstate.backup"))
	b, _ := parseState(old)
	e, _ := parseState(newer)
	return b, e
}

// persistOnly is the seed's text without the lock release (the local
// backend's lock is an OS lock that dies with the process).
func persistOnly(t *testing.T) []byte {
	seed := readTestdata(t, "seed_eks_dynamodb.stderr")
	i := bytes.Index(seed, []byte("│ Error: waiting for EKS"))
	return seed[:i]
}

func (w *localWorkspace) runFor(stderr []byte) Run {
	start := time.Now().Add(-time.Minute)
	return Run{Dir: w.dir, Terraform: w.tf, Env: w.env, Args: []string{"apply", "-auto-approve", "-var", "run=2"},
		ExitCode: 1, Stderr: stderr, Started: start, Ended: time.Now(), Out: &bytes.Buffer{}}
}

func TestRecoverLocalBackend(t *testing.T) {
	w := newLocalWorkspace(t)
	before, errored := w.incident()
	if before.Serial >= errored.Serial {
		t.Fatalf("bad setup: %v vs %v", before, errored)
	}
	r := w.runFor(persistOnly(t))
	r.ReportPath = filepath.Join(t.TempDir(), "report.json")
	o := Recover(context.Background(), r)
	out := r.Out.(*bytes.Buffer).String()
	if o.Kind != Recovered {
		t.Fatalf("outcome %s: %s\n%s", o.Kind, o.Summary, out)
	}
	remote, err := parseState(w.read("terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if !sameContent(remote, errored) || remote.Serial < errored.Serial {
		t.Errorf("remote %v, want the content of %v", remote, errored)
	}
	if _, err := os.Stat(filepath.Join(w.dir, erroredFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errored.tfstate still in the working directory: %v", err)
	}
	for _, name := range []string{backupName, movedName, journalName, reportName} {
		if _, err := os.Stat(filepath.Join(o.RecoveryDir, name)); err != nil {
			t.Errorf("recovery dir lacks %s: %v", name, err)
		}
	}
	if Pending(w.dir) {
		t.Error("journal still pending after recovery")
	}
	var rep Outcome
	if err := json.Unmarshal(mustRead(t, r.ReportPath), &rep); err != nil || rep.Kind != Recovered {
		t.Errorf("JSON report: %v %+v", err, rep)
	}
	if !strings.Contains(out, "RECOVERED") || !strings.Contains(out, "ExpiredToken") {
		t.Errorf("stderr for people lacks the story:\n%s", out)
	}
	if _, code := w.runEnv([]string{"TF_VAR_run=2"}, "plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
		t.Errorf("plan -detailed-exitcode after recovery = %d, want 0", code)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecoverRefusesDrift(t *testing.T) {
	w := newLocalWorkspace(t)
	_, errored := w.incident()
	// Someone else applied meanwhile: the remote is ahead of errored.tfstate.
	w.run("apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=3")
	w.run("apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=4")
	remoteBefore := w.read("terraform.tfstate")
	r := w.runFor(persistOnly(t))
	o := Recover(context.Background(), r)
	if o.Kind != NeedsPerson || !strings.Contains(o.Summary, "someone else wrote the state") {
		t.Fatalf("outcome %s: %s", o.Kind, o.Summary)
	}
	if !bytes.Equal(w.read("terraform.tfstate"), remoteBefore) {
		t.Error("the remote state was changed")
	}
	if got, _ := parseState(w.read(erroredFile)); got.SHA256 != errored.SHA256 {
		t.Error("errored.tfstate changed")
	}
	if b, _ := parseState(mustRead(t, filepath.Join(o.RecoveryDir, backupName))); b.SHA256 != errored.SHA256 {
		t.Error("backup is not errored.tfstate")
	}
	if Pending(w.dir) {
		t.Error("a refused push is explained, not retried forever")
	}
}

func TestRecoverRefusesOtherLineage(t *testing.T) {
	w := newLocalWorkspace(t)
	w.incident()
	var st map[string]any
	if err := json.Unmarshal(w.read(erroredFile), &st); err != nil {
		t.Fatal(err)
	}
	st["lineage"] = "00000000-0000-0000-0000-000000000000"
	b, _ := json.Marshal(st)
	w.write(erroredFile, b)
	remoteBefore := w.read("terraform.tfstate")
	o := Recover(context.Background(), w.runFor(persistOnly(t)))
	if o.Kind != NeedsPerson || !strings.Contains(o.Summary, "different state") {
		t.Fatalf("outcome %s: %s", o.Kind, o.Summary)
	}
	if !bytes.Equal(w.read("terraform.tfstate"), remoteBefore) {
		t.Error("the remote state was changed")
	}
}

func TestNotCredentialsTouchesNothing(t *testing.T) {
	w := newLocalWorkspace(t)
	w.incident()
	o := Recover(context.Background(), w.runFor([]byte("Error: local-exec provisioner error\n\nexit status 1\n")))
	if o.Kind != NotCredentials {
		t.Fatalf("outcome %s", o.Kind)
	}
	if _, err := os.Stat(recoveryRoot(w.dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recovery directory created for a non-credential failure: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.dir, erroredFile)); err != nil {
		t.Errorf("errored.tfstate touched: %v", err)
	}
}

// failingPull makes `state pull` fail as it does with dead credentials; the
// other calls go to terraform.
type failingPull struct {
	real  runner
	calls []string
}

func (f *failingPull) Run(ctx context.Context, c tfCall) ([]byte, []byte, error) {
	f.calls = append(f.calls, strings.Join(c.Args, " "))
	if c.Args[0] == "state" && c.Args[1] == "pull" {
		return nil, []byte("│ Error: error loading state: operation error S3: GetObject, https response error StatusCode: 400, RequestID: X, api error ExpiredToken: The provided token has expired.\n"), errors.New("exit status 1")
	}
	return f.real.Run(ctx, c)
}

// TestCredentialsDeadThenResume: a CI run whose credentials cannot be
// renewed stops with the exact commands and loses nothing; the next tf,
// with credentials back, finishes from the journal.
func TestCredentialsDeadThenResume(t *testing.T) {
	w := newLocalWorkspace(t)
	_, errored := w.incident()
	remoteBefore := w.read("terraform.tfstate")
	fp := &failingPull{real: execRunner{}}
	r := w.runFor(persistOnly(t))
	r.CI = true
	r.Env = append(r.Env, "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+filepath.Join(t.TempDir(), "summary.md"), "AWS_PROFILE=deploy")
	r.runner = fp
	renewed := 0
	r.Renew = func(ctx context.Context, env []string) ([]string, error) {
		renewed++
		return nil, errors.New("no terminal to log in again")
	}
	o := Recover(context.Background(), r)
	out := r.Out.(*bytes.Buffer).String()
	if o.Kind != NeedsPerson || renewed != 1 {
		t.Fatalf("outcome %s (renew called %d): %s\n%s", o.Kind, renewed, o.Summary, out)
	}
	for _, want := range []string{"aws sso login --profile deploy", "tf guard recover", "terraform state push " + filepath.Join(w.dir, erroredFile), "::error title=tf recovery"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if sum := string(mustRead(t, envLookup(r.Env, envStepSummary))); !strings.Contains(sum, "### tf recovery: needs-person") {
		t.Errorf("step summary: %q", sum)
	}
	if len(fp.calls) != 0 {
		t.Errorf("terraform was called without credentials: %v", fp.calls)
	}
	if !bytes.Equal(w.read("terraform.tfstate"), remoteBefore) {
		t.Error("remote changed")
	}
	if got, _ := parseState(w.read(erroredFile)); got.SHA256 != errored.SHA256 {
		t.Error("errored.tfstate changed")
	}
	if !Pending(w.dir) {
		t.Fatal("the journal must stay pending so the next tf finishes the job")
	}
	// Credentials are back: the next tf resumes.
	r2 := w.runFor(nil)
	o2 := Resume(context.Background(), r2)
	if o2.Kind != Recovered {
		t.Fatalf("resume: %s: %s\n%s", o2.Kind, o2.Summary, r2.Out.(*bytes.Buffer))
	}
	if remote, _ := parseState(w.read("terraform.tfstate")); !sameContent(remote, errored) {
		t.Error("resume did not push errored.tfstate")
	}
	if Pending(w.dir) {
		t.Error("still pending")
	}
}

// TestResumeAfterEachStep simulates a kill right after each step was
// journaled as begun (the journal is cut there) and checks that Resume
// converges to the same end state.
func TestResumeAfterEachStep(t *testing.T) {
	for _, step := range StepNames() {
		t.Run(step, func(t *testing.T) {
			w := newLocalWorkspace(t)
			_, errored := w.incident()
			r := w.runFor(persistOnly(t))
			o := Recover(context.Background(), r)
			if o.Kind != Recovered {
				t.Fatalf("first pass %s: %s", o.Kind, o.Summary)
			}
			// Rewind the world to the moment `step` was begun.
			j, err := loadJournalFile(filepath.Join(o.RecoveryDir, journalName))
			if err != nil {
				t.Fatal(err)
			}
			cut := 0
			for i, s := range j.Steps {
				if s.Step == step && s.Status == "begun" {
					cut = i + 1
				}
			}
			j.Steps, j.Outcome = j.Steps[:cut], ""
			stepIndex := indexOf(StepNames(), step)
			if stepIndex <= indexOf(StepNames(), StepSecure) {
				j.Errored = nil
			}
			if stepIndex <= indexOf(StepNames(), StepArchive) {
				// errored.tfstate not yet moved
				if err := os.Rename(filepath.Join(o.RecoveryDir, movedName), filepath.Join(w.dir, erroredFile)); err != nil {
					t.Fatal(err)
				}
			}
			if err := j.save(); err != nil {
				t.Fatal(err)
			}
			if err := writeFileSync(filepath.Join(recoveryRoot(w.dir), pendingName), []byte(j.Name)); err != nil {
				t.Fatal(err)
			}
			if !Pending(w.dir) {
				t.Fatal("not pending")
			}
			o2 := Resume(context.Background(), w.runFor(nil))
			if o2.Kind != Recovered {
				t.Fatalf("resume from %s: %s: %s", step, o2.Kind, o2.Summary)
			}
			if remote, _ := parseState(w.read("terraform.tfstate")); !sameContent(remote, errored) {
				t.Error("remote lacks errored.tfstate's content")
			}
			if _, err := os.Stat(filepath.Join(w.dir, erroredFile)); !errors.Is(err, os.ErrNotExist) {
				t.Error("errored.tfstate still in the working directory")
			}
		})
	}
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func loadJournalFile(path string) (*journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	j.path = path
	return &j, nil
}
