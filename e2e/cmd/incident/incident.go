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
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tfguard/tf/e2e/rig"
)

// Timing of the replay: the role credentials outlive start-up and planning
// but not the resource.
const (
	credLifetime = 5 * time.Second
	applySleep   = 10 * time.Second
)

type incident struct {
	out     io.Writer
	root    string
	tmp     string
	basePth string // PATH of the children (the real terraform on it)
	rig     *rig.Rig
}

func newIncident(ctx context.Context, out io.Writer, getenv func(string) string) (*incident, error) {
	if _, err := rig.LookTools(); err != nil {
		return nil, err
	}
	root, err := rig.ModuleRoot(".")
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "==> installing dynalite (npm ci in e2e/) if needed")
	if err := rig.EnsureDynalite(filepath.Join(root, "e2e"), nil); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "tf-incident-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	inc := &incident{out: out, root: root, tmp: tmp, basePth: rig.PathWithoutTF(getenv("PATH"))}
	fmt.Fprintln(out, "==> starting the rig: S3 (gofakes3), DynamoDB (dynalite), expiry-enforcing proxy, fake STS/SSO")
	inc.rig, err = rig.Start(ctx, rig.Options{E2EDir: filepath.Join(root, "e2e")})
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	fmt.Fprintf(out, "    S3 %s   DynamoDB %s\n", inc.rig.S3URL, inc.rig.DynamoDBURL)
	return inc, nil
}

func (inc *incident) close() {
	if err := inc.rig.Close(); err != nil {
		fmt.Fprintf(inc.out, "warning: %v\n", err)
	}
	_ = os.RemoveAll(inc.tmp)
}

// outcome is what one replay left behind.
type outcome struct {
	who          string
	exitCode     int
	lockHeld     bool
	lockID       string
	remoteSerial string
	errored      string
	files        []string
	laterPlan    string
	note         string
}

func (inc *incident) replay(ctx context.Context) error {
	var results []outcome
	res, err := inc.replayWith(ctx, "terraform", "")
	if err != nil {
		return err
	}
	results = append(results, res)

	fmt.Fprintln(inc.out, "\n==> building tf (go build .)")
	tf, err := inc.buildTF(ctx)
	if err != nil {
		fmt.Fprintf(inc.out, "    tf does not build yet, so it is left out: %v\n", err)
		results = append(results, outcome{who: "tf", note: "does not build"})
	} else {
		res, err := inc.replayWith(ctx, "tf", tf)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	inc.printTable(results)
	return nil
}

// replayWith runs the incident in a fresh workspace; tfBinary, when set, is
// installed as `terraform` first on PATH.
func (inc *incident) replayWith(ctx context.Context, who, tfBinary string) (outcome, error) {
	res := outcome{who: who}
	fmt.Fprintf(inc.out, "\n==> the incident with %s as `terraform`\n", who)
	dir := filepath.Join(inc.tmp, who, "work")
	ws, err := inc.rig.NewWorkspace(ctx, rig.WorkspaceOptions{
		Dir: dir, Home: filepath.Join(inc.tmp, who, "home"),
		Mode: rig.LockDynamoDB, Sleep: applySleep, Name: "incident-" + who,
	})
	if err != nil {
		return res, err
	}
	path := inc.basePth
	if tfBinary != "" {
		bin := filepath.Join(inc.tmp, who, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return res, err
		}
		if err := os.Symlink(tfBinary, filepath.Join(bin, "terraform")); err != nil {
			return res, err
		}
		path = bin + string(os.PathListSeparator) + path
	}
	// The seed's set-up: an IAM Identity Center (SSO) profile, logged in.
	tok := inc.rig.Identity.NewSSOSession(rig.SSOSessionName, rig.SSOStartURL, time.Hour, time.Hour)
	if err := ws.SeedSSOLogin(rig.SSOSessionName, tok); err != nil {
		return res, err
	}
	env := childEnv(path, filepath.Join(inc.tmp, who), ws)
	env = setEnv(env, rig.EnvProfile, rig.ProfileSSO)

	for _, args := range [][]string{
		{"init", "-input=false", "-no-color"},
		{"apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0"},
	} {
		fmt.Fprintf(inc.out, "    $ terraform %s\n", strings.Join(args, " "))
		if code, _, stderr, err := runTerraform(ctx, terraformCmd(ctx, dir, env, args...)); err != nil || code != 0 {
			return res, fmt.Errorf("%s: terraform %s failed (exit %d): %v\n%s", who, args[0], code, err, stderr)
		}
	}

	env = setEnv(env, "TF_VAR_run", "2")
	fmt.Fprintf(inc.out, "    the role credentials die %s into the apply (the SSO session lives on); the apply takes %s\n", credLifetime, applySleep)
	fmt.Fprintln(inc.out, "    $ terraform apply -auto-approve -input=false -no-color")
	kill := time.AfterFunc(credLifetime, inc.rig.Ledger.KillAll)
	code, _, stderr, err := runTerraform(ctx, terraformCmd(ctx, dir, env, "apply", "-auto-approve", "-input=false", "-no-color"))
	kill.Stop()
	if err != nil {
		return res, fmt.Errorf("%s: run apply: %w", who, err)
	}
	res.exitCode = code
	fmt.Fprintf(inc.out, "    exit %d; stderr:\n%s", code, indent(stderr, "    | "))

	locks, err := inc.rig.Locks(ctx, ws.Backend)
	if err != nil {
		return res, err
	}
	res.lockHeld, res.lockID = locks.Held(), locks.ID()
	if st, err := inc.rig.RemoteState(ctx, ws.Backend); err == nil {
		res.remoteSerial = fmt.Sprint(st.Serial)
	} else {
		res.remoteSerial = "unreadable: " + err.Error()
	}
	if st, err := rig.ReadStateFile(filepath.Join(dir, "errored.tfstate")); err == nil {
		res.errored = fmt.Sprintf("serial %d", st.Serial)
	} else if errors.Is(err, os.ErrNotExist) {
		res.errored = "none"
	} else {
		res.errored = err.Error()
	}
	res.files, err = listDir(dir)
	if err != nil {
		return res, err
	}
	// Is the workspace usable afterwards? A later plan with fresh credentials
	// (exit 0 = healthy and nothing to do; 1 = e.g. the stale lock).
	fmt.Fprintln(inc.out, "    with fresh credentials: $ terraform plan -detailed-exitcode -lock-timeout=0s -no-color")
	code, _, stderr, err = runTerraform(ctx, terraformCmd(ctx, dir, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock-timeout=0s"))
	if err != nil {
		return res, err
	}
	res.laterPlan = fmt.Sprint(code)
	fmt.Fprintf(inc.out, "    exit %d\n", code)
	if code == 1 {
		fmt.Fprint(inc.out, indent(firstLines(stderr, 14), "    | "))
	}
	return res, nil
}

func (inc *incident) buildTF(ctx context.Context) (string, error) {
	out := filepath.Join(inc.tmp, "tf-bin", "tf")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = inc.root
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, indent(firstLines(buf.String(), 10), "      "))
	}
	return out, nil
}

func (inc *incident) printTable(results []outcome) {
	fmt.Fprintln(inc.out, "\n==> what each left behind")
	tw := tabwriter.NewWriter(inc.out, 0, 4, 3, ' ', 0)
	row := func(label string, f func(o outcome) string) {
		cells := []string{label}
		for _, r := range results {
			cells = append(cells, f(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	row("", func(o outcome) string { return o.who })
	row("apply exit code", func(o outcome) string {
		if o.note == "does not build" {
			return "-"
		}
		return fmt.Sprint(o.exitCode)
	})
	row("lock held", func(o outcome) string {
		if o.lockHeld {
			return "yes (" + o.lockID + ")"
		}
		return "no"
	})
	row("remote serial", func(o outcome) string { return o.remoteSerial })
	row("errored.tfstate", func(o outcome) string { return o.errored })
	row("files in work dir", func(o outcome) string { return strings.Join(o.files, " ") })
	row("later plan, fresh creds", func(o outcome) string { return o.laterPlan })
	row("note", func(o outcome) string { return o.note })
	_ = tw.Flush()
}

// childEnv builds a child's whole environment from scratch: PATH, TMPDIR and
// the workspace's variables; nothing of the caller's AWS_*/TF_* leaks in.
func childEnv(path, tmp string, ws *rig.Workspace) []string {
	env := []string{"PATH=" + path, "TMPDIR=" + tmp}
	return append(env, ws.Env()...)
}

func setEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// terraformCmd builds (does not run) `terraform args...` in dir; terraform
// is looked up on the child's PATH, as a user's shell would.
func terraformCmd(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	bin := "terraform"
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			if found, err := lookPathIn("terraform", p); err == nil {
				bin = found
			}
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

func lookPathIn(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not on PATH", name)
}

// runTerraform runs cmd and returns its exit code; err is only for a
// command that could not run at all.
func runTerraform(ctx context.Context, cmd *exec.Cmd) (code int, stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), o.String(), e.String(), nil
	}
	if err != nil {
		return -1, o.String(), e.String(), err
	}
	return 0, o.String(), e.String(), nil
}

func listDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
