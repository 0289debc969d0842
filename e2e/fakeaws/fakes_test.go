package fakeaws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func baseCfg(creds aws.CredentialsProvider) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: creds, HTTPClient: http.DefaultClient}
}

func ssoClient(f *Fakes) *sso.Client {
	return sso.NewFromConfig(baseCfg(aws.AnonymousCredentials{}), func(o *sso.Options) { o.BaseEndpoint = aws.String(f.SSOURL) })
}

func oidcClient(f *Fakes) *ssooidc.Client {
	return ssooidc.NewFromConfig(baseCfg(aws.AnonymousCredentials{}), func(o *ssooidc.Options) { o.BaseEndpoint = aws.String(f.OIDCURL) })
}

func stsClient(f *Fakes, c Issued) *sts.Client {
	var p aws.CredentialsProvider = aws.AnonymousCredentials{}
	if c.AccessKeyID != "" {
		p = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	return sts.NewFromConfig(baseCfg(p), func(o *sts.Options) {
		o.BaseEndpoint = aws.String(f.STSURL)
		o.RetryMaxAttempts = 1
	})
}

func TestPortalGetRoleCredentials(t *testing.T) {
	ctx := context.Background()
	l := NewLedger(nil)
	f := Start(t, l, Options{RoleCredentialLifetime: 30 * time.Minute})
	tok := f.NewSSOSession("dev", "https://fake.awsapps.com/start", time.Hour, 10*time.Minute)

	out, err := ssoClient(f).GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
		AccessToken: aws.String(tok.AccessToken), AccountId: aws.String("123456789012"), RoleName: aws.String("Admin"),
	})
	if err != nil {
		t.Fatalf("GetRoleCredentials: %v", err)
	}
	rc := out.RoleCredentials
	if err := l.Check(aws.ToString(rc.AccessKeyId)); err != nil {
		t.Fatalf("issued credentials not in ledger: %v", err)
	}
	exp := time.UnixMilli(rc.Expiration)
	if d := time.Until(exp); d < 29*time.Minute || d > 31*time.Minute {
		t.Fatalf("expiration %v from now, want ~30m", d)
	}
	if f.CallsBy(OpGetRoleCredentials, CallerOther) != 1 {
		t.Fatalf("counts: %v", f.CallCounts())
	}

	for name, token := range map[string]string{"unknown": "nope", "ended": tok.AccessToken} {
		if name == "ended" {
			if err := f.EndSession("dev"); err != nil {
				t.Fatal(err)
			}
		}
		_, err = ssoClient(f).GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
			AccessToken: aws.String(token), AccountId: aws.String("123456789012"), RoleName: aws.String("Admin"),
		})
		var ue *ssotypes.UnauthorizedException
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "Session token not found or invalid") ||
			!strings.Contains(err.Error(), "401") {
			t.Fatalf("%s token: want 401 UnauthorizedException, got %v", name, err)
		}
	}
}

func TestOIDCDeviceFlowAndRefresh(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	l := NewLedger(clk.Now)
	f := Start(t, l, Options{DeviceInterval: 5, LoginSessionLife: time.Hour, LoginTokenLife: 15 * time.Minute})
	c := oidcClient(f)

	reg, err := c.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("tf"), ClientType: aws.String("public")})
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	dev, err := c.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String("https://fake.awsapps.com/start"),
	})
	if err != nil {
		t.Fatalf("StartDeviceAuthorization: %v", err)
	}
	if dev.Interval != 5 || aws.ToString(dev.UserCode) == "" || !strings.Contains(aws.ToString(dev.VerificationUriComplete), aws.ToString(dev.UserCode)) {
		t.Fatalf("device authorization: %+v", dev)
	}
	poll := func() (*ssooidc.CreateTokenOutput, error) {
		return c.CreateToken(ctx, &ssooidc.CreateTokenInput{
			ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, DeviceCode: dev.DeviceCode,
			GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"),
		})
	}
	_, err = poll()
	var pending *oidctypes.AuthorizationPendingException
	if !errors.As(err, &pending) || aws.ToString(pending.Error_) != "authorization_pending" {
		t.Fatalf("want AuthorizationPendingException, got %v", err)
	}
	_, err = poll() // no time passed: too fast
	var slow *oidctypes.SlowDownException
	if !errors.As(err, &slow) || aws.ToString(slow.Error_) != "slow_down" {
		t.Fatalf("want SlowDownException, got %v", err)
	}
	if got := f.PendingUserCodes(); len(got) != 1 || got[0] != aws.ToString(dev.UserCode) {
		t.Fatalf("pending codes %v", got)
	}
	if err := f.ApproveDevice(aws.ToString(dev.UserCode)); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	tok, err := poll()
	if err != nil {
		t.Fatalf("CreateToken after approval: %v", err)
	}
	if tok.ExpiresIn != 900 || aws.ToString(tok.RefreshToken) == "" || aws.ToString(tok.TokenType) != "Bearer" {
		t.Fatalf("token: expiresIn %d", tok.ExpiresIn)
	}
	_, err = poll() // a device code works once
	var ig *oidctypes.InvalidGrantException
	if !errors.As(err, &ig) {
		t.Fatalf("reused device code: want InvalidGrantException, got %v", err)
	}

	refresh := func(rt *string) (*ssooidc.CreateTokenOutput, error) {
		return c.CreateToken(ctx, &ssooidc.CreateTokenInput{
			ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, RefreshToken: rt, GrantType: aws.String("refresh_token"),
		})
	}
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if aws.ToString(tok2.RefreshToken) == aws.ToString(tok.RefreshToken) {
		t.Fatal("refresh token did not rotate")
	}
	if _, err := refresh(tok.RefreshToken); !errors.As(err, &ig) || aws.ToString(ig.Error_) != "invalid_grant" {
		t.Fatalf("rotated-out refresh token: want InvalidGrantException, got %v", err)
	}
	// The session's end caps access tokens and stops refreshes.
	clk.Add(50 * time.Minute)
	tok3, err := refresh(tok2.RefreshToken)
	if err != nil {
		t.Fatalf("refresh near session end: %v", err)
	}
	if tok3.ExpiresIn > 600 {
		t.Fatalf("access token outlives the session: %d s", tok3.ExpiresIn)
	}
	clk.Add(11 * time.Minute)
	if _, err := refresh(tok3.RefreshToken); !errors.As(err, &ig) {
		t.Fatalf("after session end: want InvalidGrantException, got %v", err)
	}
	if n := f.CallsBy(OpCreateTokenRefresh, CallerOther); n != 4 {
		t.Fatalf("refresh count %d, counts %v", n, f.CallCounts())
	}

	// An expired device code.
	dev2, err := c.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String("https://fake.awsapps.com/start"),
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(11 * time.Minute)
	_, err = c.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, DeviceCode: dev2.DeviceCode,
		GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"),
	})
	var et *oidctypes.ExpiredTokenException
	if !errors.As(err, &et) || aws.ToString(et.Error_) != "expired_token" {
		t.Fatalf("want ExpiredTokenException, got %v", err)
	}
	// A bad client secret.
	_, err = refresh(aws.String("x"))
	_ = err
	_, err = c.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: reg.ClientId, ClientSecret: aws.String("wrong"), RefreshToken: aws.String("x"), GrantType: aws.String("refresh_token"),
	})
	var ic *oidctypes.InvalidClientException
	if !errors.As(err, &ic) {
		t.Fatalf("want InvalidClientException, got %v", err)
	}
}

func TestSTS(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	l := NewLedger(clk.Now)
	f := Start(t, l, Options{RoleCredentialLifetime: time.Hour, DieAfter: 10 * time.Minute})
	static := l.Issue("static", 0, true)

	id, err := stsClient(f, static).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(id.Account) != "123456789012" {
		t.Fatalf("account %q", aws.ToString(id.Account))
	}
	ar, err := stsClient(f, static).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/Deploy"), RoleSessionName: aws.String("s1"),
	})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	role := Issued{AccessKeyID: aws.ToString(ar.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(ar.Credentials.SecretAccessKey), SessionToken: aws.ToString(ar.Credentials.SessionToken)}
	if d := aws.ToTime(ar.Credentials.Expiration).Sub(clk.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("reported lifetime %v, want 1h", d)
	}
	if !strings.Contains(aws.ToString(ar.AssumedRoleUser.Arn), "assumed-role/Deploy/s1") {
		t.Fatalf("arn %q", aws.ToString(ar.AssumedRoleUser.Arn))
	}
	if _, err := stsClient(f, role).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity with role: %v", err)
	}
	clk.Add(11 * time.Minute) // they die early, while reporting 1h
	_, err = stsClient(f, role).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ExpiredToken" || !strings.Contains(err.Error(), "403") {
		t.Fatalf("want 403 ExpiredToken, got %v", err)
	}
	_, err = stsClient(f, Issued{AccessKeyID: "AKIANEVERISSUED", SecretAccessKey: "x"}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Fatalf("want InvalidClientTokenId, got %v", err)
	}

	wi, err := stsClient(f, Issued{}).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/CI"), RoleSessionName: aws.String("gha"), WebIdentityToken: aws.String("eyJ.fake.jwt"),
	})
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	if l.Check(aws.ToString(wi.Credentials.AccessKeyId)) != nil {
		t.Fatal("web identity credentials not in ledger")
	}
	_, err = stsClient(f, Issued{}).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/CI"), RoleSessionName: aws.String("gha"), WebIdentityToken: aws.String(" "),
	})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidIdentityToken" {
		t.Fatalf("want InvalidIdentityToken, got %v", err)
	}
	if f.Calls(OpGetCallerIdentity) != 4 || f.Calls(OpAssumeRole) != 1 || f.Calls(OpAssumeRoleWithWebIdentity) != 2 {
		t.Fatalf("counts %v", f.CallCounts())
	}
}

// TestSDKDefaultConfigSSOSession drives the SDK's whole credential chain
// (sso-session profile, seeded cache) against the fakes.
func TestSDKDefaultConfigSSOSession(t *testing.T) {
	ctx := context.Background()
	l := NewLedger(nil)
	f := Start(t, l, Options{RoleCredentialLifetime: time.Hour})
	home := t.TempDir()
	cfgFile := filepath.Join(home, "config")
	if err := os.WriteFile(cfgFile, []byte(`[profile dev]
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

[sso-session corp]
sso_start_url = https://fake.awsapps.com/start
sso_region = us-east-1
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "nocreds"))
	for _, kv := range f.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}

	retrieve := func(profile string) (aws.Credentials, error) {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(profile))
		if err != nil {
			return aws.Credentials{}, err
		}
		return cfg.Credentials.Retrieve(ctx)
	}

	// An access token already expired while the session lives: the SDK
	// refreshes it itself and rewrites the cache.
	tok := f.NewSSOSession("corp", "https://fake.awsapps.com/start", time.Hour, -time.Minute)
	path, err := WriteSSOCache(home, "corp", tok, false)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := retrieve("dev")
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if l.Check(creds.AccessKeyID) != nil || !creds.CanExpire {
		t.Fatalf("credentials not from the ledger: %+v", creds.Source)
	}
	if f.Calls(OpCreateTokenRefresh) != 1 {
		t.Fatalf("SDK did not refresh through the fake: %v", f.CallCounts())
	}
	var cached map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &cached); err != nil || cached["accessToken"] == tok.AccessToken || cached["startUrl"] != tok.StartURL {
		t.Fatalf("cache not rewritten with unknown fields kept: %v", err)
	}

	// The session ends: the SDK's refresh fails the way FACTS.md records.
	if err := f.EndSession("corp"); err != nil {
		t.Fatal(err)
	}
	_, err = retrieve("dev")
	if err == nil || !strings.Contains(err.Error(), "UnauthorizedException") || !strings.Contains(err.Error(), "Session token not found or invalid") {
		t.Fatalf("ended session: got %v", err)
	}
	tok = f.NewSSOSession("corp", "https://fake.awsapps.com/start", time.Hour, -time.Minute)
	if _, err := WriteSSOCache(home, "corp", tok, false); err != nil {
		t.Fatal(err)
	}
	if err := f.EndSession("corp"); err != nil {
		t.Fatal(err)
	}
	_, err = retrieve("dev")
	if err == nil || !strings.Contains(err.Error(), "refresh cached SSO token failed") || !strings.Contains(err.Error(), "InvalidGrantException") {
		t.Fatalf("refresh after session end: got %v", err)
	}

	// Legacy profile: works while the token lives, never refreshes.
	lt := f.NewSSOSession("legacy", "https://legacy.awsapps.com/start", time.Hour, time.Hour)
	if _, err := WriteSSOCache(home, "https://legacy.awsapps.com/start", lt, true); err != nil {
		t.Fatal(err)
	}
	if _, err := retrieve("legacy"); err != nil {
		t.Fatalf("legacy retrieve: %v", err)
	}
	lt = f.NewSSOSession("legacy", "https://legacy.awsapps.com/start", time.Hour, -time.Minute)
	if _, err := WriteSSOCache(home, "https://legacy.awsapps.com/start", lt, true); err != nil {
		t.Fatal(err)
	}
	if _, err = retrieve("legacy"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired legacy token: got %v", err)
	}
}

func TestClassifyCaller(t *testing.T) {
	for ua, want := range map[string]string{
		"aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.26 md/GOOS#linux app/tfguard":             CallerTF,
		"APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) aws-sdk-go-v2/1.36.3": CallerTerraform,
		"aws-cli/2.15": CallerOther,
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		r.Header.Set("User-Agent", ua)
		if got := ClassifyCaller(r); got != want {
			t.Errorf("%q: got %s want %s", ua, got, want)
		}
	}
}

func TestSecretsListsEverythingHandedOut(t *testing.T) {
	l := NewLedger(nil)
	f := Start(t, l, Options{})
	tok := f.NewSSOSession("s", "https://x/start", time.Hour, time.Hour)
	c := l.Issue("env", time.Hour, false)
	f.mu.Lock()
	_, _, rt2 := f.mintLocked(f.sessions["s"], l.Now()) // rotates tok.RefreshToken out
	f.mu.Unlock()
	got := strings.Join(f.Secrets(), "\n")
	for _, s := range []string{tok.AccessToken, tok.RefreshToken, rt2, tok.ClientSecret, c.SecretAccessKey, c.SessionToken} {
		if !strings.Contains(got, s) {
			t.Fatalf("Secrets misses one (%d listed)", len(f.Secrets()))
		}
	}
	if len(l.All()) != 1 {
		t.Fatalf("ledger All: %d", len(l.All()))
	}
}

func TestTotalCountsUnknownPaths(t *testing.T) {
	f := Start(t, NewLedger(nil), Options{})
	for _, u := range []string{f.SSOURL + "/nope/x", f.OIDCURL + "/a/b"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if f.Total() != 2 {
		t.Fatalf("total %d: %v", f.Total(), f.CallCounts())
	}
}
