package credguard

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

const awsConfig = `[profile sso]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
region = us-east-1

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Admin
region = us-east-1

[profile deploy]
role_arn = arn:aws:iam::123456789012:role/Deploy
source_profile = sso

[profile static]
aws_access_key_id = AKIAEXAMPLESTATIC01
aws_secret_access_key = staticsecretvalue0000000000000000000000

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`

// testEnv is a home directory with an AWS config, a working directory and
// the identity fakes.
type testEnv struct {
	t      *testing.T
	f      *fakeaws.Fakes
	home   string
	dir    string
	out    *syncBuffer
	opts   Options
	tokens []string // secrets handed out, to grep outputs for
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, fo fakeaws.Options, extraEnv ...string) *testEnv {
	t.Helper()
	f := fakeaws.Start(t, fakeaws.NewLedger(nil), fo)
	home, dir := t.TempDir(), t.TempDir()
	cfg := filepath.Join(home, ".aws", "config")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(awsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, f: f, home: home, dir: dir, out: &syncBuffer{}}
	env := append([]string{"HOME=" + home, "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "nocreds")}, f.Env()...)
	e.opts = Options{
		Dir: dir, Env: append(env, extraEnv...), Command: "apply", Out: e.out, StateDir: filepath.Join(home, "tfstate"),
		LookPath: func(string) (string, error) { return "", os.ErrNotExist },
	}
	return e
}

// seed starts an Identity Center session and writes its cache.
func (e *testEnv) seed(sessionLife, tokenLife time.Duration) fakeaws.SeededToken {
	e.t.Helper()
	tok := e.f.NewSSOSession("corp", "https://corp.awsapps.com/start", sessionLife, tokenLife)
	if _, err := fakeaws.WriteSSOCache(e.home, "corp", tok, false); err != nil {
		e.t.Fatal(err)
	}
	e.tokens = append(e.tokens, tok.AccessToken, tok.RefreshToken, tok.ClientSecret)
	return tok
}

func (e *testEnv) seedLegacy(tokenLife time.Duration) fakeaws.SeededToken {
	e.t.Helper()
	tok := e.f.NewSSOSession("legacy", "https://legacy.awsapps.com/start", 8*time.Hour, tokenLife)
	if _, err := fakeaws.WriteSSOCache(e.home, "https://legacy.awsapps.com/start", tok, true); err != nil {
		e.t.Fatal(err)
	}
	e.tokens = append(e.tokens, tok.AccessToken)
	return tok
}

func (e *testEnv) writeTF(name, src string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) cacheFile() string { return fakeaws.SSOCachePath(e.home, "corp") }

// assertNoSecrets fails when any handed-out secret, or the current cache's,
// appears in text.
func (e *testEnv) assertNoSecrets(text string) {
	e.t.Helper()
	secrets := append([]string{}, e.tokens...)
	if tok, err := readCache(e.cacheFile()); err == nil {
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken, tok.ClientSecret)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			e.t.Fatalf("a secret appears in output:\n%s", text)
		}
	}
}
