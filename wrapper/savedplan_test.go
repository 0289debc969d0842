package wrapper

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tfguard/tf/credguard"
)

// F1 with real terraform: the variables the guard reads from a saved plan
// are the ones the plan was made with, whatever the apply's environment
// says (terraform applies those; reviews/2026-12-02 f1_terraform_uses_plan_vars.sh).
func TestSavedPlanVariablesAreThePlans(t *testing.T) {
	tfPath := realTerraform(t)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "empty.tfrc")
	writeFile(t, cliConfig, "")
	writeFile(t, filepath.Join(dir, "main.tf"), `
variable "profile" {
  type    = string
  default = "dev"
}
resource "terraform_data" "x" { input = var.profile }
`)
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1")
	for _, args := range [][]string{{"init", "-input=false"}, {"plan", "-input=false", "-var", "profile=prod", "-out=prod.tfplan"}} {
		cmd := exec.Command(tfPath, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	plan := filepath.Join(dir, "prod.tfplan")
	p, err := showPlanFile(context.Background(), dir, tfPath, append(env, "TF_VAR_profile=staging"), plan)
	sp := credguard.ReadSavedPlan(plan, p, err)
	if sp.Err != nil || sp.Variables["profile"].AsString() != "prod" {
		t.Fatalf("saved plan variables %#v (%v)", sp.Variables, sp.Err)
	}
}
