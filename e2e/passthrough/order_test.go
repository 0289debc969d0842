package passthrough

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// interleaver is a stand-in "terraform" that writes to stdout and stderr in
// turn, one write each, the way terraform's progress (stdout) and its error
// diagnostics (stderr) follow each other at the end of a failed apply.
const interleaver = `#!/bin/sh
i=0
while [ $i -lt 300 ]; do
	i=$((i+1))
	echo "out $i: terraform_data.x: Creating..."
	echo "err $i: Error: something failed" >&2
done
`

// When stdout and stderr are one destination (`> log 2>&1`, `2>&1 | cat`,
// a terminal), terraform's writes to the two reach it in the order
// terraform made them, through tf as without it. Guarded commands relay
// stderr (and an apply's stdout) through tf: two relays must not reorder.
func TestStdoutAndStderrToOneDestinationKeepOrder(t *testing.T) {
	standin := writeScript(t, "interleaver", interleaver)
	tfEnvNoPreflight := tfEnv("TFGUARD_TERRAFORM="+standin, "TFGUARD_PREFLIGHT=off")
	tf := filepath.Join(fx.tfBin, "terraform")
	bare, err := exec.Command(standin).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(bare), "out 1: terraform_data.x: Creating...\nerr 1: ") {
		t.Fatalf("the stand-in's own output looks wrong:\n%s", bare)
	}

	for _, cmd := range []string{"apply", "destroy", "plan"} {
		t.Run(cmd+" 2>&1 into a pipe", func(t *testing.T) {
			c := exec.Command(tf, cmd)
			c.Dir, c.Env = t.TempDir(), tfEnvNoPreflight
			var both bytes.Buffer
			c.Stdout, c.Stderr = &both, &both // one pipe for both, as 2>&1 | cat
			if err := c.Run(); err != nil {
				t.Fatalf("%v:\n%s", err, both.String())
			}
			if both.String() != string(bare) {
				t.Errorf("order differs from terraform's own:\n%s", firstDifference(string(bare), both.String()))
			}
		})
		t.Run(cmd+" > log 2>&1", func(t *testing.T) {
			log, err := os.Create(filepath.Join(t.TempDir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			c := exec.Command(tf, cmd)
			c.Dir, c.Env = t.TempDir(), tfEnvNoPreflight
			c.Stdout, c.Stderr = log, log
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(log.Name())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(bare) {
				t.Errorf("order differs from terraform's own:\n%s", firstDifference(string(bare), string(got)))
			}
		})
	}
	t.Run("apply at a terminal", func(t *testing.T) {
		size := &pty.Winsize{Rows: 40, Cols: 120}
		b := startPTY(t, t.TempDir(), bareEnv(), size, standin)
		bareCode, bareOut := b.wait(t, time.Minute)
		r := startPTY(t, t.TempDir(), tfEnvNoPreflight, size, tf, "apply")
		code, out := r.wait(t, time.Minute)
		if code != 0 || bareCode != 0 {
			t.Fatalf("exit codes: tf %d, stand-in %d", code, bareCode)
		}
		if out != bareOut {
			t.Errorf("terminal bytes differ:\n%s", firstDifference(bareOut, out))
		}
	})
}

// firstDifference shows the lines around the first place two outputs part.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			lo := max(0, i-2)
			return "--- terraform alone, from line " + itoa(lo+1) + "\n" + strings.Join(w[lo:min(len(w), i+3)], "\n") +
				"\n--- through tf\n" + strings.Join(g[lo:min(len(g), i+3)], "\n")
		}
	}
	return "(same lines)"
}
