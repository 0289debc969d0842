package passthrough

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childOf returns the pid of a child of ppid (from /proc), or 0.
func childOf(ppid int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state ppid ...
		if len(f) > 1 && f[1] == itoa(ppid) {
			return pid
		}
	}
	return 0
}

// tf killed with SIGKILL in the middle of an apply whose stdout is a pipe
// (CI, `| tee log`): nobody relays terraform's stdout any more. Before tf
// read an apply's stdout, terraform kept its real stdout, finished the apply,
// saved the state and released its lock. It must still: dying at its next
// progress line by SIGPIPE leaves an empty terraform.tfstate, the lock held
// and the created resource recorded nowhere, which is worse than what the
// same run would have left without tf's relay.
func TestApplyOutlivesTFKilled(t *testing.T) {
	dir := twoStepWorkdir(t, 4)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	out := &syncBuffer{}
	go copyInto(out, pr)
	cmd := exec.Command(filepath.Join(fx.tfBin, "terraform"), "apply", "-auto-approve", "-input=false")
	cmd.Dir, cmd.Env = dir, tfEnv("TFGUARD_PREFLIGHT=off")
	errLog, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errLog.Close()
	cmd.Stdout, cmd.Stderr = pw, errLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	out.waitFor(t, `Executing: ["/bin/sh" "-c" "sleep 4"]`, time.Minute)
	terraform := childOf(cmd.Process.Pid)
	if terraform == 0 {
		t.Fatal("terraform is not running under tf")
	}
	t.Cleanup(func() { _ = syscall.Kill(-terraform, syscall.SIGKILL) })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	assertFinishedAlone(t, dir, terraform)
}

// `tf apply | head -3`: the reader of tf's stdout goes away mid-apply. tf
// ends as plain terraform would, killed by SIGPIPE at its next write; but
// terraform, writing to tf's spool and not to the broken pipe, finishes the
// apply and saves its state (plain terraform would die mid-apply with the
// state unsaved and its lock held).
func TestApplyPipedIntoClosedReaderStillSavesState(t *testing.T) {
	dir := twoStepWorkdir(t, 3)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	copied := make(chan struct{})
	go func() { defer close(copied); copyInto(out, pr) }()
	cmd := exec.Command(filepath.Join(fx.tfBin, "terraform"), "apply", "-auto-approve", "-input=false")
	cmd.Dir, cmd.Env = dir, tfEnv("TFGUARD_PREFLIGHT=off")
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	out.waitFor(t, `Executing: ["/bin/sh" "-c" "sleep 3"]`, time.Minute)
	terraform := childOf(cmd.Process.Pid)
	if terraform == 0 {
		t.Fatal("terraform is not running under tf")
	}
	t.Cleanup(func() { _ = syscall.Kill(-terraform, syscall.SIGKILL) })
	pr.Close() // like head after its lines
	<-copied
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGPIPE {
		t.Errorf("tf ended with %v, want killed by SIGPIPE like plain terraform", err)
	}
	assertFinishedAlone(t, dir, terraform)
}

// twoStepWorkdir is an initialised directory whose apply creates a (its
// provisioner sleeping sleep seconds) and then b.
func twoStepWorkdir(t *testing.T, sleep int) string {
	t.Helper()
	dir := t.TempDir()
	config := `resource "terraform_data" "a" {
  provisioner "local-exec" {
    command = "sleep ` + itoa(sleep) + `"
  }
}

resource "terraform_data" "b" {
  depends_on = [terraform_data.a]
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBare(t, dir, "", "init", "-input=false"); r.code != 0 {
		t.Fatalf("init: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return dir
}

// assertFinishedAlone waits for terraform (pid), left running without tf,
// to end, and checks that it finished the apply of twoStepWorkdir: both
// resources in the state, the lock released.
func assertFinishedAlone(t *testing.T, dir string, terraform int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for st := procState(terraform); st != "" && st != "Z"; st = procState(terraform) {
		if time.Now().After(deadline) {
			t.Fatalf("terraform (pid %d) still running a minute after tf ended", terraform)
		}
		time.Sleep(100 * time.Millisecond)
	}
	state, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "a"`, `"name": "b"`} {
		if !strings.Contains(string(state), want) {
			t.Errorf("the state does not record %s: terraform did not finish the apply (state %d bytes):\n%s", want, len(state), state)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".terraform.tfstate.lock.info")); err == nil {
		t.Errorf("terraform's state lock is left held")
	}
}
