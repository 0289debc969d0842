package credguard

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

func credNames(t *testing.T, o Options) map[string]Credential {
	t.Helper()
	creds, _, err := Discover(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Credential{}
	for _, c := range creds {
		m[c.Name] = c
	}
	return m
}

// A variable's value comes from, lowest first: its default, TF_VAR_name,
// terraform.tfvars, *.auto.tfvars (lexical order), then -var-file and -var
// in command-line order (relative to terraform's working directory).
func TestVariablePrecedenceDecidesTheProfile(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", "variable \"p\" {\n  default = \"from-default\"\n}\nprovider \"aws\" {\n  profile = var.p\n}\n")
	steps := []struct {
		name string
		do   func(o *Options)
		want string
	}{
		{"default", func(o *Options) {}, "profile from-default"},
		{"TF_VAR_p", func(o *Options) { o.Env = append(o.Env, "TF_VAR_p=from-env") }, "profile from-env"},
		{"terraform.tfvars", func(o *Options) { e.writeTF("terraform.tfvars", "p = \"from-tfvars\"\n") }, "profile from-tfvars"},
		{"b.auto.tfvars beats a.auto.tfvars", func(o *Options) {
			e.writeTF("a.auto.tfvars", "p = \"from-a-auto\"\n")
			e.writeTF("b.auto.tfvars", "p = \"from-b-auto\"\n")
			e.writeTF(".hidden.auto.tfvars", "p = \"ignored\"\n")
		}, "profile from-b-auto"},
		{"-var-file", func(o *Options) {
			e.writeTF("prod.tfvars", "p = \"from-var-file\"\n")
			o.Args = []string{"apply", "-var-file", "prod.tfvars"}
		}, "profile from-var-file"},
		{"-var after -var-file", func(o *Options) {
			o.Args = []string{"apply", "-var-file=prod.tfvars", "-var", "p=from-var"}
		}, "profile from-var"},
		{"-var-file after -var", func(o *Options) {
			o.Args = []string{"apply", "-var", "p=from-var", "--var-file", "prod.tfvars"}
		}, "profile from-var-file"},
	}
	o := e.opts
	for _, s := range steps {
		s.do(&o)
		m := credNames(t, o)
		c, ok := m[s.want]
		if !ok || len(m) != 1 {
			t.Fatalf("%s: want %s, got %v", s.name, s.want, m)
		}
		if c.Err == "" || !strings.Contains(c.Err, "is not usable") {
			t.Fatalf("%s: a profile that does not exist must say so: %+v", s.name, c)
		}
	}
}

// What only the run knows (a local, a function, a variable with no value)
// makes the consumer unknown: it is not judged as the environment's keys.
func TestValuesOnlyTheRunKnowsAreUnknown(t *testing.T) {
	for name, src := range map[string]string{
		"local from a data source": "locals {\n  p = data.x.y\n}\nprovider \"aws\" {\n  profile = local.p\n}\n",
		"file()":                   "provider \"aws\" {\n  profile = trimspace(file(\"profile.txt\"))\n}\n",
		"variable no value":        "variable \"p\" {}\nprovider \"aws\" {\n  profile = var.p\n}\n",
		"role from a data source":  "provider \"aws\" {\n  assume_role {\n    role_arn = data.x.y\n  }\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{}, "AWS_ACCESS_KEY_ID=AKIASTATIC", "AWS_SECRET_ACCESS_KEY=s")
			e.writeTF("main.tf", src)
			r, err := Inspect(context.Background(), e.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Entries) != 1 || r.Entries[0].Verdict != VerdictUnknown || !r.Entries[0].UnknownLifetime {
				t.Fatalf("want one unknown credential, got %+v", r.Entries)
			}
			if w := r.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], "note: unknown credential (used by provider \"aws\" (main.tf:") || !strings.Contains(w[0], "only known during the run") {
				t.Fatalf("warnings %q", w)
			}
		})
	}
	// access_key from TF_VAR_k has a value: static keys in the configuration.
	e := newEnv(t, fakeaws.Options{}, "TF_VAR_k=AKIAFROMVAR")
	e.writeTF("main.tf", "variable \"k\" {\n  default = null\n}\nprovider \"aws\" {\n  access_key = var.k\n  secret_key = \"x\"\n}\n")
	if c, ok := credNames(t, e.opts)[`keys in provider "aws" (main.tf:4)`]; !ok || c.Kind != KindStatic {
		t.Fatalf("want static keys from TF_VAR_k, got %v", credNames(t, e.opts))
	}
}

// Resources all pinned to an aliased provider, and a module given that
// alias, use no default provider: only the aliased block is judged.
func TestNoImplicitDefaultProviderWhenNothingUsesIt(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=nope")
	e.writeTF("main.tf", `provider "aws" {
  alias   = "east"
  profile = "static"
}
resource "aws_s3_bucket" "b" {
  provider = aws.east
}
module "m" {
  source    = "./m"
  providers = { aws = aws.east }
}
`)
	if m := credNames(t, e.opts); len(m) != 1 || m["profile static"].Kind != KindStatic {
		t.Fatalf("want only profile static, got %v", m)
	}
	e.writeTF("more.tf", "data \"aws_caller_identity\" \"me\" {}\n")
	m := credNames(t, e.opts)
	c, ok := m["profile nope"]
	if !ok || c.UsedBy[0] != `provider "aws" (default, no provider block)` {
		t.Fatalf("the data source uses the default provider (AWS_PROFILE=nope): %v", m)
	}
}

// shared_config_files and shared_credentials_files are expanded as
// terraform expands them: $VAR, ~, and relative to the working directory.
func TestBackendFilePathsExpanded(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "CONF_DIR=confs")
	if err := os.MkdirAll(filepath.Join(e.dir, "confs"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.writeTF("confs/aws.conf", "[profile fromfile]\ncredential_process = /bin/true\n")
	writeBackendRecord(t, e.dir, `{"bucket":"b","key":"k","region":"us-east-1","profile":"fromfile","shared_config_files":["$CONF_DIR/aws.conf"]}`)
	if c := credNames(t, e.opts)["profile fromfile"]; c.Kind != KindProcess || c.UsedBy[0] != `backend "s3"` {
		t.Fatalf("got %+v", credNames(t, e.opts))
	}
}

func TestExpirationNeighbourFormats(t *testing.T) {
	want := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, s := range []string{"2026-01-02T15:04:05Z", "2026-01-02 15:04:05Z", "2026-01-02 15:04:05+00:00",
		"2026-01-02T15:04:05+0000", "2026-01-02T16:04:05+01:00", "2026-01-02T15:04:05", " 2026-01-02T15:04:05.000Z "} {
		if got, ok := parseExpiration(s); !ok || !got.Equal(want) {
			t.Errorf("%q: %v %v", s, got, ok)
		}
	}
	for _, s := range []string{"tomorrow", "1767366245", ""} {
		if _, ok := parseExpiration(s); ok {
			t.Errorf("%q read as a time", s)
		}
	}
}

func TestRequirementFitsTheCommand(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	o := e.opts
	if err := RecordDuration(o, "state push", time.Hour); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string]time.Duration{
		"force-unlock": QuickFloor, "state push": QuickFloor, "state rm": QuickFloor, "state mv": QuickFloor,
		"taint": QuickFloor, "untaint": QuickFloor, "import": QuickFloor,
		"plan": PlanFloorCap, "apply": 15 * time.Minute, "destroy": 15 * time.Minute, "refresh": 15 * time.Minute,
	} {
		o.Command = cmd
		if got, why := Required(o); got != want {
			t.Errorf("%s: %v (%q), want %v", cmd, got, why, want)
		}
	}
	o.Config.MinLifetime = 5 * time.Minute // a floor under the cap stays
	o.Command = "plan"
	if got, _ := Required(o); got != 5*time.Minute {
		t.Errorf("plan with min_lifetime 5m: %v", got)
	}
}

// tf offers AWS_PROFILE instead of short keys only when that profile would
// carry the run.
func TestProfileServesOnlyWhenItLasts(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.seedLegacy(5 * time.Minute)
	for profile, want := range map[string]bool{"static": true, "legacy": false, "nope": false} {
		ok, why := ProfileServes(context.Background(), e.opts, profile)
		if ok != want || why == "" {
			t.Errorf("%s: %v (%s), want %v", profile, ok, why, want)
		}
	}
	// At a terminal an SSO profile that needs a login is worth offering:
	// the run logs in first.
	o := e.opts
	o.Interactive = true
	for profile, want := range map[string]bool{"legacy": true, "nope": false} {
		if ok, why := ProfileServes(context.Background(), o, profile); ok != want {
			t.Errorf("at a terminal, %s: %v (%s), want %v", profile, ok, why, want)
		}
	}
}

// tf guard check names the S3 backend as the user of the credential it
// uses; a directory with a backend record and no *.tf files has no
// provider; a profile that does not exist fails the check with the reason.
func TestCheckNamesTheBackendAndFailsOnAMissingProfile(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=static")
	writeBackendRecord(t, e.dir, `{"bucket":"b","key":"k","region":"us-east-1"}`)
	var out bytes.Buffer
	if code := Check(context.Background(), e.opts, &out, false); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), `profile static, used by backend "s3":`) || strings.Contains(out.String(), "provider") {
		t.Fatalf("check output:\n%s", out.String())
	}
	o := e.opts
	o.Env = append(o.Env, "AWS_PROFILE=nope")
	out.Reset()
	if code := Check(context.Background(), o, &out, false); code != 1 || !strings.Contains(out.String(), `profile "nope" is not usable`) {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

// In a directory without *.tf files or a backend record, the check says
// what it assumed, and the entry and the note say the same thing.
func TestCheckWithoutConfigurationSaysWhatItAssumed(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=static")
	var out bytes.Buffer
	if code := Check(context.Background(), e.opts, &out, false); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "profile static, used by environment (no configuration here): static keys do not expire") ||
		!strings.Contains(text, "note: no *.tf files and no backend recorded in "+e.dir) || strings.Contains(text, "provider block") {
		t.Fatalf("check output:\n%s", text)
	}
	// A recorded backend is then all there is.
	writeBackendRecord(t, e.dir, `{"bucket":"b","key":"k","region":"us-east-1"}`)
	out.Reset()
	Check(context.Background(), e.opts, &out, false)
	if text := out.String(); !strings.Contains(text, `used by backend "s3"`) || strings.Contains(text, "environment (") || strings.Contains(text, "note:") {
		t.Fatalf("check output:\n%s", text)
	}
}

// Pure functions, path.module and terraform.workspace are evaluated as
// terraform evaluates them.
func TestPureExpressionsAreEvaluated(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "TF_WORKSPACE=static")
	e.writeTF("aws.conf", "[profile fromfile]\ncredential_process = /bin/true\n")
	e.writeTF("main.tf", `variable "env" {
  default = "prod"
}
locals {
  envs = { prod = "STATIC" }
  p    = lower(local.envs[var.env])
}
provider "aws" {
  profile = local.p
}
provider "aws" {
  alias   = "b"
  profile = terraform.workspace
}
provider "aws" {
  alias               = "c"
  profile             = join("", ["from", "file"])
  shared_config_files = [format("%s/aws.conf", path.cwd)]
}
provider "aws" {
  alias               = "d"
  profile             = "fromfile"
  shared_config_files = ["${path.module}/aws.conf"]
}
`)
	m := credNames(t, e.opts)
	if c := m["profile static"]; c.Kind != KindStatic || len(c.UsedBy) != 2 {
		t.Fatalf("lower(var.env), terraform.workspace: %v", m)
	}
	if c := m["profile fromfile"]; c.Kind != KindProcess || len(c.UsedBy) != 2 || len(m) != 2 {
		t.Fatalf("path.cwd, path.module: %v", m)
	}
}

// TF_CLI_ARGS_<command> -var-file values count, before the command line's;
// AWS_CONFIG_FILE relative to terraform's working directory.
func TestCLIArgsEnvAndRelativeConfigFile(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", "variable \"p\" {}\nprovider \"aws\" {\n  profile = var.p\n}\n")
	e.writeTF("ci.tfvars", "p = \"fromfile\"\n")
	e.writeTF("aws.conf", "[profile fromfile]\ncredential_process = /bin/true\n")
	o := e.opts
	o.Command = "plan"
	o.Env = append(o.Env, "TF_CLI_ARGS_plan=-var-file=ci.tfvars", "AWS_CONFIG_FILE=aws.conf")
	if c := credNames(t, o)["profile fromfile"]; c.Kind != KindProcess {
		t.Fatalf("got %v", credNames(t, o))
	}
	o.Args = []string{"plan", "-var", "p=static"} // the command line comes after
	o.Env = append(o.Env, "AWS_CONFIG_FILE="+filepath.Join(e.home, ".aws", "config"))
	if c := credNames(t, o)["profile static"]; c.Kind != KindStatic {
		t.Fatalf("got %v", credNames(t, o))
	}
}

// Override files change the primary provider block (by alias) and
// variables, as terraform merges them; they add no provider of their own.
func TestOverrideFilesAreMerged(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.writeTF("main.tf", "variable \"p\" {\n  default = \"nope\"\n}\nprovider \"aws\" {\n  profile = \"nope\"\n}\nprovider \"aws\" {\n  alias   = \"b\"\n  profile = var.p\n}\n")
	e.writeTF("main_override.tf", "variable \"p\" {\n  default = \"static\"\n}\nprovider \"aws\" {\n  profile = \"static\"\n}\n")
	m := credNames(t, e.opts)
	if c := m["profile static"]; c.Kind != KindStatic || len(c.UsedBy) != 2 || len(m) != 1 {
		t.Fatalf("got %v", m)
	}
}

// tf guard check shows the history and why it counts; --reset-history
// forgets it for this directory and workspace only.
func TestHistoryShownAndReset(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=static")
	for _, d := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Hour} {
		if err := RecordDuration(e.opts, "apply", d); err != nil {
			t.Fatal(err)
		}
	}
	other := e.opts
	other.Env = append(other.Env, "TF_WORKSPACE=staging")
	if err := RecordDuration(other, "apply", time.Minute); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Check(context.Background(), e.opts, &out, false)
	for _, want := range []string{"required: 15m (floor 15m; history: apply here worked up to 2m (second-longest of the last 3 runs) x1.25 = 2m30s)",
		"history: the last 3 apply runs here worked 1m, 2m, 3h (time at prompts left out)", "tf guard check --reset-history"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("check output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := ResetHistory(e.opts); err != nil {
		t.Fatal(err)
	}
	if got := loadDurations(e.opts, "apply"); len(got) != 0 {
		t.Fatalf("after reset: %v", got)
	}
	if got := loadDurations(other, "apply"); len(got) != 1 {
		t.Fatalf("another workspace's history was reset too: %v", got)
	}
}

func TestHumanDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		150 * time.Second: "2m30s", 3 * time.Hour: "3h", 65 * time.Minute: "1h5m", 15 * time.Minute: "15m",
		299 * time.Second: "4m59s", 40 * time.Second: "40s", -2 * time.Minute: "2m", 90*time.Minute + 29*time.Second: "1h30m",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
