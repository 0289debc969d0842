package wrapper

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// helpGetsGuardLine: tf, run under its own name (not linked or aliased
// as terraform or tofu, where terraform's help stays byte for byte
// terraform's), is asked for terraform's help.
func helpGetsGuardLine(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	switch strings.TrimSuffix(strings.ToLower(filepath.Base(argv[0])), ".exe") {
	case FlavorTerraform, FlavorTofu:
		return false
	}
	return isTopLevelHelp(argv[1:])
}

// isTopLevelHelp: the command line asks for terraform's own help: -help,
// -h or --help before any subcommand (after -chdir at most), or nothing at
// all (terraform then prints its help and exits 127).
func isTopLevelHelp(args []string) bool {
	help := len(args) == 0
	for _, a := range args {
		switch {
		case a == "-help" || a == "-h" || a == "--help":
			help = true
		case strings.HasPrefix(a, "-chdir="):
		default:
			return false
		}
	}
	return help
}

// runHelp runs terraform's help as a child, then adds one line saying
// where tf's own commands are, and returns terraform's exit code.
func runHelp(p Process, inv *Invocation) int {
	cmd := exec.Command(inv.Terraform.Path, inv.Args...)
	cmd.Env = inv.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if code = ee.ExitCode(); code < 0 {
			return 1 // killed by a signal: no line after it
		}
	default:
		return fail(p.Stderr, &ExecError{Path: inv.Terraform.Path, Err: err})
	}
	fmt.Fprintln(p.Stdout, guardHelpLine(p.Args))
	return code
}

// guardHelpLine is the one line added to terraform's help, with the name
// tf was run as.
func guardHelpLine(argv []string) string {
	name := "tf"
	if len(argv) > 0 {
		name = strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	}
	return fmt.Sprintf("\nRun through tf, which guards terraform against expiring AWS credentials: `%s %s help` lists tf's own commands.", name, GuardWord)
}
