package wrapper

import (
	"reflect"
	"testing"
)

func TestParseCommand(t *testing.T) {
	cases := []struct {
		args    []string
		words   []string
		chdir   string
		guarded bool
	}{
		{nil, nil, "", false},
		{[]string{"-version"}, nil, "", false},
		{[]string{"version", "-json"}, []string{"version"}, "", false},
		{[]string{"plan", "-detailed-exitcode"}, []string{"plan"}, "", true},
		{[]string{"-chdir=infra/prod", "apply", "-auto-approve"}, []string{"apply"}, "infra/prod", true},
		{[]string{"state", "push", "errored.tfstate"}, []string{"state", "push"}, "", true},
		{[]string{"state", "list"}, []string{"state", "list"}, "", false},
		{[]string{"state", "-help"}, []string{"state"}, "", false},
		{[]string{"state", "replace-provider", "a", "b"}, []string{"state", "replace-provider"}, "", true},
		{[]string{"force-unlock", "-force", "id"}, []string{"force-unlock"}, "", true},
		{[]string{"init", "-upgrade"}, []string{"init"}, "", false},
		{[]string{"validate"}, []string{"validate"}, "", false},
		{[]string{"taint", "x"}, []string{"taint"}, "", true},
		{[]string{"untaint", "x"}, []string{"untaint"}, "", true},
		{[]string{"import", "a", "b"}, []string{"import"}, "", true},
		{[]string{"refresh"}, []string{"refresh"}, "", true},
		{[]string{"destroy"}, []string{"destroy"}, "", true},
		{[]string{"output", "plan"}, []string{"output"}, "", false},
	}
	for _, tc := range cases {
		c := ParseCommand(tc.args)
		if !reflect.DeepEqual(c.Words, tc.words) || c.Chdir != tc.chdir || c.Guarded != tc.guarded {
			t.Errorf("ParseCommand(%q) = %+v, want words %q chdir %q guarded %v", tc.args, c, tc.words, tc.chdir, tc.guarded)
		}
	}
}

func TestWorkDir(t *testing.T) {
	if got := (Command{Chdir: "a/b"}).WorkDir("/w"); got != "/w/a/b" {
		t.Errorf("relative: %q", got)
	}
	if got := (Command{Chdir: "/abs/"}).WorkDir("/w"); got != "/abs" {
		t.Errorf("absolute: %q", got)
	}
	if got := (Command{}).WorkDir("/w"); got != "/w" {
		t.Errorf("none: %q", got)
	}
}
