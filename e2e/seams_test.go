package e2e

// The seams between the credential guard, the wrapper and recovery, through
// the real tf binary: what a person reads, in which order and how often,
// when more than one of them speaks in the same run.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/rig"
)

// lines is s split into lines without carriage returns or empty ones.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r", ""), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// indexOf is the index of the first line containing sub, -1 if none.
func indexOf(ls []string, sub string) int {
	for i, l := range ls {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

// The preflight refuses short exported keys and offers AWS_PROFILE at a
// terminal. The person reads every warning and unknown first; the offer,
// and when declined the refusal with its way out, come last: the refusal is
// the final line tf prints, and it is printed once.
func TestProfileOfferRefusalComesAfterTheWarnings(t *testing.T) {
	l := newLab(t)
	// A second consumer whose lifetime nobody can know: one "unknown" line.
	l.write(filepath.Join(l.home, ".aws", "config"), labAWSConfig+"\n[profile proc]\ncredential_process = /bin/false\nregion = us-east-1\n", 0o600)
	l.write(filepath.Join(l.dir, "main.tf"), "resource \"aws_s3_bucket\" \"b\" {}\n\nprovider \"aws\" {\n  alias   = \"proc\"\n  profile = \"proc\"\n}\n\nresource \"aws_s3_bucket\" \"p\" {\n  provider = aws.proc\n}\n", 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := startInPTY(t, ctx, l.dir, l.environ(append(sessionKeys(3*time.Minute), "AWS_PROFILE=sso")...), "apply", "-auto-approve")
	p.waitFor("the profile offer", func(s string) bool { return strings.Contains(s, "[y/N]") })
	_, _ = p.ptmx.Write([]byte("n\r"))
	code, screen := p.wait()
	ls := lines(screen)
	unknown := indexOf(ls, "credential_process")
	offer := indexOf(ls, "[y/N]")
	refusal := indexOf(ls, "credentials will not last the run")
	switch {
	case code != 75:
		t.Fatalf("declined offer: exit %d, want 75:\n%s", code, screen)
	case unknown < 0 || offer < 0 || refusal < 0:
		t.Fatalf("missing the unknown line (%d), the offer (%d) or the refusal (%d):\n%s", unknown, offer, refusal, screen)
	case strings.Count(screen, "credentials will not last the run") != 1:
		t.Fatalf("the refusal is printed %d times, want once:\n%s", strings.Count(screen, "credentials will not last the run"), screen)
	case !(unknown < offer && offer <= refusal):
		t.Fatalf("order on screen: unknown line %d, offer %d, refusal %d; want the warnings first and the refusal last:\n%s", unknown, offer, refusal, screen)
	case refusal != len(ls)-1:
		t.Fatalf("the refusal is line %d of %d: something follows it:\n%s", refusal+1, len(ls), screen)
	case !strings.Contains(ls[refusal], "unset AWS_ACCESS_KEY_ID"):
		t.Fatalf("the final line does not give the way out: %q", ls[refusal])
	}
}

// `tf guard check` in GitHub OIDC mode judges what a guarded command's
// terraform would get: the credentials of tf's endpoint, not the job's own
// (here exported keys with 5 minutes left, which the endpoint replaces),
// and says that OIDC mode is on.
func TestCheckJudgesTheGitHubOIDCEndpoint(t *testing.T) {
	l := newLab(t)
	env := oidcEnv(t)
	code, out := l.run(append(env, sessionKeys(5*time.Minute)...), "guard", "check")
	if code != 0 {
		t.Fatalf("check in OIDC mode judged the job's own keys (5m left), not the endpoint terraform gets: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "github-oidc") || !strings.Contains(out, "GitHub OIDC mode is on") || !strings.Contains(out, "arn:aws:iam::123456789012:role/CI") {
		t.Fatalf("check does not say that OIDC mode is on and which credential it judged:\n%s", out)
	}
	if strings.Contains(out, "ASIAREVIEWENVKEY") {
		t.Fatalf("check printed an access key:\n%s", out)
	}
	code, out = l.run(env, "guard", "check", "--json")
	if code != 0 || !strings.Contains(out, `"github_oidc_role": "arn:aws:iam::123456789012:role/CI"`) {
		t.Fatalf("check --json in OIDC mode: exit %d, no github_oidc_role in the report:\n%s", code, out)
	}
}

// When the endpoint cannot get a GitHub ID token, check says so (OIDC mode
// is on, what failed, that a guarded command would be refused) and exits
// 1: it does not judge the job's own credentials as if terraform used them.
func TestCheckSaysWhenTheGitHubOIDCTokenCannotBeHad(t *testing.T) {
	l := newLab(t)
	var env []string
	for _, kv := range oidcEnv(t) {
		if !strings.HasPrefix(kv, "ACTIONS_ID_TOKEN_REQUEST_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:1/token?api-version=2.0", "AWS_ACCESS_KEY_ID=AKIASTATIC", "AWS_SECRET_ACCESS_KEY=s")
	code, out := l.run(env, "guard", "check")
	if code != 1 || !strings.Contains(out, "GitHub OIDC mode is on") || !strings.Contains(out, "request an ID token") ||
		!strings.Contains(out, "a guarded command here is refused") {
		t.Fatalf("check in OIDC mode without an ID token: exit %d (want 1) and a message naming the failure:\n%s", code, out)
	}
	if strings.Contains(out, "VERDICT") {
		t.Fatalf("check judged the job's own credentials although terraform would not get them:\n%s", out)
	}
}

// An SSO token due for a refresh ahead of time that cannot be refreshed (the
// SSO-OIDC endpoint refuses connections) is reported once, before
// terraform, with its cause and the command that fixes it; the background
// refresher, failing the same way a moment later, does not say it again.
func TestSSORefreshFailureIsReportedOnce(t *testing.T) {
	l := newLab(t)
	l.seedSSOCache(5 * time.Minute)
	code, out := l.run([]string{"CI=true", "AWS_PROFILE=sso", "AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:1", "FAKE_TF_SLEEP=3"}, "apply", "-auto-approve")
	if code != 0 || l.terraformEnv() == "" {
		t.Fatalf("a token with 5m left that could not be refreshed ahead: exit %d, terraform ran: %v\n%s", code, l.terraformEnv() != "", out)
	}
	if n := strings.Count(out, "could not refresh"); n != 1 {
		t.Fatalf("the refresh failure is reported %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "connection refused") || !strings.Contains(out, "aws sso login --sso-session corp") {
		t.Fatalf("the report lacks the cause or the command to fix it:\n%s", out)
	}
}

// A recovery is pending and the credentials have expired (the SSO session
// ended): at a terminal the resume offers a login, as recovery after a
// failed run does, instead of refusing; once the person approves, the
// recovery finishes and the command runs.
func TestResumeAtTerminalLogsInAgain(t *testing.T) {
	c := cgStart(t, rig.LockDynamoDB, 8*time.Second)
	c.ssoLogin(false, time.Hour, time.Hour, time.Hour)
	c.mustTerraform("init", "-input=false", "-no-color")
	c.mustTerraform("apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")
	c.env["TF_VAR_run"] = "2"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The run dies of expired credentials; its recovery is killed at the
	// push, so a recovery is pending.
	killed := startInPTY(t, ctx, c.ws.Dir, append(c.environ(), "TFGUARD_TEST_KILL_AT=push"), "apply", "-auto-approve", "-input=false", "-no-color")
	killed.waitFor("the long resource", func(s string) bool { return strings.Contains(s, "terraform_data.long: Creating...") })
	c.r.Ledger.KillAll()
	_, screen := killed.wait()
	c.capture(screen)
	pending := filepath.Join(c.ws.Dir, ".terraform", "tf-recovery", "PENDING")
	if _, err := os.Stat(pending); err != nil {
		t.Fatalf("no pending recovery after tf was killed at the push (%v):\n%s", err, screen)
	}
	// The session ends: nothing renews the credentials but a new login.
	if err := c.r.Identity.EndSession(rig.SSOSessionName); err != nil {
		t.Fatal(err)
	}
	c.r.Ledger.KillAll()
	p := startInPTY(t, ctx, c.ws.Dir, c.environ(), "plan", "-input=false", "-no-color")
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	p.waitFor("the resume's device login or tf's end", func(s string) bool {
		select {
		case <-exited:
			return true
		default:
		}
		return strings.Contains(s, "waiting for approval")
	})
	select {
	case <-exited:
		<-p.copied
		c.capture(p.text())
		t.Fatalf("at a terminal the resume refused (exit %d) instead of offering a login:\n%s", p.cmd.ProcessState.ExitCode(), p.text())
	default:
	}
	for _, code := range c.r.Identity.PendingUserCodes() {
		if err := c.r.Identity.ApproveDevice(code); err != nil {
			t.Fatal(err)
		}
	}
	<-exited
	<-p.copied
	c.capture(p.text())
	if code := p.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(p.text(), "RECOVERED") {
		t.Fatalf("after the login the resume did not finish: exit %d\n%s", code, p.text())
	}
	if _, err := os.Stat(pending); err == nil {
		t.Fatalf("the recovery is still pending after the login:\n%s", p.text())
	}
	if c.lockHeld() {
		t.Fatalf("the lock is still held after the resume:\n%s", p.text())
	}
}
