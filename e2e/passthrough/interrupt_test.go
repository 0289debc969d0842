package passthrough

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestInterruptReachesChildOnce proves tf's own promise about interrupts,
// without terraform's own signal handling in the way: a stand-in terraform
// (testdata/sigcount) counts the SIGINTs it receives, and one interrupt is
// sent at a random moment, from the very start of tf (before it has started
// its child, even before it has installed its signal handlers) to well after
// the child is running, while every core is kept busy.
//
// For each run exactly one of these must hold:
//   - the child never got going (tf was interrupted before it started it):
//     tf ended by SIGINT or with 130, as a shell reports an interrupted job;
//   - the child counted exactly one SIGINT and tf exited with the child's 3.
//
// A child that counts 0 (the interrupt was lost) or 2 (tf forwarded what the
// terminal had already delivered) fails the test.
//
// CI runs 20 interrupts per way of sending one. The stress version, hundreds
// of runs each:
//
//	INTERRUPT_RUNS=300 go test -count=1 -v -timeout 60m ./e2e/passthrough/ -run TestInterruptReachesChildOnce
func TestInterruptReachesChildOnce(t *testing.T) {
	runs := 20
	if s := os.Getenv("INTERRUPT_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("INTERRUPT_RUNS=%q: want a positive number of runs", s)
		}
		runs = n
	}
	standin := buildSigcount(t)
	stopLoad := busyCores()
	defer stopLoad()

	modes := []struct {
		name     string
		terminal bool
		send     func(s *interruptRun) error
	}{
		{"ctrl-c typed at a terminal", true, func(s *interruptRun) error { _, err := s.master.Write([]byte{3}); return err }},
		{"SIGINT to tf at a terminal", true, func(s *interruptRun) error { return s.cmd.Process.Signal(syscall.SIGINT) }},
		{"SIGINT to tf without terminal", false, func(s *interruptRun) error { return s.cmd.Process.Signal(syscall.SIGINT) }},
		{"SIGINT to tf's process group without terminal", false, func(s *interruptRun) error { return syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT) }},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			// How long tf takes to get the child going, here and now: the
			// random moments span twice that, so about half of them fall
			// into tf's start-up.
			ready := startInterruptRun(t, standin, m.terminal).timeToReady(t)
			var early, late, duringStartup int
			for i := 0; i < runs; i++ {
				delay := time.Duration(rand.Int64N(int64(2*ready) + 1))
				if delay < ready {
					duringStartup++
				}
				s := startInterruptRun(t, standin, m.terminal)
				time.Sleep(delay)
				if err := m.send(s); err != nil {
					t.Fatalf("run %d: send the interrupt after %s: %v", i, delay, err)
				}
				started := s.check(t, fmt.Sprintf("run %d (interrupt after %s)", i, delay))
				if started {
					late++
				} else {
					early++
				}
			}
			t.Logf("%d runs, stand-in ready about %s after start, %d interrupts sent before that: %d ended before the stand-in was ready, %d reached the ready stand-in exactly once",
				runs, ready, duringStartup, early, late)
		})
	}
}

type interruptRun struct {
	cmd    *exec.Cmd
	master *os.File // nil without a terminal
	file   string   // what the stand-in saw
	out    *syncBuffer
	done   chan struct{}
	start  time.Time
}

func startInterruptRun(t *testing.T, standin string, terminal bool) *interruptRun {
	t.Helper()
	dir := t.TempDir()
	s := &interruptRun{file: filepath.Join(dir, "sigcount"), out: &syncBuffer{}, done: make(chan struct{})}
	env := tfEnv("TFGUARD_TERRAFORM="+standin, "SIGCOUNT_FILE="+s.file, "SIGCOUNT_LINGER=500ms", "SIGCOUNT_WAIT=30s")
	s.cmd = exec.Command(filepath.Join(fx.tfBin, "terraform"), "apply", "-auto-approve")
	s.cmd.Dir = dir
	if terminal {
		s.cmd.Env = env
		s.start = time.Now()
		master, err := pty.StartWithSize(s.cmd, &pty.Winsize{Rows: 40, Cols: 120})
		if err != nil {
			t.Fatal(err)
		}
		s.master = master
		go func() { defer close(s.done); copyInto(s.out, master) }()
	} else {
		s.cmd.Env = append(env, "CI=true")
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, like a CI job
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		s.start = time.Now()
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		close(s.done)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		if s.master != nil {
			s.master.Close()
		}
	})
	return s
}

// timeToReady waits for the stand-in to be ready, interrupts it and returns
// how long tf took to get it there.
func (s *interruptRun) timeToReady(t *testing.T) time.Duration {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if data, _ := os.ReadFile(s.file); strings.HasPrefix(string(data), "ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in never got ready; tf said:\n%s", s.out.String())
		}
		time.Sleep(time.Millisecond)
	}
	d := time.Since(s.start)
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if !s.check(t, "calibration run") {
		t.Fatal("calibration run: the stand-in was ready but did not report")
	}
	return d
}

// check waits for tf and applies the rule of TestInterruptReachesChildOnce;
// it reports whether the child was ready when the interrupt came.
func (s *interruptRun) check(t *testing.T, what string) bool {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: tf still running; it said:\n%s", what, s.out.String())
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: terminal output not closed; got:\n%s", what, s.out.String())
	}
	var ws syscall.WaitStatus
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		ws = ee.Sys().(syscall.WaitStatus)
	case err != nil:
		t.Fatalf("%s: wait: %v", what, err)
	}
	data, rerr := os.ReadFile(s.file)
	if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		t.Fatal(rerr)
	}
	seen := string(data)
	byInterrupt := (ws.Signaled() && ws.Signal() == syscall.SIGINT) || (!ws.Signaled() && ws.ExitStatus() == 130)
	switch {
	case seen == "":
		if !byInterrupt {
			t.Errorf("%s: the stand-in never got ready, yet tf ended with %s, not by the interrupt; tf said:\n%s", what, status(ws), s.out.String())
		}
		return false
	case strings.Contains(seen, "sigint 1\n"):
		if ws.Signaled() || ws.ExitStatus() != 3 {
			t.Errorf("%s: the stand-in got one SIGINT and exited 3, but tf ended with %s; tf said:\n%s", what, status(ws), s.out.String())
		}
		return true
	default:
		t.Errorf("%s: the stand-in saw %q (want exactly one SIGINT); tf ended with %s and said:\n%s", what, seen, status(ws), s.out.String())
		return true
	}
}

func status(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return "exit code " + strconv.Itoa(ws.ExitStatus())
}

// buildSigcount builds the stand-in terraform.
func buildSigcount(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sigcount")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/sigcount").CombinedOutput(); err != nil {
		t.Fatalf("go build sigcount: %v\n%s", err, out)
	}
	return bin
}

// busyCores keeps every core busy until the returned function is called, so
// that tf and its child are scheduled late, as on a loaded CI machine.
func busyCores() func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				if n%1024 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}
