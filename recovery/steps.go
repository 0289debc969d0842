package recovery

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

// StepNames lists the recovery steps in order.
func StepNames() []string {
	return []string{StepSecure, StepCredentials, StepProve, StepPush, StepVerify, StepUnlock, StepClose}
}
