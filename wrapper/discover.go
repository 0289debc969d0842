package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// How the real terraform was found.
const (
	FoundConfig    = "configured"
	FoundPath      = "PATH"
	FoundCached    = "pinned version, cached"
	FoundInstalled = "pinned version, installed"
)

// Terraform is the binary tf runs.
type Terraform struct {
	Path    string // absolute path
	How     string // FoundConfig, FoundPath, FoundCached or FoundInstalled
	Detail  string // e.g. "env TFGUARD_TERRAFORM", "/home/u/.config/tf/config:3", ".terraform-version"
	Flavor  string // FlavorTerraform or FlavorTofu
	Version string // the pinned version when How is FoundCached or FoundInstalled
}

// NotFoundError lists every place tf looked for terraform.
type NotFoundError struct {
	Name   string
	Looked []string
	Hint   string
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot find the real %s; looked at:", e.Name)
	for _, l := range e.Looked {
		b.WriteString("\n  - " + l)
	}
	if e.Hint != "" {
		b.WriteString("\n" + e.Hint)
	}
	return b.String()
}

// ExitCode is ExitNotFound.
func (e *NotFoundError) ExitCode() int { return ExitNotFound }

// Installer installs an exact terraform version into dir and returns the
// binary's path.
type Installer interface {
	Install(ctx context.Context, version, dir string) (string, error)
}

// Finder finds the real terraform; see Find for the order.
type Finder struct {
	Config    Config
	PathEnv   string    // the PATH to search
	Self      string    // this tf's resolved executable; skipped wherever found
	Chain     []string  // executables of the tf processes that started this one (TFGUARD_CHAIN); skipped too
	WorkDir   string    // terraform's working directory, for version pins
	CacheDir  string    // root of tf's cache; pinned versions go in <CacheDir>/terraform/<version>/
	Installer Installer // nil: never install
}

// Find returns, in this order: the configured `terraform` (path or bare name
// on PATH); the first `terraform` (`tofu` for flavor tofu) on PATH that is not
// a tf in the chain; the exactly pinned version from .terraform-version or
// required_version, from the cache or installed into it (install = auto).
func (f Finder) Find(ctx context.Context) (Terraform, error) {
	name := f.Config.Flavor
	if name == "" {
		name = FlavorTerraform
	}
	if f.Config.Terraform != "" {
		return f.configured()
	}
	var looked []string
	if p, ok := f.searchPath(name, &looked); ok {
		return Terraform{Path: p, How: FoundPath, Detail: "PATH", Flavor: name}, nil
	}
	version, pinSrc, err := PinnedVersion(f.WorkDir)
	if err != nil {
		looked = append(looked, fmt.Sprintf("version pin in %s: %v", f.WorkDir, err))
	}
	hint := fmt.Sprintf("Install %s, put it on PATH, or set its path with %s=/path/to/%s (or `terraform = ...` in %s).",
		name, EnvName("terraform"), name, WorkDirConfigName)
	if version == "" {
		looked = append(looked, fmt.Sprintf("exact version pin (.terraform-version or required_version = \"x.y.z\") in %s: none", f.WorkDir))
		return Terraform{}, &NotFoundError{Name: name, Looked: looked, Hint: hint}
	}
	if f.CacheDir == "" {
		looked = append(looked, "user cache directory: unknown")
		return Terraform{}, &NotFoundError{Name: name, Looked: looked, Hint: hint}
	}
	dir := filepath.Join(f.CacheDir, "terraform", version)
	cached := filepath.Join(dir, exeName(name))
	if isExecutable(cached) {
		return Terraform{Path: cached, How: FoundCached, Detail: pinSrc, Flavor: name, Version: version}, nil
	}
	looked = append(looked, fmt.Sprintf("%s (version %s pinned by %s): not installed", cached, version, pinSrc))
	switch {
	case f.Config.Install == InstallNever:
		looked = append(looked, "installing it: off (install = never)")
	case name != FlavorTerraform:
		looked = append(looked, "installing it: only terraform can be installed, not "+name)
	case f.Installer == nil:
		looked = append(looked, "installing it: no installer")
	default:
		p, err := f.Installer.Install(ctx, version, dir)
		if err == nil {
			return Terraform{Path: p, How: FoundInstalled, Detail: pinSrc, Flavor: name, Version: version}, nil
		}
		looked = append(looked, fmt.Sprintf("installing %s %s into %s: %v", name, version, dir, err))
	}
	return Terraform{}, &NotFoundError{Name: name, Looked: looked, Hint: hint}
}

func (f Finder) configured() (Terraform, error) {
	v := f.Config.Terraform
	src := f.Config.Sources["terraform"].String()
	t := Terraform{How: FoundConfig, Detail: src, Flavor: f.Config.Flavor}
	if !strings.ContainsRune(v, '/') && !strings.ContainsRune(v, filepath.Separator) {
		var looked []string
		if p, ok := f.searchPath(v, &looked); ok {
			t.Path = p
			return t, nil
		}
		return Terraform{}, &NotFoundError{Name: v, Looked: append([]string{"terraform = " + v + " (from " + src + ")"}, looked...),
			Hint: "Fix the terraform setting (" + src + ") or put " + v + " on PATH."}
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		abs = v
	}
	why := ""
	switch {
	case !isExecutable(abs):
		why = "not an executable file"
	case f.isSelf(abs):
		why = "that is tf itself, not terraform"
	}
	if why != "" {
		return Terraform{}, &NotFoundError{Name: "terraform", Looked: []string{fmt.Sprintf("%s (from %s): %s", abs, src, why)},
			Hint: "Point the terraform setting (" + src + ") at the real terraform binary."}
	}
	t.Path = abs
	return t, nil
}

// searchPath returns the first executable named name on PATH that is not a tf
// in the chain, noting each place it looked.
func (f Finder) searchPath(name string, looked *[]string) (string, bool) {
	dirs := filepath.SplitList(f.PathEnv)
	if len(dirs) == 0 {
		*looked = append(*looked, "PATH: empty")
	}
	for _, d := range dirs {
		if d == "" || !filepath.IsAbs(d) {
			*looked = append(*looked, fmt.Sprintf("PATH entry %q: skipped (not an absolute directory)", d))
			continue
		}
		p := filepath.Join(d, exeName(name))
		switch {
		case !isExecutable(p):
			*looked = append(*looked, p+": not found")
		case f.isSelf(p):
			*looked = append(*looked, p+": skipped (that is tf)")
		default:
			return p, true
		}
	}
	return "", false
}

// isSelf reports whether p is the same file as this tf or any tf in the chain
// (a symlink or hard link to one is the same file).
func (f Finder) isSelf(p string) bool {
	st, err := os.Stat(p)
	if err != nil {
		return false
	}
	for _, s := range append([]string{f.Self}, f.Chain...) {
		if s == "" {
			continue
		}
		if other, err := os.Stat(s); err == nil && os.SameFile(st, other) {
			return true
		}
	}
	return false
}

func exeName(name string) string {
	if runtime.GOOS == "windows" && !strings.HasSuffix(strings.ToLower(name), ".exe") {
		return name + ".exe"
	}
	return name
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || st.Mode().Perm()&0o111 != 0
}

// exactVersion matches a pin of one exact version: "1.5.7", "=1.5.7", "v1.5.7", "1.6.0-beta1".
// Compiled on first use: package initialisation stays free of it
// (TestStartupInitAllocations).
var exactVersion = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*=?\s*v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)\s*$`)
})

// PinnedVersion returns the exact version dir pins and what pins it:
// .terraform-version first (its first non-comment line), else the first
// `required_version` in dir/*.tf (files in name order) that names exactly one
// version. Ranges (">= 1.5") and keywords ("latest") pin nothing. No pin: "".
func PinnedVersion(dir string) (version, source string, err error) {
	tv := filepath.Join(dir, ".terraform-version")
	data, rerr := os.ReadFile(tv)
	if rerr == nil {
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if m := exactVersion().FindStringSubmatch(line); m != nil {
				return m[1], ".terraform-version", nil
			}
			break
		}
	} else if !errors.Is(rerr, fs.ErrNotExist) {
		return "", "", fmt.Errorf("read %s: %w", tv, rerr)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return "", "", err
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			continue // terraform will report an unreadable file itself
		}
		v, ok := requiredVersion(p, src, file)
		if ok {
			return v, filepath.Base(file) + " required_version", nil
		}
	}
	return "", "", nil
}

func requiredVersion(p *hclparse.Parser, src []byte, name string) (string, bool) {
	f, diags := p.ParseHCL(src, name)
	if f == nil || diags.HasErrors() {
		return "", false
	}
	content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "terraform"}}})
	for _, b := range content.Blocks {
		inner, _, _ := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "required_version"}}})
		attr, ok := inner.Attributes["required_version"]
		if !ok {
			continue
		}
		val, d := attr.Expr.Value(nil)
		if d.HasErrors() || !val.IsKnown() || val.IsNull() || !val.Type().Equals(cty.String) {
			continue
		}
		if m := exactVersion().FindStringSubmatch(val.AsString()); m != nil {
			return m[1], true
		}
	}
	return "", false
}
