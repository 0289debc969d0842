package wrapper

// What an apply's arguments say about the run: a saved plan, a prompt for
// approval.

import (
	"os"
	"path/filepath"

	"github.com/tfguard/tf/tfargs"
)

// savedPlan is the plan file of `apply PLANFILE`, "" for any other run.
func savedPlan(inv *Invocation) string {
	if len(inv.Command.Words) != 1 || inv.Command.Words[0] != "apply" {
		return ""
	}
	p := tfargs.Parse(inv.Args).SavedPlan()
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(inv.WorkDir, p)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return ""
	}
	return p
}

// mayAskApproval: an apply or destroy that stops at "Enter a value:" for
// its approval (no -auto-approve, no saved plan, input not disabled).
func mayAskApproval(inv *Invocation) bool {
	if len(inv.Command.Words) != 1 || (inv.Command.Words[0] != "apply" && inv.Command.Words[0] != "destroy") {
		return false
	}
	if c := tfargs.Parse(inv.Args); c.Bool("auto-approve", false) || !c.Bool("input", true) {
		return false
	}
	return inv.Command.Words[0] == "destroy" || savedPlan(inv) == ""
}
