package credguard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// GitHub Actions and container-credential variables.
const (
	EnvActionsIDTokenURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsIDTokenToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
	EnvGitHubRunID         = "GITHUB_RUN_ID"
	EnvContainerFullURI    = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvContainerAuthToken  = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	EnvRegion              = "AWS_REGION"
	EnvEndpointURLSTS      = "AWS_ENDPOINT_URL_STS"
)

// ErrNoGitHubOIDC: the job cannot request ID tokens (no `id-token: write`).
var ErrNoGitHubOIDC = errors.New("no GitHub Actions OIDC here: " + EnvActionsIDTokenURL + " is not set (give the job `permissions: id-token: write`)")

// More variables the SDK's chain reads, which Env takes out of terraform's
// environment.
const (
	EnvAccessKeyAlias         = "AWS_ACCESS_KEY" // the SDK's older names for the keys
	EnvSecretKeyAlias         = "AWS_SECRET_KEY"
	EnvContainerAuthTokenFile = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	EnvContainerRelativeURI   = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
	EnvRoleSessionName        = "AWS_ROLE_SESSION_NAME"
)

// KindGitHubOIDC is a credential tf's own GitHub OIDC endpoint serves:
// renewed by tf while the job can request ID tokens.
const KindGitHubOIDC Kind = "github-oidc"

// servedByGitHubOIDC: with tf's endpoint in terraform's environment (see
// Env), a consumer that names no credential of its own falls through the
// SDK's chain to the container endpoint; its credential (or a role's
// source) is the endpoint's.
func servedByGitHubOIDC(o Options, c Credential) Credential {
	if o.GitHubOIDCURL == "" || o.getenv(EnvContainerFullURI) != o.GitHubOIDCURL {
		return c
	}
	switch {
	case c.Kind == KindAssumeRole && c.Source != nil:
		src := servedByGitHubOIDC(o, *c.Source)
		c.Source = &src
	case c.Kind == KindUnknown:
		users := c.UsedBy
		c = Credential{Name: "GitHub OIDC endpoint (tf)", Kind: KindGitHubOIDC, UsedBy: users, Refreshable: true, RoleARN: o.Config.GitHubOIDCRole,
			Notes: []string{"tf exchanges a fresh GitHub ID token for new role credentials before the held ones end"}}
		c.RenewableUntil, _ = o.idTokensUntil()
	}
	return c
}

// renewTimeout bounds one renewal: an ID token request, then STS.
const renewTimeout = githubTimeout + callTimeout

// maxRenewBackoff is the longest wait between two failed renewals.
const maxRenewBackoff = 30 * time.Second

// CredentialServer serves terraform renewable role credentials on a
// loopback container-credentials endpoint. Each time the credentials near
// their end it fetches a fresh GitHub Actions ID token and exchanges it
// again with STS AssumeRoleWithWebIdentity, so a CI apply can outlive any
// one set of role credentials. A renewal runs in the background; while it
// fails the held credentials are served until they really end, and it is
// retried with a growing pause.
type CredentialServer struct {
	URL string // the endpoint, for AWS_CONTAINER_CREDENTIALS_FULL_URI

	auth    string // random; the SDK sends it from AWS_CONTAINER_AUTHORIZATION_TOKEN
	o       Options
	role    string
	session string
	srv     *http.Server
	ln      net.Listener
	done    chan struct{}
	dir     string          // terraform's shared config files (see Env)
	life    context.Context // ends at Close: stops a renewal in flight
	stop    context.CancelFunc

	mu       sync.Mutex
	creds    aws.Credentials
	issued   time.Time
	renewing chan struct{} // non-nil while a renewal runs; closed at its end
	failures int           // renewals failed in a row
	lastErr  error
	nextTry  time.Time
	// exchanges counts AssumeRoleWithWebIdentity calls (for tests and logs).
	exchanges int
}

// StartGitHubOIDC starts the endpoint for roleARN (opt-in: the wrapper
// calls it only when the user configured a role and
// ACTIONS_ID_TOKEN_REQUEST_URL is present). It fetches the first
// credentials before returning, so a misconfiguration fails before the run;
// ctx stops that first fetch (a signal), and every request in it has its
// own deadline.
func StartGitHubOIDC(ctx context.Context, o Options, roleARN string) (*CredentialServer, error) {
	if o.getenv(EnvActionsIDTokenURL) == "" || o.getenv(EnvActionsIDTokenToken) == "" {
		return nil, ErrNoGitHubOIDC
	}
	if roleARN == "" {
		return nil, errors.New("github oidc: no role configured to assume")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("github oidc: random token: %w", err)
	}
	s := &CredentialServer{auth: hex.EncodeToString(b), o: o, role: roleARN, session: "tfguard", done: make(chan struct{})}
	if id := o.getenv(EnvGitHubRunID); id != "" {
		s.session = "tfguard-" + id
	}
	c, err := s.exchange(ctx)
	if err != nil {
		return nil, err
	}
	s.creds, s.issued, s.exchanges = c, o.now(), 1
	dir, err := os.MkdirTemp("", "tfguard-oidc-*")
	if err != nil {
		return nil, fmt.Errorf("github oidc: %w", err)
	}
	s.dir = dir
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("github oidc: listen: %w", err)
	}
	s.life, s.stop = context.WithCancel(context.Background())
	s.ln = ln
	s.URL = "http://" + ln.Addr().String() + "/credentials"
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// defaultProfileCredentialKeys are the settings that give the default
// profile credentials of its own in the SDK's chain (which would beat the
// container endpoint).
var defaultProfileCredentialKeys = map[string]bool{
	"aws_access_key_id": true, "aws_secret_access_key": true, "aws_session_token": true, "aws_security_token": true,
	"aws_credential_expiration": true, "role_arn": true, "source_profile": true, "credential_source": true,
	"credential_process": true, "web_identity_token_file": true, "role_session_name": true, "external_id": true,
	"mfa_serial": true, "duration_seconds": true, "sso_session": true, "sso_start_url": true, "sso_account_id": true,
	"sso_role_name": true, "sso_region": true, "login_session": true,
}

// Env returns base made to give terraform's SDK the endpoint's credentials
// and nothing else, when its configuration does not name credentials of
// its own: the container-credential variables are set; every variable
// that beats them in the SDK's chain (keys, AWS_PROFILE, web identity) or
// replaces their token (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) is
// removed; and AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE point at
// copies of the user's files without the default profile's credential
// settings (keys, role, SSO, process, login), since those too beat the
// endpoint. Every other profile and setting (region, endpoints, profiles
// named in the configuration) is kept.
func (s *CredentialServer) Env(base []string) []string {
	drop := map[string]bool{
		EnvAccessKeyID: true, EnvSecretAccessKey: true, EnvSessionToken: true, EnvCredentialExpiration: true, EnvSessionExpiration: true,
		EnvAccessKeyAlias: true, EnvSecretKeyAlias: true,
		EnvProfile: true, EnvDefaultProfile: true, EnvWebIdentityTokenFile: true, EnvRoleARN: true, EnvRoleSessionName: true,
		EnvContainerFullURI: true, EnvContainerAuthToken: true, EnvContainerAuthTokenFile: true, EnvContainerRelativeURI: true,
		EnvConfigFile: true, EnvCredentialsFile: true,
	}
	src := Options{Env: base}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	files := []struct{ env, src, name string }{
		{EnvConfigFile, src.configFiles()[0], "config"},
		{EnvCredentialsFile, src.credentialsFiles()[0], "credentials"},
	}
	for _, f := range files {
		out = append(out, f.env+"="+s.sharedFileCopy(f.src, f.name))
	}
	return append(out, EnvContainerFullURI+"="+s.URL, EnvContainerAuthToken+"="+s.auth)
}

// sharedFileCopy writes src without the default profile's credential
// settings into the server's directory and returns its path; an empty
// file (os.DevNull) when that fails.
func (s *CredentialServer) sharedFileCopy(src, name string) string {
	b, err := os.ReadFile(src)
	if err != nil {
		b = nil // no file: the copy is empty, as the original was
	}
	dst := filepath.Join(s.dir, name)
	if s.dir == "" || writeFileAtomic(dst, withoutDefaultCredentials(b)) != nil {
		return os.DevNull
	}
	return dst
}

// withoutDefaultCredentials removes the credential settings of the
// default profile ([default] or [profile default]) from an AWS shared
// config or credentials file.
func withoutDefaultCredentials(b []byte) []byte {
	var out []string
	inDefault, dropping := false, false
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			name := t
			if i := strings.IndexAny(name, "]"); i > 0 {
				name = name[1:i]
			}
			f := strings.Fields(name)
			inDefault = len(f) == 1 && f[0] == "default" || len(f) == 2 && f[0] == "profile" && f[1] == "default"
			dropping = false
			out = append(out, line)
			continue
		}
		indented := len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		if inDefault && dropping && indented && t != "" {
			continue // a nested value of a dropped setting
		}
		dropping = false
		if inDefault && !indented {
			if k, _, ok := strings.Cut(t, "="); ok && defaultProfileCredentialKeys[strings.ToLower(strings.TrimSpace(k))] {
				dropping = true
				continue
			}
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

// Exchanges is how many times the server exchanged an ID token.
func (s *CredentialServer) Exchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges
}

// Close stops the endpoint and a renewal in flight, and removes the files
// Env wrote.
func (s *CredentialServer) Close() error {
	if s.srv == nil {
		return nil
	}
	s.stop()
	err := s.srv.Close()
	<-s.done
	s.mu.Lock()
	ch := s.renewing
	s.mu.Unlock()
	if ch != nil {
		<-ch
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	return err
}

// renewBefore is how long before their end credentials are replaced:
// 5 minutes, or a third of their life when that is shorter.
func renewBefore(life time.Duration) time.Duration {
	if d := life / 3; d < 5*time.Minute {
		return d
	}
	return 5 * time.Minute
}

// renewBackoff is the pause after n renewals failed in a row: 1s, 2s, 4s
// ... up to maxRenewBackoff, and never more than a quarter of what the held
// credentials have left, so several tries fit before they end.
func renewBackoff(n int, left time.Duration) time.Duration {
	d := time.Second
	for i := 1; i < n && d < maxRenewBackoff; i++ {
		d *= 2
	}
	d = min(d, maxRenewBackoff)
	if q := left / 4; q < d {
		d = max(q, 100*time.Millisecond)
	}
	return d
}

type containerCreds struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

func (s *CredentialServer) serve(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(s.auth)) != 1 {
		http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	c, err := s.current(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "RenewFailed", "message": err.Error()})
		return
	}
	// Report an expiry early enough that the SDK comes back before the
	// credentials really end, and never one already past.
	now := s.o.now()
	life := c.Expires.Sub(s.issuedAt())
	exp := c.Expires.Add(-renewBefore(life) / 2)
	if !exp.After(now) {
		exp = now.Add(c.Expires.Sub(now) / 2)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(containerCreds{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken,
		Expiration: exp.UTC().Format(time.RFC3339),
	})
}

func (s *CredentialServer) issuedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// current returns credentials that are still valid. Near their end it
// starts a renewal in the background and keeps serving the held ones; only
// when they have ended does it wait for the renewal (bounded by
// renewTimeout and ctx). The mutex is never held across a network call.
func (s *CredentialServer) current(ctx context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	now := s.o.now()
	valid := s.creds.HasKeys() && now.Before(s.creds.Expires)
	if valid && s.creds.Expires.Sub(now) > renewBefore(s.creds.Expires.Sub(s.issued)) {
		c := s.creds
		s.mu.Unlock()
		return c, nil
	}
	if valid {
		if s.renewing == nil && !now.Before(s.nextTry) {
			s.startRenewalLocked()
		}
		c := s.creds
		s.mu.Unlock()
		return c, nil
	}
	if s.renewing == nil {
		s.startRenewalLocked()
	}
	ch := s.renewing
	s.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return aws.Credentials{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds.HasKeys() && s.o.now().Before(s.creds.Expires) {
		return s.creds, nil
	}
	if s.lastErr != nil {
		return aws.Credentials{}, s.lastErr
	}
	return aws.Credentials{}, errors.New("github oidc: no valid role credentials")
}

// startRenewalLocked starts one background renewal (s.mu held).
func (s *CredentialServer) startRenewalLocked() {
	ch := make(chan struct{})
	s.renewing = ch
	go func() {
		defer close(ch)
		ctx, cancel := context.WithTimeout(s.life, renewTimeout)
		c, err := s.exchange(ctx)
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.renewing = nil
		now := s.o.now()
		if err != nil {
			s.failures++
			s.lastErr = err
			s.nextTry = now.Add(renewBackoff(s.failures, s.creds.Expires.Sub(now)))
			if s.failures == 1 && s.life.Err() == nil {
				fmt.Fprintf(s.o.out(), "\ntf: warning: could not renew the GitHub OIDC role credentials: %v; the current ones are served until %s, retrying\n",
					err, s.creds.Expires.UTC().Format("15:04:05 UTC"))
			}
			return
		}
		s.creds, s.issued = c, now
		s.failures, s.lastErr, s.nextTry = 0, nil, time.Time{}
		s.exchanges++
	}()
}

// exchange gets a fresh ID token and exchanges it with STS for role
// credentials; each request has its own deadline, within ctx.
func (s *CredentialServer) exchange(ctx context.Context) (aws.Credentials, error) {
	jwt, err := s.idToken(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	api, err := stsClient(ctx, s.o)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("github oidc: %w", err)
	}
	in := &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(s.role), RoleSessionName: aws.String(s.session), WebIdentityToken: aws.String(jwt)}
	if d := s.o.Config.withDefaults().GitHubOIDCDuration; d >= 15*time.Minute {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := api.AssumeRoleWithWebIdentity(cctx, in)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("github oidc: assume %s: %w", s.role, err)
	}
	c := out.Credentials
	return aws.Credentials{
		AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), CanExpire: true, Expires: aws.ToTime(c.Expiration),
		Source: "tfguard-github-oidc",
	}, nil
}

// idToken asks GitHub for a fresh ID token for STS.
func (s *CredentialServer) idToken(ctx context.Context) (string, error) {
	return fetchIDToken(ctx, s.o, "sts.amazonaws.com")
}

// fetchIDToken asks GitHub Actions for a fresh ID token for audience.
// Errors never hold the request token or an ID token.
func fetchIDToken(ctx context.Context, o Options, audience string) (string, error) {
	u, err := url.Parse(o.getenv(EnvActionsIDTokenURL))
	if err != nil {
		return "", fmt.Errorf("github oidc: %s is not a URL: %w", EnvActionsIDTokenURL, err)
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("github oidc: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+o.getenv(EnvActionsIDTokenToken))
	req.Header.Set("Accept", "application/json")
	resp, err := githubClient().Do(req)
	if err != nil {
		return "", fmt.Errorf("github oidc: request an ID token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("github oidc: ID token request answered %s", resp.Status)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", errors.New("github oidc: ID token response has no value")
	}
	return v.Value, nil
}
