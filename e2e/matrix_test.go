package e2e

// The recovery fault matrix (issue 8): lock mode x evidence of this run's
// lock x what happened meanwhile x tf killed or not, each cell with real
// terraform, S3 (gofakes3) and DynamoDB (dynalite), judged afterwards with
// plain terraform only. `go test ./e2e -run TestRecoveryFaultMatrix -v`
// prints the matrix with each cell's outcome.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/rig"
)

// matrixCell is one cell of the matrix.
type matrixCell struct {
	mode rig.LockMode
	// evidence: "printed" (terraform prints the ID; tf's watch switched off
	// with the test hook), "printed+observed", "observed" (lockfile: no ID
	// printed), "none" (lockfile, watch off), "lock=false".
	evidence string
	// meantime: "nothing", "colleague-applied" (force-unlocked the stale
	// lock and applied once), "colleague-running" (force-unlocked and is
	// still applying), "switched" (the lock now belongs to another run that
	// died holding it), "lockfalse-writer" (applied with -lock=false, as
	// terraform's lock error suggests, while this run's lock is still there).
	meantime string
	killed   bool // tf SIGKILLed during its own recovery of the failed run
}

func (c matrixCell) String() string {
	k := "-"
	if c.killed {
		k = "killed"
	}
	return fmt.Sprintf("%-8s %-16s %-17s %-6s", c.mode, c.evidence, c.meantime, k)
}

func matrixCells() []matrixCell {
	evidence := map[rig.LockMode][]string{
		rig.LockDynamoDB: {"printed", "printed+observed", "lock=false"},
		rig.LockFile:     {"observed", "none", "lock=false"},
		rig.LockBoth:     {"printed", "printed+observed", "lock=false"},
	}
	var cells []matrixCell
	for _, mode := range []rig.LockMode{rig.LockDynamoDB, rig.LockFile, rig.LockBoth} {
		for _, ev := range evidence[mode] {
			for _, mt := range []string{"nothing", "colleague-applied", "colleague-running", "switched"} {
				for _, killed := range []bool{false, true} {
					cells = append(cells, matrixCell{mode, ev, mt, killed})
				}
			}
			// A writer that ignores the lock matters only where the run
			// holds one; tf killed or not changes nothing for it (the
			// recovery is pending either way when the colleague writes), so
			// one cell per lock mode and evidence keeps the run time.
			if ev != "lock=false" {
				cells = append(cells, matrixCell{mode, ev, "lockfalse-writer", false})
			}
		}
	}
	return cells
}

// wantRecovered: the rules let tf push by itself only when the state object
// is the one the run started from (or wrote itself), seen by tf's watch,
// and this run's lock is proven and still there or no lock is held. A held
// lock alone proves nothing (a -lock=false writer ignores it): with the
// watch off ("printed", "none") tf has no record of the state object and
// stops with the difference; the "none" cell also leaves a stale lock tf
// cannot prove is its own (a person must name it).
func (c matrixCell) wantRecovered() bool {
	return c.meantime == "nothing" && c.evidence != "none" && c.evidence != "printed"
}

type matrixResult struct {
	cell    matrixCell
	outcome string
	err     string
}

func TestRecoveryFaultMatrix(t *testing.T) {
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tfBin, err := buildTestTF(root)
	if err != nil {
		t.Fatal(err)
	}
	tfDir := t.TempDir()
	if err := os.Symlink(tfBin, filepath.Join(tfDir, "terraform")); err != nil {
		t.Fatal(err)
	}
	r := recRig(t)
	var mu sync.Mutex
	var results []matrixResult
	t.Cleanup(func() {
		sort.Slice(results, func(i, j int) bool { return results[i].cell.String() < results[j].cell.String() })
		var b strings.Builder
		fmt.Fprintf(&b, "\n%-8s %-16s %-17s %-6s  %s\n", "lock", "evidence", "meanwhile", "tf", "outcome")
		for _, res := range results {
			status := res.outcome
			if res.err != "" {
				status += "  FAILED: " + res.err
			}
			fmt.Fprintf(&b, "%s  %s\n", res.cell, status)
		}
		t.Log(b.String())
	})
	for i, c := range matrixCells() {
		c := c
		name := strings.Join(strings.Fields(strings.ReplaceAll(c.String(), "+", "-")), "/")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newMatrixRun(t, r, c, i, tfDir)
			outcome := m.run()
			mu.Lock()
			res := matrixResult{cell: c, outcome: outcome}
			if t.Failed() {
				res.err = "see the subtest"
			}
			results = append(results, res)
			mu.Unlock()
		})
	}
}

type matrixRun struct {
	t     *testing.T
	r     *rig.Rig
	c     matrixCell
	ws    *rig.Workspace
	b     string // the colleague's checkout
	tfDir string
	env   map[string]string
	seen  bytes.Buffer
}

func newMatrixRun(t *testing.T, r *rig.Rig, c matrixCell, i int, tfDir string) *matrixRun {
	dir := t.TempDir()
	ws, err := r.NewWorkspace(context.Background(), rig.WorkspaceOptions{
		Dir: filepath.Join(dir, "a"), Home: filepath.Join(dir, "home"), Mode: c.mode, Sleep: 6 * time.Second,
		Name: fmt.Sprintf("matrix-%d", i),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &matrixRun{t: t, r: r, c: c, ws: ws, b: filepath.Join(dir, "b"), tfDir: tfDir, env: map[string]string{}}
	for _, kv := range ws.Env() {
		k, v, _ := strings.Cut(kv, "=")
		m.env[k] = v
	}
	m.env["PATH"] = os.Getenv("PATH")
	m.env["TMPDIR"] = dir
	m.env["CI"] = "true" // tf cannot renew env credentials: recovery waits in its journal
	if err := os.MkdirAll(m.b, 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(ws.Dir, "main.tf"))
	if err == nil {
		err = os.WriteFile(filepath.Join(m.b, "main.tf"), raw, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *matrixRun) fresh() {
	c := m.r.Ledger.Issue("env", time.Hour, false)
	for k, v := range rig.EnvCredentials(c) {
		m.env[k] = v
	}
}

// exec runs terraform (plain, or tf first on PATH as terraform) in dir.
func (m *matrixRun) exec(tf bool, dir string, extra []string, args ...string) (int, string, string) {
	m.t.Helper()
	env := make([]string, 0, len(m.env)+len(extra)+1)
	for k, v := range m.env {
		if k == "PATH" && tf {
			v = m.tfDir + string(os.PathListSeparator) + v
		}
		env = append(env, k+"="+v)
	}
	cmd := exec.Command("terraform", args...)
	if tf {
		cmd = exec.Command(filepath.Join(m.tfDir, "terraform"), args...)
	}
	cmd.Dir, cmd.Env = dir, append(env, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	m.seen.WriteString(errb.String())
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return code, out.String(), errb.String()
}

func (m *matrixRun) must(dir string, args ...string) string {
	m.t.Helper()
	code, out, errs := m.exec(false, dir, nil, args...)
	if code != 0 {
		m.t.Fatalf("terraform %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func (m *matrixRun) locks() rig.Locks {
	l, err := m.r.Locks(context.Background(), m.ws.Backend)
	if err != nil {
		m.t.Fatal(err)
	}
	return l
}

var savedAt = regexp.MustCompile(`(\S+errored\.tfstate)`)

// run plays the cell and checks it; it returns the cell's outcome in words.
func (m *matrixRun) run() string {
	t, a := m.t, m.ws.Dir
	m.fresh()
	m.must(a, "init", "-input=false", "-no-color")
	m.must(a, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "sleep=0")
	m.must(m.b, "init", "-input=false", "-no-color")

	// The failed run, through tf: its credentials die while the long
	// resource is being created. A run that takes the lock: 1 s after its
	// lock appears (on a loaded machine terraform may need seconds to get
	// there); a run with -lock=false: 8 s in, with a longer sleep.
	m.fresh()
	key := m.env[rig.EnvAccessKeyID]
	args := []string{"apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=A"}
	stopDie := make(chan struct{})
	defer close(stopDie)
	if m.c.evidence == "lock=false" {
		args = append(args, "-lock=false", "-var", "sleep=20")
		m.r.Ledger.DieAt(key, m.r.Ledger.Now().Add(8*time.Second))
	} else {
		m.r.Ledger.DieAt(key, m.r.Ledger.Now().Add(time.Minute))
		go func() {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				select {
				case <-stopDie:
					return
				default:
				}
				if l, err := m.r.Locks(context.Background(), m.ws.Backend); err == nil && l.Held() {
					m.r.Ledger.DieAt(key, m.r.Ledger.Now().Add(time.Second))
					return
				}
			}
		}()
	}
	var extra []string
	if m.c.evidence == "printed" || m.c.evidence == "none" {
		extra = append(extra, "TFGUARD_TEST_NO_OBSERVE=1")
	}
	if m.c.killed {
		extra = append(extra, "TFGUARD_TEST_KILL_AT=credentials")
	}
	code, _, stderr := m.exec(true, a, extra, args...)
	if !m.c.killed && code != 76 {
		t.Fatalf("the failed run exited %d, want 76 (CI, dead credentials)\n%s", code, stderr)
	}
	errored, err := os.ReadFile(filepath.Join(a, "errored.tfstate"))
	if err != nil {
		t.Fatalf("terraform wrote no errored.tfstate: %v\n%s", err, stderr)
	}
	var ours string
	if l := m.locks(); l.Held() {
		ours = l.ID()
	}
	if (ours == "") != (m.c.evidence == "lock=false") {
		t.Fatalf("after the failed run: lock %q with evidence %s", ours, m.c.evidence)
	}

	// Meanwhile, a colleague with plain terraform and fresh credentials.
	m.fresh()
	unlock := func() {
		if ours != "" {
			m.must(m.b, "force-unlock", "-force", ours)
		}
	}
	var colleague *exec.Cmd
	var colleagueErr bytes.Buffer
	foreign := ""
	switch m.c.meantime {
	case "colleague-applied":
		unlock()
		m.must(m.b, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=COLLEAGUE", "-var", "sleep=0")
	case "colleague-running":
		unlock()
		colleague = exec.Command("terraform", "apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=RUNNING", "-var", "sleep=12")
		colleague.Dir = m.b
		for k, v := range m.env {
			colleague.Env = append(colleague.Env, k+"="+v)
		}
		colleague.Stderr = &colleagueErr
		if err := colleague.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for !m.locks().Held() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		foreign = m.locks().ID()
		if foreign == "" {
			t.Fatal("the colleague's apply took no lock")
		}
	case "switched":
		unlock()
		info := rig.LockInfo{ID: "5e1f0000-aaaa-4bbb-8ccc-000000000000", Operation: "OperationTypeApply", Who: "other@ci-runner-3",
			Version: "1.11.4", Created: time.Now().UTC().Format(time.RFC3339Nano), Path: m.ws.Backend.LockPath()}
		if err := m.r.PutLockInfo(context.Background(), m.ws.Backend, info); err != nil {
			t.Fatal(err)
		}
		foreign = info.ID
	case "lockfalse-writer":
		if ours == "" {
			t.Fatal("lockfalse-writer needs a run that holds its lock")
		}
		if code, _, errs := m.exec(false, m.b, nil, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=COLLEAGUE", "-var", "sleep=0"); code == 0 || !strings.Contains(errs, "-lock=false") {
			t.Fatalf("the colleague's apply was not stopped by the run's lock with terraform's hint: exit %d\n%s", code, errs)
		}
		m.must(m.b, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "run=COLLEAGUE", "-var", "sleep=0", "-lock=false")
	}
	remoteBefore, err := m.r.RemoteState(context.Background(), m.ws.Backend)
	if err != nil {
		t.Fatal(err)
	}

	// The next guarded tf command, with fresh credentials.
	rcode, _, rerr := m.exec(true, a, nil, "plan", "-input=false", "-no-color", "-lock-timeout=0s")
	outcome := "recovered"
	switch {
	case strings.Contains(rerr, "RECOVERED"):
	case strings.Contains(rerr, "the state is locked"):
		outcome = "waits: a lock tf cannot prove is its own"
	case strings.Contains(rerr, "may have moved on since the run started"), strings.Contains(rerr, "differ"):
		outcome = "stops: the backend moved on (diff shown)"
	case strings.Contains(rerr, "RECOVERY NEEDS YOU"):
		outcome = "stops: needs a person"
	default:
		outcome = fmt.Sprintf("exit %d", rcode)
	}

	if colleague != nil {
		err := colleague.Wait()
		if err != nil || strings.Contains(colleagueErr.String(), "Error releasing the state lock") {
			t.Errorf("tf disturbed the colleague's running apply: %v\n%s", err, colleagueErr.String())
		}
	}

	// Judged with plain terraform only.
	pulled := m.must(m.b, "state", "pull")
	switch m.c.meantime {
	case "colleague-applied", "lockfalse-writer":
		if !strings.Contains(pulled, "COLLEAGUE") {
			t.Errorf("the colleague's change was lost from the state:\n%s", pulled)
		}
	case "colleague-running":
		if !strings.Contains(pulled, "RUNNING") {
			t.Errorf("the running colleague's change was lost from the state:\n%s", pulled)
		}
	case "switched":
		if l := m.locks(); !l.Held() || l.ID() != foreign {
			t.Errorf("the other run's lock was released or replaced: %+v", l)
		}
		if st, _ := m.r.RemoteState(context.Background(), m.ws.Backend); st.Serial != remoteBefore.Serial {
			t.Errorf("the state was written under another run's lock: %+v -> %+v", remoteBefore, st)
		}
	}
	if strings.Contains(rerr, "force-unlock -force "+foreign) && foreign != "" {
		t.Errorf("tf printed a command that unlocks another run's lock")
	}
	// Every byte of errored.tfstate is in the backend or in a file tf names.
	kept := strings.Contains(rerr, "RECOVERED") && sameResources(t, pulled, string(errored))
	for _, out := range []string{stderr, rerr} {
		for _, p := range savedAt.FindAllString(out, -1) {
			if p == "errored.tfstate" {
				p = filepath.Join(a, p)
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, errored) {
				kept = true
			}
		}
	}
	if !kept {
		t.Errorf("errored.tfstate is neither in the backend nor in a file tf named\nfailed run:\n%s\nnext command:\n%s", stderr, rerr)
	}
	if m.c.meantime == "lockfalse-writer" && m.c.evidence != "none" {
		// Not a push, not a retry that terraform refuses forever: a closed
		// stop that shows the difference, for a person to decide.
		_, pendErr := os.Stat(filepath.Join(a, ".terraform", "tf-recovery", "PENDING"))
		if rcode != 76 || pendErr == nil || !strings.Contains(rerr, "the backend's state and errored.tfstate differ") {
			t.Errorf("a -lock=false write under the run's lock: want a closed stop with the difference (exit 76, nothing pending), got exit %d, pending %v\n%s", rcode, pendErr == nil, rerr)
		}
	}
	if got := strings.Contains(rerr, "RECOVERED"); got != m.c.wantRecovered() {
		t.Errorf("recovered %v, want %v (outcome: %s)\n%s", got, m.c.wantRecovered(), outcome, rerr)
	}
	// Never blocked without a way out: a refusal prints `tf guard recover`
	// and, while pending, --abandon; after --abandon the command runs.
	if rcode == 76 {
		if !strings.Contains(rerr, "tf guard recover") {
			t.Errorf("refused without saying how to go on:\n%s", rerr)
		}
		if _, err := os.Stat(filepath.Join(a, ".terraform", "tf-recovery", "PENDING")); err == nil {
			if !strings.Contains(rerr, "--abandon") {
				t.Errorf("pending without the way to give up:\n%s", rerr)
			}
			if code, _, out := m.exec(true, a, nil, "guard", "recover", "--abandon"); code != 0 {
				t.Errorf("abandon: exit %d\n%s", code, out)
			}
		}
		if code, _, out := m.exec(true, a, nil, "plan", "-input=false", "-no-color", "-lock=false"); code == 76 {
			t.Errorf("still refused after the report was shown (and abandoned when pending):\n%s", out)
		}
	}
	for _, sec := range m.r.Identity.Secrets() {
		if sec != "" && strings.Contains(m.seen.String(), sec) {
			t.Errorf("a secret appeared in tf's output (length %d)", len(sec))
		}
	}
	return outcome
}

// sameResources: the pulled state holds errored.tfstate's resources.
func sameResources(t *testing.T, pulled, errored string) bool {
	t.Helper()
	res := func(raw string) (string, bool) {
		var s struct {
			Resources json.RawMessage `json:"resources"`
		}
		if json.Unmarshal([]byte(raw), &s) != nil {
			return "", false
		}
		var v any
		if json.Unmarshal(s.Resources, &v) != nil {
			return "", false
		}
		b, _ := json.Marshal(v)
		return string(b), true
	}
	a, ok1 := res(pulled)
	b, ok2 := res(errored)
	return ok1 && ok2 && a == b
}
