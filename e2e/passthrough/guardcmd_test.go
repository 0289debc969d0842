package passthrough

import (
	"os"
	"path/filepath"
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

	// A typo in a key stops every command, with the nearest key named.
	if err := os.WriteFile(filepath.Join(infra, ".tfguard"), []byte("min_lifetme = 25m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-chdir=infra", "version"}, {"-chdir=infra", "plan"}} {
		r = runWithPathIn(t, root, path, tf, nil, args...)
		if r.code != 125 || !strings.Contains(r.stderr, `key "min_lifetme": unknown key: did you mean min_lifetime?`) {
			t.Errorf("%q with a typo in .tfguard: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
