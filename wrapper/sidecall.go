package wrapper

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// probeTimeout bounds tf's own short calls to terraform (version, show);
// recovery's state calls have their own, longer bound.
const probeTimeout = 30 * time.Second

// sideTerraform is terraform-exec's handle on terraform for tf's own side
// calls whose result does not depend on the workspace: showing a saved plan
// file and asking the version. terraform-exec runs them in their own process
// group with TF_IN_AUTOMATION set and TF_LOG blanked (right for side calls),
// and it deletes TF_WORKSPACE and refuses it, TF_CLI_ARGS* and TF_VAR_* in
// SetEnv; so the environment is the user's minus those (tfexec.CleanEnv).
// Recovery's state pull/push and force-unlock need TF_WORKSPACE and are run
// by hand for that reason (recovery/tfcmd.go).
func sideTerraform(dir, path string, environ []string) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(dir, path)
	if err != nil {
		return nil, fmt.Errorf("prepare %s in %s: %w", path, dir, err)
	}
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if err := tf.SetEnv(tfexec.CleanEnv(env)); err != nil {
		return nil, fmt.Errorf("environment for %s: %w", path, err)
	}
	return tf, nil
}

// showPlanFile reads a saved plan as `terraform show -json PLAN` prints it.
func showPlanFile(ctx context.Context, dir, path string, environ []string, plan string) (*tfjson.Plan, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	tf, err := sideTerraform(dir, path, environ)
	if err != nil {
		return nil, err
	}
	p, err := tf.ShowPlanFile(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("terraform show -json %s: %w", plan, err)
	}
	return p, nil
}

// toolVersion is "Terraform v1.11.4" (or "OpenTofu v1.9.0" for flavor tofu),
// from `terraform version -json`.
func toolVersion(ctx context.Context, dir, path, flavor string, environ []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	tf, err := sideTerraform(dir, path, environ)
	if err != nil {
		return "", err
	}
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return "", err
	}
	product := "Terraform"
	if flavor == FlavorTofu {
		product = "OpenTofu"
	}
	return product + " v" + v.String(), nil
}
