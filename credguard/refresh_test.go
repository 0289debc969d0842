package credguard

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/smithy-go/middleware"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// TestMain lets the test binary act as a second tf process refreshing the
// same cache.
func TestMain(m *testing.M) {
	if path := os.Getenv("CREDGUARD_TEST_REFRESH_CACHE"); path != "" {
		os.Exit(helperRefresh(path))
	}
	os.Exit(m.Run())
}

func helperRefresh(path string) int {
	o := Options{Env: []string{EnvEndpointURLSSOOIDC + "=" + os.Getenv("CREDGUARD_TEST_OIDC")}, StateDir: os.Getenv("CREDGUARD_TEST_STATE")}
	// wait for the common start signal so both processes race
	for {
		if _, err := os.Stat(os.Getenv("CREDGUARD_TEST_GO")); err == nil {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, refreshed, err := refreshCache(context.Background(), ssoLockPath(o, path), path, mustOIDCClient(o), time.Now, 15*time.Minute, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("refreshed", refreshed)
	return 0
}

func TestTwoProcessesRefreshSameCache(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.seed(8*time.Hour, -time.Minute)
	goFile := e.home + "/go"
	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CREDGUARD_TEST_REFRESH_CACHE="+e.cacheFile(), "CREDGUARD_TEST_OIDC="+e.f.OIDCURL, "CREDGUARD_TEST_GO="+goFile, "CREDGUARD_TEST_STATE="+e.opts.StateDir)
			b, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(b), err
		}(i)
	}
	time.Sleep(300 * time.Millisecond)
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	refreshed := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		if strings.Contains(outs[i], "refreshed true") {
			refreshed++
		}
	}
	// Exactly one refreshed; the others re-read under the lock and skipped.
	if refreshed != 1 || e.f.Calls(fakeaws.OpCreateTokenRefresh) != 1 {
		t.Fatalf("refreshed %d times, calls %v, outputs %q", refreshed, e.f.CallCounts(), outs)
	}
	b, err := os.ReadFile(e.cacheFile())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("cache is not valid JSON: %v", err)
	}
	if st, _ := os.Stat(e.cacheFile()); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	// The token works at the portal.
	c := sso.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}, func(o *sso.Options) { o.BaseEndpoint = aws.String(e.f.SSOURL) })
	if _, err := c.GetRoleCredentials(context.Background(), &sso.GetRoleCredentialsInput{
		AccessToken: aws.String(m["accessToken"].(string)), AccountId: aws.String("123456789012"), RoleName: aws.String("Admin"),
	}); err != nil {
		t.Fatalf("refreshed token does not work: %v", err)
	}
	for _, o := range outs {
		e.assertNoSecrets(o)
	}
}

// TestRefresherBeatsTheSDK: terraform's SDK (simulated by the real SDK with
// terraform's user agent) keeps fetching role credentials through several
// short access-token lifetimes. Without tf, the SDK refreshes the token
// itself (after expiry); with tf's refresher running, it never has to: the
// fake sees CreateToken from tf only.
func TestRefresherBeatsTheSDK(t *testing.T) {
	tfCalls, terraformCalls := simulateRun(t, false)
	if tfCalls != 0 || terraformCalls == 0 {
		t.Fatalf("control run: tf %d, terraform %d refreshes; the SDK should have refreshed by itself", tfCalls, terraformCalls)
	}
	tfCalls, terraformCalls = simulateRun(t, true)
	if tfCalls < 2 || terraformCalls != 0 {
		t.Fatalf("with the refresher: tf %d, terraform %d refreshes", tfCalls, terraformCalls)
	}
}

func simulateRun(t *testing.T, refresher bool) (byTF, byTerraform int) {
	e := newEnv(t, fakeaws.Options{RoleCredentialLifetime: time.Second}, "AWS_PROFILE=sso")
	tok := e.f.NewSSOSession("corp", "https://corp.awsapps.com/start", time.Hour, 3*time.Second)
	if _, err := fakeaws.WriteSSOCache(e.home, "corp", tok, false); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.Config = Config{RefreshAhead: 2 * time.Second, RefreshEvery: 200 * time.Millisecond}
	ctx := context.Background()
	if refresher {
		stop := StartRefresher(ctx, o, Report{})
		defer stop()
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	deadline := time.Now().Add(4 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile("sso"),
			config.WithAPIOptions([]func(*middleware.Stack) error{awsmiddleware.AddUserAgentKeyValue("Terraform", "1.11.4")}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			t.Fatalf("terraform's SDK lost its credentials after %d fetches: %v", n, err)
		}
		n++
		time.Sleep(250 * time.Millisecond)
	}
	if e.f.CallsBy(fakeaws.OpGetRoleCredentials, fakeaws.CallerTerraform) != n {
		t.Fatalf("calls not attributed to terraform: %v", e.f.CallCounts())
	}
	e.assertNoSecrets(e.out.String())
	return e.f.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF), e.f.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTerraform)
}

func BenchmarkPreflightWarm(b *testing.B) {
	f := fakeaws.New(fakeaws.NewLedger(nil), fakeaws.Options{})
	defer f.Close()
	home := b.TempDir()
	cfg := home + "/config"
	if err := os.WriteFile(cfg, []byte(awsConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	tok := f.NewSSOSession("corp", "https://corp.awsapps.com/start", 8*time.Hour, time.Hour)
	if _, err := fakeaws.WriteSSOCache(home, "corp", tok, false); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(dir+"/main.tf", []byte("provider \"aws\" {\n  profile = \"deploy\"\n}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	o := Options{Dir: dir, Command: "apply", StateDir: home + "/state",
		Env: append([]string{"HOME=" + home, "AWS_CONFIG_FILE=" + cfg, "AWS_PROFILE=sso"}, f.Env()...)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Preflight(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if f.Total() != 0 {
		b.Fatalf("warm preflight made network calls: %v", f.CallCounts())
	}
}

func mustOIDCClient(o Options) createTokenAPI {
	c, err := oidcClient(context.Background(), o, "us-east-1")
	if err != nil {
		panic(err)
	}
	return c
}

// A panic in the refresher (a bug in tf or the SDK) ends the refresher with
// a warning; tf, and the terraform whose output it relays, go on.
func TestRefresherPanicStopsOnlyTheRefresher(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	tok := e.f.NewSSOSession("corp", "https://corp.awsapps.com/start", time.Hour, time.Hour)
	if _, err := fakeaws.WriteSSOCache(e.home, "corp", tok, false); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.Config = Config{RefreshAhead: time.Minute, RefreshEvery: 20 * time.Millisecond}
	var boom atomic.Bool
	o.Now = func() time.Time {
		if boom.Load() {
			panic("boom")
		}
		return time.Now()
	}
	stop := StartRefresher(context.Background(), o, Report{})
	boom.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.out.String(), "refresher stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning; output:\n%s", e.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	boom.Store(false)
	stop()
	if !strings.Contains(e.out.String(), "tf internal error: boom") {
		t.Errorf("output:\n%s", e.out.String())
	}
}
