package credguard

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// loginRecord is what tf remembers about a login it performed: the
// session's own end is recorded nowhere else.
type loginRecord struct {
	Key           string        `json:"key"` // sso-session name or start URL
	LoginAt       time.Time     `json:"login_at"`
	SessionLength time.Duration `json:"session_length"`
	// Fingerprint identifies the tokens that login put in the SSO cache
	// (see cachedToken.fingerprint); tf's own refreshes carry it over. A
	// cache that no longer matches was replaced by a newer login (`aws sso
	// login`, another tool): the record then says nothing about it.
	Fingerprint string `json:"cache_fingerprint,omitempty"`
}

func hashName(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func loginPath(o Options, key string) (string, error) {
	d, err := o.stateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "logins", hashName(key)+".json"), nil
}

// loadLogin is tf's record of the login behind the SSO cache of key, if
// the cache still holds that login's tokens.
func loadLogin(o Options, key string) (loginRecord, bool) {
	r, ok := readLoginRecord(o, key)
	if !ok || r.Fingerprint == "" || r.Fingerprint != cacheFingerprint(cachePath(o.home(), key)) {
		return loginRecord{}, false
	}
	return r, true
}

func readLoginRecord(o Options, key string) (loginRecord, bool) {
	p, err := loginPath(o, key)
	if err != nil {
		return loginRecord{}, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return loginRecord{}, false
	}
	var r loginRecord
	if json.Unmarshal(b, &r) != nil || r.LoginAt.IsZero() || r.Key != key {
		return loginRecord{}, false
	}
	// The record's length can only shorten the session this run assumes:
	// it may come from a login in a directory whose .tfguard said more, and
	// the run's own setting is the user's word now.
	if cur := o.Config.withDefaults().SessionLength; r.SessionLength <= 0 || r.SessionLength > cur {
		r.SessionLength = cur
	}
	return r, true
}

// RecordLogin remembers that the session key (an sso-session name, or the
// start URL of a legacy profile) was logged in at loginAt, so its end is
// known; `tf guard login` calls it, and so can a test standing in for a
// person's earlier login. The record holds for the tokens now in the SSO
// cache of key (and those tf refreshes from them), not for a later login.
func RecordLogin(o Options, key string, loginAt time.Time) error {
	p, err := loginPath(o, key)
	if err != nil {
		return fmt.Errorf("find tf state dir: %w", err)
	}
	b, _ := json.Marshal(loginRecord{Key: key, LoginAt: loginAt.UTC(), SessionLength: o.Config.withDefaults().SessionLength,
		Fingerprint: cacheFingerprint(cachePath(o.home(), key))})
	return writeFileAtomic(p, b)
}

// carryLogin moves the record of key from the tokens tf just replaced by
// a refresh (oldFP) to the new ones; a record of another login is left.
func carryLogin(o Options, key, oldFP, newFP string) {
	r, ok := readLoginRecord(o, key)
	if !ok || oldFP == "" || r.Fingerprint != oldFP {
		return
	}
	r.Fingerprint = newFP
	if p, err := loginPath(o, key); err == nil {
		b, _ := json.Marshal(r)
		_ = writeFileAtomic(p, b)
	}
}

// keepDurations is how many earlier runs of a command the history keeps.
const keepDurations = 10

func durationsDir(o Options) (string, error) {
	d, err := o.stateDir()
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "durations", hashName(dir+"\x00"+o.workspace())), nil
}

func durationsPath(o Options, command string) (string, error) {
	d, err := durationsDir(o)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, strings.ReplaceAll(command, " ", "-")+".json"), nil
}

// RecordDuration remembers how long terraform worked in a run of command in
// this working directory and workspace (the wrapper calls it after each
// successful guarded run, with the time at prompts left out). Concurrent
// runs are serialised by a file lock beside the history, so none is lost.
func RecordDuration(o Options, command string, d time.Duration) error {
	p, err := durationsPath(o, command)
	if err != nil {
		return fmt.Errorf("find tf state dir: %w", err)
	}
	return updateLocked(p, func() []byte {
		list := append(loadDurations(o, command), d)
		if len(list) > keepDurations {
			list = list[len(list)-keepDurations:]
		}
		b, _ := json.Marshal(list)
		return b
	})
}

// updateLocked rewrites the record file p with what update returns, under
// a file lock beside it, so that concurrent runs lose none of each other's
// entries (update reads the file as it is under the lock).
func updateLocked(p string, update func() []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
	}
	lock := flock.New(p + ".lock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := lock.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil || !ok {
		return fmt.Errorf("lock %s: %w", p+".lock", errors.Join(err, ctx.Err()))
	}
	defer lock.Unlock()
	return writeFileAtomic(p, update())
}

// ResetHistory forgets the recorded run lengths of every command in this
// working directory and workspace (`tf guard check --reset-history`).
func ResetHistory(o Options) (string, error) {
	d, err := durationsDir(o)
	if err != nil {
		return "", fmt.Errorf("find tf state dir: %w", err)
	}
	if err := os.RemoveAll(d); err != nil {
		return d, fmt.Errorf("remove %s: %w", d, err)
	}
	return d, nil
}

func loadDurations(o Options, command string) []time.Duration {
	p, err := durationsPath(o, command)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var list []time.Duration
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	return list
}

// expectedDuration is the second-longest of the recent runs (the only one
// when there is one): a long apply is the one that matters, but one run
// that waited (a lunch break at a prompt tf could not see, a slow lock) must
// not decide every later run.
func expectedDuration(list []time.Duration) time.Duration {
	if len(list) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), list...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 1 {
		return s[0]
	}
	return s[len(s)-2]
}
