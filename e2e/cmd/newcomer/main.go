// Command newcomer records docs/newcomer.md: what a newcomer sees at a
// terminal in a first session with tf, run for real. tf is installed from
// this clone with `go install .`, linked as terraform, and used against the
// incident rig (real terraform, S3 and DynamoDB; a fake IAM Identity Center).
// Every command runs in its own pseudo-terminal, as typed; paths are shown
// relative to the session's home, colours are stripped for the page.
//
//	go run ./e2e/cmd/newcomer > docs/newcomer.md
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/creack/pty"

	"github.com/tfguard/tf/e2e/fakeaws"
	"github.com/tfguard/tf/e2e/rig"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "newcomer:", err)
		os.Exit(1)
	}
}

// session is the newcomer's shell: environment, directory, and the page.
type session struct {
	env     map[string]string
	dir     string
	page    bytes.Buffer
	paths   [][2]string // replaced for the page, longest first
	secrets []string    // must never reach the page
}

func run(ctx context.Context, stdout, log io.Writer) error {
	root, err := rig.ModuleRoot(".")
	if err != nil {
		return err
	}
	realTerraform, err := rig.LookTools()
	if err != nil {
		return err
	}
	if err := rig.EnsureDynalite(filepath.Join(root, "e2e"), log); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tf-newcomer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	home := filepath.Join(tmp, "home")
	infra := filepath.Join(home, "infra")

	r, err := rig.Start(ctx, rig.Options{})
	if err != nil {
		return err
	}
	defer r.Close()
	ws, err := r.NewWorkspace(ctx, rig.WorkspaceOptions{Dir: infra, Home: home, Mode: rig.LockDynamoDB, Sleep: 5 * time.Second})
	if err != nil {
		return err
	}

	s := &session{env: map[string]string{}, dir: root}
	for _, kv := range ws.Env() {
		k, v, _ := strings.Cut(kv, "=")
		s.env[k] = v
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	gobin := filepath.Join(home, "go", "bin")
	s.env["PATH"] = strings.Join([]string{gobin, filepath.Dir(goTool), filepath.Dir(realTerraform), "/usr/local/bin", "/usr/bin", "/bin"}, string(os.PathListSeparator))
	s.env["GOBIN"] = gobin
	// The newcomer's Go has its module and build caches where yours are.
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOFLAGS", "GOPROXY"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			return fmt.Errorf("go env %s: %w", k, err)
		}
		if v := strings.TrimSpace(string(out)); v != "" {
			s.env[k] = v
		}
	}
	s.paths = [][2]string{{root, "~/src/tf"}, {home, "~"}, {filepath.Dir(realTerraform) + "/terraform", "/usr/local/bin/terraform"}}

	s.say("# tf: a newcomer's first session\n\n")
	s.say("Recorded by `go run ./e2e/cmd/newcomer > docs/newcomer.md` from the real tf binary, built from this clone, " +
		"with real terraform " + terraformVersion(realTerraform) + " against the incident rig (S3 and DynamoDB on 127.0.0.1, " +
		"a fake IAM Identity Center). Each command ran in a terminal of its own; paths are shown from the home directory " +
		"and colours are left out.\n\n")

	s.say("## Install from the clone and use it as `terraform`\n\n")
	s.shell("go install .")
	s.shell("tf guard version")
	s.shell(`mkdir -p ~/.local/tfguard && ln -s "$(command -v tf)" ~/.local/tfguard/terraform`)
	s.env["PATH"] = filepath.Join(home, ".local", "tfguard") + string(os.PathListSeparator) + s.env["PATH"]
	s.shell(`export PATH="$HOME/.local/tfguard:$PATH"`)
	s.dir = infra
	s.shell("cd ~/infra")
	s.shell("terraform guard doctor")

	s.say("## A guarded apply whose SSO access token is about to end\n\n")
	s.say("This morning's `aws sso login` (session `rig`, profile `sso`) left an access token with 10 minutes to live; " +
		"the apply below needs at least tf's floor of 15 minutes.\n\n")
	r.Identity.SetRoleCredentialLifetime(time.Hour)
	tok := r.Identity.NewSSOSession(rig.SSOSessionName, rig.SSOStartURL, 8*time.Hour, 10*time.Minute)
	if err := ws.SeedSSOLogin(rig.SSOSessionName, tok); err != nil {
		return err
	}
	s.secrets = append(s.secrets, tok.AccessToken, tok.RefreshToken)
	s.env[rig.EnvProfile] = rig.ProfileSSO
	s.shell("export AWS_PROFILE=sso")
	if code := s.shell("terraform init -input=false"); code != 0 {
		return fmt.Errorf("terraform init exited %d:\n%s", code, s.page.String())
	}
	s.shell("terraform guard check")
	before := r.Identity.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF)
	if code := s.shell("terraform apply -auto-approve"); code != 0 {
		return fmt.Errorf("terraform apply exited %d:\n%s", code, s.page.String())
	}
	byTF := r.Identity.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTF) - before
	byTerraform := r.Identity.CallsBy(fakeaws.OpCreateTokenRefresh, fakeaws.CallerTerraform)
	if byTF == 0 || byTerraform != 0 {
		return fmt.Errorf("token refreshes: %d by tf, %d by terraform; want tf's only:\n%s", byTF, byTerraform, s.page.String())
	}
	refreshes := fmt.Sprintf("%d token refreshes", byTF)
	if byTF == 1 {
		refreshes = "one token refresh"
	}
	s.say("Nothing on the screen differs from plain terraform. Behind it, tf renewed the access token ahead of time " +
		"(it refreshes when less than `sso_refresh_ahead`, 15 minutes, is left): the fake Identity Center saw " +
		refreshes + " from tf and none from terraform, so terraform never met an expiring token.\n\n")

	s.say("## In CI: keys that will not last are refused before anything is locked\n\n")
	s.say("A CI job exported session keys from `aws configure export-credentials` a while ago; they have seconds left " +
		"(`AWS_CREDENTIAL_EXPIRATION` says so). The values are not shown.\n\n")
	delete(s.env, rig.EnvProfile)
	creds := r.Ledger.Issue("env", 6*time.Second, false)
	for k, v := range rig.EnvCredentials(creds) {
		s.env[k] = v
	}
	s.secrets = append(s.secrets, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	s.env["CI"] = "true"
	s.shell("export CI=true AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_SESSION_TOKEN=… AWS_CREDENTIAL_EXPIRATION=…; unset AWS_PROFILE")
	backendCalls := len(r.S3Proxy.Requests()) + len(r.DynamoDBProxy.Requests())
	if code := s.shell("terraform apply -auto-approve"); code != 75 {
		return fmt.Errorf("the CI apply exited %d, want 75:\n%s", code, s.page.String())
	}
	locks, err := r.Locks(ctx, ws.Backend)
	if err != nil {
		return err
	}
	calls := len(r.S3Proxy.Requests()) + len(r.DynamoDBProxy.Requests()) - backendCalls
	if locks.Held() || calls != 0 {
		return fmt.Errorf("the refused apply left a lock (%v) or reached the backend (%d requests)", locks.Held(), calls)
	}
	s.say("Exit code 75: terraform was not started, no request reached S3 or DynamoDB, nothing was locked.\n")

	page := s.page.String()
	for _, secret := range s.secrets {
		if secret != "" && strings.Contains(page, secret) {
			return errors.New("a secret reached the transcript; not writing it")
		}
	}
	_, err = io.WriteString(stdout, page)
	return err
}

func (s *session) say(text string) { s.page.WriteString(text) }

// shell runs line with /bin/sh in a new pseudo-terminal, as typed at a
// prompt, and puts the prompt, the line and what the terminal showed on the
// page. Lines that only change the shell's state (cd, export) are shown but
// done by the caller.
func (s *session) shell(line string) int {
	fmt.Fprintf(&s.page, "```console\n$ %s\n", line)
	code := 0
	if !strings.HasPrefix(line, "cd ") && !strings.HasPrefix(line, "export ") {
		var out string
		code, out = s.run(line)
		s.page.WriteString(s.clean(out))
		if code != 0 {
			fmt.Fprintf(&s.page, "$ echo $?\n%d\n", code)
		}
	}
	s.page.WriteString("```\n\n")
	return code
}

func (s *session) run(line string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	cmd.Dir = s.dir
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+s.env[k])
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 110})
	if err != nil {
		return -1, err.Error()
	}
	defer ptmx.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, ptmx); close(done) }()
	err = cmd.Wait()
	<-done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		return -1, out.String() + err.Error()
	}
	return 0, out.String()
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// clean turns what the terminal showed into page text: line ends, no
// colours, a carriage-return-rewritten line shown as it ended.
func (s *session) clean(out string) string {
	out = ansi.ReplaceAllString(out, "")
	out = strings.ReplaceAll(out, "\r\n", "\n")
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.LastIndex(l, "\r"); i >= 0 {
			l = l[i+1:]
		}
		lines = append(lines, strings.TrimRight(l, " "))
	}
	out = strings.Join(lines, "\n")
	for _, p := range s.paths {
		out = strings.ReplaceAll(out, p[0], p[1])
	}
	return out
}

func terraformVersion(path string) string {
	out, err := exec.Command(path, "version").Output()
	if err != nil {
		return "(version unknown)"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(first), "Terraform ")
}
