package wrapper

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/credguard"
)

// githubIDTokens answers like ACTIONS_ID_TOKEN_REQUEST_URL with
// GitHub-shaped tokens for the audience asked.
func githubIDTokens(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer request-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"value":%q}`, githubToken(r.URL.Query().Get("audience"), time.Now().Add(5*time.Minute)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func githubToken(aud string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d}`, credguard.GitHubIssuer, aud, exp.Unix()))) + ".c2ln"
}

// In GitHub OIDC mode the endpoint takes AWS_WEB_IDENTITY_TOKEN_FILE out of
// terraform's environment, so tf neither renews that file nor says it
// does; without OIDC mode the variable points at tf's renewed copy, said in
// one line, and the copy is gone once the renewal is closed.
func TestTokenRenewalAndOIDCMode(t *testing.T) {
	srv := githubIDTokens(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "gh-token")
	if err := os.WriteFile(file, []byte(githubToken("sts.amazonaws.com", time.Now().Add(5*time.Minute))), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, credguard.EnvConfigFile + "=" + filepath.Join(dir, "none"),
		credguard.EnvWebIdentityTokenFile + "=" + file, credguard.EnvRoleARN + "=arn:aws:iam::1:role/Deploy",
		credguard.EnvActionsIDTokenURL + "=" + srv.URL + "/?api-version=2.0", credguard.EnvActionsIDTokenToken + "=request-token"}

	var said bytes.Buffer
	inv := &Invocation{Env: slices.Clone(env), WorkDir: dir, CI: true, Stderr: &said}
	inv.Config.GitHubOIDCRole = "arn:aws:iam::1:role/CI"
	g := &oidcEndpoint{}
	g.startTokenRenewal(context.Background(), inv)
	g.closeTokenRenewal()
	if g.tokens != nil || said.Len() != 0 || !slices.Equal(inv.Env, env) || inv.renewedTokens != nil {
		t.Fatalf("OIDC mode: renewer %v, said %q, env %q", g.tokens, said.String(), inv.Env)
	}

	said.Reset()
	inv = &Invocation{Env: slices.Clone(env), WorkDir: dir, CI: true, Stderr: &said}
	g = &oidcEndpoint{}
	g.startTokenRenewal(context.Background(), inv)
	copyPath := ""
	for _, kv := range inv.Env {
		if v, ok := strings.CutPrefix(kv, credguard.EnvWebIdentityTokenFile+"="); ok {
			copyPath = v
		}
	}
	if g.tokens == nil || copyPath == "" || copyPath == file || inv.renewedTokens[copyPath] != file ||
		strings.Count(said.String(), "\n") != 1 || !strings.HasPrefix(said.String(), "tf: the web identity token in "+file) {
		t.Fatalf("renewer %v, copy %q, copies %v, said %q", g.tokens, copyPath, inv.renewedTokens, said.String())
	}
	if o := credOptions(inv); o.RenewedTokens[copyPath] != file {
		t.Fatalf("credOptions does not pass tf's copies: %v", o.RenewedTokens)
	}
	g.closeTokenRenewal()
	if _, err := os.Stat(copyPath); !os.IsNotExist(err) {
		t.Fatalf("tf's copy left after close: %v", err)
	}
}
