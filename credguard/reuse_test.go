package credguard

import (
	"context"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// F7: a guarded command reads the configuration once: the refresher keeps
// fresh the SSO tokens the preflight found, without discovering again (a
// configuration changed after the preflight does not change what it
// refreshes).
func TestRefresherUsesThePreflightsCredentialsNotASecondDiscovery(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	e.seed(8*time.Hour, time.Hour)
	o := e.opts
	r, err := Preflight(context.Background(), o)
	if err != nil || len(r.Entries) != 1 || r.Entries[0].Kind != KindSSOSession {
		t.Fatalf("preflight %+v %v", r.Entries, err)
	}
	// A second discovery would now find only static keys.
	e.writeTF("main.tf", "provider \"aws\" {\n  profile = \"static\"\n}\n")
	o.Config = Config{RefreshAhead: 2 * time.Hour, RefreshEvery: 20 * time.Millisecond}
	stop := StartRefresher(context.Background(), o, r)
	defer stop()
	deadline := time.Now().Add(20 * time.Second)
	for e.f.Calls(fakeaws.OpCreateTokenRefresh) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the refresher did not refresh the preflight's SSO token; output:\n%s", e.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// F7: locals are evaluated in dependency order, whatever order the files
// give them: a long chain written backwards, a reference cycle (unknown),
// and a local built on a resource (unknown) beside known ones.
func TestLocalsEvaluatedInDependencyOrder(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	src := "locals {\n  k0 = local.k1\n"
	for i := 1; i < 3000; i++ {
		src += "  k" + itoa(i) + " = local.k" + itoa(i+1) + "\n"
	}
	src += "  k3000 = \"static\"\n  c1 = local.c2\n  c2 = local.c1\n  r = aws_s3_bucket.b.id\n}\n"
	src += "provider \"aws\" {\n  profile = local.k0\n}\nprovider \"aws\" {\n  alias   = \"c\"\n  profile = local.c1\n}\nprovider \"aws\" {\n  alias   = \"r\"\n  profile = local.r\n}\n"
	e.writeTF("main.tf", src)
	creds, _, err := Discover(context.Background(), e.opts)
	if err != nil || len(creds) != 3 {
		t.Fatalf("got %+v (%v)", creds, err)
	}
	kinds := map[Kind]int{}
	for _, c := range creds {
		kinds[c.Kind]++
	}
	if kinds[KindStatic] != 1 || kinds[KindUnknown] != 2 || creds[0].Name != "profile static" {
		t.Fatalf("want the chain's profile static and two unknowns (cycle, resource): %+v", creds)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}
