package e2e

// Recovery scenarios (issue 4) on the incident rig: real terraform, S3
// (gofakes3) and DynamoDB (dynalite), credentials that really die mid-apply.
// Until the wrapper calls recovery, the library API is driven in a child
// process (this test binary re-executed as TestRecoveryHelperProcess) with
// exactly the environment terraform had, so that a SIGKILL at any step
// (Run.OnStep) kills that process and nothing else. The run's lock watch
// (recovery.StartWatch) runs beside the failing apply, as the wrapper runs
// it, so the evidence recovery works from is the real one.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/rig"
	"github.com/tfguard/tf/recovery"
)

const recHelperEnv = "TFGUARD_RECOVERY_HELPER"

// recSpec is what the helper process is asked to do.
type recSpec struct {
	Mode       string // recover, resume, command
	Dir        string
	Terraform  string
	Args       []string
	ExitCode   int
	StderrFile string
	Started    time.Time
	Ended      time.Time
	ReportPath string
	Outcome    string // where to write the outcome JSON
	Yes        bool
	LockID     string
	Observed   *recovery.Observation
	KillAt     string
}

// TestRecoveryHelperProcess is not a test: it is the child process the
// recovery scenarios run (it returns at once unless recHelperEnv is set).
func TestRecoveryHelperProcess(t *testing.T) {
	path := os.Getenv(recHelperEnv)
	if path == "" {
		return
	}
	var spec recSpec
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	stderr, _ := os.ReadFile(spec.StderrFile)
	r := recovery.Run{
		Dir: spec.Dir, Terraform: spec.Terraform, Env: os.Environ(), Args: spec.Args, ExitCode: spec.ExitCode,
		Stderr: stderr, Started: spec.Started, Ended: spec.Ended, ReportPath: spec.ReportPath,
		CI: os.Getenv("CI") == "true", Out: os.Stdout, Observed: spec.Observed,
	}
	if spec.KillAt != "" {
		r.OnStep = func(step string) {
			if step == spec.KillAt {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	ctx := context.Background()
	var o recovery.Outcome
	switch spec.Mode {
	case "recover":
		o = recovery.Recover(ctx, r)
	case "resume":
		o = recovery.Resume(ctx, r)
	case "command":
		o = recovery.RecoverCommand(ctx, r, recovery.CommandOptions{Yes: spec.Yes, LockID: spec.LockID})
	}
	out, _ := json.Marshal(o)
	if err := os.WriteFile(spec.Outcome, out, 0o600); err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// recScenario is one workspace on a rig with its own environment.
type recScenario struct {
	t     testing.TB
	r     *rig.Rig
	ws    *rig.Workspace
	tf    string
	env   map[string]string
	creds string // access key ID of the current env credentials
	mu    sync.Mutex
	seen  bytes.Buffer // everything printed, grepped for secrets

	incidentStderr string
	started, ended time.Time
	observed       *recovery.Observation
	errored        rig.StateFile
}

func recRig(t testing.TB) *rig.Rig {
	t.Helper()
	tf, err := rig.LookTools()
	if err != nil || tf == "" {
		t.Fatalf("tools: %v", err) // TestMain already decided skip vs fail
	}
	r, err := rig.Start(context.Background(), rig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func newRecScenario(t testing.TB, r *rig.Rig, mode rig.LockMode, name, workspace string) *recScenario {
	t.Helper()
	tf, _ := rig.LookTools()
	dir := t.TempDir()
	ws, err := r.NewWorkspace(context.Background(), rig.WorkspaceOptions{
		Dir: filepath.Join(dir, "work"), Home: filepath.Join(dir, "home"), Mode: mode, Workspace: workspace,
		Sleep: 3 * time.Second, Name: name,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &recScenario{t: t, r: r, ws: ws, tf: tf, env: map[string]string{}}
	for _, kv := range ws.Env() {
		k, v, _ := strings.Cut(kv, "=")
		s.env[k] = v
	}
	s.env["PATH"] = os.Getenv("PATH")
	s.env["TMPDIR"] = dir
	if r.Identity != nil {
		t.Cleanup(s.assertNoSecrets)
	}
	return s
}

func (s *recScenario) freshCreds(d time.Duration) {
	c := s.r.Ledger.Issue("env", d, false)
	for k, v := range rig.EnvCredentials(c) {
		s.env[k] = v
	}
	s.creds = c.AccessKeyID
}

func (s *recScenario) environ(extra ...string) []string {
	out := make([]string, 0, len(s.env)+len(extra))
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	return append(out, extra...)
}

func (s *recScenario) record(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen.Write(b)
}

func (s *recScenario) assertNoSecrets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.seen.String()
	for _, sec := range s.r.Identity.Secrets() {
		if sec != "" && strings.Contains(all, sec) {
			s.t.Errorf("a secret appeared in the output (length %d)", len(sec))
		}
	}
}

// terraform runs real terraform; onStdout sees each stdout line.
func (s *recScenario) terraform(onStdout func(string), args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	cmd := exec.Command(s.tf, args...)
	cmd.Dir, cmd.Env = s.ws.Dir, s.environ()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if onStdout != nil {
			onStdout(sc.Text())
		}
	}
	err = cmd.Wait()
	s.record([]byte(out.String() + errb.String()))
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatalf("terraform %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func (s *recScenario) mustTerraform(args ...string) string {
	s.t.Helper()
	code, out, errs := s.terraform(nil, args...)
	if code != 0 {
		s.t.Fatalf("terraform %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// incident reproduces the seed: the credentials die while the long
// resource is being created (after the lock was taken), so the final state
// write and the lock release both fail.
func (s *recScenario) incident() {
	s.t.Helper()
	s.freshCreds(time.Hour)
	s.prepare()
	s.freshCreds(time.Hour)
	key := s.creds
	// A second into the long resource: terraform holds its lock, and so
	// does every real apply long before its credentials run out.
	s.longApply(func() { s.r.Ledger.DieAt(key, time.Now().Add(time.Second)) })
}

// prepare initialises the workspace and applies once (serial 1).
func (s *recScenario) prepare() {
	s.t.Helper()
	s.mustTerraform("init", "-input=false", "-no-color")
	if s.ws.Backend.Workspace != "" {
		s.mustTerraform("workspace", "new", "-no-color", s.ws.Backend.Workspace)
	}
	s.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")
}

// longApply runs the apply that dies: kill runs once the lock is held and
// the long resource is being created.
func (s *recScenario) longApply(kill func()) {
	s.t.Helper()
	s.started = time.Now()
	args := []string{"apply", "-auto-approve", "-input=false", "-var", "run=2"}
	watch := recovery.StartWatch(s.ws.Dir, s.environ(), args, nil)
	code, _, stderr := s.terraform(func(line string) {
		if strings.Contains(line, "terraform_data.long: Creating...") {
			kill()
		}
	}, args...)
	s.ended = time.Now()
	s.observed = watch.Stop()
	s.incidentStderr = stderr
	if code != 1 {
		s.t.Fatalf("incident apply exited %d, want 1\n%s", code, stderr)
	}
	st, err := rig.ReadStateFile(filepath.Join(s.ws.Dir, "errored.tfstate"))
	if err != nil {
		s.t.Fatalf("the incident left no errored.tfstate: %v\n%s", err, stderr)
	}
	s.errored = st
	locks, err := s.r.Locks(context.Background(), s.ws.Backend)
	if err != nil || !locks.Held() {
		s.t.Fatalf("the incident left no lock (%v)\n%s", err, stderr)
	}
}

// ssoLogin is what `aws sso login` leaves behind; terraform then uses the
// sso profile (role credentials from the fake portal).
func (s *recScenario) ssoLogin(role time.Duration) {
	s.t.Helper()
	s.r.Identity.SetRoleCredentialLifetime(role)
	tok := s.r.Identity.NewSSOSession(rig.SSOSessionName, rig.SSOStartURL, time.Hour, time.Hour)
	if err := s.ws.SeedSSOLogin(rig.SSOSessionName, tok); err != nil {
		s.t.Fatal(err)
	}
	for _, k := range []string{rig.EnvAccessKeyID, rig.EnvSecretAccessKey, rig.EnvSessionToken, rig.EnvCredentialExpiration} {
		delete(s.env, k)
	}
	s.env[rig.EnvProfile] = rig.ProfileSSO
}

// helper runs the recovery library in a child process with the scenario's
// environment. It returns the outcome (nil when the child was killed), the
// child's output and how it ended.
func (s *recScenario) helper(spec recSpec, extraEnv ...string) (*recovery.Outcome, string, *os.ProcessState) {
	s.t.Helper()
	tmp := s.t.TempDir()
	spec.Dir, spec.Terraform = s.ws.Dir, s.tf
	if spec.Args == nil {
		spec.Args = []string{"apply", "-auto-approve", "-input=false", "-var", "run=2"}
		spec.ExitCode = 1
		spec.Started, spec.Ended = s.started, s.ended
		spec.Observed = s.observed
	}
	spec.StderrFile = filepath.Join(tmp, "stderr")
	spec.Outcome = filepath.Join(tmp, "outcome.json")
	if err := os.WriteFile(spec.StderrFile, []byte(s.incidentStderr), 0o600); err != nil {
		s.t.Fatal(err)
	}
	specPath := filepath.Join(tmp, "spec.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecoveryHelperProcess$")
	cmd.Env = s.environ(append(extraEnv, recHelperEnv+"="+specPath)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	s.record(out.Bytes())
	raw, err := os.ReadFile(spec.Outcome)
	if err != nil {
		return nil, out.String(), cmd.ProcessState
	}
	var o recovery.Outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		s.t.Fatalf("outcome: %v", err)
	}
	return &o, out.String(), cmd.ProcessState
}

func (s *recScenario) remote() rig.StateFile {
	s.t.Helper()
	st, err := s.r.RemoteState(context.Background(), s.ws.Backend)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *recScenario) locks() rig.Locks {
	s.t.Helper()
	l, err := s.r.Locks(context.Background(), s.ws.Backend)
	if err != nil {
		s.t.Fatal(err)
	}
	return l
}

// assertRecovered checks the end state the issue asks for.
func (s *recScenario) assertRecovered(o *recovery.Outcome, out string) {
	s.t.Helper()
	if o == nil || o.Kind != recovery.Recovered {
		s.t.Fatalf("outcome %+v\n%s", o, out)
	}
	rem := s.remote()
	if rem.Lineage != s.errored.Lineage || rem.Serial < s.errored.Serial {
		s.t.Errorf("remote %+v, errored.tfstate %+v", rem, s.errored)
	}
	if l := s.locks(); l.Held() {
		s.t.Errorf("a lock is left: %+v %+v", l.DynamoDB, l.Lockfile)
	}
	if _, err := os.Stat(filepath.Join(s.ws.Dir, "errored.tfstate")); !errors.Is(err, os.ErrNotExist) {
		s.t.Errorf("errored.tfstate still in the working directory (%v)", err)
	}
	backup, err := rig.ReadStateFile(filepath.Join(o.RecoveryDir, "errored.tfstate"))
	if err != nil || backup.Serial != s.errored.Serial || backup.Lineage != s.errored.Lineage {
		s.t.Errorf("backup %+v (%v), want errored.tfstate %+v", backup, err, s.errored)
	}
	if recovery.Pending(s.ws.Dir, s.environ()) {
		s.t.Error("journal still pending")
	}
	code, stdout, stderr := s.terraform(nil, "plan", "-detailed-exitcode", "-input=false", "-no-color", "-var", "run=2")
	if code != 0 {
		s.t.Errorf("plan -detailed-exitcode after recovery: %d, want 0\n%s%s", code, stdout, stderr)
	}
}

// TestRecoverySeedIncident: the seed's incident in every lock mode (and a
// named workspace), repaired by recovery with no manual step.
func TestRecoverySeedIncident(t *testing.T) {
	r := recRig(t)
	for _, c := range []struct {
		mode      rig.LockMode
		workspace string
	}{
		{rig.LockDynamoDB, ""}, {rig.LockFile, ""}, {rig.LockBoth, "blue"},
	} {
		t.Run(string(c.mode), func(t *testing.T) {
			s := newRecScenario(t, r, c.mode, "seed-"+string(c.mode), c.workspace)
			s.incident()
			// The structured source: the backend terraform recorded at init.
			b, err := recovery.LoadBackend(s.ws.Dir, s.environ())
			if err != nil || b.StateKey() != s.ws.Backend.StateKey() || b.LockPath() != s.ws.Backend.LockPath() ||
				(b.Table != "") != c.mode.UsesDynamoDB() || b.UseLockfile != c.mode.UsesLockfile() || !b.PathStyle {
				t.Errorf("LoadBackend = %+v, %v; want %+v", b, err, s.ws.Backend)
			}
			s.freshCreds(time.Hour)
			report := filepath.Join(t.TempDir(), "report.json")
			o, out, _ := s.helper(recSpec{Mode: "recover", ReportPath: report})
			s.assertRecovered(o, out)
			if !strings.Contains(out, "RECOVERED") || !strings.Contains(out, "-lock=false while this run's lock") {
				t.Errorf("stderr does not tell the story:\n%s", out)
			}
			var rep recovery.Outcome
			if b, err := os.ReadFile(report); err != nil || json.Unmarshal(b, &rep) != nil || rep.Kind != recovery.Recovered {
				t.Errorf("JSON report: %v %s", err, b)
			}
		})
	}
}

// TestRecoverySSOSessionEnded: the Identity Center session ends mid-apply
// (401 UnauthorizedException, lockfile mode so no lock ID is printed); after
// a new `aws sso login` recovery reads the lock record with the SSO
// profile's credentials, proves it ours by who/when/operation and repairs.
func TestRecoverySSOSessionEnded(t *testing.T) {
	r := recRig(t)
	s := newRecScenario(t, r, rig.LockFile, "sso", "")
	// The lock watch runs in this process (tf runs it in its own, whose
	// environment is the run's): the SDK finds the SSO token cache under
	// HOME and the portal at AWS_ENDPOINT_URL_SSO of the process.
	for _, k := range []string{rig.EnvHome, "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"} {
		t.Setenv(k, s.env[k])
	}
	s.ssoLogin(time.Second)
	s.prepare()
	s.longApply(func() {
		time.AfterFunc(time.Second, func() {
			if err := r.Identity.EndSession(rig.SSOSessionName); err != nil {
				t.Error(err)
			}
		})
	})
	if !strings.Contains(s.incidentStderr, "UnauthorizedException") {
		t.Fatalf("not the SSO shape:\n%s", s.incidentStderr)
	}
	// Without a new login: stop, keep everything, say how to log in.
	o, out, _ := s.helper(recSpec{Mode: "recover"})
	if o == nil || o.Kind != recovery.NeedsPerson || !strings.Contains(out, "aws sso login --profile sso") {
		t.Fatalf("dead session: %+v\n%s", o, out)
	}
	s.ssoLogin(time.Hour)
	o, out, _ = s.helper(recSpec{Mode: "resume", Args: []string{"plan"}})
	s.assertRecovered(o, out)
}

// TestRecoveryForeignLock: another run holds the lock (ours was released
// and someone else took it); recovery never touches it and says who.
func TestRecoveryForeignLock(t *testing.T) {
	r := recRig(t)
	s := newRecScenario(t, r, rig.LockBoth, "foreign", "")
	s.incident()
	foreign := rig.LockInfo{ID: "0b2c4f7e-1111-4000-8000-00000000f00d", Operation: "OperationTypeApply",
		Who: "alice@ci-runner-7", Version: "1.11.4", Created: time.Now().UTC().Format(time.RFC3339Nano), Path: s.ws.Backend.LockPath()}
	if err := r.PutLockInfo(context.Background(), s.ws.Backend, foreign); err != nil {
		t.Fatal(err)
	}
	before := s.remote()
	s.freshCreds(time.Hour)
	o, out, _ := s.helper(recSpec{Mode: "recover"})
	if o == nil || o.Kind != recovery.NeedsPerson || o.Holder == nil || o.Holder.ID != foreign.ID {
		t.Fatalf("outcome %+v\n%s", o, out)
	}
	if !strings.Contains(out, "alice@ci-runner-7") {
		t.Errorf("does not say who holds the lock:\n%s", out)
	}
	l := s.locks()
	if l.DynamoDB == nil || l.DynamoDB.ID != foreign.ID || l.Lockfile == nil || l.Lockfile.ID != foreign.ID {
		t.Errorf("the foreign lock was touched: %+v %+v", l.DynamoDB, l.Lockfile)
	}
	if after := s.remote(); after != before {
		t.Errorf("remote changed under a foreign lock: %+v -> %+v", before, after)
	}
	if _, err := os.Stat(filepath.Join(s.ws.Dir, "errored.tfstate")); err != nil {
		t.Errorf("errored.tfstate: %v", err)
	}
}

// TestRecoveryRefusesDrift: someone else wrote a newer state after our lock
// was removed by hand; recovery refuses and keeps the backup.
func TestRecoveryRefusesDrift(t *testing.T) {
	r := recRig(t)
	s := newRecScenario(t, r, rig.LockDynamoDB, "drift", "")
	s.incident()
	s.freshCreds(time.Hour)
	s.mustTerraform("force-unlock", "-force", s.locks().ID())
	s.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=3", "-var", "sleep=0")
	s.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=4", "-var", "sleep=0")
	before := s.remote()
	if before.Serial <= s.errored.Serial {
		t.Fatalf("setup: remote %+v not ahead of %+v", before, s.errored)
	}
	o, out, _ := s.helper(recSpec{Mode: "recover"})
	if o == nil || o.Kind != recovery.NeedsPerson || o.Pending || !strings.Contains(o.Summary, "may have moved on since the run started") ||
		o.Diff == nil || len(o.Diff.Changed) == 0 {
		t.Fatalf("outcome %+v\n%s", o, out)
	}
	if l := s.locks(); l.Held() {
		t.Errorf("a lock appeared: %+v", l)
	}
	if after := s.remote(); after != before {
		t.Errorf("remote changed: %+v -> %+v", before, after)
	}
	backup, err := rig.ReadStateFile(filepath.Join(o.RecoveryDir, "errored.tfstate"))
	if err != nil || backup != s.errored {
		t.Errorf("backup %+v (%v), want %+v", backup, err, s.errored)
	}
	if st, err := rig.ReadStateFile(filepath.Join(s.ws.Dir, "errored.tfstate")); err != nil || st != s.errored {
		t.Errorf("errored.tfstate: %+v %v", st, err)
	}
}

// TestRecoveryCIWithoutCredentials: in CI the credentials cannot be renewed;
// recovery stops with the exact commands and loses nothing. Once
// credentials are back, the next tf finishes from the journal.
func TestRecoveryCIWithoutCredentials(t *testing.T) {
	r := recRig(t)
	s := newRecScenario(t, r, rig.LockDynamoDB, "ci", "")
	s.incident()
	lockID := s.locks().ID()
	before := s.remote()
	summary := filepath.Join(t.TempDir(), "summary.md")
	o, out, _ := s.helper(recSpec{Mode: "recover"}, "CI=true", "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary)
	if o == nil || o.Kind != recovery.NeedsPerson {
		t.Fatalf("outcome %+v\n%s", o, out)
	}
	for _, want := range []string{
		"terraform state push -lock=false " + filepath.Join(s.ws.Dir, "errored.tfstate"),
		"terraform force-unlock -force " + lockID,
		"tf guard recover",
		"::error title=tf recovery",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.Contains(string(b), "needs-person") {
		t.Errorf("step summary: %v %q", err, b)
	}
	if after := s.remote(); after != before {
		t.Errorf("remote changed: %+v -> %+v", before, after)
	}
	if s.locks().ID() != lockID {
		t.Error("lock changed")
	}
	if !recovery.Pending(s.ws.Dir, s.environ()) {
		t.Fatal("journal not pending")
	}
	s.freshCreds(time.Hour)
	o, out, _ = s.helper(recSpec{Mode: "resume", Args: []string{"plan"}})
	s.assertRecovered(o, out)
}

// TestRecoveryKilledAtEachStep: tf is SIGKILLed right after journaling each
// step; the next tf in that directory converges to the same end state.
func TestRecoveryKilledAtEachStep(t *testing.T) {
	r := recRig(t)
	for _, step := range recovery.StepNames() {
		t.Run(step, func(t *testing.T) {
			s := newRecScenario(t, r, rig.LockDynamoDB, "kill-"+step, "")
			s.incident()
			s.freshCreds(time.Hour)
			o, out, ps := s.helper(recSpec{Mode: "recover", KillAt: step})
			ws, ok := ps.Sys().(syscall.WaitStatus)
			if o != nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("helper was not killed at %s: %v %+v\n%s", step, ps, o, out)
			}
			if !recovery.Pending(s.ws.Dir, s.environ()) {
				t.Fatal("no pending journal after the kill")
			}
			if _, err := os.Stat(filepath.Join(s.ws.Dir, "errored.tfstate")); err != nil && step != recovery.StepClose {
				t.Errorf("errored.tfstate gone before the close step: %v", err)
			}
			o, out, _ = s.helper(recSpec{Mode: "resume", Args: []string{"plan"}})
			s.assertRecovered(o, out)
		})
	}
}

// TestRecoveryGuardRecoverCommand: a workspace broken earlier by plain
// terraform (lockfile mode, so no lock ID anywhere in tf's hands): `tf guard
// recover` refuses without the ID, then repairs with --yes --lock-id.
func TestRecoveryGuardRecoverCommand(t *testing.T) {
	r := recRig(t)
	s := newRecScenario(t, r, rig.LockFile, "command", "")
	s.incident()
	s.freshCreds(time.Hour)
	id := s.locks().ID()
	o, out, _ := s.helper(recSpec{Mode: "command", Args: []string{"guard", "recover"}, Yes: true})
	if o == nil || o.Kind != recovery.NeedsPerson || !strings.Contains(out, "--lock-id "+id) {
		t.Fatalf("without --lock-id: %+v\n%s", o, out)
	}
	if s.locks().ID() != id {
		t.Fatal("lock touched without --lock-id")
	}
	o, out, _ = s.helper(recSpec{Mode: "command", Args: []string{"guard", "recover"}, LockID: id})
	if o == nil || o.Kind != recovery.NeedsPerson || !strings.Contains(out, "--yes") {
		t.Fatalf("without --yes and no terminal: %+v\n%s", o, out)
	}
	o, out, _ = s.helper(recSpec{Mode: "command", Args: []string{"guard", "recover"}, Yes: true, LockID: id})
	s.assertRecovered(o, out)
}

// BenchmarkRecovery compares recovery's wall time with the same terraform
// calls typed by hand (state pull, state push -lock=false, force-unlock,
// state pull) on the same rig, each after a fresh incident (not timed).
// Target: recovery <= 1.5x. Run: go test ./e2e -run '^$' -bench Recovery -benchtime 3x
func BenchmarkRecovery(b *testing.B) {
	r := recRig(b)
	var auto, manual time.Duration
	for i := 0; i < b.N; i++ {
		s := newRecScenario(b, r, rig.LockDynamoDB, fmt.Sprintf("bench-auto-%d", i), "")
		s.incident()
		s.freshCreds(time.Hour)
		run := recovery.Run{Dir: s.ws.Dir, Terraform: s.tf, Env: s.environ(), Args: []string{"apply", "-auto-approve", "-var", "run=2"},
			ExitCode: 1, Stderr: []byte(s.incidentStderr), Started: s.started, Ended: s.ended, Observed: s.observed}
		t0 := time.Now()
		o := recovery.Recover(context.Background(), run)
		auto += time.Since(t0)
		if o.Kind != recovery.Recovered {
			b.Fatalf("recovery: %s: %s", o.Kind, o.Summary)
		}
		if os.Getenv("RECOVERY_BENCH_STEPS") != "" {
			b.Logf("recovery started %s", t0.Format("05.000"))
			for _, st := range o.Steps {
				b.Logf("%s %s %s", st.At.Format("05.000"), st.Step, st.Status)
			}
			b.Logf("recovery returned %s", t0.Add(time.Since(t0)).Format("05.000"))
		}

		m := newRecScenario(b, r, rig.LockDynamoDB, fmt.Sprintf("bench-manual-%d", i), "")
		m.incident()
		m.freshCreds(time.Hour)
		id := m.locks().ID()
		t0 = time.Now()
		m.mustTerraform("state", "pull")
		m.mustTerraform("state", "push", "-lock=false", "errored.tfstate")
		m.mustTerraform("force-unlock", "-force", id)
		m.mustTerraform("state", "pull")
		manual += time.Since(t0)
	}
	b.ReportMetric(float64(auto.Milliseconds())/float64(b.N), "ms-recovery/op")
	b.ReportMetric(float64(manual.Milliseconds())/float64(b.N), "ms-by-hand/op")
	b.ReportMetric(float64(auto)/float64(manual), "ratio")
}
