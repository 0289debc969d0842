package passthrough

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func pathOf(dirs ...string) string { return strings.Join(dirs, string(os.PathListSeparator)) }

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// runWithPath runs bin with PATH replaced; a recursion would hit the timeout.
func runWithPath(t *testing.T, path, bin string, extraEnv []string, args ...string) result {
	t.Helper()
	return runWithPathIn(t, t.TempDir(), path, bin, extraEnv, args...)
}

// runWithPathIn is runWithPath in dir.
func runWithPathIn(t *testing.T, dir, path, bin string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := append(append([]string{}, fx.baseEnv...), "PATH="+path)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = append(env, extraEnv...), dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish: recursion?\n%s", bin, args, errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

func TestTwoTFCopiesInAChain(t *testing.T) {
	// bin1/terraform -> tf (symlink), bin2/terraform: a separate copy of tf,
	// then a probe standing in for the real terraform.
	root := t.TempDir()
	bin1, bin2, realDir := filepath.Join(root, "bin1"), filepath.Join(root, "bin2"), filepath.Join(root, "real")
	os.MkdirAll(bin1, 0o755)
	if err := os.Symlink(fx.tfBinary, filepath.Join(bin1, "terraform")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, fx.tfBinary, filepath.Join(bin2, "terraform"))
	os.MkdirAll(realDir, 0o755)
	if err := os.WriteFile(filepath.Join(realDir, "terraform"), []byte("#!/bin/sh\necho \"real terraform $* chain=$TFGUARD_CHAIN\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"version"}, {"plan"}} {
		r := runWithPath(t, pathOf(bin1, bin2, realDir, "/usr/bin", "/bin"), filepath.Join(bin1, "terraform"), nil, args...)
		want := "real terraform " + args[0] + " chain=" + pathOf(fx.tfBinary, filepath.Join(bin2, "terraform")) + "\n"
		if r.code != 0 || r.stdout != want {
			t.Errorf("%q: exit %d stdout %q, want %q; stderr %s", args, r.code, r.stdout, want, r.stderr)
		}
	}
}

func TestNoRealTerraformNoRecursion(t *testing.T) {
	root := t.TempDir()
	bin1, bin2 := filepath.Join(root, "bin1"), filepath.Join(root, "bin2")
	os.MkdirAll(bin1, 0o755)
	if err := os.Symlink(fx.tfBinary, filepath.Join(bin1, "terraform")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, fx.tfBinary, filepath.Join(bin2, "terraform"))
	for _, args := range [][]string{{"version"}, {"apply"}} {
		r := runWithPath(t, pathOf(bin1, bin2), filepath.Join(bin1, "terraform"), nil, args...)
		if r.code != 127 {
			t.Errorf("%q: exit %d, want 127 (ExitNotFound)\n%s", args, r.code, r.stderr)
		}
		for _, want := range []string{
			filepath.Join(bin1, "terraform") + ": skipped (that is tf)",
			filepath.Join(bin2, "terraform") + ": skipped (that is tf)",
			"TFGUARD_TERRAFORM=",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%q: message lacks %q:\n%s", args, want, r.stderr)
			}
		}
	}
}

func TestGuardCommands(t *testing.T) {
	path := pathOf(fx.tfBin, fx.realDir, "/usr/bin", "/bin")
	tf := filepath.Join(fx.tfBin, "terraform")

	// A build from a clone says dev (with the commit when the build recorded
	// one); a go install of a version says that version (TestVersionOf).
	r := runWithPath(t, path, tf, nil, "guard", "version")
	if r.code != 0 || !regexp.MustCompile(`^tf (dev(-[0-9a-f]{12}(-modified)?)?|v\d+\.\d+\.\d+\S*) \(go`).MatchString(r.stdout) {
		t.Errorf("guard version: %d %q %q", r.code, r.stdout, r.stderr)
	}

	r = runWithPath(t, path, tf, []string{"TFGUARD_MIN_LIFETIME=20m"}, "guard", "doctor")
	for _, want := range []string{
		"terraform:     " + fx.terraform,
		"found via:     PATH",
		"version:       Terraform v",
		"min_lifetime        = 20m0s      env TFGUARD_MIN_LIFETIME",
		"preflight           = on         default",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 {
		t.Errorf("doctor exit %d: %s", r.code, r.stderr)
	}

	r = runWithPath(t, path, tf, []string{"TFGUARD_FLAVOUR=tofu"}, "guard", "doctor")
	if r.code != 125 || !strings.Contains(r.stderr, "TFGUARD_FLAVOUR") {
		t.Errorf("doctor with a bad variable: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runWithPath(t, path, tf, []string{"TFGUARD_FLAVOUR=tofu"}, "plan")
	if r.code != 125 || !strings.Contains(r.stderr, "unknown key") {
		t.Errorf("plan with a bad variable: exit %d, stderr %q", r.code, r.stderr)
	}

	r = runWithPath(t, path, tf, nil, "guard", "frobnicate")
	if r.code != 64 || !strings.Contains(r.stderr, "frobnicate") {
		t.Errorf("unknown guard command: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runWithPath(t, path, tf, nil, "guard", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "doctor") {
		t.Errorf("guard help: exit %d, %q", r.code, r.stdout)
	}
}
