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
