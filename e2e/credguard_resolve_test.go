package e2e

// What tf tells a person before terraform starts, the trust step for a
// repository's .tfguard, and the side calls tf makes (or does not make)
// around a guarded command. terraform is a recording script here (see lab).

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// appendingTerraform logs every call (a line per invocation) and says on
// stdout that it started, so the order of tf's lines is visible.
const appendingTerraform = `#!/bin/sh
echo "ARGS: $*" >> "$FAKE_TF_LOG"
echo "terraform started"
exit 0
`

func (l *lab) useAppendingTerraform() {
	fake := filepath.Join(filepath.Dir(l.log), "bin", "terraform-appending")
	l.write(fake, appendingTerraform, 0o755)
	l.env["TFGUARD_TERRAFORM"] = fake
}

// Session keys without AWS_CREDENTIAL_EXPIRATION: the warning the docs
// promise, once, on stderr, before terraform starts, at a terminal's
// non-CI run as well as in CI.
func TestUnknownLifetimeWarnedOnceBeforeTerraform(t *testing.T) {
	l := newLab(t)
	l.useAppendingTerraform()
	for _, extra := range [][]string{nil, {"CI=true"}} {
		cmd, _ := l.command(append(sessionKeys(0), extra...), "apply", "-auto-approve")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s%s", extra, err, stdout.String(), stderr.String())
		}
		if n := strings.Count(stderr.String(), "AWS_CREDENTIAL_EXPIRATION"); n != 1 {
			t.Fatalf("%v: the warning appears %d times on stderr:\n%s", extra, n, stderr.String())
		}
		if !strings.HasPrefix(stderr.String(), "tf: warning: env keys (used by provider \"aws\" (default, no provider block))") {
			t.Fatalf("%v: stderr %q", extra, stderr.String())
		}
		if strings.Contains(stdout.String(), "AWS_CREDENTIAL_EXPIRATION") || strings.Contains(stderr.String(), "reviewsecret") ||
			strings.Contains(stderr.String(), "reviewsessiontoken") || strings.Contains(stderr.String(), "ASIAREVIEWENVKEY") {
			t.Fatalf("%v: warning on stdout or a secret printed:\n%s\n%s", extra, stdout.String(), stderr.String())
		}
	}
}

// `apply -var-file prod.tfvars` is not a saved plan: tf runs no
// `terraform show -json prod.tfvars` before it.
func TestVarFileIsNotTakenForASavedPlan(t *testing.T) {
	l := newLab(t)
	l.useAppendingTerraform()
	l.write(filepath.Join(l.dir, "prod.tfvars"), "x = 1\n", 0o644)
	if code, out := l.run([]string{"AWS_ACCESS_KEY_ID=AKIASTATIC", "AWS_SECRET_ACCESS_KEY=s"}, "apply", "-var-file", "prod.tfvars"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if calls := l.terraformEnv(); calls != "ARGS: apply -var-file prod.tfvars\n" {
		t.Fatalf("terraform was called as:\n%s", calls)
	}
}

// `tf guard login` where no SSO credential is used: exit 0, and it says so.
func TestGuardLoginWithNothingToLogIn(t *testing.T) {
	l := newLab(t)
	code, out := l.run([]string{"AWS_ACCESS_KEY_ID=AKIASTATIC", "AWS_SECRET_ACCESS_KEY=s"}, "guard", "login")
	if code != 0 || !strings.Contains(out, "nothing to log in") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// An untrusted .tfguard that sets terraform: tf says so (and how to trust
// it) and runs the real terraform; after `tf guard trust` the file counts,
// until it changes.
func TestTfguardTrustStep(t *testing.T) {
	l := newLab(t)
	l.env["TFGUARD_TERRAFORM"] = "" // the real terraform on PATH
	l.write(filepath.Join(l.dir, ".tfguard"), "terraform = \"./repo-terraform\"\n", 0o644)
	l.write(filepath.Join(l.dir, "repo-terraform"), "#!/bin/sh\necho repo script ran\n", 0o755)
	code, out := l.run(nil, "fmt", "-check")
	if code != 0 || strings.Contains(out, "repo script ran") {
		t.Fatalf("untrusted: exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, ".tfguard:1 sets terraform, which a working-directory file may set only once you trust it; ignored") ||
		!strings.Contains(out, "tf guard trust") {
		t.Fatalf("no clear message:\n%s", out)
	}
	if code, out := l.run(nil, "guard", "trust"); code != 0 || !strings.Contains(out, "trusted ") {
		t.Fatalf("tf guard trust: exit %d:\n%s", code, out)
	}
	if code, out := l.run(nil, "fmt", "-check"); code != 0 || !strings.Contains(out, "repo script ran") {
		t.Fatalf("trusted: exit %d:\n%s", code, out)
	}
	l.write(filepath.Join(l.dir, ".tfguard"), "terraform = \"./repo-terraform\" # changed\n", 0o644)
	if code, out := l.run(nil, "fmt", "-check"); code != 0 || strings.Contains(out, "repo script ran") {
		t.Fatalf("changed after trust: exit %d:\n%s", code, out)
	}
}

// Quick commands still need credentials that outlive them: 1 minute left
// is refused (the quick floor is 2 minutes).
func TestQuickCommandsKeepAFloor(t *testing.T) {
	l := newLab(t)
	code, out := l.run(append(sessionKeys(time.Minute), "CI=true"), "state", "push", "errored.tfstate")
	if code != 75 || !strings.Contains(out, "the run needs 2m") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// At a terminal, short exported keys and an AWS_PROFILE that does not exist:
// tf does not offer the profile (it could not carry the run) and says why.
func TestProfileOfferedOnlyWhenItCarriesTheRun(t *testing.T) {
	l := newLab(t)
	cmd, _ := l.command(append(sessionKeys(3*time.Minute), "AWS_PROFILE=nope"), "apply", "-auto-approve")
	cmd.Stdout, cmd.Stderr = nil, nil
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("tf still running (waiting at an offer?):\n%s", screen.String())
	}
	select {
	case <-readDone:
	case <-time.After(2 * time.Second):
	}
	mu.Lock()
	text := screen.String()
	mu.Unlock()
	if code := cmd.ProcessState.ExitCode(); code != 75 || strings.Contains(text, "[y/N]") ||
		!strings.Contains(text, "AWS_PROFILE=nope is set too, but it would not carry this run either") {
		t.Fatalf("exit %d:\n%s", code, text)
	}
	if _, err := os.Stat(l.log); err == nil {
		t.Fatal("terraform ran")
	}
}
