package wrapper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

func writeExe(t *testing.T, path string) string {
	t.Helper()
	writeFile(t, path, "#!/bin/sh\nexit 0\n")
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func defaultConfig(t *testing.T) Config {
	t.Helper()
	c, err := LoadConfig(nil, ConfigFiles{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeInstaller records calls and writes an executable where it is told.
type fakeInstaller struct {
	calls []string
	err   error
}

func (f *fakeInstaller) Install(_ context.Context, version, dir string) (string, error) {
	f.calls = append(f.calls, version+" "+dir)
	if f.err != nil {
		return "", f.err
	}
	return writeExeNoT(filepath.Join(dir, "terraform"))
}

func writeExeNoT(p string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
}

var _ Installer = (*fakeInstaller)(nil)

func TestFindSkipsSelfSymlinkHardLinkAndChain(t *testing.T) {
	root := t.TempDir()
	self := writeExe(t, filepath.Join(root, "bin", "tf"))
	linkDir := filepath.Join(root, "link")
	hardDir := filepath.Join(root, "hard")
	chainDir := filepath.Join(root, "chain")
	realDir := filepath.Join(root, "real")
	os.MkdirAll(linkDir, 0o755)
	os.MkdirAll(hardDir, 0o755)
	if err := os.Symlink(self, filepath.Join(linkDir, "terraform")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(self, filepath.Join(hardDir, "terraform")); err != nil {
		t.Fatal(err)
	}
	otherTF := writeExe(t, filepath.Join(chainDir, "terraform")) // another tf copy that started us
	real := writeExe(t, filepath.Join(realDir, "terraform"))
	f := Finder{
		Config:  defaultConfig(t),
		PathEnv: strings.Join([]string{"", "relative", filepath.Join(root, "empty"), linkDir, hardDir, chainDir, realDir}, string(os.PathListSeparator)),
		Self:    self,
		Chain:   []string{otherTF},
		WorkDir: root,
	}
	got, err := f.Find(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != real || got.How != FoundPath || got.Flavor != "terraform" {
		t.Fatalf("got %+v, want %s from PATH", got, real)
	}
	// Without the chain entry the other tf copy is a candidate (it is a
	// different file); with it, it is skipped: that is what stops a loop.
	f.Chain = nil
	got, _ = f.Find(context.Background())
	if got.Path != otherTF {
		t.Fatalf("without chain got %s, want %s", got.Path, otherTF)
	}
}

func TestFindNotFoundListsEveryPlace(t *testing.T) {
	root := t.TempDir()
	self := writeExe(t, filepath.Join(root, "tf"))
	os.Symlink(self, filepath.Join(root, "terraform"))
	noexec := filepath.Join(root, "noexec")
	writeFile(t, filepath.Join(noexec, "terraform"), "not executable")
	f := Finder{Config: defaultConfig(t), PathEnv: root + string(os.PathListSeparator) + noexec, Self: self, WorkDir: root, CacheDir: filepath.Join(root, "cache")}
	_, err := f.Find(context.Background())
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want *NotFoundError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(root, "terraform") + ": skipped (that is tf)",
		filepath.Join(noexec, "terraform") + ": not found",
		"exact version pin",
		"TFGUARD_TERRAFORM=",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if exitCodeOf(err) != ExitNotFound {
		t.Errorf("exit code %d", exitCodeOf(err))
	}
}

func TestFindConfigured(t *testing.T) {
	root := t.TempDir()
	self := writeExe(t, filepath.Join(root, "tf"))
	real := writeExe(t, filepath.Join(root, "opt", "terraform-1.11"))
	onPath := writeExe(t, filepath.Join(root, "path", "terraform"))
	named := writeExe(t, filepath.Join(root, "path", "tf-real"))
	cfg := func(v string) Config {
		c, err := LoadConfig([]string{"TFGUARD_TERRAFORM=" + v}, ConfigFiles{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := Finder{PathEnv: filepath.Join(root, "path"), Self: self, WorkDir: root}

	f.Config = cfg(real)
	got, err := f.Find(context.Background())
	if err != nil || got.Path != real || got.How != FoundConfig || got.Detail != "env TFGUARD_TERRAFORM" {
		t.Fatalf("explicit path: %+v %v (PATH has %s, must not win)", got, err, onPath)
	}

	f.Config = cfg("tf-real")
	got, err = f.Find(context.Background())
	if err != nil || got.Path != named {
		t.Fatalf("bare name: %+v %v", got, err)
	}

	f.Config = cfg(self)
	_, err = f.Find(context.Background())
	if err == nil || !strings.Contains(err.Error(), "that is tf itself") {
		t.Fatalf("configured self: %v", err)
	}

	f.Config = cfg(filepath.Join(root, "missing"))
	_, err = f.Find(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not an executable file") || !strings.Contains(err.Error(), "env TFGUARD_TERRAFORM") {
		t.Fatalf("configured missing: %v", err)
	}
}

func TestFindTofuFlavor(t *testing.T) {
	root := t.TempDir()
	writeExe(t, filepath.Join(root, "a", "terraform"))
	tofu := writeExe(t, filepath.Join(root, "b", "tofu"))
	c, err := LoadConfig([]string{"TFGUARD_FLAVOR=tofu"}, ConfigFiles{})
	if err != nil {
		t.Fatal(err)
	}
	f := Finder{Config: c, PathEnv: filepath.Join(root, "a") + string(os.PathListSeparator) + filepath.Join(root, "b"), WorkDir: root}
	got, err := f.Find(context.Background())
	if err != nil || got.Path != tofu || got.Flavor != "tofu" {
		t.Fatalf("got %+v %v", got, err)
	}
}

func TestFindPinnedCachedInstalledNever(t *testing.T) {
	root := t.TempDir()
	wd := filepath.Join(root, "wd")
	writeFile(t, filepath.Join(wd, "versions.tf"), "terraform {\n  required_version = \"= 1.5.7\"\n}\n")
	cache := filepath.Join(root, "cache")
	inst := &fakeInstaller{}
	f := Finder{Config: defaultConfig(t), PathEnv: filepath.Join(root, "nothing"), WorkDir: wd, CacheDir: cache, Installer: inst}

	got, err := f.Find(context.Background())
	wantPath := filepath.Join(cache, "terraform", "1.5.7", "terraform")
	if err != nil || got.Path != wantPath || got.How != FoundInstalled || got.Version != "1.5.7" || got.Detail != "versions.tf required_version" {
		t.Fatalf("install: %+v %v", got, err)
	}
	if len(inst.calls) != 1 || inst.calls[0] != "1.5.7 "+filepath.Join(cache, "terraform", "1.5.7") {
		t.Fatalf("installer calls %q", inst.calls)
	}

	// Second run: the cached binary is reused, nothing installed.
	got, err = f.Find(context.Background())
	if err != nil || got.Path != wantPath || got.How != FoundCached {
		t.Fatalf("cached: %+v %v", got, err)
	}
	if len(inst.calls) != 1 {
		t.Fatalf("installer called again: %q", inst.calls)
	}

	// install = never: a missing version is not installed, and the error says why.
	f.Config.Install = InstallNever
	writeFile(t, filepath.Join(wd, ".terraform-version"), "1.9.8\n")
	_, err = f.Find(context.Background())
	if err == nil || !strings.Contains(err.Error(), "install = never") || !strings.Contains(err.Error(), "1.9.8") {
		t.Fatalf("never: %v", err)
	}
	if len(inst.calls) != 1 {
		t.Fatalf("installer called with install = never: %q", inst.calls)
	}

	// A failing installer is reported with the version and directory.
	f.Config.Install = InstallAuto
	inst.err = errors.New("no network")
	_, err = f.Find(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no network") || exitCodeOf(err) != ExitNotFound {
		t.Fatalf("install failure: %v", err)
	}
}

func TestPinnedVersion(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		version string
		source  string
	}{
		{"none", map[string]string{"main.tf": `resource "terraform_data" "x" {}`}, "", ""},
		{"exact", map[string]string{"main.tf": `terraform { required_version = "1.11.4" }`}, "1.11.4", "main.tf required_version"},
		{"equals", map[string]string{"main.tf": `terraform { required_version = "= 1.6.0-beta1" }`}, "1.6.0-beta1", "main.tf required_version"},
		{"range", map[string]string{"main.tf": `terraform { required_version = ">= 1.5" }`}, "", ""},
		{"two constraints", map[string]string{"main.tf": `terraform { required_version = ">= 1.5, < 2.0" }`}, "", ""},
		{"not a string", map[string]string{"main.tf": `terraform { required_version = var.x }`}, "", ""},
		{"broken file skipped", map[string]string{"a.tf": `terraform {`, "b.tf": `terraform { required_version = "1.2.3" }`}, "1.2.3", "b.tf required_version"},
		{"second block", map[string]string{"main.tf": "terraform {\n}\nterraform {\n required_version = \"v1.3.0\"\n}\n"}, "1.3.0", "main.tf required_version"},
		{"terraform-version wins", map[string]string{".terraform-version": "# pin\n1.4.6\n", "main.tf": `terraform { required_version = "1.2.3" }`}, "1.4.6", ".terraform-version"},
		{"terraform-version keyword", map[string]string{".terraform-version": "latest:^1.5\n", "main.tf": `terraform { required_version = "1.2.3" }`}, "1.2.3", "main.tf required_version"},
		{"tf.json ignored", map[string]string{"main.tf.json": `{"terraform": {"required_version": "1.2.3"}}`}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				writeFile(t, filepath.Join(dir, n), c)
			}
			v, src, err := PinnedVersion(dir)
			if err != nil || v != tc.version || src != tc.source {
				t.Fatalf("got %q %q %v, want %q %q", v, src, err, tc.version, tc.source)
			}
		})
	}
}

func FuzzRequiredVersion(f *testing.F) {
	for _, s := range []string{`terraform { required_version = "1.2.3" }`, `terraform {`, `terraform { required_version = [1] }`, "terraform {\n required_version = \"= v1.0.0-rc1\"\n}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		v, ok := requiredVersion(hclparse.NewParser(), []byte(src), "fuzz.tf")
		if ok && !exactVersion().MatchString(v) {
			t.Fatalf("returned %q, not an exact version", v)
		}
	})
}
