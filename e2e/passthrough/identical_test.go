package passthrough

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func assertSame(t *testing.T, what string, bare, tf result) {
	t.Helper()
	if tf.code != bare.code {
		t.Errorf("%s: exit code tf %d, terraform %d", what, tf.code, bare.code)
	}
	if tf.stdout != bare.stdout {
		t.Errorf("%s: stdout differs\n--- terraform\n%s\n--- tf\n%s", what, bare.stdout, tf.stdout)
	}
	if tf.stderr != bare.stderr {
		t.Errorf("%s: stderr differs\n--- terraform\n%s\n--- tf\n%s", what, bare.stderr, tf.stderr)
	}
}

func TestByteIdenticalNonGuarded(t *testing.T) {
	dir := workdir(t, "data")
	for _, args := range [][]string{
		{"version"},
		{"version", "-json"},
		{"-version"},
		{"-help"},
		{},
		{"validate"},
		{"validate", "-json"},
		{"providers"},
		{"-chdir=" + dir, "validate"},
		{"no-such-command"},
	} {
		bare := runBare(t, dir, "", args...)
		tf := runTF(t, dir, "", args...)
		assertSame(t, "terraform "+strings.Join(args, " "), bare, tf)
	}
}

func TestByteIdenticalPlanApply(t *testing.T) {
	bareDir, tfDir := workdir(t, "data"), workdir(t, "data")
	steps := [][]string{
		{"plan", "-input=false"},
		{"plan", "-input=false", "-detailed-exitcode"}, // changes: 2
		{"apply", "-input=false", "-auto-approve"},
		{"plan", "-input=false", "-detailed-exitcode"}, // no changes: 0
		{"output", "-json"},
		{"state", "list"},
		{"plan", "-no-color", "-var", "undeclared=1"}, // error: 1
		{"apply", "-input=false", "-auto-approve", "-replace=terraform_data.again"},
		{"destroy", "-input=false", "-auto-approve"},
	}
	wantCodes := []int{0, 2, 0, 0, 0, 0, 1, 0, 0}
	for i, args := range steps {
		bare := runBare(t, bareDir, "", args...)
		tf := runTF(t, tfDir, "", args...)
		if bare.code != wantCodes[i] {
			t.Fatalf("terraform %q exited %d, the test expects %d:\n%s%s", args, bare.code, wantCodes[i], bare.stdout, bare.stderr)
		}
		// terraform_data ids are random UUIDs; nothing else is normalised.
		bare.stdout, tf.stdout = normaliseIDs(bare.stdout), normaliseIDs(tf.stdout)
		assertSame(t, "terraform "+strings.Join(args, " "), bare, tf)
	}
}

func TestExitCodes(t *testing.T) {
	invalid := workdir(t, "invalid")
	data := workdir(t, "data")
	cases := []struct {
		dir  string
		args []string
		code int
	}{
		{data, []string{"validate"}, 0},
		{invalid, []string{"validate"}, 1},
		{invalid, []string{"plan"}, 1},
		{data, []string{"plan", "-detailed-exitcode"}, 2},
	}
	for _, c := range cases {
		if r := runTF(t, c.dir, "", c.args...); r.code != c.code {
			t.Errorf("tf %q: exit %d, want %d\n%s", c.args, r.code, c.code, r.stderr)
		}
	}
}

func TestPromptAnsweredThroughStdin(t *testing.T) {
	bareDir, tfDir := workdir(t, "prompt"), workdir(t, "prompt")
	for _, args := range [][]string{{"plan"}, {"apply", "-auto-approve"}} {
		bare := runBare(t, bareDir, "world\n", args...)
		tf := runTF(t, tfDir, "world\n", args...)
		if !strings.Contains(tf.stdout, "Enter a value:") || !strings.Contains(tf.stdout, `"hello world"`) {
			t.Errorf("tf %q: no prompt or answer in stdout:\n%s\n%s", args, tf.stdout, tf.stderr)
		}
		assertSame(t, "terraform "+strings.Join(args, " ")+" (prompt)", bare, tf)
	}
}

func TestEnvironmentUnchanged(t *testing.T) {
	// A probe as "terraform" prints its environment and argv.
	probe := writeScript(t, "probe", "#!/bin/sh\necho \"args:$*\"\nenv\n")
	env := tfEnv("TFGUARD_TERRAFORM=" + probe)
	for _, cmd := range [][]string{{"version"}, {"plan", "-out", "x y"}} {
		r := run(t, t.TempDir(), env, "", filepath.Join(fx.tfBin, "terraform"), cmd...)
		if r.code != 0 {
			t.Fatalf("%q: %d %s", cmd, r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "args:"+strings.Join(cmd, " ")+"\n") {
			t.Errorf("%q: args not verbatim: %q", cmd, strings.SplitN(r.stdout, "\n", 2)[0])
		}
		if strings.Contains(r.stdout, "TF_IN_AUTOMATION") {
			t.Errorf("%q: TF_IN_AUTOMATION injected", cmd)
		}
		if !strings.Contains(r.stdout, "\nTFGUARD_CHAIN="+fx.tfBinary+"\n") {
			t.Errorf("%q: TFGUARD_CHAIN is not exactly tf's path:\n%s", cmd, r.stdout)
		}
		for _, kv := range env {
			if !strings.Contains(r.stdout, "\n"+kv+"\n") && !strings.HasPrefix(kv, "PWD=") {
				t.Errorf("%q: variable lost: %s", cmd, strings.SplitN(kv, "=", 2)[0])
			}
		}
	}
}

func TestKilledBySignalIs128PlusN(t *testing.T) {
	probe := writeScript(t, "killer", "#!/bin/sh\nkill -KILL $$\n")
	r := run(t, t.TempDir(), tfEnv("TFGUARD_TERRAFORM="+probe), "", filepath.Join(fx.tfBin, "terraform"), "apply")
	if r.code != 128+9 {
		t.Fatalf("exit %d, want 137; stderr %s", r.code, r.stderr)
	}
}

func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
