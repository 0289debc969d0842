package credguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// F2: a provider's (or the backend's) assume_role_with_web_identity is
// judged by its token, never by the environment's chain, which the SDK
// replaces with the web identity provider: short exported keys beside a
// long token do not refuse the run, and no line names them.
func TestWebIdentityBlockJudgedByItsTokenNotTheEnvironment(t *testing.T) {
	shortKeys := []string{"AWS_ACCESS_KEY_ID=ASIAENVKEYSHORT00001", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t",
		"AWS_CREDENTIAL_EXPIRATION=" + time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339)}
	token := jwt(time.Now().Add(2 * time.Hour))
	for _, shape := range []struct {
		name  string
		setup func(e *testEnv)
	}{
		{"provider, token file", func(e *testEnv) {
			e.writeTF("token.jwt", token)
			e.writeTF("main.tf", "provider \"aws\" {\n  assume_role_with_web_identity {\n    role_arn                = \"arn:aws:iam::1:role/deploy\"\n    web_identity_token_file = \"token.jwt\"\n  }\n}\n")
		}},
		{"provider, token value from TF_VAR", func(e *testEnv) {
			e.opts.Env = append(e.opts.Env, "TF_VAR_tok="+token)
			e.writeTF("main.tf", "variable \"tok\" {\n  type = string\n}\nprovider \"aws\" {\n  assume_role_with_web_identity {\n    role_arn           = \"arn:aws:iam::1:role/deploy\"\n    web_identity_token = var.tok\n  }\n}\n")
		}},
		{"recorded backend", func(e *testEnv) {
			e.writeTF("token.jwt", token)
			writeBackendRecord(t, e.dir, `{"bucket":"b","key":"k","region":"us-east-1","assume_role_with_web_identity":{"role_arn":"arn:aws:iam::1:role/deploy","web_identity_token_file":"token.jwt"}}`)
		}},
	} {
		t.Run(shape.name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{}, shortKeys...)
			shape.setup(e)
			o := e.opts
			o.CI = true
			r, err := Preflight(context.Background(), o)
			if err != nil {
				t.Fatalf("refused a run terraform would finish with the web identity token: %v", err)
			}
			js, _ := json.Marshal(r)
			text := string(js) + strings.Join(r.Warnings(), "\n")
			if len(r.Entries) != 1 || r.Entries[0].Kind != KindWebIdentity || r.Entries[0].Verdict != VerdictOK ||
				!strings.Contains(r.Entries[0].Name, "web identity role arn:aws:iam::1:role/deploy") {
				t.Fatalf("entries %s", js)
			}
			if strings.Contains(text, "env keys") || strings.Contains(text, "ASIAENVKEY") || strings.Contains(text, token) || strings.Contains(text, strings.Split(token, ".")[1]) {
				t.Fatalf("the report names the environment's keys or shows the token: %s", text)
			}
		})
	}
}

// The token's exp decides, with the role session the SDK gets at the start
// (1h unless duration says otherwise): a token in the configuration that
// neither covers the run is refused; a token file its writer may renew is a
// warning; an expired token is refused; a token without exp is unknown.
func TestWebIdentityTokenLifetime(t *testing.T) {
	block := func(tokenLine, extra string) string {
		return "variable \"tok\" {\n  type    = string\n  default = null\n}\nprovider \"aws\" {\n  assume_role_with_web_identity {\n    role_arn = \"arn:aws:iam::1:role/deploy\"\n    " + tokenLine + "\n" + extra + "  }\n}\n"
	}
	for _, c := range []struct {
		name     string
		exp      time.Duration // from now; 0: not a JWT
		file     bool
		duration string
		floor    time.Duration
		want     Verdict
		detail   string
	}{
		{"short token, run within the role session", 5 * time.Minute, false, "", 0, VerdictOK, "last the role session (1h)"},
		{"short token value, run longer than the session", 5 * time.Minute, false, "", 2 * time.Hour, VerdictShort, "cannot assume arn:aws:iam::1:role/deploy again"},
		{"short token value, duration covers the run", 5 * time.Minute, false, "3h", 2 * time.Hour, VerdictOK, "role session (3h)"},
		{"short token file, run longer than the session", 5 * time.Minute, true, "", 2 * time.Hour, VerdictWarn, "writer must renew it"},
		{"long token", 3 * time.Hour, false, "", 2 * time.Hour, VerdictOK, "is valid until"},
		{"expired token", -time.Minute, true, "", 0, VerdictShort, "has expired"},
		{"not a JWT", 0, false, "", 0, VerdictUnknown, "expiry cannot be read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{})
			tok := "not-a-jwt"
			if c.exp != 0 {
				tok = jwt(time.Now().Add(c.exp))
			}
			line := "web_identity_token = var.tok"
			e.opts.Env = append(e.opts.Env, "TF_VAR_tok="+tok)
			if c.file {
				e.writeTF("t.jwt", tok)
				line = "web_identity_token_file = \"t.jwt\""
			}
			extra := ""
			if c.duration != "" {
				extra = fmt.Sprintf("    duration = %q\n", c.duration)
			}
			e.writeTF("main.tf", block(line, extra))
			o := e.opts
			o.CI = true
			o.Config.MinLifetime = c.floor
			r, err := Preflight(context.Background(), o)
			if len(r.Entries) != 1 || r.Entries[0].Verdict != c.want || !strings.Contains(r.Entries[0].Detail, c.detail) {
				t.Fatalf("got %+v (%v)", r.Entries, err)
			}
			var se *ShortError
			if (c.want == VerdictShort) != errors.As(err, &se) {
				t.Fatalf("verdict %s, error %v", c.want, err)
			}
			if strings.Contains(r.Entries[0].Detail+strings.Join(r.Warnings(), ""), tok) {
				t.Fatal("the token is printed")
			}
		})
	}
}
