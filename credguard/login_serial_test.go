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

// newcomer L11: parallel tf runs at one terminal (terragrunt run-all)
// whose SSO session is over ask the person once. A tf that finds another
// tf logging in to the same session waits for it and, when that login
// succeeded, asks nobody again; when it failed, logs in itself.
func TestParallelLoginsOfOneSessionAskOnce(t *testing.T) {
	for _, otherSucceeds := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e := newEnv(t, fakeaws.Options{LoginSessionLife: 8 * time.Hour, LoginTokenLife: time.Hour}, "AWS_PROFILE=sso")
		e.seed(8*time.Hour, time.Hour)
		o := e.opts
		o.Interactive = true
		// The other tf holds the login lock of session corp.
		other := flock.New(filepath.Join(o.StateDir, "locks", "login-"+hashName("corp")+".lock"))
		if err := os.MkdirAll(filepath.Dir(other.Path()), 0o700); err != nil {
			t.Fatal(err)
		}
		if ok, err := other.TryLock(); err != nil || !ok {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- Login(ctx, o, "") }()
		for !strings.Contains(e.out.String(), "another tf is logging in to https://corp.awsapps.com/start; waiting for it") {
			if ctx.Err() != nil {
				t.Fatalf("no wait said:\n%s", e.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		approved := make(<-chan string)
		if otherSucceeds {
			e.seed(8*time.Hour, time.Hour) // the other tf's login: a new cache, and its record
			if err := RecordLogin(e.opts, "corp", time.Now()); err != nil {
				t.Fatal(err)
			}
		} else {
			approved = approveWhenAsked(ctx, e.f)
		}
		_ = other.Unlock()
		if err := <-done; err != nil {
			t.Fatalf("other succeeds %v: %v\n%s", otherSucceeds, err, e.out.String())
		}
		asked := e.f.CallsBy(fakeaws.OpStartDeviceAuthorization, fakeaws.CallerTF)
		if otherSucceeds && asked != 0 {
			t.Errorf("the other tf logged in, and this one asked again (%d device logins)", asked)
		}
		if !otherSucceeds {
			<-approved
			if asked != 1 {
				t.Errorf("the other tf's login failed; this one asked %d times, want 1", asked)
			}
		}
		e.assertNoSecrets(e.out.String())
	}
}
