package wrapper

import (
	"os/exec"
	"testing"
	"time"
)

// A child blocked reading its stdin (a pipe nobody writes to yet) is seen
// waiting; once answered, the wait stops growing.
func TestStdinWatchSeesAChildWaitingForInput(t *testing.T) {
	cmd := exec.Command("sh", "-c", "read x; echo $x")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := startStdinWatch()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) until the watch has seen the child waiting.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		w.mu.Lock()
		waited := w.waited
		w.mu.Unlock()
		if waited >= 3*stdinWatchEvery {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch never saw the child blocked in read(0)")
		}
	}
	_, _ = in.Write([]byte("yes\n"))
	_ = in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	waited, ok := w.Stop()
	if !ok || waited < 3*stdinWatchEvery {
		t.Fatalf("waited %v ok %v", waited, ok)
	}
	// After the child is gone nothing more is counted.
	if again, _ := w.Stop(); again != waited {
		t.Fatalf("the wait grew after Stop: %v -> %v", waited, again)
	}
}
