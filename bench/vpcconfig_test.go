package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The generated configuration must be one terraform accepts, or the
// preflight figures would be measured on something no user has.
func TestVPCShapeIsValidTerraform(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("terraform is not on PATH")
		}
		t.Skip("terraform is not on PATH")
	}
	dir := t.TempDir()
	files, lines, err := writeVPCShape(dir, vpcChildren, vpcFilesPerModule)
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 || lines < 4000 {
		t.Fatalf("%d files, %d lines: smaller than terraform-aws-vpc", files, lines)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "modules", "*", "*.tf")); len(matches) == 0 {
		t.Fatal("no child modules written")
	}
	// fmt parses every file (exit 2 on a syntax error) without rewriting.
	c := exec.Command(tf, "fmt", "-write=false", "-list=false", "-recursive")
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("terraform fmt: %v\n%s", err, out)
	}
}
