package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"

	"github.com/tfguard/tf/e2e/rig"
)

// TestAction runs the composite GitHub Action in the repository's action.yml
// the way the GitHub runner does (its run: steps with bash, the inputs, the
// if: conditions, GITHUB_OUTPUT/GITHUB_ENV/GITHUB_PATH between steps), on the
// incident rig, by the scenarios in testdata/action/. The two `uses:` steps
// cannot run here: setup-go is checked for what it is given (go.mod exists,
// go is on PATH), upload-artifact is imitated: its `path:` lines are copied
// as upload-artifact v4+ would pack them (hidden files only with
// include-hidden-files), so a scenario can check that the artifact holds
// what a failed recovery leaves, after the working directory is gone.
func TestAction(t *testing.T) {
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root}
	cmds := h.commands()
	cmds["action"] = h.cmdAction
	cmds["gitlab-artifacts"] = h.cmdGitLabArtifacts
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "action"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Values[scriptKey{}] = &scriptState{origPath: env.Getenv("PATH")}
			env.Setenv("ACTION_ROOT", root)
			return nil
		},
		Cmds: cmds,
	})
}

// actionFile is the part of action.yml the runner reads.
type actionFile struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Uses             string            `yaml:"uses"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	WorkingDirectory string            `yaml:"working-directory"`
	Env              map[string]string `yaml:"env"`
	With             map[string]string `yaml:"with"`
}

// action [-input NAME=VALUE]... [-ref REF] [-visibility V]
//
// Runs every step of action.yml as a step of a GitHub Actions job whose
// workspace is $WORK: RUNNER_TEMP is $WORK/.runner/temp, the artifacts land
// in $WORK/.runner/artifacts/NAME/. What GITHUB_ENV and GITHUB_PATH receive
// stays in the script's environment, as for the job's later steps. Prints
// the steps' output and one `action: step ID: ran|skipped|failed` line per
// step; fails when a step failed (as the job's step would).
func (h *harness) cmdAction(ts *testscript.TestScript, neg bool, args []string) {
	inputs := map[string]string{}
	github := map[string]string{"action_path": h.root, "action_ref": "", "event.repository.visibility": "private"}
	for len(args) > 0 {
		if len(args) < 2 {
			ts.Fatalf("usage: action [-input NAME=VALUE]... [-ref REF] [-visibility V]")
		}
		switch args[0] {
		case "-input":
			k, v, ok := strings.Cut(args[1], "=")
			if !ok {
				ts.Fatalf("-input wants NAME=VALUE, not %q", args[1])
			}
			inputs[k] = v
		case "-ref":
			github["action_ref"] = args[1]
		case "-visibility":
			github["event.repository.visibility"] = args[1]
		default:
			ts.Fatalf("action: unknown flag %s", args[0])
		}
		args = args[2:]
	}

	var a actionFile
	b, err := os.ReadFile(filepath.Join(h.root, "action.yml"))
	ts.Check(err)
	ts.Check(yaml.Unmarshal(b, &a))
	if a.Runs.Using != "composite" {
		ts.Fatalf("action.yml: runs.using is %q, not composite", a.Runs.Using)
	}
	for k := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			ts.Fatalf("action.yml has no input %q", k)
		}
	}
	for k, in := range a.Inputs {
		if _, ok := inputs[k]; !ok {
			inputs[k] = in.Default
		}
	}

	work := ts.Getenv("WORK")
	runner := filepath.Join(work, ".runner")
	temp := filepath.Join(runner, "temp")
	ts.Check(os.MkdirAll(temp, 0o755))
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": work, "RUNNER_TEMP": temp,
		"RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "GITHUB_JOB": "apply", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_STEP_SUMMARY": filepath.Join(runner, "summary.md"),
	} {
		ts.Setenv(k, v)
	}

	x := &exprEnv{inputs: inputs, github: github, outputs: map[string]map[string]string{}}
	var log strings.Builder
	for i, st := range a.Runs.Steps {
		id := st.ID
		if id == "" {
			id = fmt.Sprintf("step%d", i+1)
		}
		run, err := x.condition(st.If)
		if err != nil {
			ts.Fatalf("step %s: if: %v", id, err)
		}
		if !run {
			fmt.Fprintf(&log, "action: step %s: skipped\n", id)
			continue
		}
		var ok bool
		switch {
		case st.Run != "":
			ok = h.actionRun(ts, x, id, st, runner, &log)
		case strings.HasPrefix(st.Uses, "actions/setup-go@"):
			ok = actionSetupGo(ts, x, st, &log)
		case strings.HasPrefix(st.Uses, "actions/upload-artifact@"):
			ok = actionUpload(ts, x, st, runner, &log)
		default:
			ts.Fatalf("step %s: cannot run %q here", id, st.Uses)
		}
		if ok {
			fmt.Fprintf(&log, "action: step %s: ran\n", id)
		} else {
			fmt.Fprintf(&log, "action: step %s: failed\n", id)
			x.failed = true
		}
	}
	fmt.Fprint(ts.Stdout(), log.String())
	if x.failed != neg {
		if neg {
			ts.Fatalf("the action succeeded")
		}
		ts.Fatalf("the action failed")
	}
}

// actionRun runs a run: step with bash as the runner does (bash --noprofile
// --norc -eo pipefail FILE), then reads GITHUB_OUTPUT, GITHUB_ENV and
// GITHUB_PATH.
func (h *harness) actionRun(ts *testscript.TestScript, x *exprEnv, id string, st actionStep, runner string, log *strings.Builder) bool {
	if st.Shell != "bash" {
		ts.Fatalf("step %s: shell %q: the action's steps must say shell: bash", id, st.Shell)
	}
	if strings.Contains(st.Run, "${{") {
		ts.Fatalf("step %s: run: holds an expression; pass inputs through env: instead", id)
	}
	dir := filepath.Join(runner, "step-"+id)
	ts.Check(os.MkdirAll(dir, 0o755))
	files := map[string]string{}
	for _, k := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"} {
		files[k] = filepath.Join(dir, strings.ToLower(k))
		ts.Check(os.WriteFile(files[k], nil, 0o644))
		ts.Setenv(k, files[k])
	}
	script := filepath.Join(dir, "run.sh")
	ts.Check(os.WriteFile(script, []byte(st.Run), 0o644))
	cwd := ts.Getenv("GITHUB_WORKSPACE")
	if st.WorkingDirectory != "" {
		wd, err := x.expand(st.WorkingDirectory)
		ts.Check(err)
		cwd = filepath.Join(cwd, wd)
	}
	saved := map[string]string{}
	for k, v := range st.Env {
		val, err := x.expand(v)
		ts.Check(err)
		saved[k] = ts.Getenv(k)
		ts.Setenv(k, val)
	}
	out := filepath.Join(dir, "log")
	err := ts.Exec("sh", "-c", `cd "$1" && exec bash --noprofile --norc -eo pipefail "$2" >"$3" 2>&1`, "sh", cwd, script, out)
	for k, v := range saved {
		ts.Setenv(k, v)
	}
	b, rerr := os.ReadFile(out)
	ts.Check(rerr)
	log.Write(b)

	outputs, perr := readCommandFile(files["GITHUB_OUTPUT"])
	ts.Check(perr)
	x.outputs[id] = outputs
	env, perr := readCommandFile(files["GITHUB_ENV"])
	ts.Check(perr)
	for k, v := range env {
		ts.Setenv(k, v)
	}
	p, rerr := os.ReadFile(files["GITHUB_PATH"])
	ts.Check(rerr)
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line != "" {
			ts.Setenv("PATH", line+string(os.PathListSeparator)+ts.Getenv("PATH"))
		}
	}
	return err == nil
}

// readCommandFile reads GITHUB_OUTPUT or GITHUB_ENV: NAME=VALUE lines and
// NAME<<DELIMITER blocks.
func readCommandFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				return nil, fmt.Errorf("%s: %s<<%s is not closed", path, k, delim)
			}
			m[k] = strings.Join(val, "\n")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		m[k] = v
	}
	return m, sc.Err()
}

// actionSetupGo checks what setup-go is given: a go-version-file that exists
// and names a Go this machine's go satisfies (the test builds with it).
func actionSetupGo(ts *testscript.TestScript, x *exprEnv, st actionStep, log *strings.Builder) bool {
	f, err := x.expand(st.With["go-version-file"])
	ts.Check(err)
	if _, err := os.Stat(f); err != nil {
		fmt.Fprintf(log, "setup-go: go-version-file: %v\n", err)
		return false
	}
	// setup-go also restores the module and build caches; here they are
	// this machine's (the rig gives each script its own HOME).
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN"} {
		out, err := exec.Command("go", "env", k).Output()
		ts.Check(err)
		ts.Setenv(k, strings.TrimSpace(string(out)))
	}
	fmt.Fprintf(log, "setup-go: go-version-file %s (not run here: the machine's go and its caches are used)\n", f)
	return true
}

// actionUpload imitates actions/upload-artifact v4+: every path (file or
// directory) is packed relative to the paths' least common ancestor; files
// under a directory whose name starts with a dot are left out unless
// include-hidden-files is true; if-no-files-found: error fails on nothing.
func actionUpload(ts *testscript.TestScript, x *exprEnv, st actionStep, runner string, log *strings.Builder) bool {
	name, err := x.expand(st.With["name"])
	ts.Check(err)
	pathList, err := x.expand(st.With["path"])
	ts.Check(err)
	hidden, err := x.expand(st.With["include-hidden-files"])
	ts.Check(err)
	var paths []string
	for _, p := range strings.Split(pathList, "\n") {
		if p = strings.TrimSpace(p); p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(ts.Getenv("GITHUB_WORKSPACE"), p)
			}
			paths = append(paths, filepath.Clean(p))
		}
	}
	if name == "" || len(paths) == 0 {
		fmt.Fprintf(log, "upload-artifact: name %q, %d paths\n", name, len(paths))
		return false
	}
	root := filepath.Dir(paths[0])
	for _, p := range paths {
		for !strings.HasPrefix(p+"/", root+"/") && root != "/" {
			root = filepath.Dir(root)
		}
		if p == root {
			root = filepath.Dir(root)
		}
	}
	dest := filepath.Join(runner, "artifacts", name)
	n := 0
	for _, p := range paths {
		err := filepath.Walk(p, func(f string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, f)
			if hidden != "true" && regexp.MustCompile(`(^|/)\.`).MatchString(rel) {
				return nil
			}
			n++
			return copyFile(f, filepath.Join(dest, rel))
		})
		if err != nil {
			fmt.Fprintf(log, "upload-artifact: %v\n", err)
			return false
		}
	}
	fmt.Fprintf(log, "upload-artifact: %d files as %s\n", n, name)
	return n > 0 || st.With["if-no-files-found"] != "error"
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// exprEnv evaluates the subset of GitHub Actions expressions action.yml
// uses: inputs.X, github.X, steps.ID.outputs.X, string literals, == and !=
// (case-insensitive, as GitHub compares strings), !, &&, ||, parentheses and
// the status functions always(), success(), failure(), cancelled().
type exprEnv struct {
	inputs  map[string]string
	github  map[string]string
	outputs map[string]map[string]string
	failed  bool
}

var statusFunc = regexp.MustCompile(`\b(always|success|failure|cancelled)\(\)`)

// condition is a step's if:, with GitHub's implicit success() when it names
// no status function.
func (x *exprEnv) condition(s string) (bool, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "${{"), "}}")
	if s == "" {
		return !x.failed, nil
	}
	if !statusFunc.MatchString(s) {
		s = "success() && (" + s + ")"
	}
	v, err := x.eval(s)
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}

var exprRef = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// expand replaces each ${{ expr }} in s with its value.
func (x *exprEnv) expand(s string) (string, error) {
	var first error
	out := exprRef.ReplaceAllStringFunc(s, func(m string) string {
		v, err := x.eval(exprRef.FindStringSubmatch(m)[1])
		if err != nil && first == nil {
			first = err
		}
		switch v := v.(type) {
		case bool:
			return fmt.Sprint(v)
		case string:
			return v
		}
		return ""
	})
	return out, first
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v != ""
	}
	return false
}

var exprToken = regexp.MustCompile(`\s*('(?:[^']|'')*'|==|!=|&&|\|\||[!()]|[A-Za-z_][A-Za-z0-9_.-]*(?:\(\))?)`)

func (x *exprEnv) eval(s string) (any, error) {
	var toks []string
	rest := s
	for strings.TrimSpace(rest) != "" {
		m := exprToken.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, fmt.Errorf("cannot read %q in %q", rest, s)
		}
		toks = append(toks, rest[m[2]:m[3]])
		rest = rest[m[1]:]
	}
	p := &exprParser{x: x, toks: toks}
	v, err := p.or()
	if err == nil && p.i != len(toks) {
		err = fmt.Errorf("unexpected %q in %q", toks[p.i], s)
	}
	return v, err
}

type exprParser struct {
	x    *exprEnv
	toks []string
	i    int
}

func (p *exprParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *exprParser) or() (any, error) {
	l, err := p.and()
	for err == nil && p.peek() == "||" {
		p.i++
		var r any
		r, err = p.and()
		if !truthy(l) {
			l = r
		}
	}
	return l, err
}

func (p *exprParser) and() (any, error) {
	l, err := p.cmp()
	for err == nil && p.peek() == "&&" {
		p.i++
		var r any
		r, err = p.cmp()
		if truthy(l) {
			l = r
		}
	}
	return l, err
}

func (p *exprParser) cmp() (any, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	if op := p.peek(); op == "==" || op == "!=" {
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		eq := strings.EqualFold(fmt.Sprint(l), fmt.Sprint(r))
		return eq == (op == "=="), nil
	}
	return l, nil
}

func (p *exprParser) unary() (any, error) {
	t := p.peek()
	p.i++
	switch {
	case t == "!":
		v, err := p.unary()
		return !truthy(v), err
	case t == "(":
		v, err := p.or()
		if err == nil && p.peek() != ")" {
			err = fmt.Errorf("missing )")
		}
		p.i++
		return v, err
	case strings.HasPrefix(t, "'"):
		return strings.ReplaceAll(t[1:len(t)-1], "''", "'"), nil
	case t == "always()":
		return true, nil
	case t == "success()":
		return !p.x.failed, nil
	case t == "failure()":
		return p.x.failed, nil
	case t == "cancelled()":
		return false, nil
	case strings.HasPrefix(t, "inputs."):
		v, ok := p.x.inputs[strings.TrimPrefix(t, "inputs.")]
		if !ok {
			return nil, fmt.Errorf("no input %s", t)
		}
		return v, nil
	case strings.HasPrefix(t, "github."):
		return p.x.github[strings.TrimPrefix(t, "github.")], nil
	case strings.HasPrefix(t, "steps."):
		parts := strings.SplitN(strings.TrimPrefix(t, "steps."), ".", 3)
		if len(parts) != 3 || parts[1] != "outputs" {
			return nil, fmt.Errorf("cannot read %s", t)
		}
		return p.x.outputs[parts[0]][parts[2]], nil
	}
	return nil, fmt.Errorf("cannot read %q", t)
}

// gitlab-artifacts NAME
//
// Collects what the GitLab CI job template docs/ci/gitlab-ci.yml keeps when
// a job fails: the `.tf` job's artifacts:paths, with its variables
// (TF_ROOT) expanded, relative to the project directory $WORK, copied with
// hidden files (GitLab keeps them) to $WORK/.runner/artifacts/NAME/. Fails
// unless the artifacts are kept on failure.
func (h *harness) cmdGitLabArtifacts(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gitlab-artifacts NAME")
	}
	var doc map[string]struct {
		Variables map[string]string `yaml:"variables"`
		Artifacts struct {
			When  string   `yaml:"when"`
			Paths []string `yaml:"paths"`
		} `yaml:"artifacts"`
	}
	b, err := os.ReadFile(filepath.Join(h.root, "docs", "ci", "gitlab-ci.yml"))
	ts.Check(err)
	ts.Check(yaml.Unmarshal(b, &doc))
	job, ok := doc[".tf"]
	if !ok {
		ts.Fatalf("docs/ci/gitlab-ci.yml has no .tf job")
	}
	if job.Artifacts.When != "on_failure" && job.Artifacts.When != "always" {
		ts.Fatalf("the .tf job keeps its artifacts %q, not on failure", job.Artifacts.When)
	}
	work := ts.Getenv("WORK")
	dest := filepath.Join(work, ".runner", "artifacts", args[0])
	n := 0
	for _, p := range job.Artifacts.Paths {
		p = os.Expand(p, func(k string) string { return job.Variables[k] })
		src := filepath.Join(work, p)
		err := filepath.Walk(src, func(f string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(work, f)
			n++
			return copyFile(f, filepath.Join(dest, rel))
		})
		if err != nil && !os.IsNotExist(err) {
			ts.Fatalf("gitlab-artifacts: %v", err)
		}
	}
	fmt.Fprintf(ts.Stdout(), "gitlab-artifacts: %d files as %s\n", n, args[0])
}
