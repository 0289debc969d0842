package credguard

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tfguard/tf/e2e/fakeaws"
)

func find(t *testing.T, entries []Entry, name string) Entry {
	t.Helper()
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	t.Fatalf("no credential %q among %q", name, names)
	return Entry{}
}

func jwt(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":"repo:x","exp":%d}`, exp.Unix()))) + ".sig"
}

func TestDiscoverKinds(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	wiFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(wiFile, []byte(jwt(now.Add(time.Hour))), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		env      []string
		tf       string
		backend  string
		wantName string
		wantKind Kind
		check    func(t *testing.T, c Credential)
	}{
		{name: "env static", env: []string{"AWS_ACCESS_KEY_ID=AKIAX", "AWS_SECRET_ACCESS_KEY=s"}, wantName: "env keys", wantKind: KindStatic},
		{name: "env session with expiration", env: []string{"AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", "AWS_CREDENTIAL_EXPIRATION=" + now.Add(time.Hour).UTC().Format(time.RFC3339)},
			wantName: "env keys", wantKind: KindEnvSession, check: func(t *testing.T, c Credential) {
				if !c.Expires || c.ValidUntil.Sub(now) < 59*time.Minute || c.Refreshable {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "env keys beat AWS_PROFILE", env: []string{"AWS_PROFILE=sso", "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t"}, wantName: "env keys", wantKind: KindEnvSession},
		{name: "AWS_PROFILE sso-session", env: []string{"AWS_PROFILE=sso"}, wantName: "profile sso", wantKind: KindSSOSession, check: func(t *testing.T, c Credential) {
			if !c.Refreshable || c.SSOSession != "corp" || c.StartURL != "https://corp.awsapps.com/start" || c.ValidUntil.IsZero() {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "legacy", env: []string{"AWS_PROFILE=legacy"}, wantName: "profile legacy", wantKind: KindLegacySSO, check: func(t *testing.T, c Credential) {
			if c.Refreshable || c.ValidUntil.IsZero() {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "assume-role profile", env: []string{"AWS_PROFILE=deploy"}, wantName: "profile deploy", wantKind: KindAssumeRole, check: func(t *testing.T, c Credential) {
			if c.Source == nil || c.Source.Kind != KindSSOSession {
				t.Fatalf("source %+v", c.Source)
			}
		}},
		{name: "web identity env", env: []string{"AWS_WEB_IDENTITY_TOKEN_FILE=" + wiFile, "AWS_ROLE_ARN=arn:aws:iam::1:role/CI"}, wantName: "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)", wantKind: KindWebIdentity,
			check: func(t *testing.T, c Credential) {
				if !c.Expires || c.ValidUntil.Unix() != now.Add(time.Hour).Unix() {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "provider profile beats env keys", env: []string{"AWS_ACCESS_KEY_ID=AKIAX", "AWS_SECRET_ACCESS_KEY=s"},
			tf: "provider \"aws\" {\n  profile = \"static\"\n}\n", wantName: "profile static", wantKind: KindStatic},
		{name: "provider assume_role over profile", tf: "provider \"aws\" {\n  profile = \"sso\"\n  assume_role {\n    role_arn = \"arn:aws:iam::1:role/X\"\n  }\n}\n",
			wantName: "role arn:aws:iam::1:role/X via profile sso", wantKind: KindAssumeRole},
		{name: "backend profile", backend: `{"version":3,"backend":{"type":"s3","config":{"bucket":"b","key":"k","profile":"legacy","region":"us-east-1"},"hash":1}}`,
			wantName: "profile legacy", wantKind: KindLegacySSO},
		{name: "no credentials", wantName: "default chain", wantKind: KindUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{}, tc.env...)
			e.seed(8*time.Hour, time.Hour)
			e.seedLegacy(time.Hour)
			if tc.tf != "" {
				e.writeTF("main.tf", tc.tf)
			}
			if tc.backend != "" {
				if err := os.MkdirAll(filepath.Join(e.dir, ".terraform"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(e.dir, ".terraform", "terraform.tfstate"), []byte(tc.backend), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			creds, _, err := Discover(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			var c Credential
			for _, x := range creds {
				if x.Name == tc.wantName {
					c = x
				}
			}
			if c.Name == "" || c.Kind != tc.wantKind {
				t.Fatalf("want %s (%s), got %+v", tc.wantName, tc.wantKind, creds)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestDiscoverProviderBlocks(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=static")
	e.seed(8*time.Hour, time.Hour)
	e.writeTF("main.tf", `
variable "p" { default = "static" }
provider "aws" {
  profile = "sso"
}
provider "aws" {
  alias   = "other"
  profile = var.p
}
provider "google" {
  project = "x"
}
`)
	if err := os.MkdirAll(filepath.Join(e.dir, ".terraform"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, ".terraform", "terraform.tfstate"), []byte(`{"backend":{"type":"s3","config":{"profile":"sso"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	creds, notes, err := Discover(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	// backend and the first provider share profile sso; the aliased one's
	// profile is var.p, whose default names profile static.
	if len(creds) != 2 || creds[0].Name != "profile sso" || len(creds[0].UsedBy) != 2 || creds[1].Name != "profile static" {
		t.Fatalf("creds %+v", creds)
	}
	if !strings.Contains(creds[0].UsedBy[1], `provider "aws" (main.tf:3)`) {
		t.Fatalf("used by %q", creds[0].UsedBy)
	}
	if len(notes) != 0 {
		t.Fatalf("notes %q", notes)
	}
	// A file that does not parse is terraform's to report: its providers
	// are unknown, and the run is not stopped over it.
	e.writeTF("bad.tf", "provider \"aws\" {\n")
	creds, notes, err = Discover(context.Background(), e.opts)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "bad.tf") {
		t.Fatalf("want a note naming bad.tf, got %v %q", err, notes)
	}
	if ent := find(t, entriesOf(creds), "unknown credential"); ent.Kind != KindUnknown || !strings.Contains(ent.UsedBy[0], "bad.tf") {
		t.Fatalf("want bad.tf's providers unknown, got %+v", ent)
	}
}

func TestBadCredentialExpiration(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", "AWS_CREDENTIAL_EXPIRATION=tomorrow")
	// An expiry tf cannot read is an unknown lifetime: a warning, never a
	// refusal (the SDK ignores the variable; the keys may be fine).
	r, err := Preflight(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	ent := find(t, r.Entries, "env keys")
	if ent.Verdict != VerdictWarn || !ent.UnknownLifetime || !strings.Contains(strings.Join(ent.Notes, " "), `AWS_CREDENTIAL_EXPIRATION="tomorrow"`) {
		t.Fatalf("got %+v", ent)
	}
}

func TestRequired(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	o := e.opts
	if r, _ := Required(o); r != 15*time.Minute {
		t.Fatalf("floor: %v", r)
	}
	for _, d := range []time.Duration{10 * time.Minute, 40 * time.Minute, 20 * time.Minute} {
		if err := RecordDuration(o, "apply", d); err != nil {
			t.Fatal(err)
		}
	}
	// 1.25 x the second-longest (20m): the 40m outlier does not decide.
	if r, why := Required(o); r != 25*time.Minute || len(why) != 2 {
		t.Fatalf("with durations: %v %q", r, why)
	}
	o.Command = "plan" // another command's durations do not count; a plan's floor is capped
	if r, _ := Required(o); r != PlanFloorCap {
		t.Fatalf("plan: %v", r)
	}
	o.Env = append(o.Env, "TF_WORKSPACE=staging") // nor another workspace's
	o.Command = "apply"
	if r, _ := Required(o); r != 15*time.Minute {
		t.Fatalf("other workspace: %v", r)
	}
	var plan tfjson.Plan // as terraform-exec's ShowPlanFile reads `terraform show -json PLAN`
	if err := json.Unmarshal([]byte(`{"format_version":"1.2","resource_changes":[
	 {"type":"aws_eks_cluster","change":{"actions":["create"]}},
	 {"type":"aws_db_instance","change":{"actions":["no-op"]}},
	 {"type":"aws_rds_cluster","change":{"actions":["read"]}},
	 {"type":"aws_s3_bucket","change":{"actions":["update"]}}]}`), &plan); err != nil {
		t.Fatal(err)
	}
	types := PlanResourceTypes(&plan)
	if !reflect.DeepEqual(types, []string{"aws_eks_cluster", "aws_s3_bucket"}) {
		t.Fatalf("changed types %q", types)
	}
	o.PlanResourceTypes = types
	if r, why := Required(o); r != 35*time.Minute || !strings.Contains(strings.Join(why, " "), "aws_eks_cluster x1") {
		t.Fatalf("slow plan: %v %q", r, why)
	}
	if types := PlanResourceTypes(nil); types != nil {
		t.Fatalf("no plan: %q", types)
	}
}

func TestPreflightCIRefusesEnvCredentials(t *testing.T) {
	for name, exp := range map[string]time.Duration{"past": -time.Minute, "too soon": 10 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIASECRETKEY", "AWS_SECRET_ACCESS_KEY=verysecret", "AWS_SESSION_TOKEN=sessiontokensecret",
				"AWS_CREDENTIAL_EXPIRATION="+time.Now().Add(exp).UTC().Format(time.RFC3339), "AWS_PROFILE=sso")
			e.tokens = append(e.tokens, "ASIASECRETKEY", "verysecret", "sessiontokensecret")
			o := e.opts
			o.CI = true
			r, err := Preflight(context.Background(), o)
			var se *ShortError
			if !errors.As(err, &se) || se.ExitCode() != 75 {
				t.Fatalf("want ShortError, got %v", err)
			}
			msg := err.Error()
			for _, want := range []string{"env keys", "the run needs 15m", "unset AWS_ACCESS_KEY_ID", `profile "sso"`} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			if exp < 0 && !strings.Contains(msg, "have expired") {
				t.Errorf("message: %s", msg)
			}
			if find(t, r.Entries, "env keys").Verdict != VerdictShort {
				t.Fatal("entry not short")
			}
			if e.f.Total() != 0 {
				t.Fatalf("network calls: %v", e.f.CallCounts())
			}
			e.assertNoSecrets(msg + e.out.String())
		})
	}
	e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t",
		"AWS_CREDENTIAL_EXPIRATION="+time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339))
	if _, err := Preflight(context.Background(), e.opts); err != nil {
		t.Fatalf("2h left must pass: %v", err)
	}
}

func TestPreflightSessionEndingTooSoonInCI(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=deploy")
	e.seed(5*time.Minute, time.Hour)
	// tf performed the login 7h55m ago: with an 8h session, 5m are left.
	if err := RecordLogin(e.opts, "corp", time.Now().Add(-8*time.Hour+5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.CI, o.Interactive = true, true
	_, err := Preflight(context.Background(), o)
	var se *ShortError
	if !errors.As(err, &se) {
		t.Fatalf("want ShortError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"profile deploy", "the SSO session ends at", "the run needs 15m", "aws sso login --sso-session corp"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if e.f.Total() != 0 {
		t.Fatalf("network calls in CI refusal: %v", e.f.CallCounts())
	}
	e.assertNoSecrets(msg)
}

func TestPreflightRefreshesAhead(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	old := e.seed(8*time.Hour, -time.Minute) // expired; refreshed tokens live 1h
	// an unknown field the SDK and the CLI keep
	b, _ := os.ReadFile(e.cacheFile())
	b = bytes.Replace(b, []byte("{"), []byte(`{"x-extra":{"kept":true},`), 1)
	if err := os.WriteFile(e.cacheFile(), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Preflight(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if v := find(t, r.Entries, "profile sso").Verdict; v != VerdictRefreshed {
		t.Fatalf("verdict %s", v)
	}
	if e.f.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF) != 1 || e.f.Total() != 1 {
		t.Fatalf("calls %v", e.f.CallCounts())
	}
	st, err := os.Stat(e.cacheFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	var m map[string]any
	b, _ = os.ReadFile(e.cacheFile())
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["accessToken"] == old.AccessToken || m["refreshToken"] == old.RefreshToken || m["x-extra"] == nil || m["clientId"] != old.ClientID {
		t.Fatalf("cache after refresh: fields %v", keys(m))
	}
	if exp, _ := time.Parse(time.RFC3339, m["expiresAt"].(string)); time.Until(exp) < 50*time.Minute {
		t.Fatalf("new expiry %v", exp)
	}
	e.assertNoSecrets(e.out.String())
	// A second preflight has nothing to do and makes no call.
	if _, err := Preflight(context.Background(), e.opts); err != nil || e.f.Total() != 1 {
		t.Fatalf("second preflight: %v %v", err, e.f.CallCounts())
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPreflightEndedSessionWithoutRecord(t *testing.T) {
	// The session ended (tf did not know when): the refresh is refused, and
	// in CI that is a clear refusal.
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	e.seed(8*time.Hour, 2*time.Minute)
	if err := e.f.EndSession("corp"); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.CI = true
	_, err := Preflight(context.Background(), o)
	var se *ShortError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "the SSO session is over") {
		t.Fatalf("got %v", err)
	}
}

func TestLegacyTokenTooShortInCI(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=legacy")
	e.seedLegacy(10 * time.Minute)
	o := e.opts
	o.CI = true
	_, err := Preflight(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "legacy SSO tokens cannot be refreshed") || !strings.Contains(err.Error(), "--profile legacy") {
		t.Fatalf("got %v", err)
	}
}

// approveWhenAsked plays the person in the browser: it approves the first
// device code that shows up.
func approveWhenAsked(ctx context.Context, f *fakeaws.Fakes) <-chan string {
	done := make(chan string, 1)
	go func() {
		for ctx.Err() == nil {
			if codes := f.PendingUserCodes(); len(codes) > 0 {
				_ = f.ApproveDevice(codes[0])
				done <- codes[0]
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(done)
	}()
	return done
}

func TestPreflightLogsInAtTerminal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t, fakeaws.Options{LoginSessionLife: 8 * time.Hour, LoginTokenLife: time.Hour}, "AWS_PROFILE=sso")
	e.seed(5*time.Minute, time.Hour)
	if err := RecordLogin(e.opts, "corp", time.Now().Add(-8*time.Hour+5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.Interactive = true
	approved := approveWhenAsked(ctx, e.f)
	r, err := Preflight(ctx, o)
	if err != nil {
		t.Fatalf("preflight: %v\n%s", err, e.out.String())
	}
	code := <-approved
	ent := find(t, r.Entries, "profile sso")
	if ent.Verdict != VerdictLoggedIn {
		t.Fatalf("verdict %s: %s", ent.Verdict, ent.Detail)
	}
	out := e.out.String()
	for _, want := range []string{code, "/device?user_code=", "https://corp.awsapps.com/start", "waiting for approval", "logged in"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if e.f.CallsBy(fakeaws.OpCreateTokenDevice, fakeaws.CallerTF) < 1 || e.f.CallsBy(fakeaws.OpStartDeviceAuthorization, fakeaws.CallerTF) != 1 {
		t.Fatalf("calls %v", e.f.CallCounts())
	}
	// The new session's end is now known and long enough; the cache works.
	r, err = Inspect(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	ent = find(t, r.Entries, "profile sso")
	if ent.Verdict != VerdictOK || time.Until(ent.SessionEnds) < 7*time.Hour {
		t.Fatalf("after login: %s %v %s", ent.Verdict, ent.SessionEnds, ent.Detail)
	}
	if !ent.Refreshable {
		t.Fatal("logged-in cache is not refreshable")
	}
	e.assertNoSecrets(out)
}

func TestCheckTableAndJSON(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	e.seed(8*time.Hour, 5*time.Minute)
	e.writeTF("main.tf", "provider \"aws\" {\n  profile = \"static\"\n}\n")
	if err := os.MkdirAll(filepath.Join(e.dir, ".terraform"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, ".terraform", "terraform.tfstate"), []byte(`{"backend":{"type":"s3","config":{"bucket":"b"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if code := Check(context.Background(), e.opts, &b, false); code != 0 {
		t.Fatalf("exit %d\n%s", code, b.String())
	}
	out := b.String()
	for _, want := range []string{"CREDENTIAL", "VALID UNTIL", "REQUIRED", "VERDICT", "profile static", "no expiry", "profile sso", "sso-session", "refreshes it first"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if e.f.Total() != 0 {
		t.Fatalf("check made calls: %v", e.f.CallCounts())
	}
	b.Reset()
	if code := Check(context.Background(), e.opts, &b, true); code != 0 {
		t.Fatalf("json exit %d", code)
	}
	var r Report
	if err := json.Unmarshal(b.Bytes(), &r); err != nil || len(r.Entries) != 2 || r.Required != 15*time.Minute {
		t.Fatalf("json: %v %+v", err, r)
	}
	e.assertNoSecrets(out + b.String())

	short := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t",
		"AWS_CREDENTIAL_EXPIRATION="+time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	b.Reset()
	if code := Check(context.Background(), short.opts, &b, false); code != ExitShort || !strings.Contains(b.String(), "too short") {
		t.Fatalf("short check: %d\n%s", code, b.String())
	}
}

func TestRenew(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=deploy")
	old := e.seed(8*time.Hour, time.Hour)
	if err := Renew(context.Background(), e.opts); err != nil {
		t.Fatal(err)
	}
	tok, err := readCache(e.cacheFile())
	if err != nil || tok.AccessToken == old.AccessToken {
		t.Fatalf("not renewed: %v", err)
	}
	if err := e.f.EndSession("corp"); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.CI = true
	var se *ShortError
	if err := Renew(context.Background(), o); !errors.As(err, &se) || !strings.Contains(err.Error(), "session is over") {
		t.Fatalf("ended session: %v", err)
	}
}

func TestEnvCredentialsFixNamesTheirSource(t *testing.T) {
	exp := "AWS_CREDENTIAL_EXPIRATION=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", exp, "AWS_VAULT=prod")
	_, err := Preflight(context.Background(), e.opts)
	if err == nil || !strings.Contains(err.Error(), "aws-vault exec --ecs-server prod") {
		t.Fatalf("got %v", err)
	}
	e = newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", exp)
	_, err = Preflight(context.Background(), e.opts)
	if err == nil || !strings.Contains(err.Error(), "aws configure export-credentials") {
		t.Fatalf("got %v", err)
	}
}

func TestNeverLoggedIn(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	o := e.opts
	o.CI = true
	_, err := Preflight(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no usable cached SSO token") || strings.Contains(err.Error(), "h left") {
		t.Fatalf("got %v", err)
	}
}

func entriesOf(creds []Credential) []Entry {
	var out []Entry
	for _, c := range creds {
		out = append(out, Entry{Credential: c})
	}
	return out
}

// aws-vault before v7 exports the keys' end only as AWS_SESSION_EXPIRATION
// (v7 and later only as AWS_CREDENTIAL_EXPIRATION): the v6 keys are judged
// by it, and AWS_CREDENTIAL_EXPIRATION wins where both are set.
func TestAWSVaultV6SessionExpirationIsRead(t *testing.T) {
	soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	later := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	keys := []string{"AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", "AWS_VAULT=prod"}

	e := newEnv(t, fakeaws.Options{}, append(keys, "AWS_SESSION_EXPIRATION="+soon)...)
	_, err := Preflight(context.Background(), e.opts)
	if err == nil || !strings.Contains(err.Error(), "aws-vault exec --ecs-server prod") {
		t.Fatalf("v6 keys ending in a minute: got %v, want a refusal naming aws-vault's server", err)
	}

	e = newEnv(t, fakeaws.Options{}, append(keys, "AWS_SESSION_EXPIRATION="+later)...)
	rep, err := Preflight(context.Background(), e.opts)
	if err != nil {
		t.Fatalf("v6 keys lasting 3h: %v", err)
	}
	if c := rep.Entries; len(c) == 0 || !c[0].Expires || c[0].ValidUntil.Format(time.RFC3339) != later {
		t.Fatalf("v6 keys: want their end %s read, got %+v", later, c)
	}

	e = newEnv(t, fakeaws.Options{}, append(keys, "AWS_SESSION_EXPIRATION="+later, "AWS_CREDENTIAL_EXPIRATION="+soon)...)
	if _, err := Preflight(context.Background(), e.opts); err == nil {
		t.Fatal("AWS_CREDENTIAL_EXPIRATION ending in a minute must decide over a later AWS_SESSION_EXPIRATION")
	}
}

// A CI job refused for an SSO login is not told to run `tf guard login` (it
// has no person to do it); it is told what a job can use instead, and in
// GitHub Actions that names github_oidc_role. At a terminal the login
// commands stay.
func TestSSORefusalInCIDoesNotAskForALogin(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	o := e.opts
	o.CI = true
	_, err := Preflight(context.Background(), o)
	if err == nil || strings.Contains(err.Error(), "tf guard login") || !strings.Contains(err.Error(), "in CI nobody can log in") ||
		strings.Contains(err.Error(), "github_oidc_role") {
		t.Fatalf("CI: got %v", err)
	}
	e = newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso", "GITHUB_ACTIONS=true")
	o = e.opts
	o.CI = true
	if _, err = Preflight(context.Background(), o); err == nil || !strings.Contains(err.Error(), "github_oidc_role") || strings.Contains(err.Error(), "tf guard login") ||
		!strings.Contains(err.Error(), "lets tf renew them as long as the job can request ID tokens") || strings.Contains(err.Error(), "renew them during the run") {
		t.Fatalf("GitHub Actions: got %v", err)
	}
	e = newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	if _, err = Preflight(context.Background(), e.opts); err == nil || !strings.Contains(err.Error(), "tf guard login") {
		t.Fatalf("not CI: got %v", err)
	}
}
