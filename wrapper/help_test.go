package wrapper

import "testing"

func TestHelpGetsGuardLineOnlyUnderTFsOwnName(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/usr/local/bin/tf", "--help"}, true},
		{[]string{"tf", "-help"}, true},
		{[]string{"tf", "-chdir=x", "-h"}, true},
		{[]string{"tf"}, true},
		{[]string{"tf", "plan", "-help"}, false},
		{[]string{"tf", "-version"}, false},
		{[]string{"tf", "-help", "plan"}, false},
		{[]string{"/usr/local/bin/terraform", "-help"}, false},
		{[]string{"tofu"}, false},
		{[]string{"TERRAFORM.EXE", "--help"}, false},
	} {
		if got := helpGetsGuardLine(c.argv); got != c.want {
			t.Errorf("%q: %v, want %v", c.argv, got, c.want)
		}
	}
}

// runHelp releases nothing: it is reached only by command lines that are
// not guarded, for which Startup starts nothing (no OIDC endpoint, no ID
// token copies). A guarded command asking for help (`apply -help`) goes
// through Before and After, which close what Startup's resume started
// (e2e github_token_resume_leaves_no_copy).
func TestHelpLinesAreNeverGuarded(t *testing.T) {
	for _, args := range [][]string{{}, {"-help"}, {"-h"}, {"--help"}, {"-chdir=infra", "-help"}, {"-help", "-chdir=infra"}} {
		if !helpGetsGuardLine(append([]string{"tf"}, args...)) {
			t.Fatalf("%q: want terraform's help with tf's line", args)
		}
		if ParseCommand(args).Guarded {
			t.Errorf("%q runs through runHelp but is guarded: Startup may have started what runHelp never closes", args)
		}
	}
	for _, args := range [][]string{{"apply", "-help"}, {"-help", "apply"}, {"destroy", "-h"}} {
		if helpGetsGuardLine(append([]string{"tf"}, args...)) || !ParseCommand(args).Guarded {
			t.Errorf("%q: want a guarded run (Before and After), not runHelp", args)
		}
	}
}
