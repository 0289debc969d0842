package passthrough

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A link named tofu runs OpenTofu, a link named terraform runs terraform,
// unless the configuration says otherwise. OpenTofu is not installed on the
// test machines: a stand-in `tofu` that prints a version takes its place.
func TestLinkNameChoosesTool(t *testing.T) {
	root := t.TempDir()
	links, tofuDir := filepath.Join(root, "links"), filepath.Join(root, "opentofu")
	for _, d := range []string{links, tofuDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"tofu", "terraform", "tf"} {
		if err := os.Symlink(fx.tfBinary, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Like OpenTofu, it answers `version -json` with terraform_version.
	standin := `#!/bin/sh
if [ "$*" = "version -json" ]; then
  echo '{"terraform_version":"1.9.0","platform":"linux_amd64","provider_selections":{}}'
  exit 0
fi
echo "OpenTofu v1.9.0 (stand-in) $*"
`
	if err := os.WriteFile(filepath.Join(tofuDir, "tofu"), []byte(standin), 0o755); err != nil {
		t.Fatal(err)
	}
	path := pathOf(links, tofuDir, fx.realDir, "/usr/bin", "/bin")
	cases := []struct {
		link  string
		env   []string
		want  string
		other string
	}{
		{"tofu", nil, "OpenTofu v1.9.0 (stand-in) version", "Terraform v"},
		{"terraform", nil, "Terraform v", "OpenTofu"},
		{"tf", nil, "Terraform v", "OpenTofu"},
		{"tf", []string{"TFGUARD_FLAVOR=tofu"}, "OpenTofu v1.9.0 (stand-in) version", "Terraform v"}, // alias tofu='TFGUARD_FLAVOR=tofu tf'
		{"tofu", []string{"TFGUARD_FLAVOR=terraform"}, "Terraform v", "OpenTofu"},
	}
	for _, c := range cases {
		r := runWithPath(t, path, filepath.Join(links, c.link), c.env, "version")
		if r.code != 0 || !strings.HasPrefix(r.stdout, c.want) || strings.Contains(r.stdout, c.other) {
			t.Errorf("%s version with %q: exit %d, stdout %q, want it to start with %q; stderr %s", c.link, c.env, r.code, r.stdout, c.want, r.stderr)
		}
	}

	// A guarded command goes the same way.
	r := runWithPath(t, path, filepath.Join(links, "tofu"), nil, "plan")
	if r.code != 0 || r.stdout != "OpenTofu v1.9.0 (stand-in) plan\n" {
		t.Errorf("tofu plan: exit %d, stdout %q; stderr %s", r.code, r.stdout, r.stderr)
	}

	// doctor says which and why.
	for _, c := range []struct {
		link string
		env  []string
		want []string
	}{
		{"tofu", nil, []string{
			"terraform:     " + filepath.Join(tofuDir, "tofu"),
			"flavor:        tofu (tf was run as tofu; TFGUARD_FLAVOR=terraform or flavor = terraform in a config file runs the other one)",
			"version:       OpenTofu v1.9.0\n",
			"flavor              = tofu",
			"run as tofu",
		}},
		{"terraform", nil, []string{"flavor:        terraform (tf was run as terraform;", "version:       Terraform v"}},
		{"tf", nil, []string{"flavor:        terraform (the default: tf was run as tf; link it as tofu, or set TFGUARD_FLAVOR=tofu, to run OpenTofu)"}},
		{"tf", []string{"TFGUARD_FLAVOR=tofu"}, []string{"flavor:        tofu (flavor from env TFGUARD_FLAVOR)"}},
	} {
		r := runWithPath(t, path, filepath.Join(links, c.link), c.env, "guard", "doctor")
		if r.code != 0 {
			t.Errorf("%s guard doctor with %q: exit %d: %s", c.link, c.env, r.code, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s guard doctor with %q lacks %q:\n%s", c.link, c.env, w, r.stdout)
			}
		}
	}
}
