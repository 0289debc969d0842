// Package tfargs reads terraform's command-line arguments and writes them
// back for printing: shell quoting for the commands tf prints.
package tfargs
