package credguard

import (
	"encoding/json"
	"fmt"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// SavedPlan is what the guard knows of the saved plan a run applies.
type SavedPlan struct {
	// Path is the plan file.
	Path string
	// Variables are the root module's variable values stored in the plan
	// (defaults included, as `terraform show -json` lists them); nil when
	// the plan could not be read.
	Variables map[string]cty.Value
	// Err says why the plan could not be read; the settings that use
	// variables are then unknown, never judged with the apply's variables.
	Err error
}

// ReadSavedPlan takes the result of `terraform show -json PLAN` (terraform
// -exec's ShowPlanFile): its variables, or why there are none.
func ReadSavedPlan(path string, plan *tfjson.Plan, err error) *SavedPlan {
	sp := &SavedPlan{Path: path}
	switch {
	case err != nil:
		sp.Err = err
		return sp
	case plan == nil:
		sp.Err = fmt.Errorf("terraform show -json %s gave no plan", path)
		return sp
	}
	sp.Variables = map[string]cty.Value{}
	for name, v := range plan.Variables {
		if v == nil || v.Value == nil {
			sp.Variables[name] = cty.NullVal(cty.DynamicPseudoType)
			continue
		}
		sp.Variables[name] = jsonValue(v.Value)
	}
	return sp
}

// jsonValue is a decoded JSON value as cty; what cannot be converted is
// unknown.
func jsonValue(v any) cty.Value {
	b, err := json.Marshal(v)
	if err != nil {
		return cty.DynamicVal
	}
	t, err := ctyjson.ImpliedType(b)
	if err != nil {
		return cty.DynamicVal
	}
	cv, err := ctyjson.Unmarshal(b, t)
	if err != nil {
		return cty.DynamicVal
	}
	return cv
}

// applySavedPlan replaces the variable values with the saved plan's: a
// variable the plan stores takes its value from there; one it does not
// store (an ephemeral variable, which terraform takes from the apply's own
// command line and environment) keeps the value found for this run. When
// the plan could not be read every variable is unknown.
func applySavedPlan(sp *SavedPlan, vars map[string]cty.Value) []string {
	if sp == nil || len(vars) == 0 {
		return nil
	}
	if sp.Variables == nil {
		for name := range vars {
			vars[name] = cty.DynamicVal.Mark(savedPlanMark)
		}
		return []string{fmt.Sprintf("the variables stored in the saved plan %s could not be read (%v): settings that use variables are unknown", sp.Path, sp.Err)}
	}
	for name := range vars {
		if v, ok := sp.Variables[name]; ok {
			vars[name] = v
		}
	}
	return nil
}

// savedPlanMark marks the variables of a saved plan that could not be read,
// so that a setting built from them says so (see evalSetting).
type planMark string

const savedPlanMark = planMark("the saved plan's variables")

// fromUnreadPlan: v is unknown because the saved plan could not be read.
func fromUnreadPlan(v cty.Value) bool {
	if v == cty.NilVal {
		return false
	}
	_, marks := v.UnmarkDeep()
	_, ok := marks[savedPlanMark]
	return ok
}
