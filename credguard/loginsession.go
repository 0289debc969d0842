package credguard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KindLoginSession is a login_session profile: credentials from `aws login`
// (console credentials), which the SDK renews with the cached refresh token
// after they expire, until the login session itself ends.
const KindLoginSession Kind = "login-session"

// EnvLoginCacheDir moves the `aws login` token cache (the SDK reads it).
const EnvLoginCacheDir = "AWS_LOGIN_CACHE_DIRECTORY"

// loginSessionMaxLife is the longest an `aws login` session lasts; its own
// end is recorded nowhere, so tf can only say it is at most this.
const loginSessionMaxLife = 12 * time.Hour

// loginCachePath is where the SDK keeps the token of login session name:
// <AWS_LOGIN_CACHE_DIRECTORY or ~/.aws/login/cache>/<sha256 hex>.json.
func loginCachePath(o Options, name string) string {
	dir := o.getenv(EnvLoginCacheDir)
	if dir == "" {
		dir = filepath.Join(o.home(), ".aws", "login", "cache")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(name)))
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".json")
}

// loginToken is the part of an `aws login` cache file tf reads.
type loginToken struct {
	AccessToken *struct {
		AccessKeyID string    `json:"accessKeyId"`
		ExpiresAt   time.Time `json:"expiresAt"`
	} `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ClientID     string `json:"clientId"`
	DPOPKey      string `json:"dpopKey"`
}

func readLoginToken(path string) (loginToken, error) {
	var t loginToken
	b, err := os.ReadFile(path)
	if err != nil {
		return t, fmt.Errorf("read login cache: %w", err)
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("login cache is not JSON: %w", err)
	}
	if t.AccessToken == nil || t.AccessToken.AccessKeyID == "" || t.AccessToken.ExpiresAt.IsZero() {
		return t, errors.New("login cache has no credentials or expiry")
	}
	return t, nil
}

// describeLoginSession fills c for profile's login_session name from the
// SDK's cache: when the cached credentials expire and whether the SDK can
// renew them (a refresh token, client id and DPoP key are there).
func describeLoginSession(o Options, c Credential, name string) Credential {
	c.Kind, c.SSOSession, c.CachePath, c.Expires = KindLoginSession, name, loginCachePath(o, name), true
	t, err := readLoginToken(c.CachePath)
	if err != nil {
		c.Notes = append(c.Notes, "no usable `aws login` credentials in the cache: log in first")
		return c
	}
	c.ValidUntil = t.AccessToken.ExpiresAt
	c.Refreshable = t.RefreshToken != "" && t.ClientID != "" && t.DPOPKey != ""
	if c.Refreshable {
		c.Notes = append(c.Notes, fmt.Sprintf("the SDK renews these credentials while the login session lasts; its end is not recorded (at most %s after `aws login`)", human(loginSessionMaxLife)))
	} else {
		c.Notes = append(c.Notes, "the cached login has no refresh token: the credentials end at their expiry")
	}
	return c
}

// evaluateLoginSession judges a login_session credential. tf does not
// renew these itself (the SDK does, with a signed request only it makes).
func evaluateLoginSession(o Options, e Entry, required time.Duration) Entry {
	now := o.now()
	hint := "`aws login --profile " + e.Profile + "`"
	left := e.ValidUntil.Sub(now)
	switch {
	case e.ValidUntil.IsZero():
		e.Lasts, e.LastsKnown = 0, true
		e.Verdict, e.Detail = VerdictShort, "there are no cached `aws login` credentials (not logged in); log in ("+hint+") and rerun"
	case !e.Refreshable && left < required:
		e.Lasts, e.LastsKnown = left, true
		end := "end in " + human(left)
		if left <= 0 {
			end = "have expired"
		}
		e.Verdict, e.Detail = VerdictShort, "the `aws login` credentials cannot be renewed and "+end+"; log in again ("+hint+") and rerun"
	case !e.Refreshable:
		e.Verdict, e.Detail = VerdictOK, "credentials valid until "+e.ValidUntil.UTC().Format("15:04:05 UTC")
	default:
		e.Verdict = VerdictOK
		e.Detail = fmt.Sprintf("credentials valid until %s, renewed by the SDK; the login session's end is unknown (at most %s after `aws login`; %s starts a new one)",
			e.ValidUntil.UTC().Format("15:04:05 UTC"), human(loginSessionMaxLife), hint)
	}
	return e
}
