//go:build !windows

package recovery

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitLabAfterScriptCopyWorks runs the printed after_script lines, as
// printed, and finds the recovery directory inside the project directory
// under the artifacts path printed.
func TestGitLabAfterScriptCopyWorks(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("sh is needed to run the printed after_script")
	}
	project, cache := t.TempDir(), t.TempDir()
	rec := filepath.Join(cache, "tf-recovery", "20261202T000000Z")
	if err := os.MkdirAll(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rec, journalName), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := Run{Env: []string{"GITLAB_CI=true", "CI_PROJECT_DIR=" + project}}
	o := &Outcome{Kind: NeedsPerson, Saved: []string{filepath.Join(project, erroredFile)}, RecoveryDir: rec}
	lines := keepStep(ciGitLab, r, o)
	var script []string
	inAfter, kept := false, ""
	for _, l := range lines {
		switch {
		case l == "after_script:":
			inAfter = true
		case inAfter && strings.HasPrefix(l, "  - "):
			script = append(script, strings.TrimPrefix(l, "  - "))
		case strings.HasPrefix(l, "    - "+gitlabKeepDir):
			kept = strings.TrimPrefix(l, "    - ")
		default:
			inAfter = false
		}
	}
	if len(script) == 0 || kept == "" {
		t.Fatalf("no after_script or no kept copy:\n%s", strings.Join(lines, "\n"))
	}
	cmd := exec.Command("sh", "-c", strings.Join(script, "\n"))
	cmd.Env = append(os.Environ(), "CI_PROJECT_DIR="+project)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(project, kept, "tf-recovery", "20261202T000000Z", journalName)); err != nil {
		t.Errorf("the journal is not under the kept path %s: %v", kept, err)
	}
}
