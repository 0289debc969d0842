package rig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the Go module the rig belongs to; ModuleRoot looks for it.
const ModulePath = "github.com/tfguard/tf"

// ErrToolMissing is returned (wrapped) when terraform, node or npm is not on
// PATH. Callers skip on a laptop and fail when CI=true (see MustHaveTools).
var ErrToolMissing = errors.New("required tool missing")

// ModuleRoot walks up from dir to the directory holding the go.mod of
// ModulePath, so the rig finds e2e/ both from `go test` (cwd = package dir)
// and from `go run ./e2e/cmd/incident` (cwd = anywhere in the clone).
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+ModulePath+"\n")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod for %s above %s: run from inside the tf repository", ModulePath, dir)
		}
		d = parent
	}
}

// LookTools checks that terraform, node and npm are on PATH and returns the
// absolute path of terraform.
func LookTools() (terraform string, err error) {
	var missing []string
	for _, t := range []string{"terraform", "node", "npm"} {
		p, err := exec.LookPath(t)
		if err != nil {
			missing = append(missing, t)
			continue
		}
		if t == "terraform" {
			terraform = p
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s not on PATH (install terraform 1.11+, node 20+ and npm)", ErrToolMissing, strings.Join(missing, ", "))
	}
	return terraform, nil
}

// InCI reports whether CI=true, where a missing tool must fail instead of skip.
func InCI(getenv func(string) string) bool {
	return getenv("CI") == "true"
}

// DynaliteCLI is the path of dynalite's entry point below e2e/.
func DynaliteCLI(e2eDir string) string {
	return filepath.Join(e2eDir, "node_modules", "dynalite", "cli.js")
}

// EnsureDynalite runs `npm ci` in e2eDir when node_modules/dynalite is
// missing, installing exactly what package-lock.json pins. npm's output goes
// to log (may be nil) and, on failure, into the error.
func EnsureDynalite(e2eDir string, log io.Writer) error {
	if _, err := os.Stat(DynaliteCLI(e2eDir)); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "package-lock.json")); err != nil {
		return fmt.Errorf("no package-lock.json in %s: the rig installs dynalite from the committed lockfile: %w", e2eDir, err)
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = e2eDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if log != nil {
		log.Write(out.Bytes())
	}
	if err != nil {
		return fmt.Errorf("npm ci in %s failed (run it by hand to see why): %w\n%s", e2eDir, err, out.String())
	}
	if _, err := os.Stat(DynaliteCLI(e2eDir)); err != nil {
		return fmt.Errorf("npm ci in %s did not install dynalite: %w", e2eDir, err)
	}
	return nil
}

// PathWithoutTF drops from path the directories whose `terraform` is a tf (a
// developer may already have tf installed as terraform): the rig's baseline
// must be the real terraform. A tf answers `guard version` with "tf ...";
// terraform does not know the command.
func PathWithoutTF(path string) string {
	var keep []string
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, "terraform")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			out, err := exec.Command(p, "guard", "version").Output()
			if err == nil && strings.HasPrefix(string(out), "tf ") {
				continue
			}
		}
		keep = append(keep, d)
	}
	return strings.Join(keep, string(os.PathListSeparator))
}
