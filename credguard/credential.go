package credguard

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tfguard/tf/awsfiles"
)

// Kind is the kind of an AWS credential.
type Kind string

// Credential kinds.
const (
	KindSSOSession  Kind = "sso-session"  // sso-session profile: refreshable token, session ends
	KindLegacySSO   Kind = "legacy-sso"   // sso_start_url profile: token cannot be refreshed
	KindEnvSession  Kind = "env-session"  // AWS_ACCESS_KEY_ID + AWS_SESSION_TOKEN
	KindStatic      Kind = "static"       // long-term keys (env, profile or configuration)
	KindAssumeRole  Kind = "assume-role"  // role_arn + source_profile / credential_source
	KindWebIdentity Kind = "web-identity" // web_identity_token_file
	KindProcess     Kind = "process"      // credential_process
	KindUnknown     Kind = "unknown"      // container/IMDS or nothing found
	// KindLoginSession (login_session, `aws login`) is in loginsession.go.
)

// Credential is one AWS credential a guarded run will use.
type Credential struct {
	// Name identifies it: "profile dev", "env keys", "web identity".
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// UsedBy lists who uses it: "backend", `provider "aws" (main.tf:1)`,
	// "environment".
	UsedBy  []string `json:"used_by"`
	Profile string   `json:"profile,omitempty"`
	// SSO: session name (sso-session profiles), start URL, region, cache file.
	SSOSession string `json:"sso_session,omitempty"`
	StartURL   string `json:"start_url,omitempty"`
	SSORegion  string `json:"sso_region,omitempty"`
	CachePath  string `json:"cache_path,omitempty"`
	// ValidUntil is when the credential (or the SSO access token) stops
	// working; zero means it does not expire or is unknown (see Expires).
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Expires says whether ValidUntil is meaningful.
	Expires bool `json:"expires"`
	// Refreshable: tf (or the SDK) can renew it without a person.
	Refreshable bool `json:"refreshable"`
	// SessionEnds is when the SSO session itself ends, from the login time tf
	// recorded plus the configured session length; zero if unknown.
	SessionEnds time.Time `json:"session_ends,omitzero"`
	// RegistrationEnds is when the SSO client registration that refreshes
	// the token ends (registrationExpiresAt); zero if unknown.
	RegistrationEnds time.Time `json:"registration_ends,omitzero"`
	// RoleARN is the role assumed on top of the base credential, if any.
	RoleARN string `json:"role_arn,omitempty"`
	// TokenFile is a web identity credential's token file ("" for a token
	// given as a value); RoleDuration the role session asked for with it
	// (0: STS's default, 1h).
	TokenFile    string        `json:"token_file,omitempty"`
	RoleDuration time.Duration `json:"role_duration_ns,omitempty"`
	// GitHubToken: the web identity token was issued by GitHub Actions
	// (its iss claim); TokenAudience is its aud.
	GitHubToken   bool   `json:"token_from_github,omitempty"`
	TokenAudience string `json:"token_audience,omitempty"`
	// RenewedFrom: TokenFile is tf's copy of this file, which tf keeps
	// filled with fresh GitHub ID tokens while the job can request them
	// (TokenRenewer).
	RenewedFrom string `json:"renewed_from,omitempty"`
	// RenewableUntil: for a credential tf renews with GitHub ID tokens (a
	// renewed token file, tf's GitHub OIDC endpoint), when the job can no
	// longer request them; zero when that is not known.
	RenewableUntil time.Time `json:"renewable_until,omitzero"`
	// Source is the credential this one is made from (assume-role).
	Source *Credential `json:"source,omitempty"`
	// Notes say what was assumed or skipped.
	Notes []string `json:"notes,omitempty"`
	// Err says why the credential cannot work at all (a profile that does
	// not exist): terraform will fail with it too.
	Err string `json:"error,omitempty"`
}

// key identifies a credential for de-duplication.
func (c Credential) key() string { return string(c.Kind) + "|" + c.Name }

// lastsUntil is when the run can no longer get working credentials from c;
// zero means no known end.
func (c Credential) lastsUntil() time.Time {
	switch c.Kind {
	case KindSSOSession:
		// the access token is renewed until the session or the client
		// registration ends, whichever comes first
		end := c.SessionEnds
		if !c.RegistrationEnds.IsZero() && (end.IsZero() || c.RegistrationEnds.Before(end)) {
			end = c.RegistrationEnds
		}
		return end
	case KindAssumeRole:
		if c.Source != nil {
			return c.Source.lastsUntil()
		}
		return time.Time{}
	case KindWebIdentity:
		// The token's exp is not when the credentials end: role
		// credentials got with it last their session past it, and the file
		// may be renewed by its writer. evaluateWebIdentity judges it; a
		// role chained on it has no known end either. A file tf renews
		// lasts while the job can request ID tokens.
		if c.RenewedFrom != "" {
			return c.RenewableUntil
		}
		return time.Time{}
	case KindGitHubOIDC:
		return c.RenewableUntil
	}
	if c.Expires && !c.Refreshable {
		return c.ValidUntil
	}
	return time.Time{}
}

// resolveProfile describes the credential a profile gives; files and
// credFiles replace the environment's config and credentials files when set
// (shared_config_files, shared_credentials_files).
func resolveProfile(ctx context.Context, o Options, profile string, files, credFiles []string) (Credential, error) {
	cfgFiles := o.configFiles()
	if len(files) > 0 {
		cfgFiles = files
	}
	credsFiles := o.credentialsFiles()
	if len(credFiles) > 0 {
		credsFiles = credFiles
	}
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(lo *config.LoadSharedConfigOptions) {
		lo.ConfigFiles = cfgFiles
		lo.CredentialsFiles = credsFiles
	})
	if err != nil {
		return Credential{}, fmt.Errorf("profile %q is not usable (read from %s): %w", profile, strings.Join(cfgFiles, ", "), awsfiles.HideValues(err, cfgFiles, credsFiles))
	}
	return describeShared(o, sc), nil
}

// describeShared follows the SDK's own order for a profile: a
// source_profile chain, keys (from the credentials or config file, even
// under an SSO profile's name), credential_source, a web identity token
// file, SSO, login_session, credential_process, then the container endpoint
// or the instance metadata service; role_arn puts a role on top.
func describeShared(o Options, sc config.SharedConfig) Credential {
	c := Credential{Name: "profile " + sc.Profile, Profile: sc.Profile}
	role := func(src Credential, how string) Credential {
		return Credential{Name: "profile " + sc.Profile, Profile: sc.Profile, Kind: KindAssumeRole, RoleARN: sc.RoleARN,
			Refreshable: true, Source: &src,
			Notes: []string{"the SDK assumes " + sc.RoleARN + " again from " + how + " while that lasts"}}
	}
	switch {
	case sc.Source != nil:
		src := describeShared(o, *sc.Source)
		if sc.RoleARN == "" {
			return src
		}
		return role(src, src.Name)
	case sc.Credentials.HasKeys() && sc.Credentials.SessionToken != "":
		c.Kind = KindUnknown
		c.Notes = append(c.Notes, "session keys in the profile (the SDK signs with them before anything else the profile names): lifetime unknown, cannot be refreshed")
	case sc.Credentials.HasKeys():
		c.Kind = KindStatic
		c.Notes = append(c.Notes, "static keys do not expire")
	case sc.CredentialSource != "":
		switch sc.CredentialSource {
		case "Environment":
			src, ok := envCredential(o)
			if !ok {
				src = Credential{Name: "env keys", Kind: KindUnknown, Err: "credential_source = Environment, but no keys are exported (" + EnvAccessKeyID + ", " + EnvSecretAccessKey + ")"}
			}
			if sc.RoleARN != "" {
				return role(src, "the keys in the environment")
			}
			return src
		default:
			src := Credential{Name: "credential_source " + sc.CredentialSource, Kind: KindUnknown,
				Notes: []string{"credential_source " + sc.CredentialSource + ": the SDK renews these itself; their lifetime is not checked"}}
			if sc.RoleARN != "" {
				return role(src, "credential_source "+sc.CredentialSource)
			}
			return src
		}
	case sc.WebIdentityTokenFile != "":
		c = webIdentity(o, c, sc.WebIdentityTokenFile, sc.RoleARN)
		if sc.RoleDurationSeconds != nil {
			c.RoleDuration = *sc.RoleDurationSeconds
		}
		return c
	case sc.SSOSession != nil:
		c.Kind, c.SSOSession, c.StartURL, c.SSORegion = KindSSOSession, sc.SSOSession.Name, sc.SSOSession.SSOStartURL, sc.SSOSession.SSORegion
		c.CachePath = cachePath(o.home(), c.SSOSession)
		readSSOToken(o, &c)
	case sc.SSOStartURL != "":
		c.Kind, c.StartURL, c.SSORegion = KindLegacySSO, sc.SSOStartURL, sc.SSORegion
		c.CachePath = cachePath(o.home(), c.StartURL)
		readSSOToken(o, &c)
		c.Refreshable = false
	case sc.LoginSession != "":
		c = describeLoginSession(o, c, sc.LoginSession)
	case sc.CredentialProcess != "":
		c.Kind, c.Refreshable = KindProcess, true
		c.Notes = append(c.Notes, "credential_process: the SDK runs it again when its credentials expire; its lifetime is not checked")
	default:
		c.Kind = KindUnknown
		c.Notes = append(c.Notes, "profile has no credentials tf understands; the SDK will try the container endpoint or the instance metadata service")
	}
	if sc.RoleARN != "" && sc.Source == nil && c.Kind != KindWebIdentity {
		return role(c, c.Name)
	}
	return c
}

// cachePath is the SDK's SSO token cache file for key under home.
func cachePath(home, key string) string {
	sum := sha1.Sum([]byte(key))
	return filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
}

// readSSOToken fills the token expiry and refreshability of an SSO
// credential from its cache file, and the session end from tf's record.
func readSSOToken(o Options, c *Credential) {
	tok, err := readCache(c.CachePath)
	if err != nil {
		c.Expires, c.ValidUntil = true, time.Time{}
		c.Notes = append(c.Notes, "no usable cached SSO token: log in first")
		return
	}
	c.Expires, c.ValidUntil = true, tok.ExpiresAt
	c.Refreshable = c.Kind == KindSSOSession && tok.canRefresh(o.now())
	if c.Kind == KindSSOSession {
		c.RegistrationEnds = tok.RegistrationExpiresAt
	}
	if c.Kind == KindSSOSession && !c.Refreshable {
		c.Notes = append(c.Notes, "cached token has no usable refresh token or client registration")
	}
	key := c.SSOSession
	if c.Kind == KindLegacySSO {
		key = c.StartURL
	}
	if rec, ok := loadLogin(o, key); ok {
		c.SessionEnds = rec.LoginAt.Add(rec.SessionLength)
	} else if c.Kind == KindSSOSession {
		c.Notes = append(c.Notes, "session end unknown: tf did not perform the login (run `tf guard login` to track it)")
	}
	if c.Kind == KindLegacySSO {
		c.SessionEnds = time.Time{}
	}
}

// webIdentity describes a web identity token file credential; the token's
// own exp claim (read, not verified) says how long it lasts.
func webIdentity(o Options, c Credential, file, role string) Credential {
	c.Kind, c.RoleARN, c.TokenFile = KindWebIdentity, role, file
	b, err := os.ReadFile(file)
	if err != nil {
		c.Notes = append(c.Notes, "web identity token file unreadable: "+err.Error())
		return c
	}
	tok := strings.TrimSpace(string(b))
	if claims, ok := readClaims(tok); ok && claims.fromGitHub() {
		c.GitHubToken, c.TokenAudience = true, claims.Aud
	}
	if src, ok := o.renewedFrom(file); ok {
		c.RenewedFrom, c.Refreshable = src, true
		c.RenewableUntil, _ = o.idTokensUntil()
		if exp, ok := jwtExpiry(tok); ok {
			c.Expires, c.ValidUntil = true, exp
		}
		return c
	}
	if exp, ok := jwtExpiry(tok); ok {
		c.Expires, c.ValidUntil = true, exp
		if !c.GitHubToken {
			c.Notes = append(c.Notes, "the token file is renewed by whoever writes it; the SDK exchanges it again while it is valid")
		}
	}
	return c
}

// jwtExpiry reads the exp claim of a JWT without verifying it.
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		return time.Time{}, false
	}
	n, err := claims.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// envCredential describes exported keys (AWS_ACCESS_KEY_ID, else the
// older AWS_ACCESS_KEY the SDK still reads). An AWS_CREDENTIAL_EXPIRATION
// that cannot be read leaves the lifetime unknown: it never refuses a run.
func envCredential(o Options) (Credential, bool) {
	id, secret := o.getenv(EnvAccessKeyID), o.getenv(EnvSecretAccessKey)
	if id == "" {
		id = o.getenv(EnvAccessKeyAlt)
	}
	if secret == "" {
		secret = o.getenv(EnvSecretKeyAlt)
	}
	if id == "" || secret == "" {
		return Credential{}, false
	}
	c := Credential{Name: "env keys", Kind: KindStatic}
	if o.getenv(EnvSessionToken) == "" {
		c.Notes = append(c.Notes, "static keys do not expire")
		return c, true
	}
	c.Kind = KindEnvSession
	name, exp := EnvCredentialExpiration, o.getenv(EnvCredentialExpiration)
	if exp == "" && o.getenv(EnvSessionExpiration) != "" {
		name, exp = EnvSessionExpiration, o.getenv(EnvSessionExpiration)
	}
	if exp == "" {
		c.Notes = append(c.Notes, "session keys without "+EnvCredentialExpiration+": lifetime unknown, cannot be refreshed during the run")
		return c, true
	}
	t, ok := parseExpiration(exp)
	if !ok {
		c.Notes = append(c.Notes, fmt.Sprintf("%s=%q is not a time tf can read (like 2026-01-02T15:04:05Z): lifetime unknown", name, exp))
		return c, true
	}
	if name == EnvSessionExpiration {
		c.Notes = append(c.Notes, "their end read from "+EnvSessionExpiration+" (aws-vault before v7 exports it)")
	}
	c.Expires, c.ValidUntil = true, t
	return c, true
}

// parseExpiration reads AWS_CREDENTIAL_EXPIRATION in the formats the tools
// that export it write: RFC 3339 (aws configure export-credentials), and
// its neighbours with a space for the T, without a colon in the offset, or
// without an offset (UTC).
func parseExpiration(s string) (time.Time, bool) {
	// configure-aws-credentials' aws-expiration output is a JSON string,
	// quotes included.
	s = strings.Trim(strings.TrimSpace(s), `"`)
	for _, l := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02 15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04:05.999999999 -0700 MST",
	} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
