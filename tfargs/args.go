package tfargs

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Role is what one argument is to terraform.
type Role int

// Roles, in the order they appear on a command line.
const (
	// Global is an option before the subcommand (-chdir=DIR, -version, -help).
	Global Role = iota
	// Subcommand is one of the subcommand's words (apply; state, push).
	Subcommand
	// Option is one of the subcommand's options, with its value.
	Option
	// EndOfOptions is "--": every argument after it is a positional one.
	EndOfOptions
	// Positional is a word after the options (a saved plan file, an address).
	Positional
)

// Arg is one of terraform's arguments as it was typed: an option with its
// value (one word, or two when the value is the next word), or a word.
type Arg struct {
	Role Role
	// Name is an option's name without its dashes ("var", "lock"); "" for
	// a word.
	Name string
	// Value is an option's value ("" when none was given: a boolean option
	// on its own); a word's text for every other role.
	Value string
	// HasValue says whether an option was given a value.
	HasValue bool
	// Raw are the words as typed.
	Raw []string
}

// Command is terraform's command line, read the way terraform reads it:
// main.go takes the global options before the subcommand (only -chdir=DIR
// carries a value, and only with "="), and each subcommand parses its
// options with Go's flag package: "-name" or "--name", "-name=value" or
// "-name value" for an option that takes a value (a boolean option takes
// only "-name=value"), options until the first word that is not one, or
// until "--".
type Command struct {
	// Args are all the arguments, in order; their Raw words, joined, are
	// the command line given to Parse.
	Args []Arg
	// Chdir is the value of the last global -chdir=DIR, "" when none.
	Chdir string
	// Words are the subcommand's words: ["plan"], ["state", "push"], or nil
	// when there is no subcommand (`terraform -version`). Only state's
	// second word is read: it is the one nested command tf guards.
	Words []string
}

// takesValue says whether terraform's option name takes a value, so that
// "-name value" is one option of two words. These are the string, integer,
// duration and list options of the commands that take the state lock or
// write state (internal/command/arguments); every other option is a
// boolean.
func takesValue(name string) bool {
	switch name {
	case "var", "var-file", "target", "replace", "invoke", "lock-timeout", "parallelism",
		"state", "state-out", "backup", "backup-out", "out", "generate-config-out", "config", "policies":
		return true
	}
	return false
}

// Parse reads args (terraform's arguments, without argv[0]). It never
// fails: what terraform would refuse is read as far as it goes.
func Parse(args []string) Command {
	var c Command
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		name, val, has := strings.Cut(args[i][1:], "=")
		c.Args = append(c.Args, Arg{Role: Global, Name: name, Value: val, HasValue: has, Raw: args[i : i+1 : i+1]})
		if name == "chdir" && has {
			c.Chdir = val
		}
	}
	if i == len(args) {
		return c
	}
	c.Words = []string{args[i]}
	if args[i] == "state" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
		c.Words = append(c.Words, args[i+1])
	}
	for _, w := range c.Words {
		c.Args = append(c.Args, Arg{Role: Subcommand, Value: w, Raw: args[i : i+1 : i+1]})
		i++
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			c.Args = append(c.Args, Arg{Role: EndOfOptions, Value: a, Raw: args[i : i+1 : i+1]})
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, val, has := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		arg := Arg{Role: Option, Name: name, Value: val, HasValue: has, Raw: args[i : i+1 : i+1]}
		if !has && takesValue(name) && i+1 < len(args) {
			arg.Value, arg.HasValue, arg.Raw = args[i+1], true, args[i:i+2:i+2]
			i++
		}
		c.Args = append(c.Args, arg)
	}
	for ; i < len(args); i++ {
		c.Args = append(c.Args, Arg{Role: Positional, Value: args[i], Raw: args[i : i+1 : i+1]})
	}
	return c
}

// Subcommand is the subcommand's words joined by a space ("state push"),
// "" when there is none.
func (c Command) Subcommand() string { return strings.Join(c.Words, " ") }

// Name is the subcommand's first word ("state" for state push), "" when
// there is no subcommand.
func (c Command) Name() string {
	if len(c.Words) == 0 {
		return ""
	}
	return c.Words[0]
}

// Positional are the words after the subcommand's options.
func (c Command) Positional() []string {
	var out []string
	for _, a := range c.Args {
		if a.Role == Positional {
			out = append(out, a.Value)
		}
	}
	return out
}

// SavedPlan is the plan file of `apply PLANFILE` (the first word after
// apply's options), "" for any other command.
func (c Command) SavedPlan() string {
	if p := c.Positional(); c.Name() == "apply" && len(p) > 0 {
		return p[0]
	}
	return ""
}

// Values are the values given to the subcommand's option name, in order
// (an option left without its value is not one).
func (c Command) Values(name string) []string {
	var out []string
	for _, a := range c.Args {
		if a.Role == Option && a.Name == name && a.HasValue {
			out = append(out, a.Value)
		}
	}
	return out
}

// Bool is the subcommand's boolean option name as terraform reads it: the
// last one given wins, "-name" alone is true, and a value is read by
// strconv.ParseBool (as Go's flag package does). def when it is not given
// or its value is not a boolean (terraform refuses the command then).
func (c Command) Bool(name string, def bool) bool {
	v := def
	for _, a := range c.Args {
		if a.Role != Option || a.Name != name {
			continue
		}
		if !a.HasValue {
			v = true
			continue
		}
		if b, err := strconv.ParseBool(a.Value); err == nil {
			v = b
		}
	}
	return v
}

// TakesLock says whether terraform takes the state lock for this command,
// as far as its arguments say: unless -lock=false is given.
func (c Command) TakesLock() bool { return c.Bool("lock", true) }

// LockWaits says whether terraform may wait for another run's lock: a
// -lock-timeout other than zero (one terraform cannot read counts as a
// wait: tf assumes the less certain case).
func (c Command) LockWaits() bool {
	ts := c.Values("lock-timeout")
	if len(ts) == 0 {
		return false
	}
	d, err := time.ParseDuration(ts[len(ts)-1])
	return err != nil || d != 0
}

// LockOperation is the Operation terraform records in its lock record for
// this command, "" for the commands that record none of these.
func (c Command) LockOperation() string {
	if len(c.Words) == 0 {
		return ""
	}
	switch c.Words[0] {
	case "apply", "destroy":
		return "OperationTypeApply"
	case "plan":
		return "OperationTypePlan"
	case "refresh":
		return "OperationTypeRefresh"
	}
	return ""
}

// Var is one -var or -var-file option, in command-line order.
type Var struct {
	Name, Value string // -var NAME=VALUE
	File        string // -var-file FILE
}

// Vars are the -var and -var-file options in the order given (the order
// decides which value wins). A -var without "=" is left out: terraform
// refuses it.
func (c Command) Vars() []Var {
	var out []Var
	for _, a := range c.Args {
		if a.Role != Option {
			continue
		}
		switch a.Name {
		case "var-file":
			out = append(out, Var{File: a.Value})
		case "var":
			if k, v, ok := strings.Cut(a.Value, "="); ok {
				out = append(out, Var{Name: strings.TrimSpace(k), Value: v})
			}
		}
	}
	return out
}

// VarNames are the names given with -var, never their values.
func (c Command) VarNames() []string {
	var out []string
	for _, a := range c.Args {
		if a.Role == Option && a.Name == "var" {
			if k, _, ok := strings.Cut(a.Value, "="); ok {
				out = append(out, k)
			}
		}
	}
	return out
}

// Words are the arguments' words as typed.
func Words(args []Arg) []string {
	var out []string
	for _, a := range args {
		out = append(out, a.Raw...)
	}
	return out
}

// Redact is args with the value of every -var replaced by "..." (`-var
// k=...`, `-var=k=...`), so that they can be kept and printed; everything
// else is kept as given, and args itself is not changed. It reads word by
// word rather than by Parse: a value is hidden wherever it stands, also
// where terraform would not read it as an option.
func Redact(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		flag, kv, joined := strings.Cut(a, "=")
		if flag != "-var" && flag != "--var" {
			continue
		}
		if !joined {
			if i+1 < len(out) {
				if k, _, ok := strings.Cut(out[i+1], "="); ok {
					out[i+1] = k + "=..."
				}
			}
			continue
		}
		if k, _, ok := strings.Cut(kv, "="); ok {
			out[i] = flag + "=" + k + "=..."
		}
	}
	return out
}

// CommandLine is tool with args as a person can run it: shell-quoted, and
// without any -var (tf never keeps their values; the caller says which
// names to give again).
func CommandLine(tool string, args []string) string {
	var keep []string
	for _, a := range Parse(args).Args {
		if a.Role == Option && a.Name == "var" {
			continue
		}
		for _, w := range a.Raw {
			keep = append(keep, Quote(w))
		}
	}
	return strings.TrimSpace(tool + " " + strings.Join(keep, " "))
}
