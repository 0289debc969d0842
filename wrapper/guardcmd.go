package wrapper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tfguard/tf/envlist"
)

// Session is what `tf guard` subcommands work with: the process, and the
// configuration and terraform for the current directory (or why not).
type Session struct {
	Process   Process
	Cwd       string
	Config    Config
	ConfigErr error // non-nil: Config holds the defaults only
	Terraform Terraform
	FindErr   error
	Self      string
	Chain     []string
}

const sessionKey = "tfguard.session"

// SessionFrom returns the Session of a `tf guard` subcommand's context.
func SessionFrom(c *cli.Context) *Session {
	s, _ := c.App.Metadata[sessionKey].(*Session)
	return s
}

// GuardCommands are the built-in `tf guard` subcommands; Hooks.Commands are
// appended after them (and `help` is added by urfave/cli).
func GuardCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "version",
			Usage: "print tf's own version (`terraform version` prints terraform's)",
			Action: func(c *cli.Context) error {
				s := SessionFrom(c)
				fmt.Fprintf(c.App.Writer, "tf %s (%s, %s/%s)\n", s.version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			},
		},
		{
			Name:   "doctor",
			Usage:  "show which terraform tf runs, how it was found, and every setting with where it came from",
			Action: doctor,
		},
		trustCommand(),
	}
}

// newSession loads the configuration and finds terraform for the current
// directory, or for chdir (terraform's -chdir=DIR) when it is not "".
func newSession(ctx context.Context, p Process, chdir string) *Session {
	s := &Session{Process: p, Self: selfExecutable(), Chain: chainOf(p.Environ)}
	cwd, _ := os.Getwd()
	var args []string
	if chdir != "" {
		args = []string{"-chdir=" + chdir}
	}
	s.Cwd = ParseCommand(args).WorkDir(cwd)
	inv, err := newInvocation(ctx, p, args)
	switch {
	case err == nil:
		s.Config, s.Terraform = inv.Config, inv.Terraform
	case errors.As(err, new(*ConfigError)):
		s.ConfigErr = err
		s.Config, _ = LoadConfig(nil, ConfigFiles{})
	default:
		s.FindErr = err
		s.Config, s.ConfigErr = LoadConfig(p.Environ, ConfigFiles{
			User: UserConfigPath(p.getenv), WorkDir: filepath.Join(s.Cwd, WorkDirConfigName)})
		if s.ConfigErr == nil {
			s.Config = FlavorFromName(s.Config, s.runAs())
		}
	}
	return s
}

// runAs is the name tf was started as (argv[0] without its directory).
func (s *Session) runAs() string {
	if len(s.Process.Args) == 0 {
		return "tf"
	}
	return filepath.Base(s.Process.Args[0])
}

// runGuardCommand runs `tf guard ARGS...` with urfave/cli, which sees only
// these arguments and never exits the process itself.
func runGuardCommand(ctx context.Context, p Process, hooks Hooks, args []string, chdir string) int {
	if chdir != "" {
		if st, err := os.Stat(chdir); err != nil || !st.IsDir() {
			fmt.Fprintf(p.Stderr, "tf: -chdir=%s: not a directory; give an existing directory, or cd into it and run `tf guard %s`\n",
				chdir, strings.Join(args, " "))
			return ExitUsage
		}
	}
	usageErr := false
	app := &cli.App{
		Name:        "tf guard",
		HelpName:    "tf guard",
		Usage:       "tf's own commands (everything else goes to terraform unchanged)",
		Description: "tf runs terraform and guards it against expiring AWS credentials. Configuration: TFGUARD_* variables > ./.tfguard > " + displayUserConfig(p) + ".",
		Writer:      p.Stdout,
		ErrWriter:   p.Stderr,
		HideVersion: true,
		Commands:    append(append(GuardCommands(), hooks.Commands...), helpCommand()),
		// urfave/cli's own help command prints its help in another layout
		// (`tf guard help help`); helpCommand replaces it.
		HideHelpCommand: true,
		Flags:           []cli.Flag{cli.HelpFlag}, // urfave/cli adds it only with its own help command
		Metadata:        map[string]interface{}{sessionKey: newSession(ctx, p, chdir)},
		// Never os.Exit from inside the library: errors come back from RunContext.
		ExitErrHandler: func(*cli.Context, error) {},
		CommandNotFound: func(c *cli.Context, name string) {
			usageErr = true
			fmt.Fprintf(p.Stderr, "tf: %q is not a tf guard command; see `tf guard help`\n", name)
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cli.Exit(fmt.Sprintf("tf guard: %v; see `tf guard help`", err), ExitUsage)
		},
	}
	for _, cmd := range app.Commands {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error {
				return cli.Exit(fmt.Sprintf("tf guard %s: %v; see `tf guard help %s`", c.Command.Name, err, c.Command.Name), ExitUsage)
			}
		}
	}
	err := app.RunContext(ctx, append([]string{"tf guard"}, args...))
	if err != nil {
		var ce cli.ExitCoder
		if errors.As(err, &ce) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(p.Stderr, msg)
			}
			return ce.ExitCode()
		}
		return fail(p.Stderr, err)
	}
	if usageErr {
		return ExitUsage
	}
	return 0
}

func displayUserConfig(p Process) string {
	if u := UserConfigPath(p.getenv); u != "" {
		return u
	}
	return "the user config file"
}

func doctor(c *cli.Context) error {
	s := SessionFrom(c)
	w := c.App.Writer
	fmt.Fprintf(w, "tf:            %s (%s, %s/%s)\n", s.version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "tf binary:     %s\n", orNone(s.Self))
	if len(s.Chain) > 0 {
		fmt.Fprintf(w, "started by tf: %s (%s)\n", strings.Join(s.Chain, ", "), EnvChain)
	}
	fmt.Fprintf(w, "working dir:   %s\n", s.Cwd)
	fmt.Fprintf(w, "mode:          %s\n", runMode(s.Config.CI, s.Process.Environ, s.Process.Stdin != nil && term.IsTerminal(int(fdOf(s.Process.Stdin)))))
	exit := 0
	switch {
	case s.ConfigErr != nil:
		fmt.Fprintf(w, "terraform:     unknown: the configuration is invalid\n")
		exit = ExitConfig
	case s.FindErr != nil:
		fmt.Fprintf(w, "terraform:     not found\n")
		exit = exitCodeOf(s.FindErr)
	default:
		fmt.Fprintf(w, "terraform:     %s\n", s.Terraform.Path)
		how := s.Terraform.How
		if s.Terraform.Detail != "" && s.Terraform.Detail != how {
			how += " (" + s.Terraform.Detail + ")"
		}
		fmt.Fprintf(w, "found via:     %s\n", how)
		fmt.Fprintf(w, "flavor:        %s\n", flavorReason(s.Terraform, s.Config, s.runAs()))
		fmt.Fprintf(w, "version:       %s\n", terraformVersion(c.Context, s.Cwd, s.Terraform, s.Process.Environ))
	}
	fmt.Fprintf(w, "config files:\n")
	for _, f := range []struct{ name, path string }{
		{"user", UserConfigPath(s.Process.getenv)},
		{"working dir", filepath.Join(s.Cwd, WorkDirConfigName)},
	} {
		state := "absent"
		if _, err := os.Stat(f.path); err == nil {
			state = "present"
		}
		fmt.Fprintf(w, "  %-12s %s (%s)\n", f.name+":", f.path, state)
	}
	fmt.Fprintf(w, "configuration (env %s* > working dir file > user file > default):\n", EnvPrefix)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, k := range ConfigKeys() {
		v := s.Config.Value(k)
		if v == "" {
			v = `""`
		}
		fmt.Fprintf(tw, "  %s\t= %s\t%s\n", k, v, s.Config.Sources[k])
	}
	tw.Flush()
	if s.ConfigErr != nil {
		return cli.Exit("tf: "+s.ConfigErr.Error(), exit)
	}
	if s.FindErr != nil {
		return cli.Exit("tf: "+s.FindErr.Error(), exit)
	}
	return nil
}

// terraformVersion is terraform's version as terraform-exec reads it, run
// with the user's environment plus TFGUARD_CHAIN.
func terraformVersion(ctx context.Context, dir string, t Terraform, environ []string) string {
	v, err := toolVersion(ctx, dir, t.Path, t.Flavor, ChildEnv(environ, selfExecutable()))
	if err != nil {
		return fmt.Sprintf("unknown (%s version: %v)", filepath.Base(t.Path), err)
	}
	return v
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// flavorReason says which tool tf runs and why, for doctor.
func flavorReason(t Terraform, c Config, runAs string) string {
	src := c.Sources["flavor"]
	switch {
	case t.How == FoundConfig:
		return fmt.Sprintf("%s (the terraform setting, %s, names the binary)", t.Flavor, t.Detail)
	case src.Kind == "name":
		return fmt.Sprintf("%s (tf was run as %s; %s=%s or flavor = %s in a config file runs the other one)",
			t.Flavor, src.Name, EnvName("flavor"), otherFlavor(t.Flavor), otherFlavor(t.Flavor))
	case src.Kind == "default":
		return fmt.Sprintf("%s (the default: tf was run as %s; link it as tofu, or set %s=tofu, to run OpenTofu)",
			t.Flavor, runAs, EnvName("flavor"))
	default:
		return fmt.Sprintf("%s (flavor from %s)", t.Flavor, src)
	}
}

func otherFlavor(f string) string {
	if f == FlavorTofu {
		return FlavorTerraform
	}
	return FlavorTofu
}

// version is tf's version: the one stamped at release, else what the Go
// toolchain recorded in the binary.
func (s *Session) version() string {
	bi, _ := debug.ReadBuildInfo()
	return VersionOf(s.Process.Version, bi)
}

// VersionOf is tf's version from the value stamped at release with -ldflags
// (ignored when empty or "dev") and the binary's build information: the
// module version a `go install github.com/tfguard/tf@v1.2.3` build carries,
// else "dev" with the commit (and "-modified" for uncommitted changes) when
// the build recorded one.
func VersionOf(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	if bi == nil {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			modified = kv.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		return "dev-" + rev + "-modified"
	}
	return "dev-" + rev
}

// helpCommand is `tf guard help [command]`, listed and formatted like the
// other commands.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Aliases:   []string{"h"},
		Usage:     "show the list of commands, or help for one command",
		ArgsUsage: "[command]",
		Action: func(c *cli.Context) error {
			name := c.Args().First()
			if name == "" {
				return cli.ShowAppHelp(c)
			}
			if c.App.Command(name) == nil {
				return cli.Exit(fmt.Sprintf("tf guard help: %q is not a tf guard command; see `tf guard help`", name), ExitUsage)
			}
			// The parent's context lists tf guard's commands (this one's
			// lists only its own help).
			for _, ctx := range c.Lineage()[1:] {
				if ctx.Command != nil {
					return cli.ShowCommandHelp(ctx, name)
				}
			}
			return cli.ShowAppHelp(c)
		},
	}
}

// ciReason is detectCI with its reason: the setting, or the variable that
// made tf think it runs in CI (or that none did).
func ciReason(setting string, environ []string) (bool, string) {
	switch setting {
	case CITrue:
		return true, "ci = true"
	case CIFalse:
		return false, "ci = false"
	}
	if v, ok := envlist.Lookup(environ, "GITHUB_ACTIONS"); ok && v == "true" {
		return true, "GITHUB_ACTIONS=true"
	}
	if v, ok := envlist.Lookup(environ, "CI"); ok && v != "" && v != "false" && v != "0" {
		return true, "CI=" + v
	}
	return false, "no CI or GITHUB_ACTIONS variable"
}

// runMode says, for doctor, whether tf thinks it runs in CI or at a
// terminal, and why: what decides whether it may ask a person (to log in,
// to use a profile) or refuses instead.
func runMode(setting string, environ []string, stdinTTY bool) string {
	ci, why := ciReason(setting, environ)
	switch {
	case ci:
		return "CI (" + why + "): tf never asks; a run whose credentials will not last is refused (exit 75)"
	case stdinTTY:
		return "terminal (" + why + "; stdin is a terminal): tf may ask you to log in again, or to use AWS_PROFILE instead of short exported keys"
	default:
		return "no terminal (" + why + "; stdin is not a terminal): tf never asks; a run whose credentials will not last is refused (exit 75)"
	}
}

// sessionInvocation is the Invocation a guard subcommand works with: the
// current directory's configuration and terraform.
func sessionInvocation(c *cli.Context) (*Invocation, error) {
	s := SessionFrom(c)
	if s.ConfigErr != nil {
		return nil, cli.Exit("tf: "+s.ConfigErr.Error(), ExitConfig)
	}
	if s.FindErr != nil {
		return nil, cli.Exit("tf: "+s.FindErr.Error(), exitCodeOf(s.FindErr))
	}
	p := s.Process
	ci := detectCI(s.Config.CI, p.Environ)
	return &Invocation{
		Cwd:         s.Cwd,
		WorkDir:     s.Cwd,
		Terraform:   s.Terraform,
		Env:         ChildEnv(p.Environ, s.Self),
		Interactive: p.Stdin != nil && term.IsTerminal(int(fdOf(p.Stdin))) && !ci,
		CI:          ci,
		Config:      s.Config,
		Stderr:      p.Stderr,
	}, nil
}

// exitWith turns a non-zero code into urfave/cli's exit error (no message:
// the command printed its own).
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return cli.Exit("", code)
}
