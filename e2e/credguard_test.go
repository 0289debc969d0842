package e2e

// Credential guard scenarios on the incident rig (issue 5), with real
// terraform, S3 and DynamoDB. Until the wrapper runs the guard, they drive
// credguard's API around plain terraform exactly where tf will: Preflight
// before the command, StartRefresher while it runs.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/e2e/fakeaws"
	"github.com/tfguard/tf/e2e/rig"
)

// cgRun is one scenario: a rig, a workspace and everything printed.
type cgRun struct {
	t   *testing.T
	r   *rig.Rig
	ws  *rig.Workspace
	env map[string]string
	mu  sync.Mutex
	out bytes.Buffer // every captured output, grepped for secrets at the end
}

func cgStart(t *testing.T, mode rig.LockMode, sleep time.Duration) *cgRun {
	t.Helper()
	ctx := context.Background()
	r, err := rig.Start(ctx, rig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("rig close: %v", err)
		}
	})
	ws, err := r.NewWorkspace(ctx, rig.WorkspaceOptions{Dir: t.TempDir(), Mode: mode, Sleep: sleep})
	if err != nil {
		t.Fatal(err)
	}
	c := &cgRun{t: t, r: r, ws: ws, env: map[string]string{}}
	for _, kv := range ws.Env() {
		k, v, _ := strings.Cut(kv, "=")
		c.env[k] = v
	}
	c.env["PATH"] = os.Getenv("PATH")
	t.Cleanup(c.assertNoSecrets)
	return c
}

func (c *cgRun) environ() []string {
	var out []string
	for k, v := range c.env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// capture records output for the secrets grep.
func (c *cgRun) capture(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.WriteString(s)
}

func (c *cgRun) Write(p []byte) (int, error) {
	c.capture(string(p))
	return len(p), nil
}

// terraform runs real terraform in the workspace and returns its exit code.
func (c *cgRun) terraform(args ...string) (int, string) {
	c.t.Helper()
	cmd := exec.Command("terraform", args...)
	cmd.Dir, cmd.Env = c.ws.Dir, c.environ()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	c.capture(buf.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, buf.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), buf.String()
	}
	c.t.Fatalf("terraform %v: %v", args, err)
	return -1, ""
}

func (c *cgRun) mustTerraform(args ...string) string {
	c.t.Helper()
	code, out := c.terraform(args...)
	if code != 0 {
		c.t.Fatalf("terraform %v: exit %d\n%s", args, code, out)
	}
	return out
}

func (c *cgRun) opts(command string) credguard.Options {
	return credguard.Options{
		Dir: c.ws.Dir, Env: c.environ(), Command: command, Out: c,
		StateDir: filepath.Join(c.ws.Home, ".cache", "tf"),
		LookPath: func(string) (string, error) { return "", exec.ErrNotFound },
	}
}

// ssoLogin is what a person's `aws sso login` leaves behind.
func (c *cgRun) ssoLogin(legacy bool, session, token, role time.Duration) {
	c.t.Helper()
	name, url, key, profile := rig.SSOSessionName, rig.SSOStartURL, rig.SSOSessionName, rig.ProfileSSO
	if legacy {
		name, url, key, profile = rig.LegacyStartURL, rig.LegacyStartURL, rig.LegacyStartURL, rig.ProfileLegacySSO
	}
	c.r.Identity.SetRoleCredentialLifetime(role)
	tok := c.r.Identity.NewSSOSession(name, url, session, token)
	if err := c.ws.SeedSSOLogin(key, tok); err != nil {
		c.t.Fatal(err)
	}
	c.env[rig.EnvProfile] = profile
}

func (c *cgRun) serial() uint64 {
	c.t.Helper()
	s, err := c.r.RemoteState(context.Background(), c.ws.Backend)
	if err != nil {
		c.t.Fatal(err)
	}
	return s.Serial
}

func (c *cgRun) lockHeld() bool {
	c.t.Helper()
	l, err := c.r.Locks(context.Background(), c.ws.Backend)
	if err != nil {
		c.t.Fatal(err)
	}
	return l.Held()
}

// assertNoSecrets greps everything captured for every secret handed out.
func (c *cgRun) assertNoSecrets() {
	c.mu.Lock()
	text := c.out.String()
	c.mu.Unlock()
	for _, s := range c.r.Identity.Secrets() {
		if len(s) >= 8 && strings.Contains(text, s) {
			c.t.Errorf("a secret (%d chars) appears in captured output", len(s))
		}
	}
}

// approveDevice plays the person at the browser.
func approveDevice(ctx context.Context, f *fakeaws.Fakes) {
	go func() {
		for ctx.Err() == nil {
			if codes := f.PendingUserCodes(); len(codes) > 0 {
				_ = f.ApproveDevice(codes[0])
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

// An sso-session whose access token expires mid-apply while the session
// lives: left alone, terraform's SDK refreshes it itself (after expiry,
// racing the backend and the provider on one rotating refresh token); with
// tf's refresher it never has to, and the fake sees CreateToken from tf
// only.
func TestCredguardRefresherRenewsSSOTokenBeforeTerraform(t *testing.T) {
	c := cgStart(t, rig.LockDynamoDB, 8*time.Second)
	c.ssoLogin(false, time.Hour, 4*time.Second, 2*time.Second)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")

	// Control: plain terraform through two token lifetimes.
	before := c.r.Identity.CallCounts()
	c.env["TF_VAR_run"] = "2"
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color")
	byTerraform := c.r.Identity.Calls(fakeaws.OpCreateTokenRefresh) - c.r.Identity.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF)
	if byTerraform == 0 {
		t.Fatalf("control: terraform did not refresh by itself (before %v, after %v)", before, c.r.Identity.CallCounts())
	}

	// With the guard.
	c.ssoLogin(false, time.Hour, 4*time.Second, 2*time.Second)
	o := c.opts("apply")
	o.Config = credguard.Config{RefreshAhead: 3 * time.Second, RefreshEvery: 300 * time.Millisecond}
	if _, err := credguard.Preflight(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	baseTF := c.r.Identity.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF)
	baseAll := c.r.Identity.Calls(fakeaws.OpCreateTokenRefresh)
	stop := credguard.StartRefresher(context.Background(), o, credguard.Report{})
	c.env["TF_VAR_run"] = "3"
	startSerial := c.serial()
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color")
	stop()
	tfRefreshes := c.r.Identity.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF) - baseTF
	otherRefreshes := c.r.Identity.Calls(fakeaws.OpCreateTokenRefresh) - baseAll - tfRefreshes
	if tfRefreshes < 2 || otherRefreshes != 0 {
		t.Fatalf("with the guard: tf refreshed %d times, terraform %d; %v", tfRefreshes, otherRefreshes, c.r.Identity.CallCounts())
	}
	if c.serial() <= startSerial || c.lockHeld() {
		t.Fatalf("apply did not finish cleanly: serial %d, lock held %v", c.serial(), c.lockHeld())
	}
	t.Logf("control: terraform refreshed %d times itself; guarded: tf %d, terraform 0", byTerraform, tfRefreshes)
}

// In CI, credentials that cannot last the run are refused before terraform
// starts, so no lock is ever taken: env credentials with
// AWS_CREDENTIAL_EXPIRATION too soon or past, an SSO session ending before
// the expected run length, a legacy SSO token ending mid-run.
func TestCredguardCIRefusesBeforeAnyLock(t *testing.T) {
	c := cgStart(t, rig.LockBoth, 0)
	ctx := context.Background()
	// Earlier applies here took 40s: the run needs 50s, the floor is 15m,
	// so set a small floor to make the recorded durations count.
	o := c.opts("apply")
	o.CI = true
	o.Config.MinLifetime = 10 * time.Second
	if err := credguard.RecordDuration(o, "apply", 40*time.Second); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		setup func()
		want  []string
	}{
		{"env credentials expire too soon", func() {
			for k, v := range rig.EnvCredentials(c.r.Ledger.Issue("env", 30*time.Second, false)) {
				c.env[k] = v
			}
		}, []string{"env keys", "s left", "the run needs 50s", "cannot be refreshed during the run"}},
		{"env credentials already expired", func() {
			for k, v := range rig.EnvCredentials(c.r.Ledger.Issue("env", -time.Minute, false)) {
				c.env[k] = v
			}
		}, []string{"env keys", "have expired"}},
		{"sso session ends too soon", func() {
			c.ssoLogin(false, 20*time.Second, time.Hour, time.Hour)
			// the person logged in through tf 8h - 20s ago
			if err := credguard.RecordLogin(o, rig.SSOSessionName, time.Now().Add(-8*time.Hour+20*time.Second)); err != nil {
				t.Fatal(err)
			}
		}, []string{"profile sso", "the SSO session ends at", "aws sso login --sso-session rig"}},
		{"legacy token ends mid-run", func() {
			c.ssoLogin(true, time.Hour, 20*time.Second, time.Hour)
		}, []string{"profile legacy-sso", "legacy SSO tokens cannot be refreshed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{rig.EnvAccessKeyID, rig.EnvSecretAccessKey, rig.EnvSessionToken, rig.EnvCredentialExpiration, rig.EnvProfile} {
				delete(c.env, k)
			}
			tc.setup()
			o.Env = c.environ()
			_, err := credguard.Preflight(ctx, o)
			var se *credguard.ShortError
			if !errors.As(err, &se) || se.ExitCode() != 75 {
				t.Fatalf("want a ShortError (exit 75), got %v", err)
			}
			c.capture(err.Error())
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q: %s", w, err)
				}
			}
			if c.lockHeld() || c.r.DynamoDBProxy.Count("PutItem") != 0 || c.r.S3Proxy.Count("PutObject") != 0 {
				t.Fatalf("a lock was taken: %s%s", c.r.S3Proxy.Summary(), c.r.DynamoDBProxy.Summary())
			}
		})
	}
}

// A legacy SSO token that ends mid-apply: plain terraform loses (the
// state write is refused); at a terminal tf logs in first (device
// authorization against the fake Identity Center) and the apply wins.
func TestCredguardLegacyTokenLoginAtTerminal(t *testing.T) {
	c := cgStart(t, rig.LockDynamoDB, 8*time.Second)
	c.ssoLogin(true, time.Hour, time.Hour, 2*time.Second)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")

	// Plain terraform: the token has 5s, the apply takes 8s.
	c.ssoLogin(true, time.Hour, 5*time.Second, 2*time.Second)
	c.env["TF_VAR_run"] = "2"
	code, out := c.terraform("apply", "-auto-approve", "-input=false", "-no-color")
	if code != 1 || !strings.Contains(out, "Error: Failed to save state") || !c.lockHeld() {
		t.Fatalf("plain terraform should lose: exit %d, lock held %v\n%s", code, c.lockHeld(), out)
	}
	// Heal it the seed's way, so the guarded run starts clean.
	l, _ := c.r.Locks(context.Background(), c.ws.Backend)
	c.ssoLogin(true, time.Hour, time.Hour, time.Hour)
	c.mustTerraform("force-unlock", "-force", l.ID())
	c.mustTerraform("state", "push", "errored.tfstate")
	if err := os.Remove(filepath.Join(c.ws.Dir, "errored.tfstate")); err != nil {
		t.Fatal(err)
	}

	// Guarded, at a terminal: the token has 5s, the run needs 15m.
	c.ssoLogin(true, time.Hour, 5*time.Second, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := c.opts("apply")
	o.Interactive = true
	approveDevice(ctx, c.r.Identity)
	r, err := credguard.Preflight(ctx, o)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if r.Entries[0].Verdict != credguard.VerdictLoggedIn {
		t.Fatalf("verdict %s: %s", r.Entries[0].Verdict, r.Entries[0].Detail)
	}
	if c.r.Identity.CallsBy(fakeaws.OpCreateTokenDevice, fakeaws.CallerTF) == 0 {
		t.Fatalf("no device login by tf: %v", c.r.Identity.CallCounts())
	}
	c.env["TF_VAR_run"] = "3"
	serial := c.serial()
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color")
	if c.serial() <= serial || c.lockHeld() {
		t.Fatalf("guarded apply did not finish cleanly")
	}
}

// Preflight with a warm cache and nothing to refresh makes no network call
// (counted at the proxies and the identity fakes). Run with -bench.
func BenchmarkCredguardPreflightWarm(b *testing.B) {
	r, err := rig.Start(context.Background(), rig.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ws, err := r.NewWorkspace(context.Background(), rig.WorkspaceOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	tok := r.Identity.NewSSOSession(rig.SSOSessionName, rig.SSOStartURL, 8*time.Hour, time.Hour)
	if err := ws.SeedSSOLogin(rig.SSOSessionName, tok); err != nil {
		b.Fatal(err)
	}
	o := credguard.Options{Dir: ws.Dir, Env: append(ws.Env(), "AWS_PROFILE="+rig.ProfileSSO), Command: "apply", StateDir: b.TempDir()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := credguard.Preflight(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := r.Identity.Total() + len(r.S3Proxy.Requests()) + len(r.DynamoDBProxy.Requests()); n != 0 {
		b.Fatalf("warm preflight made %d network calls", n)
	}
}

// An sso-session that ends before the expected run length (scenario d shows
// plain terraform losing that way, the 401 path): at a terminal tf logs in
// again first (device authorization) and the apply runs after the old
// session is over.
func TestCredguardSessionEndingTooSoonLogsInAtTerminal(t *testing.T) {
	c := cgStart(t, rig.LockFile, 8*time.Second)
	c.ssoLogin(false, time.Hour, time.Hour, 2*time.Second)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")

	// The person logged in through tf; the session has 4s left. (The record
	// holds for the tokens that login left in the cache, so it comes after.)
	o := c.opts("apply")
	c.ssoLogin(false, 4*time.Second, time.Hour, 2*time.Second)
	if err := credguard.RecordLogin(o, rig.SSOSessionName, time.Now().Add(-8*time.Hour+4*time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o.Env, o.Interactive = c.environ(), true
	approveDevice(ctx, c.r.Identity)
	r, err := credguard.Preflight(ctx, o)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if r.Entries[0].Verdict != credguard.VerdictLoggedIn || time.Until(r.Entries[0].SessionEnds) < 7*time.Hour {
		t.Fatalf("after login: %s, session ends %v", r.Entries[0].Verdict, r.Entries[0].SessionEnds)
	}
	time.Sleep(4 * time.Second) // the old session is over now
	c.env["TF_VAR_run"] = "2"
	serial := c.serial()
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color")
	if c.serial() <= serial || c.lockHeld() {
		t.Fatalf("apply after login did not finish cleanly")
	}
	if c.r.Identity.CallsBy(fakeaws.OpCreateTokenDevice, fakeaws.CallerTF) == 0 {
		t.Fatalf("no device login by tf: %v", c.r.Identity.CallCounts())
	}
}

// GitHub Actions OIDC (opt-in): role credentials live 3s, the apply takes
// 8s. Served through tf's loopback container-credentials endpoint, which
// exchanges a fresh GitHub ID token with STS whenever they near their end,
// terraform finishes the apply and releases the lock.
func TestCredguardGitHubOIDCOutlivesRoleCredentials(t *testing.T) {
	c := cgStart(t, rig.LockBoth, 8*time.Second)
	var idTokens atomic.Int32
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer gh-request-token" || r.URL.Query().Get("audience") != "sts.amazonaws.com" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		idTokens.Add(1)
		fmt.Fprint(w, `{"count":1,"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOngifQ.c2ln"}`)
	}))
	defer gh.Close()
	c.r.Identity.SetRoleCredentialLifetime(3 * time.Second)
	c.env[credguard.EnvActionsIDTokenURL] = gh.URL + "/token?api-version=2.0"
	c.env[credguard.EnvActionsIDTokenToken] = "gh-request-token"
	s, err := credguard.StartGitHubOIDC(context.Background(), c.opts("apply"), "arn:aws:iam::111122223333:role/CI")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := map[string]string{}
	for _, kv := range s.Env(c.environ()) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c.env = env
	c.mustTerraform("init", "-input=false", "-no-color")
	before, start := s.Exchanges(), time.Now()
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color")
	if took := time.Since(start); took < 6*time.Second || s.Exchanges()-before < 1 || c.serial() == 0 || c.lockHeld() {
		t.Fatalf("apply took %v, exchanges during it %d, serial %d, lock held %v", took, s.Exchanges()-before, c.serial(), c.lockHeld())
	}
	if c.r.Identity.CallsBy(fakeaws.OpAssumeRoleWithWebIdentity, fakeaws.CallerTF) != s.Exchanges() || int(idTokens.Load()) != s.Exchanges() {
		t.Fatalf("calls %v, id tokens %d", c.r.Identity.CallCounts(), idTokens.Load())
	}

	// Control: what aws-actions/configure-aws-credentials does, one exchange
	// exported as env keys, dies mid-apply.
	for k := range env {
		if strings.HasPrefix(k, "AWS_CONTAINER_") {
			delete(c.env, k)
		}
	}
	for k, v := range rig.EnvCredentials(c.r.Ledger.Issue("gha-env", 3*time.Second, false)) {
		if k != rig.EnvCredentialExpiration {
			c.env[k] = v
		}
	}
	c.env["TF_VAR_run"] = "2"
	code, out := c.terraform("apply", "-auto-approve", "-input=false", "-no-color")
	if code != 1 || !strings.Contains(out, "Error: Failed to save state") {
		t.Fatalf("control: plain env credentials should lose: exit %d\n%s", code, out)
	}
}
