//go:build unix

package wrapper

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfguard/tf/credguard"
)

// lockedBuffer collects what tf writes to its stderr, for a test to wait on.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitCount waits until s appears n times in what tf wrote.
func (l *lockedBuffer) waitCount(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(l.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q %d times; tf wrote:\n%s", s, n, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counter is a stand-in terraform (a shell) that counts the interrupts it
// gets, SIGINT and SIGTERM alike as terraform counts them, until $DONE
// exists; then it says how many and exits 3.
const counter = `n=0
trap 'n=$((n+1))' INT TERM
echo ready >&2
while [ ! -e "$DONE" ]; do sleep 0.05; done
echo "interrupts $n" >&2
exit 3`

// startCounter runs the stand-in through runChild with sigs as the
// signals tf receives and stop as the run's stop watch.
func startCounter(t *testing.T, sigs chan os.Signal, stop *stopInTime) (done string, errs *lockedBuffer, res chan *Result) {
	t.Helper()
	dir := t.TempDir()
	done = filepath.Join(dir, "done")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errs = &lockedBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			errs.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	res = make(chan *Result, 1)
	go func() {
		defer null.Close()
		defer out.Close()
		defer w.Close()
		p := Process{Stdin: null, Stdout: out, Stderr: w}
		inv := &Invocation{Args: []string{"-c", counter}, Command: Command{Words: []string{"apply"}}, Terraform: Terraform{Path: "/bin/sh"},
			Env: []string{"PATH=/usr/bin:/bin", "DONE=" + done}, stop: stop}
		rr, err := runChild(p, inv, sigs)
		if err != nil {
			t.Error(err)
		}
		res <- rr
	}()
	errs.waitCount(t, "ready", 1)
	return done, errs, res
}

func finish(t *testing.T, done string, errs *lockedBuffer, res chan *Result) *Result {
	t.Helper()
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r == nil {
		t.FailNow()
	}
	if r.ExitCode != 3 {
		t.Errorf("exit code %d, want the stand-in's 3; tf wrote:\n%s", r.ExitCode, errs.String())
	}
	return r
}

// GitHub Actions cancels with SIGINT, then SIGTERM 7.5 s later (then
// SIGKILL, which tf cannot see); GitLab's runner sends SIGTERM, then
// SIGKILL; systemd and docker stop send SIGTERM. Whatever the sequence,
// terraform gets the first interrupt only.
func TestOnlyTheFirstInterruptReachesTerraform(t *testing.T) {
	seqs := map[string][]syscall.Signal{
		"GitHub Actions: SIGINT then SIGTERM": {syscall.SIGINT, syscall.SIGTERM},
		"GitLab: SIGTERM":                     {syscall.SIGTERM},
		"SIGINT twice":                        {syscall.SIGINT, syscall.SIGINT},
		"SIGTERM twice then SIGINT":           {syscall.SIGTERM, syscall.SIGTERM, syscall.SIGINT},
	}
	for name, seq := range seqs {
		t.Run(name, func(t *testing.T) {
			sigs := make(chan os.Signal, 8)
			done, errs, res := startCounter(t, sigs, nil)
			for _, s := range seq {
				sigs <- s
			}
			errs.waitCount(t, "not passed on", len(seq)-1)
			finish(t, done, errs, res)
			if got := errs.String(); !strings.Contains(got, "interrupts 1\n") {
				t.Errorf("the stand-in did not count exactly one interrupt; tf and it wrote:\n%s", got)
			}
		})
	}
}

// tf's own interrupt is the only one too: once tf has stopped the run in
// time, a CI runner's SIGINT and SIGTERM are not passed on.
func TestStopInTimeSendsOneInterrupt(t *testing.T) {
	start := time.Now()
	stop := newStopInTime(Config{Deadline: "1s", Sources: map[string]Source{"deadline": {Kind: "env", Name: "TFGUARD_DEADLINE"}}},
		start, time.Time{}, "", credguard.OperationTimes{}, false)
	sigs := make(chan os.Signal, 8)
	done, errs, res := startCounter(t, sigs, stop)
	errs.waitCount(t, "interrupting terraform once", 1)
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGTERM
	errs.waitCount(t, "not passed on", 2)
	finish(t, done, errs, res)
	got := errs.String()
	if !strings.Contains(got, "interrupts 1\n") {
		t.Errorf("the stand-in did not count exactly one interrupt; tf and it wrote:\n%s", got)
	}
	if !strings.Contains(got, "the deadline (env TFGUARD_DEADLINE) is ") || !strings.Contains(got, "sent by tf to stop in time") {
		t.Errorf("tf did not say why it interrupted, or whose the interrupt was:\n%s", got)
	}
}

// Without an end (credentials renewed, no deadline), tf never interrupts.
func TestNoEndNoInterrupt(t *testing.T) {
	stop := newStopInTime(Config{}, time.Now(), time.Time{}, "", credguard.OperationTimes{}, false)
	sigs := make(chan os.Signal, 8)
	done, errs, res := startCounter(t, sigs, stop)
	time.Sleep(3 * stopCheckEvery) // several checks of the stop watch
	finish(t, done, errs, res)
	if got := errs.String(); !strings.Contains(got, "interrupts 0\n") || strings.Contains(got, "interrupting") {
		t.Errorf("tf interrupted a run with no end:\n%s", got)
	}
}
