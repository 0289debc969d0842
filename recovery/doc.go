// Package recovery decides whether a terraform run died of expired
// credentials and, if so, puts the state back: it backs up errored.tfstate,
// proves the stale lock is this run's own, pushes the state while that lock
// still fences it, releases the lock, verifies and reports. Every step is
// journaled first, so a killed tf finishes the job on its next start.
// It never imports credguard or wrapper; the wrapper drives both.
//
// The wrapper calls:
//
//	Pending(workDir)                      // in Startup: one stat
//	Resume(ctx, run)                      // when Pending: before anything else
//	Recover(ctx, run)                     // in Guard.After when terraform exited non-zero
//	RecoverCommand(ctx, run, CommandOptions{...}) // `tf guard recover`
//
// and maps Outcome.Kind to an exit code: NeedsPerson is
// wrapper.ExitRecoveryIncomplete; every other kind keeps terraform's code.
// terraform's human text is read only in package tfout.
package recovery
