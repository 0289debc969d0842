package credguard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// F1: `apply PLANFILE` is judged with the variable values stored in the
// plan, which terraform applies; the apply's TF_VAR_*, tfvars and -var do
// not count. A plan whose variables cannot be read leaves the settings
// that use variables unknown, never judged with the apply's values.
func TestSavedPlanVariablesDecideTheCredential(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "TF_VAR_profile=nope-env")
	e.seedLegacy(2 * time.Minute)
	e.writeTF("main.tf", "variable \"profile\" {\n  type    = string\n  default = \"static\"\n}\nvariable \"eph\" {\n  type    = string\n  default = \"x\"\n}\nprovider \"aws\" {\n  profile = var.profile\n}\n")
	e.writeTF("terraform.tfvars", "profile = \"nope-tfvars\"\n")
	var plan tfjson.Plan // `terraform show -json` of a plan made with -var profile=legacy
	if err := json.Unmarshal([]byte(`{"format_version":"1.2","variables":{"profile":{"value":"legacy"}}}`), &plan); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.CI = true
	o.Args = []string{"apply", "-var", "profile=nope-cmdline", "prod.tfplan"}
	o.SavedPlan = ReadSavedPlan("prod.tfplan", &plan, nil)
	r, err := Preflight(context.Background(), o)
	var se *ShortError
	if !errors.As(err, &se) || len(r.Entries) != 1 || r.Entries[0].Name != "profile legacy" {
		t.Fatalf("want the plan's profile legacy (2m left) refused, got %+v (%v)", r.Entries, err)
	}
	// Unreadable plan: unknown, and said why.
	o.SavedPlan = ReadSavedPlan("prod.tfplan", nil, errors.New("exit status 1"))
	r, err = Preflight(context.Background(), o)
	if err != nil || len(r.Entries) != 1 || r.Entries[0].Verdict != VerdictUnknown ||
		!strings.Contains(strings.Join(r.Notes, "\n"), "variables stored in the saved plan prod.tfplan could not be read (exit status 1)") ||
		!strings.Contains(r.Entries[0].Detail, "profile comes from the saved plan's variables, which could not be read") {
		t.Fatalf("got %+v notes %q (%v)", r.Entries, r.Notes, err)
	}
	// A variable the plan does not store (ephemeral) keeps the apply's value.
	e.writeTF("main.tf", "variable \"profile\" {\n  type    = string\n  default = \"static\"\n}\nprovider \"aws\" {\n  profile = var.profile\n}\n")
	if err := json.Unmarshal([]byte(`{"format_version":"1.2"}`), &plan); err != nil {
		t.Fatal(err)
	}
	o.SavedPlan = ReadSavedPlan("prod.tfplan", &plan, nil)
	o.Env = e.opts.Env[:len(e.opts.Env)-1] // without TF_VAR_profile
	o.Args = []string{"apply", "-var", "profile=static", "prod.tfplan"}
	if m := credNames(t, o); len(m) != 1 || m["profile static"].Kind != KindStatic {
		t.Fatalf("got %v", m)
	}
}
