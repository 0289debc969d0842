package credguard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// A login record carries the session length in force at the login, which
// a repository's .tfguard may have raised (review F5, the test from
// shared/reviews/2026-12-02/credguard/tests). A later run, with the user's
// own 8h, must judge the session by the shorter of the two: the login was
// 7h55m ago, the real session ends in 5 minutes, so a CI apply (15m) is
// refused as in TestPreflightSessionEndingTooSoonInCI.
func TestLoginRecordSessionLengthNeverOutlivesUserSetting(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=deploy")
	e.seed(5*time.Minute, time.Hour)
	inRepo := e.opts
	inRepo.Config.SessionLength = 72 * time.Hour // from the untrusted .tfguard
	if err := RecordLogin(inRepo, "corp", time.Now().Add(-8*time.Hour+5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	o := e.opts // the user's own settings, another run
	o.CI = true
	_, err := Preflight(context.Background(), o)
	var se *ShortError
	if !errors.As(err, &se) {
		t.Fatalf("CI run let through although the SSO session ends in 5m (the record carries the repository's 72h): err=%v", err)
	}
}
