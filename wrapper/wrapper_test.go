package wrapper

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestChildEnv(t *testing.T) {
	got := ChildEnv([]string{"A=1", "TFGUARD_CHAIN=/first/tf", "TF_LOG=debug", "B="}, "/second/tf")
	want := []string{"A=1", "TF_LOG=debug", "B=", "TFGUARD_CHAIN=/first/tf:/second/tf"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	got = ChildEnv([]string{"A=1"}, "/tf")
	if !reflect.DeepEqual(got, []string{"A=1", "TFGUARD_CHAIN=/tf"}) {
		t.Fatalf("got %q", got)
	}
	for _, kv := range ChildEnv([]string{"PATH=/bin"}, "/tf") {
		if kv == "TF_IN_AUTOMATION=1" || len(kv) > 17 && kv[:17] == "TF_IN_AUTOMATION=" {
			t.Fatal("TF_IN_AUTOMATION injected")
		}
	}
}

func TestDetectCI(t *testing.T) {
	cases := []struct {
		setting string
		env     []string
		want    bool
	}{
		{"auto", nil, false},
		{"auto", []string{"CI=true"}, true},
		{"auto", []string{"CI=1"}, true},
		{"auto", []string{"CI=false"}, false},
		{"auto", []string{"CI=0"}, false},
		{"auto", []string{"CI="}, false},
		{"auto", []string{"GITHUB_ACTIONS=true"}, true},
		{"false", []string{"GITHUB_ACTIONS=true", "CI=true"}, false},
		{"true", nil, true},
	}
	for _, c := range cases {
		if got := detectCI(c.setting, c.env); got != c.want {
			t.Errorf("detectCI(%q, %q) = %v", c.setting, c.env, got)
		}
	}
}

func TestExitCodeMapping(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{&ConfigError{Where: "f:1", Key: "k", Err: errors.New("bad")}, ExitConfig},
		{&NotFoundError{Name: "terraform"}, ExitNotFound},
		{&ExecError{Path: "/x", Err: errors.New("denied")}, ExitNotExecutable},
		{withExitCode(errors.New("creds too short"), ExitPreflight), ExitPreflight},
		{withExitCode(&ConfigError{Err: errors.New("x")}, ExitPreflight), ExitConfig}, // an own code wins
		{withExitCode(customCode{}, ExitPreflight), 42},
	}
	for _, c := range cases {
		if got := exitCodeOf(c.err); got != c.want {
			t.Errorf("exitCodeOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

type customCode struct{}

func (customCode) Error() string { return "custom" }
func (customCode) ExitCode() int { return 42 }

func TestNoOpHooks(t *testing.T) {
	h := Hooks{}.withDefaults()
	if code, stop := h.Startup.Startup(context.Background(), &Invocation{}); stop || code != 0 {
		t.Fatalf("startup: %d %v", code, stop)
	}
	if err := h.Guard.Before(context.Background(), &Invocation{}); err != nil {
		t.Fatal(err)
	}
	if got := h.Guard.After(context.Background(), &Invocation{}, &Result{ExitCode: 2}); got != 2 {
		t.Fatalf("after returned %d, want terraform's 2", got)
	}
}

func TestFlavorFromName(t *testing.T) {
	cases := []struct {
		argv0  string
		env    []string
		want   string
		source string
	}{
		{"/home/u/bin/tofu", nil, FlavorTofu, "run as tofu"},
		{"/opt/bin/Tofu.exe", nil, FlavorTofu, "run as tofu"},
		{"terraform", nil, FlavorTerraform, "run as terraform"},
		{"/usr/local/bin/tf", nil, FlavorTerraform, "default"},
		{"tf", []string{"TFGUARD_FLAVOR=tofu"}, FlavorTofu, "env TFGUARD_FLAVOR"}, // alias tofu='TFGUARD_FLAVOR=tofu tf'
		{"/x/tofu", []string{"TFGUARD_FLAVOR=terraform"}, FlavorTerraform, "env TFGUARD_FLAVOR"},
		{"/x/terraform", []string{"TFGUARD_FLAVOR=tofu"}, FlavorTofu, "env TFGUARD_FLAVOR"},
	}
	for _, c := range cases {
		cfg, err := LoadConfig(c.env, ConfigFiles{})
		if err != nil {
			t.Fatal(err)
		}
		got := FlavorFromName(cfg, c.argv0)
		if got.Flavor != c.want || got.Sources["flavor"].String() != c.source {
			t.Errorf("%s with %q: flavor %s from %s, want %s from %s", c.argv0, c.env, got.Flavor, got.Sources["flavor"], c.want, c.source)
		}
		if cfg.Sources["flavor"].String() != sourceOf(c.env) {
			t.Errorf("%s: the input configuration was changed", c.argv0)
		}
	}
}

func sourceOf(env []string) string {
	if len(env) > 0 {
		return "env TFGUARD_FLAVOR"
	}
	return "default"
}

func TestGuardArgs(t *testing.T) {
	cases := []struct {
		args  []string
		chdir string
		rest  []string
		ok    bool
	}{
		{[]string{"guard", "doctor"}, "", []string{"doctor"}, true},
		{[]string{"-chdir=infra", "guard", "check", "-json"}, "infra", []string{"check", "-json"}, true},
		{[]string{"-chdir=a", "-chdir=b", "guard"}, "b", []string{}, true},
		{[]string{"-chdir=infra", "plan"}, "", nil, false},
		{[]string{"-no-color", "guard", "doctor"}, "", nil, false}, // terraform's to answer
		{[]string{"plan", "guard"}, "", nil, false},
		{nil, "", nil, false},
	}
	for _, c := range cases {
		chdir, rest, ok := guardArgs(c.args)
		if ok != c.ok || chdir != c.chdir || !reflect.DeepEqual(rest, c.rest) {
			t.Errorf("%q: %q %q %v, want %q %q %v", c.args, chdir, rest, ok, c.chdir, c.rest, c.ok)
		}
	}
}
