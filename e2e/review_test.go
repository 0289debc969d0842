package e2e

// Review reproductions through the real tf binary. terraform is replaced by
// a script (TFGUARD_TERRAFORM) that records its arguments and environment, so
// these need no rig: what is under test is what tf decides before and around
// terraform. Each test asserts the CORRECT behaviour and so FAILS on the
// reviewed code; its failure message says what happens instead.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tfguard/tf/e2e/fakeaws"
	"github.com/tfguard/tf/e2e/rig"
)

func reviewTFBinary(t *testing.T) string {
	t.Helper()
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	path, err := buildTestTF(root)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

const fakeTerraform = `#!/bin/sh
{ echo "ARGS: $*"; env; } > "$FAKE_TF_LOG"
[ -n "$FAKE_TF_SLEEP" ] && sleep "$FAKE_TF_SLEEP"
exit 0
`

const labAWSConfig = `[profile sso]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Admin

[profile static]
aws_access_key_id = AKIAEXAMPLESTATIC01
aws_secret_access_key = staticsecretvalue0000000000000000000000
`

// lab is a working directory with its own HOME, tf caches and config, and
// the recording fake terraform.
type lab struct {
	t    *testing.T
	tf   string
	dir  string
	home string
	log  string
	env  map[string]string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	root := t.TempDir()
	l := &lab{t: t, tf: reviewTFBinary(t), dir: filepath.Join(root, "work"), home: filepath.Join(root, "home"), log: filepath.Join(root, "fake-terraform.log")}
	for _, d := range []string{l.dir, filepath.Join(l.home, ".aws", "sso", "cache"), filepath.Join(root, "bin")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	fake := filepath.Join(root, "bin", "terraform")
	l.write(fake, fakeTerraform, 0o755)
	l.write(filepath.Join(l.home, ".aws", "config"), labAWSConfig, 0o600)
	l.write(filepath.Join(l.dir, "main.tf"), "resource \"aws_s3_bucket\" \"b\" {}\n", 0o644)
	l.env = map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": l.home,
		"XDG_CACHE_HOME": filepath.Join(root, "cache"), "XDG_CONFIG_HOME": filepath.Join(root, "config"),
		"TFGUARD_TERRAFORM": fake, "FAKE_TF_LOG": l.log,
		"AWS_CONFIG_FILE": filepath.Join(l.home, ".aws", "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(l.home, ".aws", "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
	}
	return l
}

func (l *lab) write(path, content string, mode os.FileMode) {
	l.t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) environ(extra ...string) []string {
	m := map[string]string{}
	for k, v := range l.env {
		m[k] = v
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	var out []string
	for k, v := range m {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

func (l *lab) command(extra []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(l.tf, args...)
	cmd.Dir, cmd.Env = l.dir, l.environ(extra...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	return cmd, &buf
}

// run runs tf to the end (at most 60s) and returns its exit code and output.
func (l *lab) run(extra []string, args ...string) (int, string) {
	l.t.Helper()
	_ = os.Remove(l.log)
	cmd, buf := l.command(extra, args...)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			l.t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), buf.String()
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		l.t.Fatalf("tf %v still running after 60s:\n%s", args, buf.String())
	}
	return -1, ""
}

// terraformEnv is the environment the fake terraform got ("" if it did not run).
func (l *lab) terraformEnv() string {
	b, _ := os.ReadFile(l.log)
	return string(b)
}

func rfc3339In(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

func sessionKeys(expiresIn time.Duration) []string {
	env := []string{"AWS_ACCESS_KEY_ID=ASIAREVIEWENVKEY", "AWS_SECRET_ACCESS_KEY=reviewsecret", "AWS_SESSION_TOKEN=reviewsessiontoken"}
	if expiresIn != 0 {
		env = append(env, "AWS_CREDENTIAL_EXPIRATION="+rfc3339In(expiresIn))
	}
	return env
}

// seedSSOCache writes an sso-session cache for "corp" whose access token
// expires in tokenLeft (refreshable).
func (l *lab) seedSSOCache(tokenLeft time.Duration) {
	sum := sha1.Sum([]byte("corp"))
	p := filepath.Join(l.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	l.write(p, fmt.Sprintf(`{"startUrl":"https://corp.awsapps.com/start","region":"us-east-1","accessToken":"aoaREVIEW","expiresAt":%q,"refreshToken":"aorREVIEW","clientId":"cid","clientSecret":"csecret","registrationExpiresAt":%q}`,
		rfc3339In(tokenLeft), rfc3339In(30*24*time.Hour)), 0o600)
}

// blackhole accepts connections and never answers (a firewall that drops,
// a proxy that hangs).
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String()
}

// exitsWithin starts cmd and reports whether it exits within d; it is
// killed otherwise.
func exitsWithin(t *testing.T, cmd *exec.Cmd, d time.Duration, after func()) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if after != nil {
		after()
	}
	select {
	case <-done:
		return true
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return false
	}
}

// A guarded run prints its warnings before terraform starts: session keys
// without AWS_CREDENTIAL_EXPIRATION, an SSO refresh ahead of time that
// failed (and why).
func TestGuardedRunPrintsWarningsBeforeTerraform(t *testing.T) {
	l := newLab(t)
	code, out := l.run(append(sessionKeys(0), "CI=true"), "apply", "-auto-approve")
	if code != 0 || !strings.Contains(out, "AWS_CREDENTIAL_EXPIRATION") {
		t.Errorf("session keys of unknown lifetime in CI: exit %d, and tf said nothing about them: %q", code, out)
	}
	l.seedSSOCache(5 * time.Minute)
	code, out = l.run([]string{"CI=true", "AWS_PROFILE=sso", "AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:1"}, "apply", "-auto-approve")
	if code != 0 || !strings.Contains(out, "warning") {
		t.Errorf("SSO token with 5m left could not be refreshed (SSO-OIDC unreachable): exit %d, output %q", code, out)
	}
}

// Every AWS call tf makes has a deadline and the SSO cache lock is waited
// for with a bound: an SSO-OIDC endpoint that accepts but never answers
// does not hang the preflight in CI, nor another tf on the same cache.
// (Review defect 6.)
func TestPreflightBoundedAgainstUnresponsiveEndpoint(t *testing.T) {
	l := newLab(t)
	l.seedSSOCache(5 * time.Minute) // due for a refresh ahead of time
	hole := blackhole(t)
	first, buf1 := l.command([]string{"CI=true", "AWS_PROFILE=sso", "AWS_ENDPOINT_URL_SSO_OIDC=" + hole}, "plan")
	var second *exec.Cmd
	var secondDone bool
	firstDone := exitsWithin(t, first, 25*time.Second, func() {
		time.Sleep(2 * time.Second)
		// Another tf (another terminal, another CI job on the runner) with a
		// working-or-failing-fast endpoint: it only needs the lock.
		second, _ = l.command([]string{"CI=true", "AWS_PROFILE=sso", "AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:1"}, "plan")
		secondDone = exitsWithin(t, second, 10*time.Second, nil)
	})
	if !secondDone {
		t.Errorf("a second tf (endpoint refusing at once) waited >10s for the first one's SSO cache lock")
	}
	if !firstDone {
		t.Errorf("tf plan in CI still in its preflight after 25s against an unresponsive SSO-OIDC endpoint (no timeout):\n%s", buf1.String())
	}
}

// The GitHub OIDC endpoint's first fetch is bounded and interruptible: an
// ID-token endpoint that does not answer does not hang tf, and SIGTERM (a
// cancelled CI job) ends it. (Review defect 6.)
func TestGitHubOIDCStartStopsOnSignals(t *testing.T) {
	l := newLab(t)
	hole := blackhole(t)
	cmd, buf := l.command([]string{"CI=true", "GITHUB_ACTIONS=true", "TFGUARD_GITHUB_OIDC_ROLE=arn:aws:iam::123456789012:role/CI",
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + hole + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=req-token"}, "apply", "-auto-approve")
	ok := exitsWithin(t, cmd, 8*time.Second, func() {
		time.Sleep(2 * time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		time.Sleep(time.Second)
		_ = cmd.Process.Signal(syscall.SIGINT)
	})
	if !ok {
		t.Fatalf("tf ignored SIGTERM and SIGINT for 5s while waiting for the GitHub ID token (killed):\n%s", buf.String())
	}
}

// fakeGitHubOIDC answers like ACTIONS_ID_TOKEN_REQUEST_URL.
func fakeGitHubOIDC(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer req-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"count":1,"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOngiLCJleHAiOjk5OTk5OTk5OTl9.sig"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token?api-version=2.0"
}

func oidcEnv(t *testing.T) []string {
	f := fakeaws.Start(t, fakeaws.NewLedger(nil), fakeaws.Options{})
	return []string{"CI=true", "GITHUB_ACTIONS=true", "TFGUARD_GITHUB_OIDC_ROLE=arn:aws:iam::123456789012:role/CI",
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + fakeGitHubOIDC(t), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=req-token", "AWS_ENDPOINT_URL_STS=" + f.STSURL}
}

// With github_oidc_role the endpoint starts before the preflight, which
// judges the environment terraform really gets: the job's exported keys
// (which Env() drops) do not get the run refused, and terraform never sees
// them. (Review defect 10.)
func TestGitHubOIDCPreflightJudgesWhatTerraformGets(t *testing.T) {
	l := newLab(t)
	env := oidcEnv(t)
	code, out := l.run(env, "apply", "-auto-approve")
	got := l.terraformEnv()
	if code != 0 || !strings.Contains(got, "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:") {
		t.Fatalf("control: OIDC mode did not run: exit %d\n%s", code, out)
	}
	code, out = l.run(append(env, sessionKeys(5*time.Minute)...), "apply", "-auto-approve")
	if code != 0 {
		t.Fatalf("the job's exported keys (5m left) would be dropped for the renewable OIDC endpoint, but tf refused: exit %d\n%s", code, out)
	}
	if got := l.terraformEnv(); strings.Contains(got, "ASIAREVIEWENVKEY") {
		t.Fatalf("terraform got the exported keys")
	}
}

// github_oidc_role works with preflight = off (the endpoint is not part of
// the preflight), and a job without `id-token: write` (no
// ACTIONS_ID_TOKEN_REQUEST_URL) is told so on stderr instead of running
// silently with whatever the job has. (Review defect 10.)
func TestGitHubOIDCOnWithPreflightOffAndToldWithoutIDToken(t *testing.T) {
	l := newLab(t)
	env := oidcEnv(t)
	code, out := l.run(append(env, "TFGUARD_PREFLIGHT=off"), "apply", "-auto-approve")
	if got := l.terraformEnv(); code == 0 && !strings.Contains(got, "AWS_CONTAINER_CREDENTIALS_FULL_URI=") {
		t.Errorf("preflight = off: github_oidc_role ignored; terraform ran without the OIDC endpoint (exit %d, output %q)", code, out)
	}
	var noPerm []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ACTIONS_ID_TOKEN_REQUEST_") {
			noPerm = append(noPerm, kv)
		}
	}
	code, out = l.run(noPerm, "apply", "-auto-approve")
	if code == 0 && !strings.Contains(out, "id-token") {
		t.Errorf("github_oidc_role set, no id-token permission: terraform ran without the endpoint and tf said nothing (exit %d, output %q)", code, out)
	}
}

// Only a refusal over lifetime ends tf with 75: files terraform ignores (an
// editor's .#main.tf lock link, a hidden backup) are ignored, and an
// AWS_CREDENTIAL_EXPIRATION in a neighbouring date format is read.
func TestOnlyLifetimeRefusalsExit75(t *testing.T) {
	t.Run("emacs lock link .#main.tf", func(t *testing.T) {
		l := newLab(t)
		if err := os.Symlink("user@host.4242:1700000000", filepath.Join(l.dir, ".#main.tf")); err != nil {
			t.Fatal(err)
		}
		if code, out := l.run([]string{"AWS_ACCESS_KEY_ID=AKIASTATIC", "AWS_SECRET_ACCESS_KEY=s"}, "plan"); code != 0 {
			t.Fatalf("terraform ignores .#main.tf; tf exits %d:\n%s", code, out)
		}
	})
	t.Run("hidden backup .old.tf naming an expired legacy profile", func(t *testing.T) {
		l := newLab(t)
		l.write(filepath.Join(l.dir, ".old.tf"), "provider \"aws\" {\n  profile = \"legacy\"\n}\n", 0o644)
		if code, out := l.run([]string{"CI=true", "AWS_ACCESS_KEY_ID=AKIASTATIC", "AWS_SECRET_ACCESS_KEY=s"}, "plan"); code != 0 {
			t.Fatalf("terraform ignores .old.tf; tf judged its provider and exits %d:\n%s", code, out)
		}
	})
	t.Run("AWS_CREDENTIAL_EXPIRATION with a space", func(t *testing.T) {
		l := newLab(t)
		env := append(sessionKeys(0), "CI=true", "AWS_CREDENTIAL_EXPIRATION="+time.Now().Add(6*time.Hour).UTC().Format("2006-01-02 15:04:05+00:00"))
		if code, out := l.run(env, "plan"); code == 75 {
			t.Fatalf("keys valid for 6h (the SDK ignores this variable), tf exits 75 as if they would not last:\n%s", out)
		}
	})
}

// The requirement fits the command: `force-unlock` and `state push` (the
// steps tf's own recovery prints) run with keys valid 10 more minutes, and a
// plan runs with fresh STS-minimum (900s) keys.
func TestQuickCommandsAndShortPlansRun(t *testing.T) {
	l := newLab(t)
	for _, args := range [][]string{{"force-unlock", "-force", "6f1d7b5e-0000-4000-8000-000000000000"}, {"state", "push", "errored.tfstate"}} {
		if code, out := l.run(append(sessionKeys(10*time.Minute), "CI=true"), args...); code == 75 {
			t.Errorf("`terraform %s` (seconds, needs no lock of its own) with keys valid 10 more minutes: refused (75):\n%s", strings.Join(args, " "), out)
		}
	}
	if code, out := l.run(append(sessionKeys(900*time.Second), "CI=true"), "plan"); code == 75 {
		t.Errorf("fresh 900s STS credentials (the AssumeRole minimum) refused for any plan:\n%s", out)
	}
}

// Ctrl-C at the "[y/N]" profile offer ends tf at once (the read of stdin
// gives way to the signal). (Review defect 16.)
func TestCtrlCAtProfileOfferEndsTF(t *testing.T) {
	l := newLab(t)
	cmd, _ := l.command(append(sessionKeys(3*time.Minute), "AWS_PROFILE=sso"), "apply", "-auto-approve")
	cmd.Stdout, cmd.Stderr = nil, nil
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	text := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(text(), "[y/N]"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no offer:\n%s", text())
		}
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_, _ = ptmx.Write([]byte{3}) // Ctrl-C
	select {
	case <-done:
		time.Sleep(200 * time.Millisecond) // the last output
		if n := strings.Count(text(), "credentials will not last the run"); n != 1 {
			t.Fatalf("the refusal was printed %d times, want once:\n%s", n, text())
		}
		return
	case <-time.After(5 * time.Second):
	}
	_, _ = ptmx.Write([]byte("\r"))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
	}
	t.Fatalf("Ctrl-C at the [y/N] prompt did nothing for 5s; only Enter ended tf (exit %d):\n%s", cmd.ProcessState.ExitCode(), text())
}

// A .tfguard in the working directory (repository content) cannot pick the
// binary tf runs as terraform until the user trusts it: `terraform fmt
// -check` on a pull request never runs the pull request's script.
func TestUntrustedTfguardCannotPickTerraform(t *testing.T) {
	l := newLab(t)
	l.env["TFGUARD_TERRAFORM"] = ""
	if err := os.MkdirAll(filepath.Join(l.dir, "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.write(filepath.Join(l.dir, ".tfguard"), "terraform = \"./tools/terraform\"\n", 0o644)
	l.write(filepath.Join(l.dir, "tools", "terraform"), "#!/bin/sh\necho \"repo script ran with $* and GITHUB_TOKEN=$GITHUB_TOKEN\"\n", 0o755)
	_, out := l.run([]string{"GITHUB_TOKEN=ghs_jobsecret"}, "fmt", "-check")
	if strings.Contains(out, "repo script ran") {
		t.Fatalf("`terraform fmt -check` ran the repository's ./tools/terraform: %q", out)
	}
}

var _ = context.Background

// Ctrl-C while tf waits for the preflight's device-code approval ends tf at
// once with 130, before terraform starts. (A control of the review.)
func TestCtrlCStopsPreflightDeviceLogin(t *testing.T) {
	f := fakeaws.Start(t, fakeaws.NewLedger(nil), fakeaws.Options{})
	l := newLab(t)
	cmd, _ := l.command([]string{"AWS_PROFILE=legacy", "AWS_ENDPOINT_URL_SSO_OIDC=" + f.OIDCURL}, "apply", "-auto-approve")
	cmd.Stdout, cmd.Stderr = nil, nil
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	text := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(text(), "waiting for approval"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no device login:\n%s", text())
		}
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_, _ = ptmx.Write([]byte{3})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("Ctrl-C during the device login did not end tf:\n%s", text())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || l.terraformEnv() != "" {
		t.Fatalf("exit %d, terraform ran: %v\n%s", code, l.terraformEnv() != "", text())
	}
}

// After terraform has run tf ignores signals while it finishes its work,
// but a login recovery's renewal waits on (a device code) stops at Ctrl-C:
// the session ended mid-apply, recovery asks for a login, the person
// presses Ctrl-C and tf ends at once. (Review defect 8.)
func TestCtrlCStopsRecoveryLogin(t *testing.T) {
	c := cgStart(t, rig.LockDynamoDB, 8*time.Second)
	c.ssoLogin(false, time.Hour, time.Hour, time.Hour)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")
	c.env["TF_VAR_run"] = "2"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := startInPTY(t, ctx, c.ws.Dir, c.environ(), "apply", "-auto-approve", "-input=false", "-no-color")
	// Once terraform is in its 8s resource (its credentials fetched), the
	// session ends and every credential dies: recovery has to log in.
	p.waitFor("the long resource", func(s string) bool { return strings.Contains(s, "terraform_data.long: Creating...") })
	if err := c.r.Identity.EndSession(rig.SSOSessionName); err != nil {
		t.Fatal(err)
	}
	c.r.Ledger.KillAll()
	p.waitFor("recovery's device login", func(s string) bool { return strings.Contains(s, "waiting for approval") })
	_, _ = p.ptmx.Write([]byte{3}) // Ctrl-C
	done := make(chan struct{})
	go func() { p.wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(5 * time.Second):
	}
	for _, code := range c.r.Identity.PendingUserCodes() { // let it finish
		_ = c.r.Identity.ApproveDevice(code)
	}
	<-done
	c.capture(p.text())
	t.Fatalf("Ctrl-C at recovery's device-code prompt was ignored for 5s (tf only ended once the code was approved):\n%s", p.text())
}
