package passthrough

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyRun is a command running under a new pseudo-terminal, as if typed at a
// terminal: it is the session leader and the terminal's foreground group.
type ptyRun struct {
	cmd    *exec.Cmd
	master *os.File
	out    *syncBuffer
	done   chan struct{} // output fully read
}

func startPTY(t *testing.T, dir string, env []string, size *pty.Winsize, bin string, args ...string) *ptyRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	master, err := pty.StartWithSize(cmd, size)
	if err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{cmd: cmd, master: master, out: &syncBuffer{}, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		copyInto(r.out, master) // ends with EIO once every holder of the terminal has gone
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		master.Close()
	})
	return r
}

// wait returns the exit code and everything written to the terminal.
func (r *ptyRun) wait(t *testing.T, timeout time.Duration) (int, string) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- r.cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(timeout):
		t.Fatalf("still running after %s; output so far:\n%s", timeout, r.out.String())
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("terminal output not closed; got:\n%s", r.out.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, r.out.String()
}

const sizeProbe = `#!/bin/sh
# Prints what this "terraform" sees on fd 1 and fd 2, then again after a line
# on stdin. fd 3 is a copy of fd 1 (inside $(...) fd 1 is a pipe).
exec 3>&1
show() { printf '%s size1=%s size2=%s tty1=%s tty2=%s\n' "$1" "$(stty size <&3)" "$(stty size <&2)" "$(test -t 3 && echo yes)" "$(test -t 2 && echo yes)"; }
show before
read line
show after
`

func TestTerraformSeesTerminalOfSameSize(t *testing.T) {
	probe := writeScript(t, "sizeprobe", sizeProbe)
	env := tfEnv("TFGUARD_TERRAFORM=" + probe)
	for _, cmd := range []string{"apply", "version"} { // guarded (pty relay) and exec'd
		t.Run(cmd, func(t *testing.T) {
			r := startPTY(t, t.TempDir(), env, &pty.Winsize{Rows: 37, Cols: 91}, filepath.Join(fx.tfBin, "terraform"), cmd)
			r.out.waitFor(t, "before ", 20*time.Second)
			if err := pty.Setsize(r.master, &pty.Winsize{Rows: 25, Cols: 60}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // tf follows the window size within 250 ms
			if _, err := r.master.Write([]byte("\n")); err != nil {
				t.Fatal(err)
			}
			code, out := r.wait(t, 20*time.Second)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, want := range []string{
				"before size1=37 91 size2=37 91 tty1=yes tty2=yes",
				"after size1=25 60 size2=25 60 tty1=yes tty2=yes",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("want %q in:\n%s", want, out)
				}
			}
		})
	}
}

func TestWrappingAtNarrowTerminalIsIdentical(t *testing.T) {
	dir := workdir(t, "data")
	size := &pty.Winsize{Rows: 30, Cols: 50}
	args := []string{"plan", "-var", "undeclared=1"} // a long diagnostic, wrapped to the width
	bare := startPTY(t, dir, bareEnv(), size, fx.terraform, args...)
	bareCode, bareOut := bare.wait(t, time.Minute)
	tf := startPTY(t, dir, tfEnv(), size, filepath.Join(fx.tfBin, "terraform"), args...)
	tfCode, tfOut := tf.wait(t, time.Minute)
	if bareCode != 1 || tfCode != 1 {
		t.Fatalf("exit codes terraform %d, tf %d; want 1", bareCode, tfCode)
	}
	if !strings.Contains(bareOut, "\r\n") || len(strings.Split(bareOut, "\n")) < 6 {
		t.Fatalf("terraform's output does not look wrapped for a terminal:\n%q", bareOut)
	}
	if tfOut != bareOut {
		t.Fatalf("terminal bytes differ\n--- terraform\n%q\n--- tf\n%q", bareOut, tfOut)
	}
}

// An apply at a terminal: tf reads its stdout through a pty of its own (for
// recovery's report), and the terminal shows the same bytes as without tf:
// the plan, the prompt, the answer's echo, the progress and the summary,
// wrapped at the same width, in the same order.
func TestApplyAtNarrowTerminalIsIdentical(t *testing.T) {
	size := &pty.Winsize{Rows: 30, Cols: 50}
	run := func(bin string, env []string) (int, string) {
		r := startPTY(t, workdir(t, "data"), env, size, bin, "apply")
		r.out.waitFor(t, "Enter a value:", time.Minute)
		if _, err := r.master.Write([]byte("yes\n")); err != nil {
			t.Fatal(err)
		}
		code, out := r.wait(t, time.Minute)
		return code, normaliseIDs(out)
	}
	bareCode, bareOut := run(fx.terraform, bareEnv())
	tfCode, tfOut := run(filepath.Join(fx.tfBin, "terraform"), tfEnv())
	if bareCode != 0 || tfCode != 0 {
		t.Fatalf("exit codes terraform %d, tf %d; want 0\n%s\n%s", bareCode, tfCode, bareOut, tfOut)
	}
	if !strings.Contains(bareOut, "Apply complete!") || !strings.Contains(bareOut, "\r\n") {
		t.Fatalf("terraform's apply at a terminal looks wrong:\n%q", bareOut)
	}
	if tfOut != bareOut {
		t.Fatalf("terminal bytes differ\n--- terraform\n%q\n--- tf\n%q", bareOut, tfOut)
	}
}

// interrupted checks that terraform got the interrupt and stopped the
// apply: its "Interrupt received" and "Stopping operation..." are there, and
// the 20 s sleep never completed. It reports whether terraform said it got
// two interrupts.
//
// It does not fail on that: terraform 1.11 itself sometimes reports two
// interrupts for one Ctrl-C on a busy machine, with no tf involved (measured:
// about 1 to 4 runs in 40 of bare terraform in a pty, every core busy). That
// tf delivers each interrupt exactly once is proven without terraform by
// TestInterruptReachesChildOnce; the tests here compare with bare terraform
// in the same run and log what each reported.
func interrupted(t *testing.T, who, out string) (twice bool) {
	t.Helper()
	if !strings.Contains(out, "Interrupt received") {
		t.Errorf("%s: no %q: the interrupt did not reach terraform:\n%s", who, "Interrupt received", out)
	}
	if !strings.Contains(out, "Stopping operation...") {
		t.Errorf("%s: no %q:\n%s", who, "Stopping operation...", out)
	}
	if strings.Contains(out, "Creation complete") {
		t.Errorf("%s: the apply completed: the sleep was not interrupted:\n%s", who, out)
	}
	return strings.Contains(out, "Two interrupts received")
}

const provisioning = `Executing: ["/bin/sh" "-c" "sleep 20"]`

// The interrupt reaches the real terraform through tf as it reaches bare
// terraform: both stop the apply with exit code 1.
func TestCtrlCAtTerminalReachesTerraformOnce(t *testing.T) {
	cases := []struct {
		name string
		send func(r *ptyRun) error
	}{
		{"ctrl-c typed", func(r *ptyRun) error { _, err := r.master.Write([]byte{3}); return err }},
		{"SIGINT to tf", func(r *ptyRun) error { return r.cmd.Process.Signal(syscall.SIGINT) }},
		{"SIGTERM to tf", func(r *ptyRun) error { return r.cmd.Process.Signal(syscall.SIGTERM) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			twice := map[string]bool{}
			for _, who := range []string{"terraform", "tf"} {
				dir := workdir(t, "slow")
				env, bin := bareEnv(), fx.terraform
				if who == "tf" {
					env, bin = tfEnv(), filepath.Join(fx.tfBin, "terraform")
				}
				r := startPTY(t, dir, env, &pty.Winsize{Rows: 40, Cols: 120}, bin, "apply", "-auto-approve")
				r.out.waitFor(t, provisioning, time.Minute)
				if err := c.send(r); err != nil {
					t.Fatal(err)
				}
				code, out := r.wait(t, time.Minute)
				twice[who] = interrupted(t, who, out)
				if code != 1 {
					t.Errorf("%s: exit %d, want terraform's 1", who, code)
				}
			}
			if twice["terraform"] || twice["tf"] {
				t.Logf("terraform reported two interrupts: bare %v, through tf %v (terraform's own race, see interrupted)", twice["terraform"], twice["tf"])
			}
		})
	}
}
