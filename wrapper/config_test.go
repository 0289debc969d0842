package wrapper

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(nil, ConfigFiles{User: filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Flavor: "terraform", Install: "auto", Recovery: true, Preflight: true,
		MinLifetime: 15 * time.Minute, SSOSessionLength: 8 * time.Hour, SSORefreshAhead: 15 * time.Minute,
		SSORefreshEvery: time.Minute, Login: "native", CI: "auto", UnknownLifetime: "allow", OwnerRecord: "backend"}
	got := c
	got.Sources = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
	for _, k := range ConfigKeys() {
		if c.Sources[k].String() != "default" {
			t.Errorf("source of %s = %q, want default", k, c.Sources[k])
		}
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	user := writeFile(t, filepath.Join(dir, "user", "config"), `
# user settings
min_lifetime = 30m
flavor = tofu
login = aws-cli   # trailing comment
report_file = reports/tf.json
`)
	wd := writeFile(t, filepath.Join(dir, "wd", ".tfguard"), `min_lifetime = "45m"
preflight = off
terraform = bin/terraform
`)
	env := []string{"PATH=/bin", "TFGUARD_MIN_LIFETIME=1h", "TFGUARD_CHAIN=/x/tf", "TFGUARD_CI=true"}
	if _, err := trustFile(trustStorePath(user), wd); err != nil { // it sets preflight and terraform
		t.Fatal(err)
	}
	c, err := LoadConfig(env, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key, value, source string
	}{
		{"min_lifetime", "1h0m0s", "env TFGUARD_MIN_LIFETIME"},
		{"flavor", "tofu", user + ":4"},
		{"login", "aws-cli", user + ":5"},
		{"report_file", filepath.Join(dir, "user", "reports", "tf.json"), user + ":6"},
		{"preflight", "off", wd + ":2"},
		{"terraform", filepath.Join(dir, "wd", "bin", "terraform"), wd + ":3"},
		{"ci", "true", "env TFGUARD_CI"},
		{"recovery", "on", "default"},
	}
	for _, ck := range checks {
		if got := c.Value(ck.key); got != ck.value {
			t.Errorf("%s = %q, want %q", ck.key, got, ck.value)
		}
		if got := c.Sources[ck.key].String(); got != ck.source {
			t.Errorf("source of %s = %q, want %q", ck.key, got, ck.source)
		}
	}
}

func TestLoadConfigBareTerraformName(t *testing.T) {
	dir := t.TempDir()
	wd := writeFile(t, filepath.Join(dir, ".tfguard"), "terraform = terraform-1.5\n")
	user := filepath.Join(dir, "user", "config")
	if _, err := trustFile(trustStorePath(user), wd); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.Terraform != "terraform-1.5" {
		t.Fatalf("terraform = %q, want the bare name kept for a PATH search", c.Terraform)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		env     []string
		where   string // suffix of Where
		key     string
		message string
	}{
		{"unknown key", "flavor = tofu\nflavour = tofu\n", nil, ":2", "flavour", "unknown key"},
		{"bad enum", "\n\ninstall = sometimes\n", nil, ":3", "install", `"sometimes": must be one of auto, never`},
		{"bad duration", "min_lifetime = 15\n", nil, ":1", "min_lifetime", "positive duration"},
		{"negative duration", "sso_session_length = -1h\n", nil, ":1", "sso_session_length", "positive duration"},
		{"bad on/off", "recovery = maybe\n", nil, ":1", "recovery", "must be on or off (true/false, yes/no and 1/0 work too)"},
		{"typo suggests the key", "min_lifetme = 30m\n", nil, ":1", "min_lifetme", "unknown key: did you mean min_lifetime?"},
		{"letter case suggests the key", "Min_Lifetime = 30m\n", nil, ":1", "Min_Lifetime", "did you mean min_lifetime?"},
		{"far from any key lists them", "colour = blue\n", nil, ":1", "colour", "unknown key (known keys: ci, deadline, flavor,"},
		{"env typo suggests the variable", "", []string{"TFGUARD_MIN_LIFETIM=1h"}, "environment variable TFGUARD_MIN_LIFETIM", "min_lifetim",
			"did you mean min_lifetime (TFGUARD_MIN_LIFETIME)? unset TFGUARD_MIN_LIFETIM or fix its name"},
		{"BOM only at the start", "preflight = on\n\ufeffrecovery = on\n", nil, ":2", "\ufeffrecovery", "unknown key"},
		{"no equals", "# ok\nterraform /usr/bin/terraform\n", nil, ":2", "terraform /usr/bin/terraform", "expected `key = value`"},
		{"missing key", "= on\n", nil, ":1", "", "missing key"},
		{"unterminated quote", "report_file = \"x\n", nil, ":1", "report_file", "unterminated"},
		{"junk after quote", "report_file = \"x\" y\n", nil, ":1", "report_file", "after the quoted value"},
		{"bad arn", "github_oidc_role = role/deploy\n", nil, ":1", "github_oidc_role", "IAM role ARN"},
		{"env unknown", "", []string{"TFGUARD_PREFLIGHTS=off"}, "environment variable TFGUARD_PREFLIGHTS", "preflights", "unknown key"},
		{"env bad value", "", []string{"TFGUARD_CI=maybe"}, "environment variable TFGUARD_CI", "ci", "must be one of auto, true, false"},
		{"env unknown far", "", []string{"TFGUARD_XYZZY=1"}, "environment variable TFGUARD_XYZZY", "xyzzy", "unset TFGUARD_XYZZY or fix its name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The user's own file is strict; a repository's file warns
			// about unknown keys instead (TestRepoFileUnknownKeyIsAWarning).
			path := writeFile(t, filepath.Join(t.TempDir(), "config"), tc.file)
			_, err := LoadConfig(tc.env, ConfigFiles{User: path})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if !strings.HasSuffix(ce.Where, tc.where) || ce.Key != tc.key {
				t.Errorf("where=%q key=%q, want suffix %q key %q", ce.Where, ce.Key, tc.where, tc.key)
			}
			if tc.env == nil && !strings.HasPrefix(ce.Where, path) {
				t.Errorf("where=%q does not name the file %s", ce.Where, path)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
			if exitCodeOf(err) != ExitConfig {
				t.Errorf("exit code %d, want %d", exitCodeOf(err), ExitConfig)
			}
		})
	}
}

func TestLoadConfigUnreadableFile(t *testing.T) {
	dir := t.TempDir() // a directory where a file is expected cannot be read as one
	_, err := LoadConfig(nil, ConfigFiles{User: dir})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Where != dir {
		t.Fatalf("err = %v, want a *ConfigError naming %s", err, dir)
	}
}

func TestUserConfigPath(t *testing.T) {
	got := UserConfigPath(func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return "/xdg"
		}
		return ""
	})
	if got != filepath.Join("/xdg", "tf", "config") {
		t.Fatalf("got %q", got)
	}
}

func FuzzParseConfigLine(f *testing.F) {
	for _, s := range []string{"a = b", `a = "b # c" # d`, "# x", "=", `a = "\"`, "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, _, ok, err := parseConfigLine(s)
		if ok && err != nil {
			t.Fatalf("ok with error %v", err)
		}
		if ok && key == "" {
			t.Fatal("ok with empty key")
		}
	})
}

func TestLoadConfigSwitchSpellings(t *testing.T) {
	for _, c := range []struct {
		value string
		want  bool
	}{
		{"on", true}, {"off", false}, {"true", true}, {"false", false}, {"yes", true}, {"no", false},
		{"1", true}, {"0", false}, {"ON", true}, {"False", false}, {"Yes", true}, {`"no"`, false},
	} {
		// The user's file: a working directory's .tfguard sets these only
		// once trusted; the spellings are read the same in both.
		user := writeFile(t, filepath.Join(t.TempDir(), "config"), "preflight = "+c.value+"\nrecovery = "+c.value+"\n")
		cfg, err := LoadConfig([]string{"TFGUARD_CI=" + strings.Trim(c.value, `"`)}, ConfigFiles{User: user})
		if err != nil {
			t.Errorf("%s: %v", c.value, err)
			continue
		}
		wantCI := CIFalse
		if c.want {
			wantCI = CITrue
		}
		if cfg.Preflight != c.want || cfg.Recovery != c.want || cfg.CI != wantCI {
			t.Errorf("%s: preflight %v recovery %v ci %s, want %v and ci %s", c.value, cfg.Preflight, cfg.Recovery, cfg.CI, c.want, wantCI)
		}
	}
	cfg, err := LoadConfig([]string{"TFGUARD_CI=Auto"}, ConfigFiles{})
	if err != nil || cfg.CI != CIAuto {
		t.Errorf("ci=Auto: %q, %v", cfg.CI, err)
	}
}

func TestLoadConfigByteOrderMark(t *testing.T) {
	wd := writeFile(t, filepath.Join(t.TempDir(), "config"), "\ufeffmin_lifetime = 40m\r\npreflight = off\r\n")
	cfg, err := LoadConfig(nil, ConfigFiles{User: wd})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinLifetime != 40*time.Minute || cfg.Preflight {
		t.Fatalf("min_lifetime %s preflight %v, want 40m and off", cfg.MinLifetime, cfg.Preflight)
	}
	if got := cfg.Sources["min_lifetime"].String(); got != wd+":1" {
		t.Fatalf("source %q, want %s:1", got, wd)
	}
}

// A key this tf does not know in a repository's .tfguard (a newer tf's
// setting, adopted by a teammate) is a warning naming file, line and key:
// every other command (output, fmt, editors) still runs. In the user's own
// file it stays an error (TestLoadConfigErrors).
func TestRepoFileUnknownKeyIsAWarning(t *testing.T) {
	dir := t.TempDir()
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "min_lifetime = 30m\nnew_future_key = on\nmin_lifetme = 40m\n")
	c, err := LoadConfig(nil, ConfigFiles{User: filepath.Join(dir, "user", "config"), WorkDir: wd})
	if err != nil {
		t.Fatalf("an unknown key in a repository file stopped tf: %v", err)
	}
	if c.MinLifetime != 30*time.Minute {
		t.Errorf("the known key beside it was not applied: %s", c.MinLifetime)
	}
	if len(c.Untrusted) != 2 {
		t.Fatalf("want one warning per unknown key, got %q", c.Untrusted)
	}
	for i, want := range []string{wd + `:2: unknown key "new_future_key" ignored`, wd + `:3: unknown key "min_lifetme" ignored (a newer tf's setting, or a typo: did you mean min_lifetime?)`} {
		if !strings.Contains(c.Untrusted[i], want) {
			t.Errorf("warning %q lacks %q", c.Untrusted[i], want)
		}
	}
	user := writeFile(t, filepath.Join(dir, "user", "config"), "new_future_key = on\n")
	if _, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd}); err == nil || !strings.Contains(err.Error(), user+":1") {
		t.Fatalf("an unknown key in the user's own file: err = %v, want an error naming %s:1", err, user)
	}
}

// A key set twice is named with both lines: an error in the user's own
// file, a warning in a repository's (whose first line counts).
func TestConfigDuplicateKeyIsNamed(t *testing.T) {
	dir := t.TempDir()
	user := writeFile(t, filepath.Join(dir, "user", "config"), "min_lifetime = 30m\n\nmin_lifetime = 1h\n")
	_, err := LoadConfig(nil, ConfigFiles{User: user})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "min_lifetime" || ce.Where != user+":3" || !strings.Contains(err.Error(), "set again (first at line 1)") {
		t.Fatalf("duplicate in the user's file: err = %v", err)
	}
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "min_lifetime = 2h\nmin_lifetime = 3h\n")
	c, err := LoadConfig(nil, ConfigFiles{User: filepath.Join(dir, "none"), WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.MinLifetime != 2*time.Hour || len(c.Untrusted) != 1 ||
		!strings.Contains(c.Untrusted[0], wd+`:2: key "min_lifetime": set again (first at line 1); ignored`) {
		t.Fatalf("duplicate in a repository file: min_lifetime %s, warnings %q", c.MinLifetime, c.Untrusted)
	}
}

// Review F5: a repository's .tfguard may not lengthen the assumed SSO
// session (every login tf performs there records it), turn off read_stdout,
// pick another login program or allow an install the user's settings do
// not: each is ignored with a line naming the user's own file. It may
// shorten the session and set login = never or install = never.
func TestUntrustedFileCannotLoosenSessionLoginOrStdout(t *testing.T) {
	dir := t.TempDir()
	user := writeFile(t, filepath.Join(dir, "user", "config"), "install = never\n")
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"),
		"sso_session_length = 72h\nread_stdout = off\nlogin = aws-cli\ninstall = auto\n")
	c, err := LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil {
		t.Fatal(err)
	}
	if c.SSOSessionLength != 8*time.Hour || c.DirectStdout || c.Login != LoginNative || c.Install != InstallNever {
		t.Fatalf("loosened: session %s direct stdout %v login %s install %s", c.SSOSessionLength, c.DirectStdout, c.Login, c.Install)
	}
	if len(c.Untrusted) != 4 {
		t.Fatalf("want one line per ignored key, got %q", c.Untrusted)
	}
	for i, key := range []string{"sso_session_length", "read_stdout", "login", "install"} {
		m := c.Untrusted[i]
		if !strings.HasPrefix(m, fmt.Sprintf("%s:%d: %s = ", wd, i+1, key)) || !strings.Contains(m, "put it in your own "+user+" (or "+EnvName(key)+")") ||
			strings.Contains(m, "\n") {
			t.Errorf("line %q", m)
		}
		if got := c.Sources[key].Kind; got == "file" && c.Sources[key].Name == wd {
			t.Errorf("%s sourced from the repository file", key)
		}
	}
	wd = writeFile(t, filepath.Join(dir, "repo2", ".tfguard"), "sso_session_length = 1h\nlogin = never\nread_stdout = on\n")
	c, err = LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil || c.SSOSessionLength != time.Hour || c.Login != LoginNever || len(c.Untrusted) != 0 {
		t.Fatalf("tightening: session %s login %s warnings %q err %v", c.SSOSessionLength, c.Login, c.Untrusted, err)
	}
}

// owner_record: local or backend; a repository's .tfguard may keep the
// record local only if the user's settings do (it keeps less evidence).
func TestOwnerRecordSetting(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "user", "config")
	c, err := LoadConfig([]string{"TFGUARD_OWNER_RECORD=local"}, ConfigFiles{User: user})
	if err != nil || c.OwnerRecord != OwnerRecordLocal || c.Value("owner_record") != "local" {
		t.Fatalf("env local: %q %v", c.OwnerRecord, err)
	}
	_, err = LoadConfig([]string{"TFGUARD_OWNER_RECORD=s3"}, ConfigFiles{User: user})
	if err == nil || !strings.Contains(err.Error(), `bad value "s3": must be one of local, backend`) {
		t.Fatalf("bad value: %v", err)
	}
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "owner_record = local\n")
	c, err = LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil || c.OwnerRecord != OwnerRecordBackend || len(c.Untrusted) != 1 || !strings.Contains(c.Untrusted[0], "owner_record = ") {
		t.Fatalf("untrusted file turned the backend record off: %q %q %v", c.OwnerRecord, c.Untrusted, err)
	}
	writeFile(t, user, "owner_record = local\n")
	wd = writeFile(t, filepath.Join(dir, "repo2", ".tfguard"), "owner_record = backend\n")
	c, err = LoadConfig(nil, ConfigFiles{User: user, WorkDir: wd})
	if err != nil || c.OwnerRecord != OwnerRecordBackend || len(c.Untrusted) != 0 {
		t.Fatalf("untrusted file turning it on: %q %q %v", c.OwnerRecord, c.Untrusted, err)
	}
}
