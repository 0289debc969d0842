package wrapper

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tfguard/tf/credguard"
)

// realTerraform is the terraform on PATH, for the side calls' tests.
func realTerraform(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("terraform is required in CI: %v", err)
		}
		t.Skip("terraform not on PATH")
	}
	return p
}

// The saved plan is read through terraform-exec, with the user's
// environment even when it holds variables terraform-exec refuses to set.
func TestShowPlanFileAndVersion(t *testing.T) {
	tfPath := realTerraform(t)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "empty.tfrc")
	writeFile(t, cliConfig, "")
	writeFile(t, filepath.Join(dir, "main.tf"), `
variable "n" { default = 1 }
resource "terraform_data" "a" { input = var.n }
resource "terraform_data" "b" {}
`)
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1")
	for _, args := range [][]string{{"init", "-input=false"}, {"plan", "-input=false", "-out=saved.tfplan"}} {
		cmd := exec.Command(tfPath, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	// What a user's shell may hold: terraform-exec's SetEnv refuses these.
	userEnv := append(env, "TF_WORKSPACE=default", "TF_LOG=trace", "TF_VAR_n=2", "TF_CLI_ARGS=-no-color")
	plan, err := showPlanFile(context.Background(), dir, tfPath, userEnv, filepath.Join(dir, "saved.tfplan"))
	if err != nil {
		t.Fatal(err)
	}
	if got := credguard.PlanResourceTypes(plan); !reflect.DeepEqual(got, []string{"terraform_data", "terraform_data"}) {
		t.Fatalf("changed types %q", got)
	}
	if _, err := showPlanFile(context.Background(), dir, tfPath, userEnv, filepath.Join(dir, "main.tf")); err == nil {
		t.Fatal("a .tf file was read as a plan")
	}

	v, err := toolVersion(context.Background(), dir, tfPath, FlavorTerraform, userEnv)
	if err != nil || !strings.HasPrefix(v, "Terraform v1.") {
		t.Fatalf("version %q, %v", v, err)
	}
}
