//go:build !tfguard_testhooks

package recovery

func testHookAt([]string, string) {}

func testNoObserve([]string) bool { return false }

func testHost([]string) string { return "" }

// IsTestVariable is always false in release builds: a TFGUARD_TEST_*
// variable is then an unknown setting like any other.
func IsTestVariable(string) bool { return false }
