package wrapper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfargs"
)

// A working-directory .tfguard sets the keys that pick an executable or
// lower safety only once that exact content is trusted; the others always.
func TestWorkDirFileRestrictedKeysNeedTrust(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "user", "config")
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), `min_lifetime = 30m
terraform = ./tools/terraform
ci = false
preflight = off
recovery = off
report_file = r.json
github_oidc_role = arn:aws:iam::123456789012:role/x
flavor = tofu
`)
	c, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("min_lifetime") != "30m0s" {
		t.Errorf("min_lifetime from the untrusted file not applied: %s", c.Value("min_lifetime"))
	}
	if c.Terraform != "" || c.CI != CIAuto || !c.Preflight || !c.Recovery || c.ReportFile != "" || c.GitHubOIDCRole != "" || c.Flavor == "tofu" {
		t.Fatalf("an untrusted file set a restricted key: %+v", c)
	}
	if len(c.Untrusted) != len(RestrictedKeys()) {
		t.Fatalf("want one message per restricted key, got %q", c.Untrusted)
	}
	if m := c.Untrusted[0]; !strings.Contains(m, wd+":2 sets terraform") || !strings.Contains(m, "tf guard trust "+wd) {
		t.Fatalf("message %q", m)
	}

	abs, err := trustFile(trustStorePath(user), wd)
	if err != nil || abs != wd {
		t.Fatalf("trust: %q %v", abs, err)
	}
	c, err = LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.Terraform != filepath.Join(dir, "repo", "tools", "terraform") || c.Preflight || len(c.Untrusted) != 0 {
		t.Fatalf("trusted file not applied: %+v", c)
	}

	// A changed file is not the one the user read.
	if err := os.WriteFile(wd, []byte("terraform = ./other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.Terraform != "" || len(c.Untrusted) != 1 {
		t.Fatalf("changed file still trusted: %+v", c)
	}
	// The environment and the user's own file are always trusted.
	writeFile(t, user, "terraform = /opt/terraform\n")
	c, err = LoadConfig([]string{"TFGUARD_PREFLIGHT=off"}, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.Terraform != "/opt/terraform" || c.Preflight {
		t.Fatalf("user file or env not applied: %+v", c)
	}
}

func TestApplyPositionalSkipsOptionValues(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"apply", "-var-file", "prod.tfvars"}, ""},
		{[]string{"apply", "-var-file", "prod.tfvars", "tfplan"}, "tfplan"},
		{[]string{"apply", "--var-file=prod.tfvars", "-auto-approve", "tfplan"}, "tfplan"},
		{[]string{"-chdir=x", "apply", "-var", "a=b", "-target", "aws_s3_bucket.b", "-lock-timeout", "5m"}, ""},
		{[]string{"apply", "-input=false", "tfplan"}, "tfplan"},
		{[]string{"apply", "--", "tfplan"}, "tfplan"},
		{[]string{"apply"}, ""},
	}
	for _, tc := range cases {
		if got := tfargs.Parse(tc.args).SavedPlan(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

// `apply -var-file prod.tfvars` is not a saved plan, although prod.tfvars
// exists (it was taken for one: an extra `terraform show -json prod.tfvars`).
func TestSavedPlanIsNotAVarFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "prod.tfvars"), "x = 1\n")
	writeFile(t, filepath.Join(dir, "tfplan"), "plan")
	inv := &Invocation{WorkDir: dir, Command: Command{Words: []string{"apply"}, Guarded: true}}
	inv.Args = []string{"apply", "-var-file", "prod.tfvars"}
	if p := savedPlan(inv); p != "" {
		t.Fatalf("savedPlan = %q for %q", p, inv.Args)
	}
	if !mayAskApproval(inv) {
		t.Fatal("an apply without a plan or -auto-approve asks for approval")
	}
	inv.Args = []string{"apply", "-var-file", "prod.tfvars", "tfplan"}
	if p := savedPlan(inv); p != filepath.Join(dir, "tfplan") {
		t.Fatalf("savedPlan = %q for %q", p, inv.Args)
	}
	if mayAskApproval(inv) {
		t.Fatal("applying a saved plan asks nothing")
	}
}

// A repository's untrusted .tfguard may make tf more careful than the
// user's settings, never less: a lower min_lifetime or unknown_lifetime =
// allow over the user's refuse is ignored and said.
func TestUntrustedFileOnlyTightensLifetimeSettings(t *testing.T) {
	dir := t.TempDir()
	user := writeFile(t, filepath.Join(dir, "user", "config"), "min_lifetime = 1h\nunknown_lifetime = refuse\n")
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "min_lifetime = 1s\nunknown_lifetime = allow\n")
	c, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("min_lifetime") != "1h0m0s" || c.UnknownLifetime != UnknownRefuse || len(c.Untrusted) != 2 {
		t.Fatalf("min_lifetime %s unknown_lifetime %s messages %q", c.Value("min_lifetime"), c.UnknownLifetime, c.Untrusted)
	}
	wd = writeFile(t, filepath.Join(dir, "repo2", ".tfguard"), "min_lifetime = 2h\n")
	if c, err = LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd}); err != nil || c.Value("min_lifetime") != "2h0m0s" || len(c.Untrusted) != 0 {
		t.Fatalf("raising: %s %q %v", c.Value("min_lifetime"), c.Untrusted, err)
	}
}

// Arguments given through TF_CLI_ARGS_apply are terraform's: a CI job's
// TF_CLI_ARGS_apply="-auto-approve" asks nothing, and a plan file named
// there is the run's saved plan (its variables decide the credentials).
func TestApplyArgumentsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tfplan"), "plan")
	inv := &Invocation{WorkDir: dir, Command: Command{Words: []string{"apply"}, Guarded: true}, Args: []string{"apply"},
		Env: []string{"TF_CLI_ARGS_apply=-auto-approve"}}
	if mayAskApproval(inv) {
		t.Error("TF_CLI_ARGS_apply=-auto-approve: the apply asks nothing")
	}
	inv.Env = []string{"TF_CLI_ARGS_apply=tfplan"}
	if p := savedPlan(inv); p != filepath.Join(dir, "tfplan") {
		t.Errorf("TF_CLI_ARGS_apply=tfplan: savedPlan = %q", p)
	}
	inv.Env = []string{"TF_CLI_ARGS_plan=-auto-approve"}
	if !mayAskApproval(inv) {
		t.Error("TF_CLI_ARGS_plan is not apply's")
	}
}
