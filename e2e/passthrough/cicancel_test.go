package passthrough

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// interruptCounter stands in for terraform: it counts SIGINT and SIGTERM
// alike (terraform treats a second of either as "exit now, without saving
// the state"), writes "ready" once its traps are set, and when $DONE
// exists writes "interrupts N" to $COUNT_FILE and exits 3. It runs in its
// own process group (tf starts terraform so), so only what tf sends it, or
// a signal to it by PID, reaches it.
const interruptCounter = `#!/bin/sh
n=0
trap 'n=$((n+1))' INT TERM
echo ready > "$COUNT_FILE"
while [ ! -e "$DONE" ]; do sleep 0.05; done
echo "interrupts $n" > "$COUNT_FILE"
exit 3
`

type ciRun struct {
	step  *exec.Cmd // the process the CI runner signals
	out   *syncBuffer
	count string
	done  string
}

// startCIStep starts tf apply the way a CI step would run it: as the step's
// own process (shell false: `exec tf ...`, a container's entrypoint) or
// under the step's shell (shell true: a GitHub Actions `run:` step), with
// the interrupt counter as terraform.
func startCIStep(t *testing.T, shell bool) *ciRun {
	t.Helper()
	dir := t.TempDir()
	standin := filepath.Join(dir, "terraform-standin")
	if err := os.WriteFile(standin, []byte(interruptCounter), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &ciRun{out: &syncBuffer{}, count: filepath.Join(dir, "count"), done: filepath.Join(dir, "done")}
	tf := filepath.Join(fx.tfBin, "terraform")
	if shell {
		// bash runs the step's script and waits for tf, as the runner's
		// `bash -e {0}` does.
		script := filepath.Join(dir, "step.sh")
		if err := os.WriteFile(script, []byte(tf+" apply -auto-approve\necho after\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r.step = exec.Command("bash", "-e", script)
	} else {
		r.step = exec.Command(tf, "apply", "-auto-approve")
	}
	r.step.Dir = dir
	r.step.Env = tfEnv("CI=true", "GITHUB_ACTIONS=true", "TFGUARD_TERRAFORM="+standin, "COUNT_FILE="+r.count, "DONE="+r.done)
	r.step.Stdout, r.step.Stderr = r.out, r.out
	r.step.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.step.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(r.done, nil, 0o644) // the stand-in ends
		_ = r.step.Process.Kill()
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if b, _ := os.ReadFile(r.count); strings.HasPrefix(string(b), "ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in never got ready; the step said:\n%s", r.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	go func() { _ = r.step.Wait() }()
	return r
}

// interrupts ends the stand-in and returns how many interrupts it counted.
func (r *ciRun) interrupts(t *testing.T) string {
	t.Helper()
	if err := os.WriteFile(r.done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(r.count)
		if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "interrupts ") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in never reported; the step said:\n%s", r.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The cancel sequence of GitHub Actions (actions/runner: SIGINT, 7.5 s,
// SIGTERM, 2.5 s, SIGKILL, each to the step's process only). Whether tf is
// the step's process or runs under the step's shell, terraform gets exactly
// one interrupt, and still has it after tf is killed.
func TestGitHubActionsCancelSequence(t *testing.T) {
	for _, shell := range []bool{false, true} {
		name := "tf is the step's process"
		if shell {
			name = "tf under the run: step's bash"
		}
		t.Run(name, func(t *testing.T) {
			r := startCIStep(t, shell)
			pid := r.step.Process.Pid
			_ = syscall.Kill(pid, syscall.SIGINT)
			time.Sleep(7500 * time.Millisecond)
			_ = syscall.Kill(pid, syscall.SIGTERM)
			time.Sleep(2500 * time.Millisecond)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !shell {
				// SIGTERM came to tf itself: it was not passed on.
				r.out.waitFor(t, "tf: SIGTERM not passed on: terraform already got an interrupt (SIGINT received by tf)", time.Minute)
			} else {
				// bash got SIGINT and waited; SIGTERM killed it: tf saw its
				// parent go and interrupted terraform itself, once.
				r.out.waitFor(t, "tf: interrupting terraform once (as Ctrl-C would)", time.Minute)
				r.out.waitFor(t, "tf's parent process ended", time.Minute)
			}
			if got := r.interrupts(t); got != "interrupts 1" {
				t.Errorf("terraform's stand-in saw %q, want exactly one interrupt; the step said:\n%s", got, r.out.String())
			}
		})
	}
}

// GitLab Runner's shell executor cancels or times out a job by sending
// SIGTERM to the job's process group (the job's shell and tf in it;
// terraform has a group of its own), then SIGKILL to the group 10 s later
// (gitlab-runner MR !3906). tf passes the SIGTERM on once; the shell's end
// that follows does not make tf send another; SIGKILL ends tf, and
// terraform, in its own group, still has exactly one interrupt.
func TestGitLabCancel(t *testing.T) {
	r := startCIStep(t, true)
	pgid := r.step.Process.Pid // the step has its own group (Setpgid)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	time.Sleep(10 * time.Second)
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if got := r.interrupts(t); got != "interrupts 1" {
		t.Errorf("terraform's stand-in saw %q, want exactly one interrupt; the step said:\n%s", got, r.out.String())
	}
	if strings.Contains(r.out.String(), "interrupting terraform once") {
		t.Errorf("tf sent its own interrupt after passing on the runner's:\n%s", r.out.String())
	}
}
