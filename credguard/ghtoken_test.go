package credguard

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// githubJWT is an ID token shaped like GitHub Actions' (unsigned).
func githubJWT(aud string, iat, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"repo:octo/infra:ref:refs/heads/main","iat":%d,"exp":%d}`, GitHubIssuer, aud, iat.Unix(), exp.Unix()))) + ".c2lnbmF0dXJl"
}

// ghTokens answers like GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: a fresh
// token for the audience asked, living life; it keeps what it issued.
type ghTokens struct {
	srv    *httptest.Server
	req    string // the job's request token
	served atomic.Int32
	mu     sync.Mutex
	issued []string
	auds   []string
}

func startGHTokens(t *testing.T, life time.Duration) *ghTokens {
	return startGHTokensFor(t, life, "gh-request-token")
}

// startGHTokensFor: the same, for a job whose request token is req.
func startGHTokensFor(t *testing.T, life time.Duration, req string) *ghTokens {
	g := &ghTokens{req: req}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aud := r.URL.Query().Get("audience")
		if r.Header.Get("Authorization") != "bearer "+g.req || r.URL.Query().Get("api-version") == "" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if aud == "" {
			aud = "https://github.com/octo"
		}
		now := time.Now()
		tok := githubJWT(aud, now, now.Add(life))
		g.served.Add(1)
		g.mu.Lock()
		g.issued, g.auds = append(g.issued, tok), append(g.auds, aud)
		g.mu.Unlock()
		fmt.Fprintf(w, `{"count":1,"value":%q}`, tok)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *ghTokens) env() []string {
	return []string{EnvActionsIDTokenURL + "=" + g.srv.URL + "/token?api-version=2.0", EnvActionsIDTokenToken + "=" + g.req, "GITHUB_ACTIONS=true"}
}

// withProcessEnv makes env the process environment terraform's SDK would
// see (the AWS variables of the test process cleared first).
func withProcessEnv(t *testing.T, env []string) {
	t.Helper()
	for _, k := range []string{EnvAccessKeyID, EnvSecretAccessKey, EnvSessionToken, EnvProfile, EnvDefaultProfile, EnvWebIdentityTokenFile, EnvRoleARN,
		EnvConfigFile, EnvCredentialsFile, EnvContainerFullURI, EnvContainerRelativeURI, "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// sdkKeepsWorking retrieves credentials as terraform's SDK would, from env,
// every 200ms for d; it returns the first failure.
func sdkKeepsWorking(t *testing.T, ledger *fakeaws.Ledger, env []string, d time.Duration) (int, error) {
	t.Helper()
	withProcessEnv(t, env)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return 0, err
	}
	keys := map[string]bool{}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return len(keys), err
		}
		if err := ledger.Check(c.AccessKeyID); err != nil {
			return len(keys), fmt.Errorf("the SDK holds dead credentials: %w", err)
		}
		keys[c.AccessKeyID] = true
	}
	return len(keys), nil
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A GitHub ID token in AWS_WEB_IDENTITY_TOKEN_FILE lives 3s here, the role
// credentials 1s. Read from the user's file, the SDK cannot assume the role
// again once the token has expired (ExpiredTokenException); from tf's copy
// it keeps working, with tokens of the same audience, and the user's file is
// never written.
func TestGitHubTokenFileRenewedByTF(t *testing.T) {
	ledger := fakeaws.NewLedger(nil)
	f := fakeaws.Start(t, ledger, fakeaws.Options{RoleCredentialLifetime: time.Second})
	gh := startGHTokens(t, 3*time.Second)
	dir := t.TempDir()
	userFile := filepath.Join(dir, "gh-token")
	now := time.Now()
	original := githubJWT("sts.amazonaws.com", now, now.Add(3*time.Second))
	writeFile(t, userFile, original)
	base := append(append(f.Env(), gh.env()...), EnvWebIdentityTokenFile+"="+userFile, EnvRoleARN+"=arn:aws:iam::123456789012:role/Deploy",
		EnvConfigFile+"="+filepath.Join(dir, "none"), EnvCredentialsFile+"="+filepath.Join(dir, "none"), "HOME="+dir)

	// Without tf: the SDK fails once the token has expired.
	if _, err := sdkKeepsWorking(t, ledger, base, 6*time.Second); err == nil || !strings.Contains(err.Error(), "ExpiredTokenException") {
		t.Fatalf("plain SDK with the user's file: want ExpiredTokenException, got %v", err)
	}

	writeFile(t, userFile, githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(3*time.Second)))
	before, _ := os.ReadFile(userFile)
	var out bytes.Buffer
	r, err := StartTokenRenewal(context.Background(), Options{Env: base, Dir: dir, Out: &out})
	if err != nil || r == nil {
		t.Fatalf("StartTokenRenewal: %v, %v", r, err)
	}
	defer r.Close()
	env := r.Env(base)
	copyPath := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, EnvWebIdentityTokenFile+"="); ok {
			copyPath = v
		}
	}
	if copyPath == "" || copyPath == userFile || !strings.Contains(strings.Join(env, "\n"), EnvRoleARN+"=arn:aws:iam::123456789012:role/Deploy") {
		t.Fatalf("env: %q", env)
	}
	keys, err := sdkKeepsWorking(t, ledger, env, 7*time.Second)
	if err != nil {
		t.Fatalf("with tf's copy: %v (output %q)", err, out.String())
	}
	if keys < 3 || r.Fetches() < 3 {
		t.Fatalf("role credentials %d, ID tokens fetched %d: the copy was not renewed", keys, r.Fetches())
	}
	after, _ := os.ReadFile(userFile)
	if !bytes.Equal(before, after) {
		t.Fatal("the user's token file was written")
	}
	gh.mu.Lock()
	for _, a := range gh.auds {
		if a != "sts.amazonaws.com" {
			t.Errorf("ID token asked for audience %q, the user's token has sts.amazonaws.com", a)
		}
	}
	gh.mu.Unlock()
	if out.Len() != 0 {
		t.Errorf("renewals that worked printed %q", out.String())
	}
	r.Close()
	if _, err := os.Stat(copyPath); !os.IsNotExist(err) {
		t.Fatalf("tf's copy left behind: %v", err)
	}
}

// A profile chain whose source is a GitHub token file: tf's copy of the
// config file points the source profile at tf's copy of the token; the
// chain keeps working past the token's expiry; the user's config file is
// not written; the preflight says the chain is renewed by tf and stop in
// time sees no end.
func TestGitHubTokenRoleChainRenewedByTF(t *testing.T) {
	ledger := fakeaws.NewLedger(nil)
	f := fakeaws.Start(t, ledger, fakeaws.Options{RoleCredentialLifetime: time.Second})
	gh := startGHTokens(t, 3*time.Second)
	home, dir := t.TempDir(), t.TempDir()
	userFile := filepath.Join(home, "gh-token")
	writeFile(t, userFile, githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(3*time.Second)))
	writeFile(t, filepath.Join(dir, "main.tf"), "provider \"aws\" {\n  region = \"us-east-1\"\n}\n")
	cfgFile := filepath.Join(home, "config")
	cfgText := "[profile gh]\nrole_arn = arn:aws:iam::123456789012:role/GitHub\nweb_identity_token_file = " + userFile + "\n\n[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/Deploy\nsource_profile = gh\n"
	writeFile(t, cfgFile, cfgText)
	base := append(append(f.Env(), gh.env()...), "HOME="+home, EnvConfigFile+"="+cfgFile, EnvCredentialsFile+"="+filepath.Join(home, "none"), EnvProfile+"=deploy", "CI=true")
	r, err := StartTokenRenewal(context.Background(), Options{Env: base, Dir: dir})
	if err != nil || r == nil {
		t.Fatalf("StartTokenRenewal: %v, %v", r, err)
	}
	defer r.Close()
	env := r.Env(base)
	if b, _ := os.ReadFile(cfgFile); string(b) != cfgText {
		t.Fatalf("the user's config file was written: %q", b)
	}
	if d := r.Describe(); len(d) != 1 || !strings.Contains(d[0], userFile+" was issued by GitHub Actions") ||
		!strings.Contains(d[0], "where terraform finds this file through profile gh of AWS_CONFIG_FILE, it now finds tf's copy") ||
		!strings.Contains(d[0], "audience sts.amazonaws.com") || !strings.Contains(d[0], "as long as the job can request ID tokens") {
		t.Fatalf("Describe: %q", d)
	}

	o := Options{Env: env, Dir: dir, Command: "apply", CI: true, StateDir: filepath.Join(home, "state"), Config: Config{MinLifetime: 3 * time.Hour},
		RenewedTokens: r.Copies()}
	rep, err := Preflight(context.Background(), o)
	if err != nil {
		t.Fatalf("preflight refused: %v", err)
	}
	if len(rep.Entries) != 1 || rep.Entries[0].Kind != KindAssumeRole || rep.Entries[0].Verdict != VerdictOK ||
		!strings.Contains(rep.Entries[0].Detail, "renewed by tf as long as the job can request ID tokens (tf cannot tell until when): the token in "+userFile) || len(rep.Warnings()) != 0 {
		t.Fatalf("report: %+v, warnings %q", rep.Entries, rep.Warnings())
	}
	if end, who, ok := rep.RenewalEnd(); ok {
		t.Fatalf("stop in time would interrupt at %s (%s)", end, who)
	}
	var check bytes.Buffer
	if code := Check(context.Background(), o, &check, false); code != 0 || !strings.Contains(check.String(), "renewed by tf") {
		t.Fatalf("check %d:\n%s", code, check.String())
	}
	for _, tok := range gh.issued {
		if strings.Contains(check.String(), tok) || strings.Contains(check.String(), strings.Split(tok, ".")[1]) {
			t.Fatal("check shows an ID token")
		}
	}

	if _, err := sdkKeepsWorking(t, ledger, append(env, EnvProfile+"=deploy"), 6*time.Second); err != nil {
		t.Fatalf("the chain through tf's copy: %v", err)
	}
}

// A job that cannot request ID tokens: nothing is renewed, the verdict is
// as before (a warning when the run outlasts token and role session) and
// says what would fix it; stop in time sees no end, as before.
func TestGitHubTokenWithoutIDTokenPermission(t *testing.T) {
	dir := t.TempDir()
	userFile := filepath.Join(dir, "gh-token")
	writeFile(t, userFile, githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(5*time.Minute)))
	base := []string{"HOME=" + dir, EnvWebIdentityTokenFile + "=" + userFile, EnvRoleARN + "=arn:aws:iam::123456789012:role/Deploy",
		EnvConfigFile + "=" + filepath.Join(dir, "none"), "GITHUB_ACTIONS=true", "CI=true"}
	r, err := StartTokenRenewal(context.Background(), Options{Env: base, Dir: dir})
	if r != nil || err != nil {
		t.Fatalf("renewal without id-token permission: %v, %v", r, err)
	}
	o := Options{Env: base, Dir: dir, Command: "apply", CI: true, StateDir: filepath.Join(dir, "state"), Config: Config{MinLifetime: 3 * time.Hour}}
	rep, err := Preflight(context.Background(), o)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	e := rep.Entries[0]
	if e.Verdict != VerdictWarn || !strings.Contains(e.Detail, "issued by GitHub Actions") || !strings.Contains(e.Detail, "permissions: id-token: write") ||
		!strings.Contains(e.Detail, "tf then keeps a fresh copy of the token for terraform as long as the job can request ID tokens") || strings.Contains(e.Detail, "whole run") {
		t.Fatalf("entry: %+v", e)
	}
	if _, _, ok := rep.RenewalEnd(); ok {
		t.Fatal("stop in time has an end for a web identity token file")
	}
}

// A role chained on a web identity token that nobody renews does not end
// at the token's exp: the source's role credentials last their session
// past it. Stop in time used to interrupt such a run at the token's
// expiry (5 minutes after a GitHub token was issued).
func TestRoleOnWebIdentityHasNoEndAtTheTokenExpiry(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	writeFile(t, tok, jwt(time.Now().Add(5*time.Minute)))
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "[profile wi]\nrole_arn = arn:aws:iam::1:role/WI\nweb_identity_token_file = "+tok+"\n\n[profile deploy]\nrole_arn = arn:aws:iam::1:role/Deploy\nsource_profile = wi\n")
	o := Options{Env: []string{"HOME=" + dir, EnvConfigFile + "=" + cfg, EnvProfile + "=deploy"}, Dir: dir, Command: "apply", StateDir: filepath.Join(dir, "state")}
	rep, err := Preflight(context.Background(), o)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if end, who, ok := rep.RenewalEnd(); ok {
		t.Fatalf("renewal end %s (%s): the token's exp taken as the chain's end", end.Format(time.RFC3339), who)
	}
}

// Tokens that are not GitHub's, and a job whose token request fails, are
// left as they are: nothing renewed, and the failure says why without a
// token in it.
func TestTokenRenewalLeavesOtherTokensAlone(t *testing.T) {
	dir := t.TempDir()
	gh := startGHTokens(t, time.Minute)
	other := filepath.Join(dir, "eks-token")
	writeFile(t, other, jwt(time.Now().Add(time.Hour))) // no GitHub issuer
	env := append(gh.env(), "HOME="+dir, EnvWebIdentityTokenFile+"="+other, EnvConfigFile+"="+filepath.Join(dir, "none"))
	if r, err := StartTokenRenewal(context.Background(), Options{Env: env, Dir: dir}); r != nil || err != nil {
		t.Fatalf("renewed a token that GitHub did not issue: %v, %v", r, err)
	}
	ghFile := filepath.Join(dir, "gh-token")
	userTok := githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(time.Minute))
	writeFile(t, ghFile, userTok)
	env = append(env, EnvWebIdentityTokenFile+"="+ghFile, EnvActionsIDTokenToken+"=wrong-request-token")
	r, err := StartTokenRenewal(context.Background(), Options{Env: env, Dir: dir})
	if r != nil || err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "terraform reads the file as it is") ||
		strings.Contains(err.Error(), "wrong-request-token") || strings.Contains(err.Error(), userTok) {
		t.Fatalf("got %v, %v", r, err)
	}
}

// A GitHub token file that terraform reads through the configuration
// (assume_role_with_web_identity) is read as it is, even while tf renews a
// copy of it for the environment: the verdict is as before, and its fix
// says to name the file where tf can point terraform at its copy.
func TestGitHubTokenNamedInTheConfigurationIsNotRenewed(t *testing.T) {
	dir := t.TempDir()
	gh := startGHTokens(t, 5*time.Minute)
	userFile := filepath.Join(dir, "gh-token")
	writeFile(t, userFile, githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(5*time.Minute)))
	writeFile(t, filepath.Join(dir, "main.tf"), "provider \"aws\" {\n  assume_role_with_web_identity {\n    role_arn                = \"arn:aws:iam::1:role/deploy\"\n    web_identity_token_file = \"gh-token\"\n  }\n}\n")
	base := append(gh.env(), "HOME="+dir, EnvWebIdentityTokenFile+"="+userFile, EnvRoleARN+"=arn:aws:iam::1:role/deploy", EnvConfigFile+"="+filepath.Join(dir, "none"), "CI=true")
	r, err := StartTokenRenewal(context.Background(), Options{Env: base, Dir: dir})
	if err != nil || r == nil {
		t.Fatalf("StartTokenRenewal: %v, %v", r, err)
	}
	defer r.Close()
	o := Options{Env: r.Env(base), Dir: dir, Command: "apply", CI: true, StateDir: filepath.Join(dir, "state"),
		Config: Config{MinLifetime: 3 * time.Hour}, RenewedTokens: r.Copies()}
	rep, err := Preflight(context.Background(), o)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if len(rep.Entries) != 1 {
		t.Fatalf("entries: %+v", rep.Entries)
	}
	e := rep.Entries[0]
	if e.Verdict != VerdictWarn || e.RenewedFrom != "" || !strings.Contains(e.Detail, "named in the configuration") || !strings.Contains(e.Detail, "fix: name it through "+EnvWebIdentityTokenFile) {
		t.Fatalf("entry: %+v", e)
	}
}

// The runner's clock is 250 s ahead of GitHub's: each token tf gets (5
// minutes of life) looks, on the local clock, as if it had only 50 s left,
// less than the third of its life before its end at which it is renewed.
// Renewals are timed from the fetch on the local clock, so tf does not ask
// GitHub again at once; it used to ask in a loop (632 requests in 2 s).
func TestTokenRenewalWithClockAheadDoesNotHammerGitHub(t *testing.T) {
	dir := t.TempDir()
	gh := startGHTokens(t, 5*time.Minute)
	userFile := filepath.Join(dir, "gh-token")
	writeFile(t, userFile, githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(5*time.Minute)))
	env := append(gh.env(), "HOME="+dir, EnvWebIdentityTokenFile+"="+userFile, EnvRoleARN+"=arn:aws:iam::1:role/deploy", EnvConfigFile+"="+filepath.Join(dir, "none"))
	ahead := func() time.Time { return time.Now().Add(250 * time.Second) }
	r, err := StartTokenRenewal(context.Background(), Options{Env: env, Dir: dir, Now: ahead})
	if err != nil || r == nil {
		t.Fatalf("StartTokenRenewal: %v, %v", r, err)
	}
	defer r.Close()
	time.Sleep(2 * time.Second)
	if n := gh.served.Load(); n != 1 || r.Fetches() != 1 {
		t.Fatalf("GitHub was asked for %d ID tokens in 2 s (renewer counted %d): want the first one only", n, r.Fetches())
	}
}

// due: a third of the token's life before its end, counted from the
// fetch on the local clock whatever the claims say of that clock; never
// sooner than minRenewGap after the fetch; the next try after a failure.
func TestTokenCopyDue(t *testing.T) {
	fetched := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	claims := func(iat, exp time.Time) tokenClaims { return tokenClaims{Iat: iat, Exp: exp} }
	ghNow := fetched.Add(-250 * time.Second) // GitHub's clock, behind the local one
	for _, tc := range []struct {
		name  string
		c     tokenClaims
		retry time.Time
		want  time.Time
	}{
		{"clocks agree", claims(fetched, fetched.Add(5*time.Minute)), time.Time{}, fetched.Add(200 * time.Second)},
		{"local clock 250s ahead", claims(ghNow, ghNow.Add(5*time.Minute)), time.Time{}, fetched.Add(200 * time.Second)},
		{"local clock 250s behind", claims(fetched.Add(250*time.Second), fetched.Add(550*time.Second)), time.Time{}, fetched.Add(200 * time.Second)},
		{"no iat", tokenClaims{Exp: fetched.Add(3 * time.Minute)}, time.Time{}, fetched.Add(2 * time.Minute)},
		{"no life", claims(fetched, fetched), time.Time{}, fetched.Add(minRenewGap)},
		{"exp before iat", claims(fetched, fetched.Add(-time.Minute)), time.Time{}, fetched.Add(minRenewGap)},
		{"a failure's next try", claims(fetched, fetched.Add(5*time.Minute)), fetched.Add(3 * time.Second), fetched.Add(3 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &tokenCopy{exp: tc.c.Exp, fetched: fetched, life: tokenLife(tc.c, fetched), nextTry: tc.retry}
			if got := c.due(); !got.Equal(tc.want) {
				t.Fatalf("due %s, want %s", got.Format(time.RFC3339), tc.want.Format(time.RFC3339))
			}
		})
	}
}

// GitHub answers ID token requests only while the job's request token is
// valid. When that token is a JWT with exp, tf says it renews the file
// until then, the verdict has that end (a warning when the run needs
// longer), and stop in time gets it as the renewal end; the request token
// is never shown. Nowhere does tf say "for the whole run".
func TestGitHubTokenRenewalEndsWithTheRequestToken(t *testing.T) {
	dir := t.TempDir()
	reqEnd := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	req := jwt(reqEnd)
	gh := startGHTokensFor(t, 5*time.Minute, req)
	userFile := filepath.Join(dir, "gh-token")
	writeFile(t, userFile, githubJWT("sts.amazonaws.com", time.Now(), time.Now().Add(5*time.Minute)))
	base := append(gh.env(), "HOME="+dir, EnvWebIdentityTokenFile+"="+userFile, EnvRoleARN+"=arn:aws:iam::1:role/deploy",
		EnvConfigFile+"="+filepath.Join(dir, "none"), "CI=true")
	r, err := StartTokenRenewal(context.Background(), Options{Env: base, Dir: dir})
	if err != nil || r == nil {
		t.Fatalf("StartTokenRenewal: %v, %v", r, err)
	}
	defer r.Close()
	at := reqEnd.UTC().Format("15:04:05 UTC")
	secret := strings.Split(req, ".")[1]
	d := strings.Join(r.Describe(), "\n")
	if !strings.Contains(d, "where terraform finds this file through "+EnvWebIdentityTokenFile+", it now finds tf's copy") ||
		!strings.Contains(d, "until "+at) || !strings.Contains(d, "when this job's ID token request token expires") ||
		strings.Contains(d, "whole run") || strings.Contains(d, secret) {
		t.Fatalf("Describe: %q", d)
	}
	for _, tc := range []struct {
		need    time.Duration
		verdict Verdict
	}{{time.Hour, VerdictOK}, {3 * time.Hour, VerdictWarn}} {
		o := Options{Env: r.Env(base), Dir: dir, Command: "apply", CI: true, StateDir: filepath.Join(dir, "state"),
			Config: Config{MinLifetime: tc.need}, RenewedTokens: r.Copies()}
		rep, err := Preflight(context.Background(), o)
		if err != nil {
			t.Fatalf("need %s: preflight refused: %v", tc.need, err)
		}
		if len(rep.Entries) != 1 {
			t.Fatalf("entries: %+v", rep.Entries)
		}
		e := rep.Entries[0]
		if e.Verdict != tc.verdict || !e.LastsKnown || !strings.HasPrefix(e.Detail, "renewed by tf until "+at) ||
			!strings.Contains(e.Detail, "the token in "+userFile) || strings.Contains(e.Detail, "whole run") {
			t.Fatalf("need %s: entry %+v", tc.need, e)
		}
		if end, _, ok := rep.RenewalEnd(); !ok || !end.Equal(reqEnd) {
			t.Fatalf("need %s: stop in time's end %s %v, want %s", tc.need, end, ok, reqEnd)
		}
		var check bytes.Buffer
		Check(context.Background(), o, &check, false)
		if strings.Contains(check.String(), secret) || !strings.Contains(check.String(), reqEnd.UTC().Format("2006-01-02 15:04 UTC")) {
			t.Fatalf("check:\n%s", check.String())
		}
	}
}
