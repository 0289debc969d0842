// Package passthrough proves that the real tf binary, installed as
// `terraform` first on PATH, is indistinguishable from terraform: bytes,
// exit codes, prompts, terminal size and interrupts.
package passthrough

import (
	"bytes"
	"context"
	"fmt"
	"github.com/tfguard/tf/e2e/rig"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is set up once by TestMain.
type fixture struct {
	tfBinary  string // the built tf
	tfBin     string // directory holding `terraform` -> tf (symlink)
	terraform string // the real terraform
	realDir   string
	tmp       string
	baseEnv   []string // the environment without PATH
	origPath  string
}

var fx fixture // written only in TestMain, read-only in tests

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passthrough:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	// The baseline is the real terraform, even where tf is already installed as terraform.
	os.Setenv("PATH", rig.PathWithoutTF(os.Getenv("PATH")))
	tmp, err := os.MkdirTemp("", "tf-passthrough-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	real, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") == "true" {
			return 0, fmt.Errorf("terraform is required in CI: %w", err)
		}
		fmt.Fprintln(os.Stderr, "passthrough: SKIP: terraform not on PATH (install terraform to run these tests)")
		return 0, nil
	}
	if real, err = filepath.EvalSymlinks(real); err != nil {
		return 0, err
	}
	fx = fixture{terraform: real, realDir: filepath.Dir(real), tmp: tmp, origPath: os.Getenv("PATH")}
	fx.tfBinary = filepath.Join(tmp, "tf")
	build := exec.Command("go", "build", "-o", fx.tfBinary, "github.com/tfguard/tf")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("go build tf: %w", err)
	}
	fx.tfBin = filepath.Join(tmp, "bin")
	if err := os.Mkdir(fx.tfBin, 0o755); err != nil {
		return 0, err
	}
	if err := os.Symlink(fx.tfBinary, filepath.Join(fx.tfBin, "terraform")); err != nil {
		return 0, err
	}
	cliConfig := filepath.Join(tmp, "empty.tfrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		return 0, err
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || strings.HasPrefix(k, "TFGUARD_") || strings.HasPrefix(k, "TF_") || k == "XDG_CONFIG_HOME" || k == "CHECKPOINT_DISABLE" {
			continue
		}
		fx.baseEnv = append(fx.baseEnv, kv)
	}
	fx.baseEnv = append(fx.baseEnv,
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"CHECKPOINT_DISABLE=1", // no update check: no network, same for both
		"XDG_CONFIG_HOME="+filepath.Join(tmp, "xdg"),
	)
	return m.Run(), nil
}

// tfEnv: tf linked as terraform first on PATH, the real one after it.
func tfEnv(extra ...string) []string {
	env := append([]string{}, fx.baseEnv...)
	env = append(env, "PATH="+fx.tfBin+string(os.PathListSeparator)+fx.realDir+string(os.PathListSeparator)+fx.origPath)
	return append(env, extra...)
}

// bareEnv: the same without tf.
func bareEnv(extra ...string) []string {
	env := append([]string{}, fx.baseEnv...)
	env = append(env, "PATH="+fx.realDir+string(os.PathListSeparator)+fx.origPath)
	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir string, env []string, stdin string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return result{out.String(), errb.String(), code}
}

// runTF runs `terraform ARGS` resolved through tfEnv's PATH (that is tf).
func runTF(t *testing.T, dir, stdin string, args ...string) result {
	return run(t, dir, tfEnv(), stdin, filepath.Join(fx.tfBin, "terraform"), args...)
}

func runBare(t *testing.T, dir, stdin string, args ...string) result {
	return run(t, dir, bareEnv(), stdin, fx.terraform, args...)
}

// workdir copies the named testdata config into a fresh directory and
// runs `terraform init` there (bare: init is not what is under test here).
func workdir(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := runBare(t, dir, "", "init", "-input=false"); r.code != 0 {
		t.Fatalf("init: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return dir
}

// syncBuffer collects a stream while a test polls it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; got:\n%s", s, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyInto(dst io.Writer, src io.Reader) {
	_, _ = io.Copy(dst, src)
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normaliseIDs replaces terraform_data's random ids, the only thing that
// differs between two applies of the same config.
func normaliseIDs(s string) string { return uuidRE.ReplaceAllString(s, "<uuid>") }
