package credguard

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// TF_CLI_ARGS and TF_CLI_ARGS_<command> are split with shell quoting and
// put where terraform's main.go puts them: after the command's last word,
// the command's own variable before TF_CLI_ARGS, both before the rest of
// the command line.
func TestTerraformArgsSplitAndPlacedAsTerraformDoes(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     []string
		command string
		args    []string
		want    []string
	}{
		{"double quotes removed", []string{`TF_CLI_ARGS_apply=-var="profile=prod"`}, "apply", []string{"apply"},
			[]string{"apply", "-var=profile=prod"}},
		{"single quotes keep the word", []string{`TF_CLI_ARGS_apply=-var 'profile=prod'`}, "apply", []string{"apply", "-auto-approve"},
			[]string{"apply", "-var", "profile=prod", "-auto-approve"}},
		{"quoted space in a path", []string{`TF_CLI_ARGS_apply=-var-file="env files/prod.tfvars"`}, "apply", []string{"apply"},
			[]string{"apply", "-var-file=env files/prod.tfvars"}},
		{"command's own first, then TF_CLI_ARGS", []string{"TF_CLI_ARGS=-var=p=general", "TF_CLI_ARGS_plan=-var=p=plan"}, "plan", []string{"-chdir=x", "plan", "-var=p=cmdline"},
			[]string{"-chdir=x", "plan", "-var=p=plan", "-var=p=general", "-var=p=cmdline"}},
		{"state push reads TF_CLI_ARGS_state_push", []string{"TF_CLI_ARGS_state=-no", "TF_CLI_ARGS_state_push=-lock=false"}, "state push", []string{"state", "push", "f"},
			[]string{"state", "push", "-lock=false", "f"}},
		{"force-unlock reads TF_CLI_ARGS_force_unlock", []string{"TF_CLI_ARGS_force_unlock=-force"}, "force-unlock", []string{"force-unlock", "ID"},
			[]string{"force-unlock", "-force", "ID"}},
		{"escaped space", []string{`TF_CLI_ARGS=-var-file=a\ b.tfvars`}, "apply", []string{"apply"},
			[]string{"apply", "-var-file=a b.tfvars"}},
	} {
		got, err := TerraformArgs(c.env, c.command, c.args)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.want)
		}
	}
	if _, err := TerraformArgs([]string{`TF_CLI_ARGS=-var "unclosed`}, "apply", []string{"apply"}); err == nil {
		t.Errorf("an unclosed quote is an error, as in terraform")
	}
}

// F3: a quoted -var or -var-file in TF_CLI_ARGS_apply decides the profile
// judged, as it decides the one terraform uses.
func TestQuotedCLIArgsEnvDecidesTheProfile(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", "variable \"profile\" {\n  type    = string\n  default = \"nope\"\n}\nprovider \"aws\" {\n  profile = var.profile\n}\n")
	if err := os.MkdirAll(filepath.Join(e.dir, "env files"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeTF("env files/prod.tfvars", "profile = \"static\"\n")
	for _, v := range []string{`-var="profile=static"`, `-var 'profile=static'`, `-var-file="env files/prod.tfvars"`, `-var=profile=nope -var "profile=static"`} {
		o := e.opts
		o.Args = []string{"apply", "-auto-approve"}
		o.Env = append(o.Env, "TF_CLI_ARGS_apply="+v)
		if m := credNames(t, o); len(m) != 1 || m["profile static"].Kind != KindStatic {
			t.Errorf("TF_CLI_ARGS_apply=%s: got %v", v, m)
		}
	}
}
