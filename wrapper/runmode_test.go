package wrapper

import (
	"strings"
	"testing"
)

// newcomer L5: doctor says whether tf thinks it is in CI or at a terminal,
// and which setting or variable decided; its answer is detectCI's.
func TestDoctorModeSaysCIOrTerminalAndWhy(t *testing.T) {
	for _, c := range []struct {
		setting string
		env     []string
		tty     bool
		want    string
	}{
		{CIAuto, []string{"GITHUB_ACTIONS=true"}, true, "CI (GITHUB_ACTIONS=true): tf never asks"},
		{CIAuto, []string{"CI=1"}, false, "CI (CI=1)"},
		{CIAuto, []string{"CI=false"}, true, "terminal (no CI or GITHUB_ACTIONS variable; stdin is a terminal)"},
		{CIAuto, nil, false, "no terminal (no CI or GITHUB_ACTIONS variable; stdin is not a terminal): tf never asks"},
		{CITrue, nil, true, "CI (ci = true)"},
		{CIFalse, []string{"GITHUB_ACTIONS=true"}, true, "terminal (ci = false; stdin is a terminal)"},
	} {
		got := runMode(c.setting, c.env, c.tty)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %q tty=%v: %q, want %q...", c.setting, c.env, c.tty, got, c.want)
		}
		if ci, _ := ciReason(c.setting, c.env); ci != detectCI(c.setting, c.env) {
			t.Errorf("%s %q: ciReason %v disagrees with detectCI", c.setting, c.env, ci)
		}
	}
}
