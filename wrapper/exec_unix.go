//go:build unix

package wrapper

import (
	"syscall"
)

// execCommand builds the argv and environment that replace tf with
// terraform; kept apart from execTerraform so tests can check it.
func execCommand(inv *Invocation) (path string, argv, env []string) {
	return inv.Terraform.Path, append([]string{inv.Terraform.Path}, inv.Args...), inv.Env
}

// execTerraform replaces this process with terraform: same pid, same process
// group, terminal, signals and exit status, and no tf left running. It
// returns only if the exec failed.
func execTerraform(_ Process, inv *Invocation) error {
	path, argv, env := execCommand(inv)
	return &ExecError{Path: path, Err: syscall.Exec(path, argv, env)}
}
