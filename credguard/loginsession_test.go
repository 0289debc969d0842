package credguard

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tfguard/tf/e2e/fakeaws"
)

const loginSessionProfile = "\n[profile console]\nlogin_session = arn:aws:iam::123456789012:user/dev\nregion = us-east-1\n"

// writeLoginCache writes an `aws login` cache file the way the AWS CLI
// does, for the profile console's session.
func writeLoginCache(t *testing.T, o Options, expiresIn time.Duration, refreshable bool) string {
	t.Helper()
	tok := map[string]any{
		"accessToken": map[string]any{
			"accessKeyId": "ASIALOGINSESSION", "secretAccessKey": "loginsecret", "sessionToken": "loginsession",
			"accountId": "123456789012", "expiresAt": time.Now().Add(expiresIn).UTC().Format(time.RFC3339),
		},
		"tokenType": "aws_sigv4", "clientId": "arn:aws:signin:::devtools/same-device", "identityToken": "id",
	}
	if refreshable {
		tok["refreshToken"], tok["dpopKey"] = "loginrefresh", "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----\n"
	}
	b, _ := json.Marshal(tok)
	p := loginCachePath(o, "arn:aws:iam::123456789012:user/dev")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loginSessionEnv(t *testing.T) *testEnv {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=console", EnvLoginCacheDir+"="+filepath.Join(t.TempDir(), "login-cache"))
	f, err := os.OpenFile(filepath.Join(e.home, ".aws", "config"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(loginSessionProfile); err != nil {
		t.Fatal(err)
	}
	return e
}

// The cache tf reads for a login_session profile is the one the SDK
// (terraform's) reads: same file, same credentials.
func TestLoginSessionCacheIsTheSDKs(t *testing.T) {
	e := loginSessionEnv(t)
	writeLoginCache(t, e.opts, 10*time.Minute, true)
	for _, kv := range e.opts.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "ASIALOGINSESSION" {
		t.Fatalf("the SDK does not read the file tf wrote for the login session: %q %v", c.AccessKeyID, err)
	}
	r, err := Inspect(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	ent := find(t, r.Entries, "profile console")
	if ent.Kind != KindLoginSession || !ent.Refreshable || ent.Verdict != VerdictOK || time.Until(ent.ValidUntil) > 11*time.Minute {
		t.Fatalf("login session judged %s refreshable=%v %s (%s), valid until %s", ent.Kind, ent.Refreshable, ent.Verdict, ent.Detail, ent.ValidUntil)
	}
	if !strings.Contains(ent.Detail, "end is unknown") {
		t.Errorf("the unknown session end is not said: %s", ent.Detail)
	}
}

// Login session credentials that cannot be renewed (no refresh token) and
// end before the run, or no login at all: refused in CI with the command
// that fixes it.
func TestLoginSessionTooShortRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*testEnv)
		want  string
	}{
		{"not renewable, 5m left", func(e *testEnv) { writeLoginCache(t, e.opts, 5*time.Minute, false) }, "cannot be renewed and end in "},
		{"not logged in", func(*testEnv) {}, "not logged in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loginSessionEnv(t)
			tc.write(e)
			o := e.opts
			o.CI = true
			_, err := Preflight(context.Background(), o)
			var se *ShortError
			if !errors.As(err, &se) {
				t.Fatalf("want a refusal, got %v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "aws login --profile console") {
				t.Fatalf("message lacks %q or the remedy:\n%s", tc.want, msg)
			}
		})
	}
}

// The SSO client registration (registrationExpiresAt) ends the session's
// refreshes: one that ends mid-run is too short even when the token is
// fresh and the session's own end is unknown. A native login at a
// terminal registers a new client, and the run may start.
func TestRegistrationEndingMidRunJudged(t *testing.T) {
	setRegistration := func(t *testing.T, e *testEnv, end time.Time) {
		b, err := os.ReadFile(e.cacheFile())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["registrationExpiresAt"] = end.UTC().Format(time.RFC3339)
		b, _ = json.Marshal(m)
		if err := os.WriteFile(e.cacheFile(), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("CI refuses", func(t *testing.T) {
		e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
		e.seed(8*time.Hour, time.Hour)
		setRegistration(t, e, time.Now().Add(5*time.Minute))
		o := e.opts
		o.CI = true
		_, err := Preflight(context.Background(), o)
		var se *ShortError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "client registration") {
			t.Fatalf("registration ending in 5m, run needs 15m: got %v", err)
		}
		r, _ := Inspect(context.Background(), e.opts)
		if ent := find(t, r.Entries, "profile sso"); !ent.LastsKnown || ent.Lasts > 6*time.Minute {
			t.Fatalf("the table does not show the registration's end: lasts %s known %v", ent.Lasts, ent.LastsKnown)
		}
	})
	t.Run("a native login registers again", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e := newEnv(t, fakeaws.Options{LoginSessionLife: 8 * time.Hour, LoginTokenLife: time.Hour}, "AWS_PROFILE=sso")
		e.seed(8*time.Hour, time.Hour)
		setRegistration(t, e, time.Now().Add(5*time.Minute))
		approveWhenAsked(ctx, e.f)
		o := e.opts
		o.Interactive = true
		r, err := Preflight(ctx, o)
		if err != nil {
			t.Fatalf("preflight: %v\n%s", err, e.out.String())
		}
		if ent := find(t, r.Entries, "profile sso"); ent.Verdict != VerdictLoggedIn || time.Until(ent.RegistrationEnds) < time.Hour {
			t.Fatalf("after the login: %s (%s), registration ends %s", ent.Verdict, ent.Detail, ent.RegistrationEnds)
		}
		if n := e.f.CallsBy(fakeaws.OpRegisterClient, fakeaws.CallerTF); n != 1 {
			t.Fatalf("tf registered %d clients, want 1", n)
		}
	})
}
