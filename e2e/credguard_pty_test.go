package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tfguard/tf/e2e/fakeaws"
	"github.com/tfguard/tf/e2e/rig"
)

// The person at a terminal, through the real tf binary: a legacy SSO token
// that would end mid-apply (plain terraform loses this run) makes tf log in
// again by device authorization before terraform starts, showing the code
// and the address; once the person approves (the fake Identity Center
// stands in for the browser), the apply runs and finishes cleanly.
func TestCredguardTerminalLoginThroughTF(t *testing.T) {
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root, tfBuildDir: t.TempDir()}
	tf, err := h.buildTF()
	if err != nil {
		t.Fatal(err)
	}
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

	cmd := exec.CommandContext(ctx, tf, "apply", "-auto-approve", "-input=false", "-no-color")
	cmd.Dir, cmd.Env = c.ws.Dir, c.environ()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// The person reads the code on the screen and approves it in the browser.
	var code string
	for deadline := time.Now().Add(30 * time.Second); code == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if codes := c.r.Identity.PendingUserCodes(); len(codes) > 0 {
			mu.Lock()
			shown := strings.Contains(screen.String(), codes[0])
			mu.Unlock()
			if shown {
				code = codes[0]
			}
		}
	}
	if code == "" {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no device code shown on the terminal:\n%s", screen.String())
	}
	if err := c.r.Identity.ApproveDevice(code); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	<-copied
	out := screen.String()
	c.capture(out)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, io.EOF) {
		t.Fatalf("tf apply: %v\n%s", err, out)
	}
	if cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("tf apply exited %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	t.Logf("what the person saw:\n%s", out)
	for _, want := range []string{"open this address in a browser", "Apply complete!"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if c.r.Identity.CallsBy(fakeaws.OpCreateTokenDevice, fakeaws.CallerTF) == 0 {
		t.Errorf("no device-code CreateToken from tf: %v", c.r.Identity.CallCounts())
	}
	if c.serial() <= serial || c.lockHeld() {
		t.Errorf("apply after login did not finish cleanly: serial %d (was %d), lock held %v", c.serial(), serial, c.lockHeld())
	}
}
