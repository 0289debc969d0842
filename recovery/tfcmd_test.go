package recovery

import (
	"slices"
	"strings"
	"testing"
)

// TestSideCallsDropTheArgsVariablesTerraformReads: terraform prefixes a
// command's arguments with TF_CLI_ARGS and with TF_CLI_ARGS_<command>, the
// command's words joined by "_" with every "-" made "_" (main.go,
// mergeEnvArgs): `force-unlock` reads TF_CLI_ARGS_force_unlock. A user's
// value there must not reach tf's own side calls.
func TestSideCallsDropTheArgsVariablesTerraformReads(t *testing.T) {
	for _, c := range []tfCall{
		buildPull("terraform", ".", nil),
		buildPush("terraform", ".", nil, "errored.tfstate", false),
		buildUnlock("terraform", ".", nil, "ID"),
	} {
		words := []string{c.Args[0]}
		if c.Args[0] == "state" {
			words = append(words, c.Args[1])
		}
		name := "TF_CLI_ARGS_" + strings.ReplaceAll(strings.Join(words, "_"), "-", "_")
		env := sideEnv([]string{"TF_CLI_ARGS=-x", name + "=-y", "TF_WORKSPACE=w"})
		for _, kv := range env {
			if strings.HasPrefix(kv, "TF_CLI_ARGS") {
				t.Errorf("%v: %s reaches the side call", c.Args, kv)
			}
		}
		if !slices.Contains(env, "TF_WORKSPACE=w") {
			t.Errorf("%v: TF_WORKSPACE was dropped", c.Args)
		}
	}
}
