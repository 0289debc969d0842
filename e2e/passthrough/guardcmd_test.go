package passthrough

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// `tf -chdir=DIR guard ...` works on DIR, as terraform's -chdir does.
func TestGuardWithChdir(t *testing.T) {
	path := pathOf(fx.tfBin, fx.realDir, "/usr/bin", "/bin")
	tf := filepath.Join(fx.tfBin, "terraform")
	root := t.TempDir()
	infra := filepath.Join(root, "infra")
	if err := os.MkdirAll(infra, 0o755); err != nil {
		t.Fatal(err)
	}
	// A BOM and a spelling people use: both fine.
	if err := os.WriteFile(filepath.Join(infra, ".tfguard"), []byte("\ufeffmin_lifetime = 25m\npreflight = yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runWithPathIn(t, root, path, tf, nil, "-chdir=infra", "guard", "doctor")
	for _, want := range []string{
		"working dir:   " + infra,
		"min_lifetime        = 25m0s",
		filepath.Join(infra, ".tfguard") + ":1",
		"preflight           = on",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("-chdir=infra guard doctor lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 {
		t.Errorf("-chdir=infra guard doctor: exit %d: %s", r.code, r.stderr)
	}

	r = runWithPathIn(t, root, path, tf, nil, "-chdir=nowhere", "guard", "doctor")
	if r.code != 64 || !strings.Contains(r.stderr, "tf: -chdir=nowhere: not a directory; give an existing directory, or cd into it and run `tf guard doctor`") {
		t.Errorf("-chdir=nowhere guard doctor: exit %d, stderr %q", r.code, r.stderr)
	}

	// doctor says whether tf thinks it runs in CI, and why (newcomer L5).
	r = runWithPathIn(t, root, path, tf, []string{"GITHUB_ACTIONS=true"}, "-chdir=infra", "guard", "doctor")
	if !strings.Contains(r.stdout, "mode:          CI (GITHUB_ACTIONS=true): tf never asks") {
		t.Errorf("doctor in GitHub Actions does not say CI and why:\n%s", r.stdout)
	}
	r = runWithPathIn(t, root, path, tf, []string{"CI=", "GITHUB_ACTIONS="}, "-chdir=infra", "guard", "doctor")
	if !strings.Contains(r.stdout, "mode:          no terminal (no CI or GITHUB_ACTIONS variable; stdin is not a terminal)") {
		t.Errorf("doctor without a terminal:\n%s", r.stdout)
	}

	// A typo (or a newer tf's key) in a repository's .tfguard is one
	// warning with the nearest key named: commands still run. In the
	// user's own file it stops every command.
	if err := os.WriteFile(filepath.Join(infra, ".tfguard"), []byte("min_lifetme = 25m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runWithPathIn(t, root, path, tf, nil, "-chdir=infra", "version")
	if r.code != 0 || !strings.Contains(r.stderr, `.tfguard:1: unknown key "min_lifetme" ignored (a newer tf's setting, or a typo: did you mean min_lifetime?)`) {
		t.Errorf("version with a typo in .tfguard: exit %d, stderr %q", r.code, r.stderr)
	}
	xdg := filepath.Join(root, "xdg")
	if err := os.MkdirAll(filepath.Join(xdg, "tf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "tf", "config"), []byte("min_lifetme = 25m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"version"}, {"plan"}} {
		r = runWithPathIn(t, root, path, tf, []string{"XDG_CONFIG_HOME=" + xdg}, args...)
		if r.code != 125 || !strings.Contains(r.stderr, `key "min_lifetme": unknown key: did you mean min_lifetime?`) {
			t.Errorf("%q with a typo in the user's config: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// Every help text has the same layout, `tf guard help help` included, and
// check's --command takes only the commands tf guards.
func TestGuardHelpAndCheckCommand(t *testing.T) {
	path := pathOf(fx.tfBin, fx.realDir, "/usr/bin", "/bin")
	tf := filepath.Join(fx.tfBin, "terraform")
	layout := regexp.MustCompile(`^NAME:\n   tf guard (\w+) - [^\n]+\n\nUSAGE:\n   tf guard (\w+) \[command options\]`)
	for _, cmd := range []string{"help", "doctor", "check", "version"} {
		ways := [][]string{{"guard", "help", cmd}, {"guard", cmd, "--help"}}
		if cmd == "help" {
			ways = ways[:1] // `tf guard help --help` lists the commands, as `tf guard help` does
		}
		for _, args := range ways {
			r := runWithPath(t, path, tf, nil, args...)
			m := layout.FindStringSubmatch(r.stdout)
			if r.code != 0 || m == nil || m[1] != cmd || m[2] != cmd {
				t.Errorf("%q: exit %d, help not in the common layout:\n%s%s", args, r.code, r.stdout, r.stderr)
			}
		}
	}
	r := runWithPath(t, path, tf, nil, "guard", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "\n   help, h  show the list of commands, or help for one command\n") {
		t.Errorf("guard help: exit %d:\n%s", r.code, r.stdout)
	}
	r = runWithPath(t, path, tf, nil, "guard", "help", "bogus")
	if r.code != 64 || !strings.Contains(r.stderr, `"bogus" is not a tf guard command`) {
		t.Errorf("guard help bogus: exit %d, stderr %q", r.code, r.stderr)
	}

	r = runWithPath(t, path, tf, nil, "guard", "check", "--command", "bogus")
	want := `tf guard check: --command "bogus" is not a command tf guards; use one of: apply, destroy, import, refresh, plan, taint, untaint, force-unlock, state push, state rm, state mv, state replace-provider`
	if r.code != 64 || !strings.Contains(r.stderr, want) || r.stdout != "" {
		t.Errorf("check --command bogus: exit %d, stdout %q, stderr %q; want 64 and %q", r.code, r.stdout, r.stderr, want)
	}
	r = runWithPath(t, path, tf, nil, "guard", "check", "--command", "state push")
	if r.code == 64 {
		t.Errorf("check --command 'state push' rejected: %s", r.stderr)
	}
}

// newcomer L9: `tf --help` (and -help, -h, no arguments), run under tf's
// own name, is terraform's help with one line after it pointing at
// `tf guard help`, and terraform's exit code (0; 127 with no arguments).
// Linked as terraform it stays terraform's, byte for byte
// (TestByteIdenticalNonGuarded).
func TestTFHelpMentionsGuardInOneLine(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"--help"}, 0}, {[]string{"-help"}, 0}, {[]string{"-h"}, 0}, {nil, 127}} {
		bare := runWithPathIn(t, dir, pathOf(fx.realDir, "/usr/bin", "/bin"), fx.terraform, nil, c.args...)
		r := runWithPathIn(t, dir, pathOf(fx.realDir, "/usr/bin", "/bin"), fx.tfBinary, nil, c.args...)
		want := bare.stdout + "\nRun through tf, which guards terraform against expiring AWS credentials: `tf guard help` lists tf's own commands.\n"
		if r.code != c.code || bare.code != c.code || r.stdout != want || r.stderr != bare.stderr {
			t.Errorf("tf %q: exit %d (terraform %d, want %d)\nstdout %q\nwant   %q", c.args, r.code, bare.code, c.code, r.stdout, want)
		}
	}
	r := runWithPathIn(t, dir, pathOf(fx.realDir, "/usr/bin", "/bin"), fx.tfBinary, nil, "version")
	if strings.Contains(r.stdout, "tf guard help") {
		t.Errorf("tf version got the line: %q", r.stdout)
	}
}
