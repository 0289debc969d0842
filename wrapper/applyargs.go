package wrapper

// What an apply's arguments say about the run: a saved plan, a prompt for
// approval.

import (
	"os"
	"path/filepath"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfargs"
)

// terraformArgs are the arguments terraform runs with: the command line
// with TF_CLI_ARGS and TF_CLI_ARGS_<command> merged as terraform merges
// them (a CI job's TF_CLI_ARGS_apply="-auto-approve", or a plan file named
// there).
func terraformArgs(inv *Invocation) []string {
	return tfargs.WithEnv(func(k string) string { return envlist.Get(inv.Env, k) }, inv.Args)
}

// savedPlan is the plan file of `apply PLANFILE`, "" for any other run.
func savedPlan(inv *Invocation) string {
	if len(inv.Command.Words) != 1 || inv.Command.Words[0] != "apply" {
		return ""
	}
	p := tfargs.Parse(terraformArgs(inv)).SavedPlan()
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
	if c := tfargs.Parse(terraformArgs(inv)); c.Bool("auto-approve", false) || !c.Bool("input", true) {
		return false
	}
	return inv.Command.Words[0] == "destroy" || savedPlan(inv) == ""
}
