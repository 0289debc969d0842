package wrapper

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/tfguard/tf/envlist"
)

// Process is everything Main takes from the operating system.
type Process struct {
	Args    []string // os.Args: argv[0] then terraform's arguments
	Environ []string // os.Environ()
	Stdin   *os.File
	Stdout  *os.File
	Stderr  *os.File
	Version string // tf's version, stamped at release

	Hooks Hooks            // the guard and recovery (ProductHooks); zero value: no-ops
	Now   func() time.Time // nil: time.Now
}

func (p Process) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p Process) getenv(key string) string { return envlist.Get(p.Environ, key) }

// Main runs tf and returns its exit code; main.go passes it to os.Exit.
// Only for guarded commands does tf stay in between: every other command
// replaces the tf process with terraform (on unix).
func Main(p Process) int {
	ctx := context.Background()
	hooks := p.Hooks.withDefaults()
	var args []string
	if len(p.Args) > 1 {
		args = p.Args[1:]
	}
	if chdir, rest, ok := guardArgs(args); ok {
		return runGuardCommand(ctx, p, hooks, rest, chdir)
	}
	inv, err := newInvocation(ctx, p, args)
	if err != nil {
		return fail(p.Stderr, err)
	}
	if code, stop := hooks.Startup.Startup(ctx, inv); stop {
		return code
	}
	if helpGetsGuardLine(p.Args) {
		return runHelp(p, inv) // terraform's help, then one line on tf guard
	}
	if !inv.Command.Guarded {
		// Only returns when terraform could not be started.
		return fail(p.Stderr, execTerraform(p, inv))
	}
	return runGuarded(ctx, p, hooks, inv)
}

// guardArgs recognises tf's own commands: `guard ARGS...`, also after
// terraform's global -chdir=DIR (the last one wins, as in terraform). It
// returns the directory ("" for none) and the arguments after `guard`.
func guardArgs(args []string) (chdir string, rest []string, ok bool) {
	for i, a := range args {
		if a == GuardWord {
			return chdir, args[i+1:], true
		}
		v, isChdir := strings.CutPrefix(a, "-chdir=")
		if !isChdir {
			return "", nil, false
		}
		chdir = v
	}
	return "", nil, false
}

// fail prints err once, prefixed with "tf: ", and returns its exit code.
func fail(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(w, "tf: %s\n", msg)
	}
	return exitCodeOf(err)
}

// newInvocation loads the configuration and finds terraform for args.
func newInvocation(ctx context.Context, p Process, args []string) (*Invocation, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("cannot read the working directory: %w", err)
	}
	cmd := ParseCommand(args)
	wd := cmd.WorkDir(cwd)
	cfg, err := LoadConfig(p.Environ, ConfigFiles{
		User:    UserConfigPath(p.getenv),
		WorkDir: filepath.Join(wd, WorkDirConfigName),
	})
	if err != nil {
		return nil, err
	}
	for _, m := range cfg.Untrusted {
		fmt.Fprintf(p.Stderr, "tf: %s\n", m)
	}
	if len(p.Args) > 0 {
		cfg = FlavorFromName(cfg, p.Args[0])
	}
	self := selfExecutable()
	chain := chainOf(p.Environ)
	cache, _ := os.UserCacheDir()
	if cache != "" {
		cache = filepath.Join(cache, "tf")
	}
	ci := detectCI(cfg.CI, p.Environ)
	// Waits (installing a pinned terraform) show one updating line at a
	// terminal, plain lines in CI or a log.
	live := !ci && p.Stderr != nil && term.IsTerminal(int(fdOf(p.Stderr)))
	finder := Finder{
		Config:    cfg,
		PathEnv:   p.getenv("PATH"),
		Self:      self,
		Chain:     chain,
		WorkDir:   wd,
		CacheDir:  cache,
		Installer: ReleasesInstaller{},
	}
	if p.Stderr != nil {
		finder.Installer = ReleasesInstaller{Progress: newProgress(p.Stderr, live, p.Now)}
	}
	tf, err := finder.Find(ctx)
	if err != nil {
		return nil, err
	}
	return &Invocation{
		Args:        args,
		Command:     cmd,
		Cwd:         cwd,
		WorkDir:     wd,
		Terraform:   tf,
		Env:         ChildEnv(p.Environ, self),
		Interactive: p.Stdin != nil && term.IsTerminal(int(fdOf(p.Stdin))) && !ci,
		CI:          ci,
		Config:      cfg,
		Stderr:      p.Stderr,
	}, nil
}

// selfExecutable is this tf's binary with symlinks resolved, "" if unknown.
func selfExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		return r
	}
	return exe
}

func chainOf(environ []string) []string {
	v, _ := envlist.Lookup(environ, EnvChain)
	var out []string
	for _, p := range filepath.SplitList(v) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ChildEnv is terraform's environment: the user's, unchanged, with self
// appended to TFGUARD_CHAIN. Nothing else is added (no TF_IN_AUTOMATION).
func ChildEnv(environ []string, self string) []string {
	out := make([]string, 0, len(environ)+1)
	chain := chainOf(environ)
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); k == EnvChain {
			continue
		}
		out = append(out, kv)
	}
	if self != "" {
		chain = append(chain, self)
	}
	if len(chain) > 0 {
		out = append(out, EnvChain+"="+strings.Join(chain, string(os.PathListSeparator)))
	}
	return out
}

// detectCI: setting "true"/"false" decides; "auto" looks at CI and GITHUB_ACTIONS.
func detectCI(setting string, environ []string) bool {
	switch setting {
	case CITrue:
		return true
	case CIFalse:
		return false
	}
	if v, ok := envlist.Lookup(environ, "GITHUB_ACTIONS"); ok && v == "true" {
		return true
	}
	v, ok := envlist.Lookup(environ, "CI")
	return ok && v != "" && v != "false" && v != "0"
}

// fdOf returns f's descriptor without switching it to blocking mode (which
// f.Fd() does, and which terraform would then inherit).
func fdOf(f *os.File) uintptr {
	sc, err := f.SyscallConn()
	if err != nil {
		return f.Fd()
	}
	var fd uintptr
	if err := sc.Control(func(d uintptr) { fd = d }); err != nil {
		return f.Fd()
	}
	return fd
}

// FlavorFromName lets the name tf was run as choose the flavor when no
// setting does: tf linked as `tofu` runs OpenTofu, linked as `terraform` runs
// terraform, so a link never runs the other tool on a state. Any other name
// (`tf`, or a shell alias, which tf cannot see) keeps the default.
func FlavorFromName(cfg Config, argv0 string) Config {
	if cfg.Sources["flavor"].Kind != "default" {
		return cfg // TFGUARD_FLAVOR or a file says otherwise
	}
	name := strings.TrimSuffix(strings.ToLower(filepath.Base(argv0)), ".exe")
	if name != FlavorTofu && name != FlavorTerraform {
		return cfg
	}
	sources := make(map[string]Source, len(cfg.Sources))
	for k, v := range cfg.Sources {
		sources[k] = v
	}
	sources["flavor"] = Source{Kind: "name", Name: name}
	cfg.Flavor, cfg.Sources = name, sources
	return cfg
}
