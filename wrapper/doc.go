// Package wrapper finds the real terraform, runs it exactly as the user's
// shell would (same arguments, terminal, signals and exit code) and, for the
// guarded commands, drives the credential guard before the run and recovery
// after it. It is the only package that imports both credguard and recovery.
package wrapper
