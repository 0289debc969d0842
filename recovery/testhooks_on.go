//go:build tfguard_testhooks

package recovery

import (
	"os"
	"time"

	"github.com/tfguard/tf/envlist"
)

// Test hooks, compiled only with -tags tfguard_testhooks (the e2e tests
// build tf that way). Release builds ignore the variables below entirely.

// EnvTestKillAt: when set to a step name, tf SIGKILLs itself right after
// journaling that step as begun, so tests can prove that the next tf
// converges.
const EnvTestKillAt = "TFGUARD_TEST_KILL_AT"

// EnvTestNoObserve: when set, the lock watcher reads nothing, so tests can
// produce a run for which tf holds no evidence of its own lock.
const EnvTestNoObserve = "TFGUARD_TEST_NO_OBSERVE"

// EnvTestPauseAt: when set to a step name, tf waits 3 s right after
// journaling that step as begun (tests send signals then).
const EnvTestPauseAt = "TFGUARD_TEST_PAUSE_AT"

// EnvTestHost: the host name tf writes in its owner records, so that one
// machine can play another (e2e: a run on "machine A", its lock met by a
// tf on "machine B").
const EnvTestHost = "TFGUARD_TEST_HOST"

func testHost(env []string) string { return envlist.Get(env, EnvTestHost) }

func testHookAt(env []string, step string) {
	if envlist.Get(env, EnvTestPauseAt) == step {
		time.Sleep(3 * time.Second)
	}
	if envlist.Get(env, EnvTestKillAt) != step {
		return
	}
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = p.Kill()
	}
	select {}
}

func testNoObserve(env []string) bool { return envlist.Get(env, EnvTestNoObserve) != "" }

// IsTestVariable says whether name is one of the test hooks above (the
// wrapper must not reject them as unknown configuration).
func IsTestVariable(name string) bool {
	return name == EnvTestKillAt || name == EnvTestNoObserve || name == EnvTestPauseAt || name == EnvTestHost
}
