package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/rig"
)

// TestInterruptDuringRecoveryFinishesTheStep: a CI job is cancelled
// (SIGINT to tf's whole process group, as runners do) while tf is putting
// the state back. The side call is not in tf's process group and is not
// cut; tf finishes the step it is in, stops before the next one, says so,
// and leaves the journal pending; the next command finishes the recovery.
func TestInterruptDuringRecoveryFinishesTheStep(t *testing.T) {
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tfBin, err := buildTestTF(root)
	if err != nil {
		t.Fatal(err)
	}
	r := recRig(t)
	s := newRecScenario(t, r, rig.LockDynamoDB, "sigint", "")
	s.ssoLogin(time.Hour)
	s.prepare()

	run := func(pause string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(tfBin, args...)
		cmd.Dir = s.ws.Dir
		extra := []string{"CI=true"}
		if pause != "" {
			extra = append(extra, "TFGUARD_TEST_PAUSE_AT="+pause)
		}
		cmd.Env = s.environ(extra...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		return cmd, &out
	}
	cmd, out := run("push", "apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=2", "-var", "sleep=8")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := time.AfterFunc(3*time.Second, r.Ledger.KillAll) // the role credentials die mid-apply
	defer kill.Stop()
	// Wait until tf has journaled the push as begun (it pauses there).
	deadline := time.Now().Add(90 * time.Second)
	for {
		js, _ := filepath.Glob(filepath.Join(s.ws.Dir, ".terraform", "tf-recovery", "*", "journal.json"))
		if len(js) == 1 {
			if b, _ := os.ReadFile(js[0]); bytes.Contains(b, []byte("\"step\": \"push\",\n      \"status\": \"begun\"")) {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("tf never began the push step:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	s.record(out.Bytes())
	code := cmd.ProcessState.ExitCode()
	if code != 76 || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("exit %d (%v), want 76 and an interrupted stop:\n%s", code, err, out)
	}
	if !strings.Contains(out.String(), "pushed errored.tfstate") {
		t.Errorf("the push step was not finished:\n%s", out)
	}
	if rem := s.remote(); rem.Serial <= 1 {
		t.Errorf("the state was not put back by the finished push: %+v", rem)
	}
	if !s.locks().Held() {
		t.Error("the lock went before the recovery verified the state")
	}
	if !recoveryPending(s.ws.Dir) {
		t.Fatal("the journal is not pending after the interrupt")
	}

	// The next command finishes it.
	cmd, out = run("", "plan", "-input=false", "-no-color")
	_ = cmd.Run()
	s.record(out.Bytes())
	if !strings.Contains(out.String(), "RECOVERED") || s.locks().Held() || recoveryPending(s.ws.Dir) {
		t.Fatalf("the next command did not finish the recovery (exit %d):\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

func recoveryPending(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".terraform", "tf-recovery", "PENDING"))
	return err == nil
}
