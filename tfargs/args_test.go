package tfargs

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// parseCases are argument forms terraform accepts (and some it refuses,
// read as far as they go).
var parseCases = []struct {
	name       string
	args       string
	chdir      string
	words      string
	positional []string
	vars       []Var
}{
	{"no arguments", "", "", "", nil, nil},
	{"global option only", "-version", "", "", nil, nil},
	{"var as two words", "apply -var x=1", "", "apply", nil, []Var{{Name: "x", Value: "1"}}},
	{"var with equals", "apply -var=x=1", "", "apply", nil, []Var{{Name: "x", Value: "1"}}},
	{"var with two dashes", "apply --var x=1 --var=y=2", "", "apply", nil, []Var{{Name: "x", Value: "1"}, {Name: "y", Value: "2"}}},
	{"var value with equals", "plan -var=t=a=b", "", "plan", nil, []Var{{Name: "t", Value: "a=b"}}},
	{"var-file and var in order", "plan -var-file a.tfvars -var x=1 -var-file=b.tfvars", "", "plan", nil,
		[]Var{{File: "a.tfvars"}, {Name: "x", Value: "1"}, {File: "b.tfvars"}}},
	{"var without equals is refused", "plan -var x", "", "plan", nil, nil},
	{"var value that looks like an option", "plan -var -x=1", "", "plan", nil, []Var{{Name: "-x", Value: "1"}}},
	{"chdir before the subcommand", "-chdir=infra apply -auto-approve", "infra", "apply", nil, nil},
	{"last chdir wins", "-chdir=a -chdir=b plan", "b", "plan", nil, nil},
	{"chdir with two dashes is not terraform's", "--chdir=a plan", "", "plan", nil, nil},
	{"saved plan", "apply -auto-approve tfplan", "", "apply", []string{"tfplan"}, nil},
	{"value option before the saved plan", "apply -var-file prod.tfvars -lock-timeout 5m tfplan", "", "apply", []string{"tfplan"},
		[]Var{{File: "prod.tfvars"}}},
	{"boolean option never takes the next word", "apply -auto-approve tfplan", "", "apply", []string{"tfplan"}, nil},
	{"options end at the first word", "apply tfplan -var x=1", "", "apply", []string{"tfplan", "-var", "x=1"}, nil},
	{"options end at --", "apply -input=false -- -plan", "", "apply", []string{"-plan"}, nil},
	{"a lone dash is a word", "apply - -x", "", "apply", []string{"-", "-x"}, nil},
	{"state push", "state push -lock=false errored.tfstate", "", "state push", []string{"errored.tfstate"}, nil},
	{"state with an option first", "state -help", "", "state", nil, nil},
	{"import", "import -var x=1 aws_instance.a i-123", "", "import", []string{"aws_instance.a", "i-123"}, []Var{{Name: "x", Value: "1"}}},
	{"value option at the end", "plan -var", "", "plan", nil, nil},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		args := strings.Fields(tc.args)
		c := Parse(args)
		if c.Chdir != tc.chdir || c.Subcommand() != tc.words || !slices.Equal(c.Positional(), tc.positional) || !slices.Equal(c.Vars(), tc.vars) {
			t.Errorf("%s: Parse(%q) = chdir %q words %q positional %q vars %v; want %q %q %q %v",
				tc.name, args, c.Chdir, c.Subcommand(), c.Positional(), c.Vars(), tc.chdir, tc.words, tc.positional, tc.vars)
		}
		if got := Words(c.Args); !slices.Equal(got, args) && len(args) > 0 {
			t.Errorf("%s: the words do not join back: %q", tc.name, got)
		}
	}
}

// TestParseAsGoFlag: the subcommand's options and positional words are
// read as Go's flag package (terraform's) reads them, with terraform's
// options declared as terraform declares them (string and list options
// take a value; the others are booleans).
func TestParseAsGoFlag(t *testing.T) {
	bools := []string{"lock", "auto-approve", "input", "json", "destroy", "refresh", "refresh-only", "force", "no-color",
		"compact-warnings", "detailed-exitcode", "allow-missing", "dry-run", "ignore-remote-version", "upgrade"}
	values := []string{"var", "var-file", "target", "replace", "invoke", "lock-timeout", "parallelism",
		"state", "state-out", "backup", "backup-out", "out", "generate-config-out", "config", "policies"}
	for _, line := range []string{
		"-var x=1 -var=y=2 --var z=3 tfplan",
		"-lock=false -lock-timeout 5m -target=a.b -target a.c",
		"-auto-approve=true -input=0 -- -x",
		"-refresh -replace a.b plan.out extra -var x=1",
		"--backup - -state-out=s -out p",
		"- -var x=1",
		"-json",
		"-var",
	} {
		args := strings.Fields(line)
		fs := flag.NewFlagSet("apply", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		for _, b := range bools {
			fs.Bool(b, false, "")
		}
		seen := map[string][]string{}
		for _, v := range values {
			fs.Func(v, "", func(s string) error { seen[v] = append(seen[v], s); return nil })
		}
		err := fs.Parse(args)
		c := Parse(append([]string{"apply"}, args...))
		if err != nil {
			// terraform refuses it; tf reads what it can and must not
			// invent values.
			if len(c.Values("var")) != 0 {
				t.Errorf("%q: flag refuses it (%v), but tf read -var %q", line, err, c.Values("var"))
			}
			continue
		}
		if !slices.Equal(c.Positional(), fs.Args()) {
			t.Errorf("%q: positional %q, Go's flag reads %q", line, c.Positional(), fs.Args())
		}
		for _, v := range values {
			if !slices.Equal(c.Values(v), seen[v]) {
				t.Errorf("%q: -%s %q, Go's flag reads %q", line, v, c.Values(v), seen[v])
			}
		}
		for _, b := range bools {
			if want := fs.Lookup(b).Value.String() == "true"; c.Bool(b, false) != want {
				t.Errorf("%q: -%s %v, Go's flag reads %v", line, b, c.Bool(b, false), want)
			}
		}
	}
}

func TestTakesLock(t *testing.T) {
	for args, want := range map[string]bool{
		"apply": true, "apply -lock=false": false, "apply --lock=false": false, "apply -lock=0": false,
		"apply -lock=f": false, "apply -lock=F": false, "apply -lock=FALSE": false, "apply -lock=False": false,
		"apply -lock": true, "apply -lock=true": true, "apply -lock=false -lock=true": true,
		"state push -lock=false errored.tfstate": false, "apply -var x=1 -lock=false": false,
		// a word after the options is not an option
		"apply tfplan -lock=false": true,
	} {
		if got := Parse(strings.Fields(args)).TakesLock(); got != want {
			t.Errorf("%s: TakesLock %v, want %v", args, got, want)
		}
	}
}

func TestLockWaits(t *testing.T) {
	for args, want := range map[string]bool{
		"apply": false, "apply -lock-timeout=0s": false, "apply -lock-timeout=0": false, "apply -lock-timeout=5m": true,
		"apply --lock-timeout=30s": true, "apply -lock-timeout 5m": true, "apply -lock-timeout 0s": false,
		"apply -lock-timeout=soon": true, "apply -lock-timeout=5m -lock-timeout=0s": false,
	} {
		if got := Parse(strings.Fields(args)).LockWaits(); got != want {
			t.Errorf("%s: LockWaits %v, want %v", args, got, want)
		}
	}
}

func TestLockOperation(t *testing.T) {
	for args, want := range map[string]string{
		"apply -auto-approve": "OperationTypeApply", "-chdir=x destroy": "OperationTypeApply",
		"plan -out=p": "OperationTypePlan", "refresh": "OperationTypeRefresh", "import a b": "", "": "",
	} {
		if got := Parse(strings.Fields(args)).LockOperation(); got != want {
			t.Errorf("%s: %q, want %q", args, got, want)
		}
	}
}

func TestVarNames(t *testing.T) {
	got := Parse([]string{"apply", "-var", "db_password=hunter2", "-var=token=abc", "--var", "x", "-var-file=f"}).VarNames()
	if want := []string{"db_password", "token"}; !slices.Equal(got, want) {
		t.Errorf("VarNames = %q, want %q", got, want)
	}
}

func TestRedact(t *testing.T) {
	in := []string{"-chdir=x", "apply", "-var", "db_password=hunter2", "-var=token=abc=def", "--var=k=v", "-var-file=x.tfvars", "-var", "novalue", "-auto-approve"}
	got := strings.Join(Redact(in), " ")
	want := "-chdir=x apply -var db_password=... -var=token=... --var=k=... -var-file=x.tfvars -var novalue -auto-approve"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if in[3] != "db_password=hunter2" || in[4] != "-var=token=abc=def" {
		t.Fatal("the caller's arguments were changed")
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, "abc") {
		t.Fatal("a value is left")
	}
	// Where terraform would not read an option (after the saved plan), the
	// value is hidden all the same.
	if got := strings.Join(Redact([]string{"apply", "tfplan", "-var", "s=secret", "--var=t=secret"}), " "); got != "apply tfplan -var s=... --var=t=..." {
		t.Errorf("after a word: %q", got)
	}
}

func TestCommandLine(t *testing.T) {
	got := CommandLine("terraform", []string{"-chdir=my infra", "apply", "-var", "s=secret", "-var=t=x", "-var-file=prod.tfvars", "-target=aws_s3_bucket.b[\"a\"]"})
	want := `terraform '-chdir=my infra' apply -var-file=prod.tfvars '-target=aws_s3_bucket.b["a"]'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Parse never shares the caller's array in a way that lets an append to
// an Arg's Raw change the caller's arguments.
func TestParseDoesNotAliasAppends(t *testing.T) {
	args := []string{"apply", "-var", "x=1", "tfplan"}
	c := Parse(args)
	for _, a := range c.Args {
		_ = append(a.Raw, "changed")
	}
	if !slices.Equal(args, []string{"apply", "-var", "x=1", "tfplan"}) {
		t.Fatalf("args changed: %q", args)
	}
}

func TestSavedPlan(t *testing.T) {
	for args, want := range map[string]string{
		"apply -var-file prod.tfvars":                                           "",
		"apply -var-file prod.tfvars tfplan":                                    "tfplan",
		"apply --var-file=prod.tfvars -auto-approve tfplan":                     "tfplan",
		"-chdir=x apply -var a=b -target aws_s3_bucket.b -lock-timeout 5m":      "",
		"-chdir=x apply -var a=b -target aws_s3_bucket.b -lock-timeout 5m plan": "plan",
		"apply -input=false tfplan":                                             "tfplan",
		"apply -- tfplan":                                                       "tfplan",
		"apply":                                                                 "",
		"plan -out tfplan":                                                      "",
		"state push errored.tfstate":                                            "",
	} {
		if got := Parse(strings.Fields(args)).SavedPlan(); got != want {
			t.Errorf("%s: SavedPlan %q, want %q", args, got, want)
		}
	}
}

// FuzzParse: Parse never fails and never loses a word (the words join back
// to the command line); Redact keeps every word but a -var value, and
// leaves no value of a -var option terraform reads.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.args)
	}
	f.Add("-chdir=x apply -var s=secret --var=t=secret -- -var u=secret")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		c := Parse(args)
		if got := Words(c.Args); !slices.Equal(got, args) && !(len(got) == 0 && len(args) == 0) {
			t.Fatalf("Words(Parse(%q).Args) = %q", args, got)
		}
		red := Redact(args)
		if len(red) != len(args) {
			t.Fatalf("Redact changed the number of words: %q → %q", args, red)
		}
		for _, v := range Parse(red).Vars() {
			if v.File == "" && v.Value != "..." {
				t.Fatalf("Redact(%q) left -var %s=%q", args, v.Name, v.Value)
			}
		}
	})
}
