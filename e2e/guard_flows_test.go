package e2e

// The CI flows the guard must judge as terraform runs them, through the
// built binary with a stand-in terraform (see lab): a saved plan applied
// with its own variables, TF_CLI_ARGS with shell quoting.

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// planTerraform answers `version` and `show -json PLAN` as terraform 1.11
// does for a plan made with -var profile=legacy, and records every call.
const planTerraform = `#!/bin/sh
echo "ARGS: $*" >> "$FAKE_TF_LOG"
case "$1" in
version)
  case "$*" in
  *-json*) echo '{"terraform_version":"1.11.4","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
  *) printf 'Terraform v1.11.4\non linux_amd64\n' ;;
  esac ;;
show) echo '{"format_version":"1.2","terraform_version":"1.11.4","variables":{"profile":{"value":"legacy"}},"resource_changes":[]}' ;;
esac
exit 0
`

// seedLegacyCache writes the legacy profile's token, left long.
func (l *lab) seedLegacyCache(left time.Duration) {
	sum := sha1.Sum([]byte("https://legacy.awsapps.com/start"))
	l.write(filepath.Join(l.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"),
		fmt.Sprintf(`{"startUrl":"https://legacy.awsapps.com/start","region":"us-east-1","accessToken":"aoaLEGACY","expiresAt":%q}`, rfc3339In(left)), 0o600)
}

// F1: in CI, `apply PLANFILE` is judged with the plan's variables: the
// plan says profile legacy (2 minutes left), the apply's environment and
// -var say static; tf refuses before terraform applies.
func TestSavedPlanJudgedWithItsOwnVariables(t *testing.T) {
	l := newLab(t)
	fake := filepath.Join(filepath.Dir(l.log), "bin", "terraform-plan")
	l.write(fake, planTerraform, 0o755)
	l.env["TFGUARD_TERRAFORM"] = fake
	l.seedLegacyCache(2 * time.Minute)
	l.write(filepath.Join(l.dir, "main.tf"), "variable \"profile\" {\n  type    = string\n  default = \"static\"\n}\nprovider \"aws\" {\n  profile = var.profile\n}\nresource \"aws_s3_bucket\" \"b\" {}\n", 0o644)
	l.write(filepath.Join(l.dir, "prod.tfplan"), "plan-bytes", 0o644)
	code, out := l.run([]string{"CI=true", "TF_VAR_profile=static"}, "apply", "prod.tfplan")
	if code != 75 || !strings.Contains(out, "profile legacy (used by provider \"aws\" (main.tf:5)) has") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if calls := l.terraformEnv(); strings.Contains(calls, "ARGS: apply") {
		t.Fatalf("terraform applied:\n%s", calls)
	}
	// Without the saved plan the same environment judges static and runs.
	code, out = l.run([]string{"CI=true", "TF_VAR_profile=static"}, "apply", "-auto-approve")
	if code != 0 || !strings.Contains(l.terraformEnv(), "ARGS: apply -auto-approve") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// F3 through the binary: a quoted -var in TF_CLI_ARGS_apply is read as
// terraform reads it.
func TestQuotedTFCLIArgsJudgedThroughTheBinary(t *testing.T) {
	l := newLab(t)
	l.seedLegacyCache(2 * time.Minute)
	l.write(filepath.Join(l.dir, "main.tf"), "variable \"profile\" {\n  type    = string\n  default = \"static\"\n}\nprovider \"aws\" {\n  profile = var.profile\n}\nresource \"aws_s3_bucket\" \"b\" {}\n", 0o644)
	for _, v := range []string{`-var="profile=legacy"`, `-var 'profile=legacy'`} {
		code, out := l.run([]string{"CI=true", "TF_CLI_ARGS_apply=" + v}, "apply", "-auto-approve")
		if code != 75 || !strings.Contains(out, "profile legacy") {
			t.Fatalf("TF_CLI_ARGS_apply=%s: exit %d:\n%s", v, code, out)
		}
	}
}

// jwtExp is an unsigned JWT whose exp is d from now.
func jwtExp(d time.Duration) string {
	enc := func(s string) string { return strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(s)), "=") }
	return enc(`{"alg":"none"}`) + "." + enc(fmt.Sprintf(`{"exp":%d,"sub":"ci"}`, time.Now().Add(d).Unix())) + ".sig"
}

// F2 through the binary: a provider's assume_role_with_web_identity with a
// 2-hour token runs in CI beside exported keys that end in 5 minutes (the
// SDK never uses them for it), and no line names those keys.
func TestWebIdentityBlockRunsBesideShortEnvKeys(t *testing.T) {
	l := newLab(t)
	l.write(filepath.Join(l.dir, "token.jwt"), jwtExp(2*time.Hour), 0o600)
	l.write(filepath.Join(l.dir, "main.tf"), "provider \"aws\" {\n  assume_role_with_web_identity {\n    role_arn                = \"arn:aws:iam::1:role/deploy\"\n    web_identity_token_file = \"token.jwt\"\n  }\n}\nresource \"aws_s3_bucket\" \"b\" {}\n", 0o644)
	code, out := l.run(append(sessionKeys(5*time.Minute), "CI=true"), "apply", "-auto-approve")
	if code != 0 || strings.Contains(out, "env keys") || !strings.Contains(l.terraformEnv(), "apply -auto-approve") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// F4 through the binary: a child module's provider and a
// terraform_remote_state config name a profile whose token has 2 minutes
// left: tf guard check shows it, and a CI apply is refused.
func TestChildModuleAndRemoteStateCredentialsRefusedInCI(t *testing.T) {
	l := newLab(t)
	l.seedLegacyCache(2 * time.Minute)
	l.write(filepath.Join(l.dir, "main.tf"), "provider \"aws\" {\n  profile = \"static\"\n}\nmodule \"old\" {\n  source = \"./old\"\n}\ndata \"terraform_remote_state\" \"net\" {\n  backend = \"s3\"\n  config = {\n    bucket  = \"b\"\n    key     = \"k\"\n    profile = \"legacy\"\n  }\n}\n", 0o644)
	if err := os.MkdirAll(filepath.Join(l.dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.write(filepath.Join(l.dir, "old", "main.tf"), "provider \"aws\" {\n  profile = \"legacy\"\n}\nresource \"aws_s3_bucket\" \"b\" {}\n", 0o644)
	code, out := l.run(nil, "guard", "check")
	if code != 75 || !strings.Contains(out, `profile legacy, used by provider "aws" in module.old (old/main.tf:1), data "terraform_remote_state" "net" (main.tf:7)`) {
		t.Fatalf("check: exit %d:\n%s", code, out)
	}
	code, out = l.run([]string{"CI=true"}, "apply", "-auto-approve")
	if code != 75 || l.terraformEnv() != "" {
		t.Fatalf("apply: exit %d, terraform ran: %q\n%s", code, l.terraformEnv(), out)
	}
}
