package wrapper

import (
	"path/filepath"

	"github.com/tfguard/tf/tfargs"
)

// GuardWord is the reserved first argument for tf's own commands
// (`tf guard doctor`); terraform has no such subcommand.
const GuardWord = "guard"

// Command is what tf understands of terraform's command line; it never
// changes the arguments themselves.
type Command struct {
	// Words are the subcommand words: ["plan"], ["state", "push"], or nil
	// when there is no subcommand (`terraform`, `terraform -version`).
	Words []string
	// Chdir is the value of the global -chdir=DIR option, "" when absent.
	Chdir string
	// Guarded reports whether the credential guard and recovery apply.
	Guarded bool
}

// GuardedCommands are the commands that take the state lock or write state,
// the ones tf guards.
func GuardedCommands() []string {
	return []string{"apply", "destroy", "import", "refresh", "plan", "taint", "untaint", "force-unlock",
		"state push", "state rm", "state mv", "state replace-provider"}
}

// isGuarded reports whether the command takes the state lock or writes state.
func isGuarded(words string) bool {
	for _, g := range GuardedCommands() {
		if words == g {
			return true
		}
	}
	return false
}

// ParseCommand reads terraform's arguments (without argv[0]) with
// tfargs.Parse: global options come before the subcommand, and only
// -chdir=DIR matters to tf.
func ParseCommand(args []string) Command {
	p := tfargs.Parse(args)
	c := Command{Words: p.Words, Chdir: p.Chdir}
	if len(c.Words) > 0 {
		c.Guarded = isGuarded(p.Subcommand())
	}
	return c
}

// WorkDir is the directory terraform will work in: cwd, or -chdir relative to it.
func (c Command) WorkDir(cwd string) string {
	if c.Chdir == "" {
		return cwd
	}
	if filepath.IsAbs(c.Chdir) {
		return filepath.Clean(c.Chdir)
	}
	return filepath.Join(cwd, c.Chdir)
}
