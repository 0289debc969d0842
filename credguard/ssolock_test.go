package credguard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// newcomer L7: tf's lock on an SSO cache file lives in tf's own state
// directory: a refresh leaves nothing of tf's in ~/.aws/sso/cache, and the
// lock file an earlier tf left there is removed when nobody holds it.
func TestSSORefreshLeavesNothingInTheSSOCache(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	e.seed(8*time.Hour, -time.Minute)
	old := e.cacheFile() + ".tfguard.lock"
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Preflight(context.Background(), e.opts); err != nil {
		t.Fatal(err)
	}
	if e.f.Calls(fakeaws.OpCreateTokenRefresh) != 1 {
		t.Fatalf("calls %v", e.f.CallCounts())
	}
	entries, err := os.ReadDir(filepath.Dir(e.cacheFile()))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range entries {
		if !strings.HasSuffix(d.Name(), ".json") {
			t.Errorf("left in the SSO cache directory: %s", d.Name())
		}
	}
	if _, err := os.Stat(ssoLockPath(e.opts, e.cacheFile())); err != nil || !strings.HasPrefix(ssoLockPath(e.opts, e.cacheFile()), e.opts.StateDir) {
		t.Errorf("lock %s not in tf's state directory: %v", ssoLockPath(e.opts, e.cacheFile()), err)
	}

	// An earlier tf that still holds its lock keeps it.
	held := flock.New(old)
	if ok, err := held.TryLock(); err != nil || !ok {
		t.Fatal(err)
	}
	defer held.Unlock()
	unlock, err := lockCache(context.Background(), ssoLockPath(e.opts, e.cacheFile()), e.cacheFile())
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a held lock file was removed: %v", err)
	}
}
