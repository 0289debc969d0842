package wrapper

// Exit codes of tf itself. Whenever terraform ran, its own exit code wins
// (0, 1, 2 for plan -detailed-exitcode, 128+n when a signal n killed it);
// these are used only when tf did not run terraform or a person must act.
const (
	// ExitUsage: `tf guard ...` was called with bad arguments.
	ExitUsage = 64
	// ExitPreflight: the credential guard refused to start a guarded command
	// whose credentials will not last the run; terraform was not started and
	// no lock was taken.
	ExitPreflight = 75
	// ExitRecoveryIncomplete: a run died of expired credentials and recovery
	// could not finish by itself; the state is secured in a backup and tf
	// printed the exact commands that finish the job.
	ExitRecoveryIncomplete = 76
	// ExitStoppedInTime: tf interrupted terraform once, on purpose, because
	// its credentials could not be renewed past a known end (or the
	// configured deadline came) before the run could finish; terraform
	// stopped and reported no failure to save the state or release the
	// lock. The report says which planned changes were made and which not.
	// See docs/stop-in-time.md.
	ExitStoppedInTime = 79
	// ExitConfig: tf's own configuration is invalid (file, line and key are named).
	ExitConfig = 125
	// ExitNotExecutable: a terraform binary was found but could not be started.
	ExitNotExecutable = 126
	// ExitNotFound: no terraform binary was found; the message lists where tf looked.
	ExitNotFound = 127
)
