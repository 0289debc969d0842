// Package recovery decides whether a terraform run died of expired
// credentials and, if so, puts the state back: it backs up errored.tfstate,
// proves the stale lock is this run's own, pushes the state while that lock
// still fences it, releases the lock, verifies and reports. Every step is
// journaled first, so a killed tf finishes the job on its next start.
// It never imports credguard or wrapper; the wrapper drives both.
//
// The wrapper calls:
//
//	Pending(workDir, env)                 // in Startup: one stat
//	Resume(ctx, run)                      // when Pending: before anything else
//	StartWatch(...)                       // before a run that may lock: evidence for later
//	Recover(ctx, run)                     // in Guard.After when terraform exited non-zero
//	RecoverCommand(ctx, run, CommandOptions{...}) // `tf guard recover`
//	RecoveryRoot, StepNames, IsTestVariable // where recoveries live, the steps' names, test hooks
//
// and maps Outcome.Kind to an exit code: NeedsPerson is
// wrapper.ExitRecoveryIncomplete; every other kind keeps terraform's code.
//
// Data flows one way (docs/architecture.md has the map):
//
//	recover.go / resume.go / command.go   entry points: triage, survey
//	proof.go                              the rules, pure functions of the journal's evidence
//	steps.go + step_*.go                  the steps, one table, each returning its note or its stop
//	reads.go                              every read of the backend and of tf's backup
//	sequence.go                           runs the table, records each step, ends in an outcome
//	next.go                               every "what to run next"
//	outcome.go, report.go                 how an outcome is printed and whether report.json is written
//	journal.go, recoverydir.go, fsync.go  the durable record and its directory
//
// terraform's human text is read only in package tfout; terraform's
// arguments only in package tfargs.
package recovery
