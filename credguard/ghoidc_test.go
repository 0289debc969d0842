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
