//go:build unix

package wrapper

import (
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// shProcess runs /bin/sh -c script as "terraform" through runChild with
// stderr going to errW; stdin is /dev/null, stdout a file.
func shChild(t *testing.T, errW *os.File, script string) *Result {
	t.Helper()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	out, err := os.Create(t.TempDir() + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p := Process{Stdin: null, Stdout: out, Stderr: errW}
	inv := &Invocation{Args: []string{"-c", script}, Terraform: Terraform{Path: "/bin/sh"}, Env: []string{"PATH=/usr/bin:/bin"}}
	res, err := runChild(p, inv, make(chan os.Signal))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunChildPipeTailAndExitCode(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); got <- b }()
	res := shChild(t, w, `head -c 3000000 /dev/zero | tr '\0' a >&2; printf END >&2; exit 3`)
	w.Close()
	all := <-got
	if res.ExitCode != 3 || res.Signal != nil {
		t.Errorf("exit %d signal %v, want 3", res.ExitCode, res.Signal)
	}
	if len(all) != 3000003 || !bytes.HasSuffix(all, []byte("aEND")) {
		t.Errorf("relayed %d bytes, want all 3000003 ending in END", len(all))
	}
	if len(res.StderrTail) != DefaultTailSize || !bytes.Equal(res.StderrTail, all[len(all)-DefaultTailSize:]) {
		t.Errorf("tail is %d bytes and not the last %d relayed", len(res.StderrTail), DefaultTailSize)
	}
	if !res.End.After(res.Start) {
		t.Errorf("start %v end %v", res.Start, res.End)
	}
}

func TestRunChildKilledBySignal(t *testing.T) {
	_, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	res := shChild(t, w, `kill -TERM $$`)
	if res.ExitCode != 128+15 || res.Signal != syscall.SIGTERM {
		t.Fatalf("exit %d signal %v, want 143 SIGTERM", res.ExitCode, res.Signal)
	}
}

func TestRunChildPTYWhenStderrIsTerminal(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := pty.Setsize(master, &pty.Winsize{Rows: 33, Cols: 77}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil || strings.Contains(b.String(), "done") {
				got <- b.String()
				return
			}
		}
	}()
	res := shChild(t, slave, `test -t 2 && echo "tty $(stty size <&2)" >&2; printf 'raw\n' >&2; echo done >&2`)
	slave.Close()
	out := <-got
	want := "tty 33 77\nraw\ndone\n" // the inner pty is raw: no \r added
	if string(res.StderrTail) != want {
		t.Errorf("tail %q, want %q", res.StderrTail, want)
	}
	if !strings.Contains(out, "tty 33 77") {
		t.Errorf("terminal got %q", out)
	}
}

// A background process that keeps terraform's stderr open must not keep tf
// waiting after terraform exits: the relay stops after drainIdle of silence.
func TestRunChildDoesNotWaitForGrandchildren(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, r)
	start := time.Now()
	res := shChild(t, w, `sleep 8 & echo started >&2; exit 0`)
	if d := time.Since(start); d > drainIdle+4*time.Second { // well under the sleep
		t.Fatalf("runChild took %s", d)
	}
	if res.ExitCode != 0 || string(res.StderrTail) != "started\n" {
		t.Fatalf("exit %d tail %q", res.ExitCode, res.StderrTail)
	}
}
