//go:build linux

package wrapper

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Nobody reads the spool any more (tf killed or crashed mid-run): terraform
// still writes all it has to write and exits normally, where a pipe would
// kill it by SIGPIPE at its next write.
func TestSpoolWriterOutlivesItsReader(t *testing.T) {
	s, err := openSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.close() // tf's end gone before terraform writes a byte
	marker := t.TempDir() + "/finished"
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo "line $i"; done; echo ok > `+marker)
	cmd.Stdout = s.w
	err = cmd.Run()
	s.w.Close()
	if err != nil {
		t.Fatalf("the writer did not finish: %v", err)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "ok\n" {
		t.Fatalf("marker %q %v", b, err)
	}
}

// What terraform writes reaches the real stream in order, a prompt without
// a newline included, and run ends at the end of what was written by the
// time terraform exited; the file is gone from the directory from the start.
func TestSpoolRelaysInOrderAndEnds(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spool left %d entries in its directory", len(ents))
	}
	var dst, sink bytes.Buffer
	done := make(chan struct{})
	go func() { defer close(done); s.run(&dst, &sink) }()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 5000 ]; do i=$((i+1)); echo "out $i"; echo "err $i" >&2; done; printf 'Enter a value: '`)
	cmd.Stdout, cmd.Stderr = s.w, s.w
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	s.w.Close()
	s.exited()
	<-done
	var want strings.Builder
	for i := 1; i <= 5000; i++ {
		want.WriteString("out " + strconv.Itoa(i) + "\nerr " + strconv.Itoa(i) + "\n")
	}
	want.WriteString("Enter a value: ")
	if dst.String() != want.String() || sink.String() != want.String() {
		t.Fatalf("relayed %d bytes (sink %d), want %d in order", dst.Len(), sink.Len(), want.Len())
	}
}
