package credguard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// fakeGitHubIDTokens answers like GitHub's ACTIONS_ID_TOKEN_REQUEST_URL.
func fakeGitHubIDTokens(t *testing.T, requestToken string, served *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+requestToken || r.URL.Query().Get("audience") != "sts.amazonaws.com" || r.URL.Query().Get("api-version") == "" {
			http.Error(w, "bad request", http.StatusUnauthorized)
			return
		}
		served.Add(1)
		fmt.Fprintf(w, `{"count":1,"value":%q}`, jwt(time.Now().Add(5*time.Minute)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubOIDCServesRenewableCredentials(t *testing.T) {
	ctx := context.Background()
	ledger := fakeaws.NewLedger(nil)
	f := fakeaws.Start(t, ledger, fakeaws.Options{RoleCredentialLifetime: 3 * time.Second})
	var served atomic.Int32
	gh := fakeGitHubIDTokens(t, "gh-request-token-secret", &served)
	o := Options{Env: []string{
		EnvActionsIDTokenURL + "=" + gh.URL + "/token?api-version=2.0", EnvActionsIDTokenToken + "=gh-request-token-secret",
		EnvEndpointURLSTS + "=" + f.STSURL, EnvRegion + "=us-east-1", "GITHUB_RUN_ID=42",
		EnvAccessKeyID + "=AKIASTALE", EnvSecretAccessKey + "=stale", "PATH=/bin",
	}}
	s, err := StartGitHubOIDC(ctx, o, "arn:aws:iam::123456789012:role/CI")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := s.Env(o.Env)
	joined := strings.Join(env, "\n")
	if strings.Contains(joined, "AKIASTALE") || !strings.Contains(joined, EnvContainerFullURI+"=http://127.0.0.1:") || !strings.Contains(joined, "PATH=/bin") {
		t.Fatalf("env: %q", env)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv(EnvAccessKeyID, "")
	t.Setenv(EnvSecretAccessKey, "")
	// The SDK, as terraform's would, keeps getting working credentials over
	// several 3s lifetimes.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(7 * time.Second)
	keys := map[string]bool{}
	for time.Now().Before(deadline) {
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatalf("retrieve: %v", err)
		}
		if err := ledger.Check(c.AccessKeyID); err != nil {
			t.Fatalf("the SDK holds dead credentials: %v", err)
		}
		keys[c.AccessKeyID] = true
		time.Sleep(200 * time.Millisecond)
	}
	if len(keys) < 3 || s.Exchanges() < 3 || int(served.Load()) != s.Exchanges() ||
		f.CallsBy(fakeaws.OpAssumeRoleWithWebIdentity, fakeaws.CallerTF) != s.Exchanges() {
		t.Fatalf("keys %d, exchanges %d, id tokens %d, calls %v", len(keys), s.Exchanges(), served.Load(), f.CallCounts())
	}

	// A caller without the random token gets nothing.
	resp, err := http.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated request: %s", resp.Status)
	}
}

func TestGitHubOIDCNeedsTheJobPermission(t *testing.T) {
	_, err := StartGitHubOIDC(context.Background(), Options{Env: []string{"CI=true"}}, "arn:aws:iam::1:role/CI")
	if !errors.Is(err, ErrNoGitHubOIDC) || !strings.Contains(err.Error(), "id-token: write") {
		t.Fatalf("got %v", err)
	}
	var served atomic.Int32
	gh := fakeGitHubIDTokens(t, "right", &served)
	_, err = StartGitHubOIDC(context.Background(), Options{Env: []string{EnvActionsIDTokenURL + "=" + gh.URL + "/?api-version=2.0", EnvActionsIDTokenToken + "=wrong"}}, "arn:aws:iam::1:role/CI")
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("got %v", err)
	}
}

// While a renewal hangs (GitHub slow to answer), the endpoint keeps
// answering at once with the held credentials: no lock is held across the
// network call, and the renewal ends at its own deadline.
func TestGitHubOIDCRenewalNeverBlocksTheEndpoint(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.Start(t, fakeaws.NewLedger(nil), fakeaws.Options{RoleCredentialLifetime: 6 * time.Second})
	var hang atomic.Bool
	release := make(chan struct{})
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		fmt.Fprintf(w, `{"count":1,"value":%q}`, jwt(time.Now().Add(5*time.Minute)))
	}))
	defer gh.Close()
	defer close(release)
	o := Options{Env: []string{
		EnvActionsIDTokenURL + "=" + gh.URL + "/token?api-version=2.0", EnvActionsIDTokenToken + "=req-token",
		EnvEndpointURLSTS + "=" + f.STSURL, EnvRegion + "=us-east-1",
	}}
	s, err := StartGitHubOIDC(ctx, o, "arn:aws:iam::123456789012:role/CI")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held := s.creds
	hang.Store(true)
	time.Sleep(time.Until(held.Expires.Add(-1500 * time.Millisecond))) // in the renewal window
	for i := 0; i < 5; i++ {                                           // the first starts the renewal, which hangs
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := s.current(rctx)
		cancel()
		if err != nil || c.AccessKeyID != held.AccessKeyID {
			t.Fatalf("request %d during a hanging renewal: %q %v", i, c.AccessKeyID, err)
		}
	}
	if n := s.Exchanges(); n != 1 {
		t.Fatalf("exchanges = %d while the renewal hangs, want 1", n)
	}
}

func TestRenewBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		left time.Duration
		want time.Duration
	}{
		{1, time.Hour, time.Second},
		{2, time.Hour, 2 * time.Second},
		{4, time.Hour, 8 * time.Second},
		{10, time.Hour, maxRenewBackoff},
		{10, 20 * time.Second, 5 * time.Second},             // several tries before the held ones end
		{3, 200 * time.Millisecond, 100 * time.Millisecond}, // a floor, never a busy loop
	} {
		if got := renewBackoff(tc.n, tc.left); got != tc.want {
			t.Errorf("renewBackoff(%d, %s) = %s, want %s", tc.n, tc.left, got, tc.want)
		}
	}
}

// Only the default profile loses its credential settings; other profiles
// (named in configurations) and the default's region stay.
func TestWithoutDefaultCredentials(t *testing.T) {
	in := "[default]\nregion = eu-west-1\naws_access_key_id = AKIARUNNER\naws_secret_access_key = s\n" +
		"[profile default]\nsso_session = corp\ncredential_process = x\n  nested = 1\ns3 =\n  max_concurrent_requests = 4\n" +
		"[profile deploy]\nrole_arn = arn:aws:iam::1:role/D\nsource_profile = default\n" +
		"[ci]\naws_access_key_id = AKIAOTHER\n"
	got := string(withoutDefaultCredentials([]byte(in)))
	for _, gone := range []string{"AKIARUNNER", "sso_session", "credential_process", "nested = 1", "aws_secret_access_key = s"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q kept:\n%s", gone, got)
		}
	}
	for _, kept := range []string{"region = eu-west-1", "max_concurrent_requests = 4", "role_arn = arn:aws:iam::1:role/D", "source_profile = default", "AKIAOTHER"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q dropped:\n%s", kept, got)
		}
	}
}

// With tf's endpoint in terraform's environment, the preflight judges it
// (renewed by tf), not an "unknown" default chain, and not the job's
// exported keys that Env removed.
func TestPreflightJudgesTheGitHubOIDCEndpoint(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeaws.Options{}, EnvAccessKeyID+"=ASIAJOB", EnvSecretAccessKey+"=s", EnvSessionToken+"=t",
		EnvCredentialExpiration+"="+time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339))
	e.writeTF("main.tf", "resource \"aws_s3_bucket\" \"b\" {}\n")
	var served atomic.Int32
	gh := fakeGitHubIDTokens(t, "req-token", &served)
	o := e.opts
	o.Env = append(append([]string{}, o.Env...), EnvActionsIDTokenURL+"="+gh.URL+"/token?api-version=2.0", EnvActionsIDTokenToken+"=req-token", EnvRegion+"=us-east-1")
	s, err := StartGitHubOIDC(ctx, o, "arn:aws:iam::123456789012:role/CI")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o.Env, o.GitHubOIDCURL, o.CI = s.Env(o.Env), s.URL, true
	r, err := Preflight(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != 1 || r.Entries[0].Kind != KindGitHubOIDC || r.Entries[0].Verdict != VerdictOK ||
		r.Entries[0].Detail != "renewed by tf's GitHub OIDC endpoint as long as the job can request ID tokens (tf cannot tell until when)" {
		t.Fatalf("judged %+v", r.Entries)
	}
	if end, who, ok := r.RenewalEnd(); ok {
		t.Fatalf("an end (%s, %s) without one known", end, who)
	}
}

// A request token that is a JWT with exp bounds tf's endpoint too: the
// verdict names that end, and stop in time gets it.
func TestGitHubOIDCEndpointEndsWithTheRequestToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", "resource \"aws_s3_bucket\" \"b\" {}\n")
	reqEnd := time.Now().Add(90 * time.Minute).Truncate(time.Second)
	req := jwt(reqEnd)
	var served atomic.Int32
	gh := fakeGitHubIDTokens(t, req, &served)
	o := e.opts
	o.Env = append(append([]string{}, o.Env...), EnvActionsIDTokenURL+"="+gh.URL+"/token?api-version=2.0", EnvActionsIDTokenToken+"="+req, EnvRegion+"=us-east-1")
	s, err := StartGitHubOIDC(ctx, o, "arn:aws:iam::123456789012:role/CI")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o.Env, o.GitHubOIDCURL, o.CI = s.Env(o.Env), s.URL, true
	r, err := Preflight(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	want := "renewed by tf's GitHub OIDC endpoint until " + reqEnd.UTC().Format("15:04:05 UTC")
	if len(r.Entries) != 1 || r.Entries[0].Kind != KindGitHubOIDC || r.Entries[0].Verdict != VerdictOK || !strings.HasPrefix(r.Entries[0].Detail, want) {
		t.Fatalf("judged %+v", r.Entries)
	}
	if end, _, ok := r.RenewalEnd(); !ok || !end.Equal(reqEnd) {
		t.Fatalf("stop in time's end %s %v, want %s", end, ok, reqEnd)
	}
}
