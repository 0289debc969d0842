package credguard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/gofrs/flock"
)

// cachedToken is the part of an SSO cache file credguard reads; the file's
// other fields are kept untouched on rewrite.
type cachedToken struct {
	StartURL              string
	Region                string
	AccessToken           string
	ExpiresAt             time.Time
	RefreshToken          string
	ClientID              string
	ClientSecret          string
	RegistrationExpiresAt time.Time
	raw                   map[string]json.RawMessage
}

func (t cachedToken) canRefresh(now time.Time) bool {
	return t.RefreshToken != "" && t.ClientID != "" && t.ClientSecret != "" &&
		(t.RegistrationExpiresAt.IsZero() || now.Before(t.RegistrationExpiresAt))
}

func readCache(path string) (cachedToken, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return cachedToken{}, fmt.Errorf("read sso cache: %w", err)
	}
	return parseCache(b)
}

func parseCache(b []byte) (cachedToken, error) {
	var t cachedToken
	if err := json.Unmarshal(b, &t.raw); err != nil {
		return t, fmt.Errorf("sso cache is not JSON: %w", err)
	}
	str := func(k string) string {
		var s string
		if v, ok := t.raw[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	tm := func(k string) (time.Time, error) {
		s := str(k)
		if s == "" {
			return time.Time{}, nil
		}
		return time.Parse(time.RFC3339, s)
	}
	t.StartURL, t.Region, t.AccessToken = str("startUrl"), str("region"), str("accessToken")
	t.RefreshToken, t.ClientID, t.ClientSecret = str("refreshToken"), str("clientId"), str("clientSecret")
	var err error
	if t.ExpiresAt, err = tm("expiresAt"); err != nil {
		return t, fmt.Errorf("sso cache expiresAt: %w", err)
	}
	if t.RegistrationExpiresAt, err = tm("registrationExpiresAt"); err != nil {
		return t, fmt.Errorf("sso cache registrationExpiresAt: %w", err)
	}
	if t.AccessToken == "" || t.ExpiresAt.IsZero() {
		return t, errors.New("sso cache has no access token or expiry")
	}
	return t, nil
}

// encode writes the known fields over the raw ones, keeping the rest.
func (t cachedToken) encode() ([]byte, error) {
	m := map[string]any{}
	for k, v := range t.raw {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("startUrl", t.StartURL)
	set("region", t.Region)
	set("accessToken", t.AccessToken)
	set("expiresAt", t.ExpiresAt.UTC().Format(time.RFC3339))
	set("refreshToken", t.RefreshToken)
	set("clientId", t.ClientID)
	set("clientSecret", t.ClientSecret)
	if !t.RegistrationExpiresAt.IsZero() {
		m["registrationExpiresAt"] = t.RegistrationExpiresAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(m)
}

// writeFileAtomic replaces path with data: temp file in the same directory,
// mode 0600, synced, renamed over.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tfguard-*.tmp")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync temp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// ssoLockPath is the lock file of the SSO cache file path: in tf's own
// state directory (shared by every tf of the user), so that nothing of tf's
// is left in ~/.aws/sso/cache; beside the cache only when there is no such
// directory.
func ssoLockPath(o Options, path string) string {
	d, err := o.stateDir()
	if err != nil {
		return path + legacyLockSuffix
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return filepath.Join(d, "locks", "sso-"+hashName(abs)+".lock")
}

// legacyLockSuffix named the lock file earlier tf versions kept beside
// the SSO cache file.
const legacyLockSuffix = ".tfguard.lock"

// lockCache takes an exclusive lock on lockPath for the SSO cache file
// path, shared by every tf process (the SDK does not lock; see
// docs/credguard.md). It waits at most lockWait: the holder keeps it across
// one bounded call at most, so a longer wait means something is wrong, and
// this tf goes on without it. An earlier tf's lock file beside the cache
// is removed when nobody holds it.
func lockCache(ctx context.Context, lockPath, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(lockPath), err)
	}
	fl := flock.New(lockPath)
	wctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	ok, err := fl.TryLockContext(wctx, 20*time.Millisecond)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("lock sso cache: another tf has held %s for %s; not waiting longer", lockPath, lockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("lock sso cache: %w", err)
	}
	if !ok {
		return nil, errors.New("lock sso cache: not acquired")
	}
	if lockPath != path+legacyLockSuffix {
		removeIdleLock(path + legacyLockSuffix)
	}
	return func() { _ = fl.Unlock() }, nil
}

// removeIdleLock deletes a lock file nobody holds (an earlier tf's).
func removeIdleLock(p string) {
	if _, err := os.Stat(p); err != nil {
		return
	}
	old := flock.New(p)
	if ok, err := old.TryLock(); err != nil || !ok {
		return
	}
	_ = os.Remove(p)
	_ = old.Unlock()
}

// fingerprint identifies one login's tokens without keeping them: a hash
// of the refresh token (which a login replaces and tf follows through its
// own refreshes), or of the access token where there is none (legacy).
func (t cachedToken) fingerprint() string {
	src := t.RefreshToken
	if src == "" {
		src = t.AccessToken
	}
	if src == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:16])
}

// cacheFingerprint is the fingerprint of the cache file at path, "" when
// there is no usable one.
func cacheFingerprint(path string) string {
	t, err := readCache(path)
	if err != nil {
		return ""
	}
	return t.fingerprint()
}

// createTokenAPI is the one SSO-OIDC call the refresh needs.
type createTokenAPI interface {
	CreateToken(ctx context.Context, in *ssooidc.CreateTokenInput, optFns ...func(*ssooidc.Options)) (*ssooidc.CreateTokenOutput, error)
}

// refreshCache renews the access token in path unless it still has more
// than ahead left. Under the lock it re-reads the file, so of two processes
// refreshing at once the second sees the first's token and skips. A
// CreateToken once sent is finished and its answer written even when ctx
// is cancelled (terraform exited, Ctrl-C): the service may already have
// rotated the refresh token, and dropping the answer would lose the
// session. That part has its own deadline, callTimeout. rotated, when not
// nil, is called under the lock with the old and the new token.
func refreshCache(ctx context.Context, lockPath, path string, api createTokenAPI, now func() time.Time, ahead time.Duration, rotated func(old, new cachedToken)) (tok cachedToken, refreshed bool, err error) {
	unlock, err := lockCache(ctx, lockPath, path)
	if err != nil {
		return tok, false, err
	}
	defer unlock()
	tok, err = readCache(path)
	if err != nil {
		return tok, false, err
	}
	if tok.ExpiresAt.Sub(now()) > ahead {
		return tok, false, nil
	}
	if !tok.canRefresh(now()) {
		return tok, false, errors.New("the cached token has no usable refresh token or client registration")
	}
	if err := ctx.Err(); err != nil {
		return tok, false, err // not sent: nothing to finish
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	out, err := api.CreateToken(cctx, &ssooidc.CreateTokenInput{
		ClientId:     aws.String(tok.ClientID),
		ClientSecret: aws.String(tok.ClientSecret),
		RefreshToken: aws.String(tok.RefreshToken),
		GrantType:    aws.String("refresh_token"),
	})
	if err != nil {
		return tok, false, fmt.Errorf("refresh sso token: %w", err)
	}
	old := tok
	tok.AccessToken = aws.ToString(out.AccessToken)
	tok.ExpiresAt = now().Add(time.Duration(out.ExpiresIn) * time.Second)
	if rt := aws.ToString(out.RefreshToken); rt != "" {
		tok.RefreshToken = rt
	}
	b, err := tok.encode()
	if err != nil {
		return tok, false, fmt.Errorf("encode sso cache: %w", err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return tok, false, err
	}
	if rotated != nil {
		rotated(old, tok)
	}
	return tok, true, nil
}

// refreshSSO refreshes the cached token of the SSO credential c (see
// refreshCache) through an SSO-OIDC client built from the SDK's
// configuration, and carries tf's login record over to the new token.
func refreshSSO(ctx context.Context, o Options, c Credential, ahead time.Duration) (cachedToken, bool, error) {
	api, err := oidcClient(ctx, o, c.SSORegion)
	if err != nil {
		return cachedToken{}, false, err
	}
	return refreshCache(ctx, ssoLockPath(o, c.CachePath), c.CachePath, api, o.now, ahead, func(old, new cachedToken) {
		carryLogin(o, c.SSOSession, old.fingerprint(), new.fingerprint())
	})
}
