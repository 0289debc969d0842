package tfargs

import (
	"fmt"
	"strings"

	"github.com/mattn/go-shellwords"
)

// EnvName is the variable terraform reads for command's own extra
// arguments: TF_CLI_ARGS_ and the command's words joined by "_", with every
// "-" made "_" ("state push" reads TF_CLI_ARGS_state_push, force-unlock
// TF_CLI_ARGS_force_unlock), as terraform's main.go builds it.
func EnvName(command string) string {
	return "TF_CLI_ARGS_" + strings.NewReplacer("-", "_", " ", "_").Replace(command)
}

// MergeEnv returns the arguments terraform runs with: args (tf's command
// line, the command words included) with TF_CLI_ARGS and then
// EnvName(command) put right after the command's last word, each split
// with shell quoting by the same library and settings as terraform's
// main.go (mergeEnvArgs): the command's own variable comes first, then
// TF_CLI_ARGS, then the rest of the command line. The error is a value
// terraform refuses to split (terraform stops on it). lookup reads one
// variable of the run's environment.
func MergeEnv(lookup func(string) string, command string, args []string) ([]string, error) {
	var err error
	args, err = mergeEnvArgs(lookup("TF_CLI_ARGS"), "TF_CLI_ARGS", command, args)
	if err != nil {
		return args, err
	}
	if command != "" {
		name := EnvName(command)
		args, err = mergeEnvArgs(lookup(name), name, command, args)
	}
	return args, err
}

// WithEnv is MergeEnv for the command args name. On a value terraform
// cannot split it returns args unchanged: terraform stops before it runs.
func WithEnv(lookup func(string) string, args []string) []string {
	out, err := MergeEnv(lookup, Parse(args).Subcommand(), args)
	if err != nil {
		return args
	}
	return out
}

// mergeEnvArgs inserts the words of value after the first argument that is
// the command's last word (at the start when there is none).
func mergeEnvArgs(value, name, command string, args []string) ([]string, error) {
	if value == "" {
		return args, nil
	}
	p := shellwords.NewParser()
	p.ParseEnv, p.ParseBacktick = false, false
	extra, err := p.Parse(value)
	if err != nil {
		return args, fmt.Errorf("%s cannot be split into arguments (%v): terraform stops on it", name, err)
	}
	search := command
	if i := strings.LastIndex(search, " "); i >= 0 {
		search = search[i+1:]
	}
	at := 0
	for i, a := range args {
		if a == search {
			at = i + 1
			break
		}
	}
	out := make([]string, 0, len(args)+len(extra))
	out = append(out, args[:at]...)
	out = append(out, extra...)
	return append(out, args[at:]...), nil
}
