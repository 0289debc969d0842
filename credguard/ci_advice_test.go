package credguard

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// newcomer M4: in GitHub Actions, short exported keys are refused with the
// job's fix (configure-aws-credentials' role-duration-seconds, tf's OIDC
// mode); in any other CI with a job's fix; never with the desk's `aws
// configure export-credentials`.
func TestCIRefusalAdviceFitsTheJob(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       []string
		want, not []string
	}{
		{"github actions", []string{"GITHUB_ACTIONS=true"}, []string{"role-duration-seconds", "github_oidc_role", "id-token: write", "renews the role's credentials as long as the job can request ID tokens"}, []string{"export-credentials"}},
		{"other ci", nil, []string{"issued for longer"}, []string{"export-credentials", "role-duration-seconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{}, append([]string{"AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t",
				"AWS_CREDENTIAL_EXPIRATION=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339)}, tc.env...)...)
			o := e.opts
			o.CI = true
			_, err := Preflight(context.Background(), o)
			var se *ShortError
			if !errors.As(err, &se) {
				t.Fatalf("want a refusal, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal lacks %q:\n%s", w, err)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("refusal gives %q:\n%s", n, err)
				}
			}
		})
	}
}

// newcomer M3: the keys aws-actions/configure-aws-credentials exports have
// no expiry; in GitHub Actions the one warning line says how to give tf
// one (the action's aws-expiration output).
func TestConfigureAWSCredentialsKeysWarnWithTheFix(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", "GITHUB_ACTIONS=true")
	e.writeTF("main.tf", "provider \"aws\" {}\n")
	o := e.opts
	o.CI = true
	r, err := Preflight(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	w := r.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "output-credentials: true") || !strings.Contains(w[0], "aws-expiration output as AWS_CREDENTIAL_EXPIRATION") || strings.Contains(w[0], "\n") {
		t.Fatalf("warnings %q", w)
	}
}

// newcomer M3: an SSO endpoint tf cannot reach (offline, a broken VPN) is
// said in a few words naming the host, not as the SDK's whole error chain.
func TestUnreachableSSOEndpointIsOneShortLine(t *testing.T) {
	dns := &url.Error{Op: "Post", URL: "https://oidc.us-east-1.amazonaws.com/token", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "oidc.us-east-1.amazonaws.com", IsNotFound: true}}}
	got := refreshCause(fmtWrap(dns))
	if got != "cannot reach oidc.us-east-1.amazonaws.com (its name does not resolve: no network, or a VPN or a proxy (HTTPS_PROXY) is needed)" {
		t.Errorf("dns failure: %q", got)
	}

	// Through the real SDK: nothing listens on the endpoint.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso", "AWS_MAX_ATTEMPTS=1")
	e.seed(8*time.Hour, 5*time.Minute)
	o := e.opts
	o.Env = append(o.Env, "AWS_ENDPOINT_URL_SSO_OIDC=http://"+addr)
	r, err := Preflight(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(r.Warnings(), "\n")
	if !strings.Contains(w, "could not refresh the SSO access token ahead of time: cannot reach "+addr+" (") || strings.Contains(w, "RequestID") || strings.Contains(w, "operation error") {
		t.Errorf("warning %q", w)
	}
	e.assertNoSecrets(w)
}

func fmtWrap(err error) error { return errors.Join(errors.New("refresh sso token"), err) }

// unknown_lifetime = quiet leaves out the lines about credentials whose
// lifetime cannot be known (credential_process here), and only those.
func TestQuietUnknownLifetimeHidesOnlyThoseLines(t *testing.T) {
	r := Report{Entries: []Entry{
		{Credential: Credential{Name: "profile granted", Kind: KindProcess}, Verdict: VerdictUnknown, UnknownLifetime: true, Detail: "lifetime unknown"},
		{Credential: Credential{Name: "profile nope", Kind: KindUnknown, Err: "no such profile"}, Verdict: VerdictError, Detail: "no such profile"},
		{Credential: Credential{Name: "profile sso", Kind: KindSSOSession}, Verdict: VerdictWarn, RefreshFailed: true, Detail: "could not refresh"},
	}, Notes: []string{"main.tf.json is not read"}}
	if got := len(r.Warnings()); got != 4 {
		t.Fatalf("allow: %d lines, want 4: %q", got, r.Warnings())
	}
	r.quietUnknown = true
	w := strings.Join(r.Warnings(), "\n")
	if strings.Contains(w, "granted") || !strings.Contains(w, "profile nope") || !strings.Contains(w, "could not refresh") || !strings.Contains(w, "main.tf.json") {
		t.Fatalf("quiet: %q", w)
	}
}

// aws-actions/configure-aws-credentials sets its aws-expiration output
// with JSON.stringify of a date: quotes included. Passed on as
// AWS_CREDENTIAL_EXPIRATION (the fix tf's warning gives), it is read.
func TestExpirationFromConfigureAWSCredentialsOutputIsRead(t *testing.T) {
	exp := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Millisecond)
	e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t",
		`AWS_CREDENTIAL_EXPIRATION="`+exp.Format("2006-01-02T15:04:05.000Z")+`"`)
	c, ok := envCredential(e.opts)
	if !ok || !c.Expires || !c.ValidUntil.Equal(exp) {
		t.Fatalf("credential %+v, want it to expire at %s", c, exp)
	}
}
