package recovery

import "context"

// Step names, in order. They are also the values the test hook
// TFGUARD_TEST_KILL_AT accepts (builds with the tfguard_testhooks tag).
const (
	StepSecure      = "secure"
	StepCredentials = "credentials"
	StepProve       = "prove"
	StepPush        = "push"
	StepVerify      = "verify"
	StepUnlock      = "unlock"
	StepClose       = "close"
)

// step is one recovery step: it re-checks the world, acts, and returns the
// sentence the journal records for it (note) or why it stopped. Steps
// return their results; none writes a shared "note".
type step struct {
	name string
	run  func(s *pass, ctx context.Context) (note string, stop *stepStop)
	// redo: run again even when an earlier pass finished it (it only
	// reads, or finishing it twice is harmless).
	redo bool
}

// stepTable is the one list of steps, in order: secure, credentials,
// prove, push, verify, unlock, close (the fence goes last). StepNames and
// the sequencer both read it.
func stepTable() []step {
	return []step{
		{StepSecure, (*pass).secure, false},
		{StepCredentials, (*pass).credentials, true},
		{StepProve, (*pass).prove, false},
		{StepPush, (*pass).push, false},
		{StepVerify, (*pass).verify, true},
		{StepUnlock, (*pass).unlock, true},
		{StepClose, (*pass).close, true},
	}
}

// StepNames lists the recovery steps in order.
func StepNames() []string {
	var names []string
	for _, st := range stepTable() {
		names = append(names, st.name)
	}
	return names
}
