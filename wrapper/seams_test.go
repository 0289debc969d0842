package wrapper

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A repository's untrusted .tfguard must not
// make a link named terraform run tofu on a state (FlavorFromName promises
// "a link never runs the other tool on a state"; the trust rule promises a
// repository cannot pick the executable).
func TestUntrustedFlavorDoesNotBeatLinkName(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "user", "config")
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "flavor = tofu\n")
	c, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	c = FlavorFromName(c, "/usr/local/bin/terraform")
	if c.Flavor != FlavorTerraform {
		t.Fatalf("tf run as terraform picks %q because an untrusted %s said so (source %s; untrusted messages %q)",
			c.Flavor, wd, c.Sources["flavor"], c.Untrusted)
	}
}

// `tf guard check --json --reset-history` must print only JSON on
// stdout (the reset line belongs on stderr, or nowhere, with --json).
func TestCheckJSONWithResetHistoryIsJSON(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".state"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none2"), "AWS_EC2_METADATA_DISABLED=true"}
	code := Main(Process{Args: []string{"tf", "guard", "check", "--json", "--reset-history"}, Environ: env,
		Stdout: stdout, Stderr: stderr, Hooks: ProductHooks()})
	out, _ := os.ReadFile(stdout.Name())
	errb, _ := os.ReadFile(stderr.Name())
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("exit %d; stdout is not JSON (%v):\n%s\nstderr:\n%s", code, err, strings.TrimSpace(string(out)), errb)
	}
}

// unknown_lifetime (added by the judgement branch) lowers safety
// when set to allow, but is not among RestrictedKeys (the trust branch): an
// untrusted repository file undoes the user's own `unknown_lifetime = refuse`.
func TestUntrustedFileCannotLowerUsersUnknownLifetime(t *testing.T) {
	dir := t.TempDir()
	user := writeFile(t, filepath.Join(dir, "user", "config"), "unknown_lifetime = refuse\nmin_lifetime = 1h\n")
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "unknown_lifetime = allow\nmin_lifetime = 1s\n")
	c, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.UnknownLifetime != UnknownRefuse || c.MinLifetime.String() != "1h0m0s" {
		t.Fatalf("an untrusted %s lowered the user's settings: unknown_lifetime %s (%s), min_lifetime %s (%s); untrusted messages %q",
			wd, c.UnknownLifetime, c.Sources["unknown_lifetime"], c.MinLifetime, c.Sources["min_lifetime"], c.Untrusted)
	}
}
