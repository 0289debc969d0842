//go:build linux

package passthrough

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tf's spool lives in TMPDIR. When that file system is (nearly) full, a
// write terraform makes to the spool fails with ENOSPC and the bytes are
// gone: nobody sees them, and recovery reads no "Failed to save state".
// Plain terraform writes to the real streams and loses nothing, so tf must
// not either: whatever TMPDIR has room for, terraform's output arrives
// whole. Run in a user and mount namespace of its own, with TMPDIR on a
// 1 MiB tmpfs that is 900 kB full.
func TestOutputWholeWhenTempDirIsFull(t *testing.T) {
	standin := writeScript(t, "loud", `#!/bin/sh
[ "$1" = version ] && { echo "Terraform v1.11.4"; exit 0; }
awk 'BEGIN { for (i = 1; i <= 40000; i++) print "terraform_data.x[" i "]: Creation complete after 0s" }'
echo 'Error: Failed to save state' >&2
echo 'the last line of stdout'
exit 1
`)
	bare := run(t, t.TempDir(), bareEnv(), "", standin, "apply")
	if bare.code != 1 || len(bare.stdout) < 1<<20 {
		t.Fatalf("the stand-in itself: exit %d, %d bytes", bare.code, len(bare.stdout))
	}

	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `mount -t tmpfs -o size=1m tf-full-tmp "$TMPDIR" || exit 99
head -c 900000 /dev/zero > "$TMPDIR/fill" || exit 99
exec "$@"`, "sh", filepath.Join(fx.tfBin, "terraform"), "apply")
	cmd.Dir = t.TempDir()
	cmd.Env = tfEnv("TFGUARD_TERRAFORM="+standin, "TFGUARD_PREFLIGHT=off", "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("no user and mount namespace here (%v): run as a user who may create them", err)
		}
		t.Fatal(err)
	}
	if code == 99 {
		t.Fatalf("could not mount the small TMPDIR: %s", errb.String())
	}
	if code != bare.code {
		t.Errorf("exit %d, want %d; stderr %q", code, bare.code, errb.String())
	}
	if errb.String() != bare.stderr {
		t.Errorf("stderr %q, want %q", errb.String(), bare.stderr)
	}
	if out.String() != bare.stdout {
		t.Errorf("stdout: %d bytes arrived, terraform wrote %d; the last line: %q",
			out.Len(), len(bare.stdout), lastLine(out.String()))
	}
}

func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
