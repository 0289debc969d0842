package recovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockFalseFromTheEnvironmentIsTerraformsOwn: terraform reads
// TF_CLI_ARGS_apply before its command line, so a run given -lock=false
// there took no lock, and recovery judges it exactly as a run given
// -lock=false on the command line; the commands tf prints keep the
// person's own arguments (the variable still applies when they run them).
func TestLockFalseFromTheEnvironmentIsTerraformsOwn(t *testing.T) {
	outcome := func(viaEnv bool) (string, Outcome, *ws) {
		x := newWS(t, `"dynamodb_table":"t"`)
		x.w.write(stateJSONFor("L", 1, "base"))
		x.errored(stateJSONFor("L", 2, "base", "new"))
		r := x.run(saveExpired)
		r.Observed = nil // the watch off: the arguments alone say whether it locked
		if viaEnv {
			r.Env = append(r.Env, "TF_CLI_ARGS_apply=-lock=false")
		} else {
			r.Args = append(r.Args, "-lock=false")
		}
		o := Recover(context.Background(), r)
		out := x.out.String()
		if o.RecoveryDir != "" {
			out = strings.ReplaceAll(out, o.RecoveryDir, "$REC")
		}
		return strings.ReplaceAll(out, x.dir, "$DIR"), o, x
	}
	byArgs, oa, _ := outcome(false)
	byEnv, oe, _ := outcome(true)
	if oa.Kind != oe.Kind || oa.Evidence != oe.Evidence || oa.LockID != oe.LockID {
		t.Errorf("judged differently: by args %s %q %q, by env %s %q %q", oa.Kind, oa.Evidence, oa.LockID, oe.Kind, oe.Evidence, oe.LockID)
	}
	if strings.Contains(byEnv, "apply -auto-approve -lock=false") {
		t.Errorf("a printed command adds the environment's -lock=false to the person's own:\n%s", byEnv)
	}
	if byArgs != byEnv {
		t.Errorf("said differently:\nby args:\n%s\nby env:\n%s", byArgs, byEnv)
	}
	raw, err := os.ReadFile(filepath.Join(oe.RecoveryDir, "journal.json"))
	if err != nil {
		t.Fatalf("journal: %v\n%s", err, byEnv)
	}
	if !strings.Contains(string(raw), `"terraform_args"`) || !strings.Contains(string(raw), `"-lock=false"`) {
		t.Errorf("the journal does not record the arguments terraform ran with:\n%s", raw)
	}
}
