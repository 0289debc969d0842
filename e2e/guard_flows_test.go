package e2e

// The CI flows the guard must judge as terraform runs them, through the
// built binary with a stand-in terraform (see lab): a saved plan applied
// with its own variables, TF_CLI_ARGS with shell quoting.

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
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
