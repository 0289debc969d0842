// Package tfargs reads terraform's command-line arguments the way terraform
// reads them, and writes them back for printing.
//
// Parse is the one reader: the global options before the subcommand
// (-chdir=DIR), the subcommand's words, its options as Go's flag package
// reads them (-var x=1, -var=x=1, --var, options until the first word or
// "--") and the positional words after them (a saved plan). Command answers
// the questions tf asks of a command line: Name, Subcommand, SavedPlan,
// TakesLock (-lock=false), LockWaits (-lock-timeout), LockOperation, Vars
// and VarNames.
//
// For printing: Redact hides every -var value, Quote quotes one word for a
// POSIX shell, CommandLine is a whole command as a person can run it
// (quoted, without -var).
//
// tfargs imports nothing of tf's own packages and no regexp.
package tfargs
