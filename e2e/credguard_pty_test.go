package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tfguard/tf/e2e/fakeaws"
	"github.com/tfguard/tf/e2e/rig"
)

// ptyRun is the real tf binary running as a person's command in a terminal.
type ptyRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	ptmx   *os.File
	mu     sync.Mutex
	screen bytes.Buffer
	copied chan struct{}
}

func startInPTY(t *testing.T, ctx context.Context, dir string, env []string, args ...string) *ptyRun {
	t.Helper()
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root}
	tf, err := h.buildTF()
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyRun{t: t, cmd: exec.CommandContext(ctx, tf, args...), copied: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env = dir, env
	if p.ptmx, err = pty.StartWithSize(p.cmd, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.ptmx.Close() })
	go func() {
		defer close(p.copied)
		buf := make([]byte, 4096)
		for {
			n, err := p.ptmx.Read(buf)
			p.mu.Lock()
			p.screen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *ptyRun) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen.String()
}

// waitFor waits until the screen shows what ok accepts.
func (p *ptyRun) waitFor(what string, ok func(screen string) bool) {
	p.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok(p.text()) {
			return
		}
	}
	p.t.Fatalf("the terminal never showed %s:\n%s", what, p.text())
}

// wait returns the exit code and everything the person saw.
func (p *ptyRun) wait() (int, string) {
	p.t.Helper()
	err := p.cmd.Wait()
	<-p.copied
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.t.Fatalf("tf: %v\n%s", err, p.text())
	}
	return p.cmd.ProcessState.ExitCode(), p.text()
}

// The person at a terminal, through the real tf binary: a legacy SSO token
// that would end mid-apply (plain terraform loses this run) makes tf log in
// again by device authorization before terraform starts, showing the code
// and the address; once the person approves (the fake Identity Center
// stands in for the browser), the apply runs and finishes cleanly.
func TestCredguardTerminalLoginThroughTF(t *testing.T) {
	c := cgStart(t, rig.LockDynamoDB, 8*time.Second)
	c.ssoLogin(true, time.Hour, time.Hour, 2*time.Second)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")
	serial := c.serial()

	// The token has 5s left; the apply takes 8s and the floor is 15m.
	c.ssoLogin(true, time.Hour, 5*time.Second, 2*time.Second)
	c.env["TF_VAR_run"] = "2"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := startInPTY(t, ctx, c.ws.Dir, c.environ(), "apply", "-auto-approve", "-input=false", "-no-color")

	// The person reads the code on the screen and approves it in the browser.
	var code string
	p.waitFor("the device code", func(screen string) bool {
		codes := c.r.Identity.PendingUserCodes()
		if len(codes) > 0 && strings.Contains(screen, codes[0]) {
			code = codes[0]
		}
		return code != ""
	})
	if err := c.r.Identity.ApproveDevice(code); err != nil {
		t.Fatal(err)
	}
	exit, out := p.wait()
	c.capture(out)
	t.Logf("what the person saw:\n%s", out)
	if exit != 0 {
		t.Fatalf("tf apply exited %d", exit)
	}
	for _, want := range []string{"open this address in a browser", "Apply complete!"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q", want)
		}
	}
	if c.r.Identity.CallsBy(fakeaws.OpCreateTokenDevice, fakeaws.CallerTF) == 0 {
		t.Errorf("no device-code CreateToken from tf: %v", c.r.Identity.CallCounts())
	}
	if c.serial() <= serial || c.lockHeld() {
		t.Errorf("apply after login did not finish cleanly: serial %d (was %d), lock held %v", c.serial(), serial, c.lockHeld())
	}
}

// Exported session keys (with AWS_CREDENTIAL_EXPIRATION) that will die
// before the apply ends, while AWS_PROFILE names the SSO profile they came
// from: at a terminal tf says so and offers that profile for the run; the
// person accepts and the apply, which the keys could not finish, succeeds.
func TestCredguardOffersSourceProfileThroughTF(t *testing.T) {
	c := cgStart(t, rig.LockDynamoDB, 6*time.Second)
	c.ssoLogin(false, time.Hour, time.Hour, time.Hour)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")
	serial := c.serial()

	// Keys exported from that profile, living 3s; the apply takes 6s.
	for k, v := range rig.EnvCredentials(c.r.Ledger.Issue("env", 3*time.Second, false)) {
		c.env[k] = v
	}
	c.env["TF_VAR_run"] = "2"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := startInPTY(t, ctx, c.ws.Dir, c.environ(), "apply", "-auto-approve", "-input=false", "-no-color")
	p.waitFor("the offer", func(screen string) bool { return strings.Contains(screen, "[y/N]") })
	if _, err := p.ptmx.Write([]byte("y\r")); err != nil {
		t.Fatal(err)
	}
	exit, out := p.wait()
	c.capture(out)
	if exit != 0 {
		t.Fatalf("tf apply exited %d\n%s", exit, out)
	}
	for _, want := range []string{"env keys", "AWS_PROFILE=sso is set too", "running with profile sso", "Apply complete!"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if c.serial() <= serial || c.lockHeld() {
		t.Errorf("apply with the profile did not finish cleanly: serial %d (was %d), lock held %v", c.serial(), serial, c.lockHeld())
	}
}
