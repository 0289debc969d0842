package credguard

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tfguard/tf/e2e/fakeaws"
)

func (e *testEnv) writeDirTF(rel, src string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(e.dir, rel)), 0o755); err != nil {
		e.t.Fatal(err)
	}
	e.writeTF(rel, src)
}

// F4: provider "aws" blocks in child modules are judged: a local module,
// an installed one found through .terraform/modules/modules.json (with the
// value the call passes for its variable), and a module it calls itself.
// A child with its own provider block does not make the root's default
// provider used; one without does.
func TestChildModuleProvidersAreJudged(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=nope")
	e.writeTF("main.tf", `module "legacy" {
  source = "./modules/legacy"
}
module "net" {
  source  = "terraform-aws-modules/net/aws"
  profile = "legacy"
}
`)
	e.writeDirTF("modules/legacy/main.tf", "provider \"aws\" {\n  profile = \"static\"\n}\nresource \"aws_s3_bucket\" \"b\" {}\n")
	e.writeDirTF(".terraform/modules/net/main.tf", "variable \"profile\" {\n  default = \"nope\"\n}\nprovider \"aws\" {\n  alias   = \"n\"\n  profile = var.profile\n}\nmodule \"inner\" {\n  source = \"./inner\"\n}\n")
	e.writeDirTF(".terraform/modules/net/inner/main.tf", "provider \"aws\" {\n  profile = \"sso\"\n}\n")
	e.writeDirTF(".terraform/modules/modules.json", `{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"legacy","Source":"./modules/legacy","Dir":"modules/legacy"},{"Key":"net","Source":"registry.terraform.io/terraform-aws-modules/net/aws","Version":"1.0.0","Dir":".terraform/modules/net"},{"Key":"net.inner","Source":"./inner","Dir":".terraform/modules/net/inner"}]}`)
	m := credNames(t, e.opts)
	want := map[string]string{
		"profile static": `provider "aws" in module.legacy (modules/legacy/main.tf:1)`,
		"profile legacy": `provider "aws" alias "n" in module.net (.terraform/modules/net/main.tf:4)`,
		"profile sso":    `provider "aws" in module.net.module.inner (.terraform/modules/net/inner/main.tf:1)`,
	}
	if len(m) != len(want) {
		t.Fatalf("got %v", m)
	}
	for name, by := range want {
		if c, ok := m[name]; !ok || len(c.UsedBy) != 1 || c.UsedBy[0] != by {
			t.Errorf("%s: want used by %s, got %+v", name, by, m[name])
		}
	}
	// A child with aws resources and no provider block of its own uses the
	// root's default provider (AWS_PROFILE=nope here).
	e.writeDirTF("modules/legacy/main.tf", "resource \"aws_s3_bucket\" \"b\" {}\n")
	if c, ok := credNames(t, e.opts)["profile nope"]; !ok || c.UsedBy[0] != `provider "aws" (default, no provider block)` {
		t.Fatalf("got %v", credNames(t, e.opts))
	}
}

// F4: data "terraform_remote_state" with backend "s3" is judged by its
// config as the S3 backend reads it: profile, an assume_role, keys; what
// only the run knows elsewhere in the config does not hide the profile.
func TestRemoteStateS3ConfigIsJudged(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", `data "terraform_remote_state" "net" {
  backend = "s3"
  config = {
    bucket  = data.aws_s3_bucket.b.id
    key     = "net.tfstate"
    profile = "legacy"
  }
}
data "terraform_remote_state" "role" {
  backend = "s3"
  config = {
    bucket      = "b"
    key         = "k"
    profile     = "static"
    assume_role = { role_arn = "arn:aws:iam::1:role/Reader" }
  }
}
data "terraform_remote_state" "keys" {
  backend = "s3"
  config = {
    bucket     = "b"
    key        = "k"
    access_key = "AKIAREMOTE"
    secret_key = "s"
  }
}
data "terraform_remote_state" "local" {
  backend = "local"
  config = { path = "x.tfstate" }
}
`)
	m := credNames(t, e.opts)
	if c := m["profile legacy"]; c.Kind != KindLegacySSO || c.UsedBy[0] != `data "terraform_remote_state" "net" (main.tf:1)` {
		t.Errorf("profile: %v", m)
	}
	if c := m["role arn:aws:iam::1:role/Reader via profile static"]; c.Kind != KindAssumeRole || c.Source == nil || c.Source.Kind != KindStatic {
		t.Errorf("assume_role: %v", m)
	}
	if c := m[`keys in data "terraform_remote_state" "keys" (main.tf:18)`]; c.Kind != KindStatic {
		t.Errorf("keys: %v", m)
	}
	if len(m) != 3 {
		t.Errorf("the local backend uses no AWS credential: %v", m)
	}
}

// A module that calls itself is not read forever (terraform refuses it).
func TestSelfCallingModuleIsReadOnce(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", "module \"a\" {\n  source = \"./a\"\n}\n")
	e.writeDirTF("a/main.tf", "provider \"aws\" {\n  profile = \"static\"\n}\nmodule \"again\" {\n  source = \"./\"\n}\nmodule \"up\" {\n  source = \"../\"\n}\n")
	if m := credNames(t, e.opts); len(m) != 1 || len(m["profile static"].UsedBy) != 1 {
		t.Fatalf("got %v", m)
	}
}
