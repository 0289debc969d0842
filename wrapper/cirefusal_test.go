package wrapper

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/credguard"
)

// newcomer M4: in GitHub Actions a refused guarded command (exit 75) puts
// its reason on the run's page (an ::error annotation, one workflow
// command) and in the step summary; elsewhere, and for any other failure,
// nothing is added.
func TestRefusalInGitHubActionsIsAnnotatedAndSummarised(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "summary.md")
	refusal := &credguard.ShortError{Required: 15 * time.Minute, Short: []credguard.Entry{{
		Credential: credguard.Credential{Name: "env keys", UsedBy: []string{`backend "s3"`}}, Lasts: time.Minute, LastsKnown: true,
		Detail: "exported session keys cannot be refreshed during the run; 100% sure\nsecond line"}}}
	inv := func(env ...string) (*Invocation, *bytes.Buffer) {
		var b bytes.Buffer
		return &Invocation{Env: env, Stderr: &b, Command: Command{Words: []string{"apply"}, Guarded: true}}, &b
	}
	i, out := inv("GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary)
	annotateRefusal(i, refusal)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "::error title=tf refused apply (exit 75)::tf: credentials will not last the run: env keys") ||
		!strings.Contains(lines[0], "100%25 sure%0Asecond line") {
		t.Fatalf("annotation %q", out.String())
	}
	b, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(b), "### tf refused `apply` (exit 75)") || !strings.Contains(string(b), "env keys (used by backend \"s3\") have 1m left, the run needs 15m") {
		t.Fatalf("summary %q %v", b, err)
	}

	for name, c := range map[string]struct {
		env []string
		err error
	}{
		"not in GitHub Actions":     {[]string{"CI=true"}, refusal},
		"another failure than 75":   {[]string{"GITHUB_ACTIONS=true"}, &ConfigError{Where: "x", Key: "k", Err: errors.New("bad")}},
		"GITHUB_ACTIONS not 'true'": {[]string{"GITHUB_ACTIONS=false"}, refusal},
	} {
		i, out := inv(c.env...)
		annotateRefusal(i, c.err)
		if out.Len() != 0 {
			t.Errorf("%s: %q", name, out.String())
		}
	}
}

// unknown_lifetime = quiet is the documented way to acknowledge the
// unknown-lifetime lines; a repository's file may not set it over allow.
func TestUnknownLifetimeQuietIsAUserChoice(t *testing.T) {
	dir := t.TempDir()
	user := writeFile(t, filepath.Join(dir, "user", "config"), "unknown_lifetime = quiet\n")
	c, err := LoadConfig(nil, ConfigFiles{User: user})
	if err != nil || c.UnknownLifetime != UnknownQuiet {
		t.Fatalf("user file: %q %v", c.UnknownLifetime, err)
	}
	o := credOptions(&Invocation{Config: c})
	if !o.Config.QuietUnknown || o.Config.RefuseUnknown {
		t.Fatalf("options %+v", o.Config)
	}
	wd := writeFile(t, filepath.Join(dir, "repo", ".tfguard"), "unknown_lifetime = quiet\n")
	c, err = LoadConfig(nil, ConfigFiles{User: filepath.Join(dir, "none"), WorkDir: wd})
	if err != nil || c.UnknownLifetime != UnknownAllow || len(c.Untrusted) != 1 {
		t.Fatalf("repository file: %q %q %v", c.UnknownLifetime, c.Untrusted, err)
	}
}
