//go:build unix

package wrapper

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
	return shChildIO(t, out, errW, nil, script)
}

// shChildIO runs /bin/sh -c script through runChild as the terraform
// command words (nil: none), with stdin /dev/null.
func shChildIO(t *testing.T, outW, errW *os.File, words []string, script string) *Result {
	t.Helper()
	return shChildCfg(t, outW, errW, words, Config{}, script)
}

func shChildCfg(t *testing.T, outW, errW *os.File, words []string, cfg Config, script string) *Result {
	t.Helper()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	p := Process{Stdin: null, Stdout: outW, Stderr: errW}
	inv := &Invocation{Args: []string{"-c", script}, Command: Command{Words: words}, Config: cfg, Terraform: Terraform{Path: "/bin/sh"}, Env: []string{"PATH=/usr/bin:/bin"}}
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
	slave, got := testTerminal(t, 33, 77)
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

// applyOutput is the shape of an apply's stdout: a plan, progress, noise.
const applyOutput = `
Terraform will perform the following actions:

  # terraform_data.a will be created
  + resource "terraform_data" "a" {
      + id = (known after apply)
    }

Plan: 1 to add, 0 to change, 0 to destroy.
terraform_data.a: Creating...
terraform_data.a: Still creating... [10s elapsed]
terraform_data.a: Creation complete after 11s [id=x]
`

// An apply's stdout passes through tf unchanged, in full, and tf keeps only
// the lines recovery reads; its stderr is relayed as before.
func TestRunChildRelaysApplyStdout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/out.txt", []byte(applyOutput), 0o600); err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(outR); got <- b }()
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, errR)
	// a prompt without a newline, as terraform asks "Enter a value: "
	res := shChildIO(t, outW, errW, []string{"apply"}, `cat `+dir+`/out.txt; printf 'Enter a value: '; echo oops >&2; exit 1`)
	outW.Close()
	errW.Close()
	all := <-got
	if want := applyOutput + "Enter a value: "; string(all) != want {
		t.Errorf("stdout relayed as %q, want %q", all, want)
	}
	want := "Terraform will perform the following actions:\n  # terraform_data.a will be created\nPlan: 1 to add, 0 to change, 0 to destroy.\n" +
		"terraform_data.a: Creating...\nterraform_data.a: Creation complete after 11s [id=x]\n"
	if string(res.Stdout) != want {
		t.Errorf("kept %q, want %q", res.Stdout, want)
	}
	if res.ExitCode != 1 || string(res.StderrTail) != "oops\n" {
		t.Errorf("exit %d stderr tail %q", res.ExitCode, res.StderrTail)
	}
}

// Other commands' stdout is the real stdout itself, not a relay.
func TestRunChildLeavesOtherStdoutAlone(t *testing.T) {
	out, err := os.Create(t.TempDir() + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	_, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	for _, words := range [][]string{{"plan"}, {"import"}, nil} {
		res := shChildIO(t, out, errW, words, `echo "$(readlink /proc/$$/fd/1)" >&2`)
		if got := strings.TrimSpace(string(res.StderrTail)); got != out.Name() {
			t.Errorf("%v: terraform's stdout is %q, want the real file %q", words, got, out.Name())
		}
		if res.Stdout != nil {
			t.Errorf("%v: kept %q from a stdout tf does not read", words, res.Stdout)
		}
	}
	res := shChildIO(t, out, errW, []string{"destroy"}, `echo "$(readlink /proc/$$/fd/1)" >&2`)
	if got := strings.TrimSpace(string(res.StderrTail)); !isSpool(got) {
		t.Errorf("destroy: terraform's stdout is %q, want tf's spool", got)
	}
	// read_stdout = off: an apply gets the real stdout too
	res = shChildCfg(t, out, errW, []string{"apply"}, Config{DirectStdout: true}, `echo "$(readlink /proc/$$/fd/1)" >&2`)
	if got := strings.TrimSpace(string(res.StderrTail)); got != out.Name() || res.Stdout != nil {
		t.Errorf("apply with read_stdout off: terraform's stdout is %q (kept %q), want the real file %q", got, res.Stdout, out.Name())
	}
}

// At a terminal an apply's stdout is a pty of the terminal's size, raw, so
// terraform sees what it would see without tf and its bytes arrive as
// written.
func TestRunChildPTYWhenStdoutIsTerminal(t *testing.T) {
	slave, got := testTerminal(t, 41, 123)
	_, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	res := shChildIO(t, slave, errW, []string{"apply"}, `exec 3>&1; test -t 1 && echo "tty $(stty size <&3)"; printf 'Plan: 1 to add, 0 to change, 0 to destroy.\n'; echo done`)
	slave.Close()
	out := <-got
	// the outer pty (the test's "terminal") adds \r; the inner one is raw
	if want := "tty 41 123\r\nPlan: 1 to add, 0 to change, 0 to destroy.\r\ndone\r\n"; out != want {
		t.Errorf("terminal got %q, want %q", out, want)
	}
	if want := "Plan: 1 to add, 0 to change, 0 to destroy.\n"; string(res.Stdout) != want {
		t.Errorf("kept %q, want %q", res.Stdout, want)
	}
}

// stdout and stderr one pipe (2>&1 | cat): terraform gets one relay for
// both, so its writes arrive in its order; tf still keeps the progress lines
// and the stderr tail recovery reads (the tail now holds stdout too, as a
// CI log does).
func TestRunChildOneRelayWhenStdoutIsStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); got <- b }()
	script := `i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "terraform_data.a$i: Creating..."; echo "err $i" >&2; done; ` +
		`echo "fd1=$(readlink /proc/$$/fd/1)|fd2=$(readlink /proc/$$/fd/2)" >&2`
	res := shChildIO(t, w, w, []string{"apply"}, script)
	w.Close()
	all := string(<-got)
	var want strings.Builder
	for i := 1; i <= 200; i++ {
		want.WriteString("terraform_data.a" + strconv.Itoa(i) + ": Creating...\nerr " + strconv.Itoa(i) + "\n")
	}
	if !strings.HasPrefix(all, want.String()) {
		t.Fatalf("relayed out of order:\n%.400s", all)
	}
	last := all[len(want.String()):]
	fd1, fd2, _ := strings.Cut(strings.TrimSpace(last), "|")
	if fd1 = strings.TrimPrefix(fd1, "fd1="); fd1 != strings.TrimPrefix(fd2, "fd2=") || !isSpool(fd1) {
		t.Errorf("terraform's stdout and stderr: %q, want one tf spool", last)
	}
	if n := strings.Count(string(res.Stdout), ": Creating...\n"); n != 200 || strings.Contains(string(res.Stdout), "err ") {
		t.Errorf("kept %d progress lines (want 200) and no others:\n%.300s", n, res.Stdout)
	}
	if !strings.Contains(string(res.StderrTail), "err 200\n") {
		t.Errorf("stderr tail lost terraform's stderr:\n%.300s", res.StderrTail)
	}
}

// isSpool says whether a /proc/PID/fd link names tf's spool: an unlinked
// tf-output-* file in the temporary directory.
func isSpool(link string) bool {
	return strings.HasPrefix(link, filepath.Join(os.TempDir(), "tf-output-")) && strings.HasSuffix(link, " (deleted)")
}

// testTerminal opens a pty of rows x cols standing for the user's terminal:
// terraform's side is slave; got delivers what reached the screen up to and
// including "done".
func testTerminal(t *testing.T, rows, cols uint16) (slave *os.File, got <-chan string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil || strings.Contains(b.String(), "done") {
				ch <- b.String()
				return
			}
		}
	}()
	return slave, ch
}
