// Package recovery decides whether a terraform run died of expired
// credentials and, if so, puts the state back: it backs up errored.tfstate,
// proves the stale lock is this run's own, pushes the state while that lock
// still fences it, releases the lock, verifies and reports. Every step is
// journaled first, so a killed tf finishes the job on its next start.
// It never imports credguard; the wrapper drives both.
package recovery
