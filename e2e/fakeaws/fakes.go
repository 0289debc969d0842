package fakeaws

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Operation names used by the call counters.
const (
	OpGetRoleCredentials        = "GetRoleCredentials"
	OpRegisterClient            = "RegisterClient"
	OpStartDeviceAuthorization  = "StartDeviceAuthorization"
	OpCreateToken               = "CreateToken" // every grant
	OpCreateTokenRefresh        = "CreateToken/refresh_token"
	OpCreateTokenDevice         = "CreateToken/device_code"
	OpGetCallerIdentity         = "GetCallerIdentity"
	OpAssumeRole                = "AssumeRole"
	OpAssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity"
)

// Callers the default classifier tells apart.
const (
	CallerTF        = "tf"
	CallerTerraform = "terraform"
	CallerOther     = "other"
)

// TFAppID is the SDK application id tf's own AWS clients send
// (User-Agent "app/tfguard"); the default classifier calls such requests
// CallerTF. credguard uses the same string.
const TFAppID = "tfguard"

// ClassifyCaller tells tf's own requests from terraform's by User-Agent.
func ClassifyCaller(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	switch {
	case strings.Contains(ua, "app/"+TFAppID):
		return CallerTF
	case strings.Contains(strings.ToLower(ua), "terraform"):
		return CallerTerraform
	default:
		return CallerOther
	}
}

// Options configure the fakes. Zero values get the defaults noted.
type Options struct {
	// Account is the AWS account id reported by STS (default 123456789012).
	Account string
	// RoleCredentialLifetime is how long credentials from the portal and STS
	// report to live (default 1h). AssumeRole honours DurationSeconds.
	RoleCredentialLifetime time.Duration
	// DieAfter, when non-zero, makes every credential issued die this long
	// after issue while still reporting RoleCredentialLifetime.
	DieAfter time.Duration
	// LoginSessionLife and LoginTokenLife apply to sessions created by an
	// approved device authorization (defaults 8h and 1h).
	LoginSessionLife time.Duration
	LoginTokenLife   time.Duration
	// DeviceInterval is the polling interval handed out by
	// StartDeviceAuthorization, in seconds (default 1); DeviceCodeLife is how
	// long a device code stays usable (default 10m).
	DeviceInterval int
	DeviceCodeLife time.Duration
	// Caller names the caller of a request for the counters (default
	// ClassifyCaller).
	Caller func(*http.Request) string
}

func (o *Options) defaults() {
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.RoleCredentialLifetime == 0 {
		o.RoleCredentialLifetime = time.Hour
	}
	if o.LoginSessionLife == 0 {
		o.LoginSessionLife = 8 * time.Hour
	}
	if o.LoginTokenLife == 0 {
		o.LoginTokenLife = time.Hour
	}
	if o.DeviceInterval <= 0 {
		o.DeviceInterval = 1
	}
	if o.DeviceCodeLife == 0 {
		o.DeviceCodeLife = 10 * time.Minute
	}
	if o.Caller == nil {
		o.Caller = ClassifyCaller
	}
}

// Fakes are the running identity fakes. Point the SDK at them with
// AWS_ENDPOINT_URL_SSO=SSOURL, AWS_ENDPOINT_URL_SSO_OIDC=OIDCURL,
// AWS_ENDPOINT_URL_STS=STSURL (see Env).
type Fakes struct {
	SSOURL  string
	OIDCURL string
	STSURL  string
	Ledger  *Ledger

	opts    Options
	servers []*httptest.Server

	mu       sync.Mutex
	calls    map[callKey]int
	sessions map[string]*session // by name
	tokens   map[string]*session // access token -> session
	tokenExp map[string]time.Time
	refresh  map[string]*session // current refresh token -> session
	clients  map[string]client
	devices  map[string]*device // by device code
	roleLife time.Duration
	// oldRefresh keeps rotated-out refresh tokens for Secrets.
	oldRefresh []string
	// webTokens are the web identity tokens AssumeRoleWithWebIdentity
	// accepted, by caller.
	webTokens map[string][]string
}

type callKey struct{ op, caller string }

type session struct {
	name, startURL string
	started        time.Time
	ends           time.Time
	tokenLife      time.Duration
	clientID       string
}

type client struct {
	secret  string
	expires time.Time
}

type device struct {
	userCode, clientID, startURL string
	expires                      time.Time
	approved                     bool
	denied                       bool
	used                         bool
	lastPoll                     time.Time
	interval                     time.Duration
}

// Start runs the fakes for the length of a test.
func Start(tb testing.TB, ledger *Ledger, opts Options) *Fakes {
	tb.Helper()
	f := New(ledger, opts)
	tb.Cleanup(f.Close)
	return f
}

// New runs the fakes until Close (for programs that are not tests).
func New(ledger *Ledger, opts Options) *Fakes {
	opts.defaults()
	if ledger == nil {
		ledger = NewLedger(nil)
	}
	f := &Fakes{
		Ledger:   ledger,
		opts:     opts,
		calls:    map[callKey]int{},
		sessions: map[string]*session{},
		tokens:   map[string]*session{},
		tokenExp: map[string]time.Time{},
		refresh:  map[string]*session{},
		clients:  map[string]client{},
		devices:  map[string]*device{},
		roleLife: opts.RoleCredentialLifetime,
	}
	sso := httptest.NewServer(http.HandlerFunc(f.serveSSO))
	oidc := httptest.NewServer(http.HandlerFunc(f.serveOIDC))
	sts := httptest.NewServer(http.HandlerFunc(f.serveSTS))
	f.servers = []*httptest.Server{sso, oidc, sts}
	f.SSOURL, f.OIDCURL, f.STSURL = sso.URL, oidc.URL, sts.URL
	return f
}

// Close stops the servers.
func (f *Fakes) Close() {
	for _, s := range f.servers {
		s.Close()
	}
}

// Env returns the endpoint variables that send the SDK (and terraform) to
// the fakes.
func (f *Fakes) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_SSO=" + f.SSOURL,
		"AWS_ENDPOINT_URL_SSO_OIDC=" + f.OIDCURL,
		"AWS_ENDPOINT_URL_STS=" + f.STSURL,
	}
}

// SetRoleCredentialLifetime changes the lifetime of credentials issued from
// now on.
func (f *Fakes) SetRoleCredentialLifetime(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roleLife = d
}

// Calls counts requests for op (one of the Op constants) by every caller.
func (f *Fakes) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.calls {
		if k.op == op {
			n += v
		}
	}
	return n
}

// CallsBy counts requests for op made by caller.
func (f *Fakes) CallsBy(op, caller string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[callKey{op, caller}]
}

// Total counts every request any fake answered (unknown paths included).
func (f *Fakes) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.calls {
		if k.op != OpCreateTokenRefresh && k.op != OpCreateTokenDevice { // counted in OpCreateToken
			n += v
		}
	}
	return n
}

// CallCounts returns a copy of every counter as "op caller" -> count.
func (f *Fakes) CallCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		out[k.op+" "+k.caller] = v
	}
	return out
}

// WebIdentityTokens are the tokens AssumeRoleWithWebIdentity accepted from
// caller, in order: which token a caller read from its token file.
func (f *Fakes) WebIdentityTokens(caller string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.webTokens[caller]...)
}

func (f *Fakes) count(r *http.Request, ops ...string) {
	caller := f.opts.Caller(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range ops {
		f.calls[callKey{op, caller}]++
	}
}

// SeededToken is what a person's `aws sso login` leaves in the SSO cache; a
// test writes it with WriteSSOCache.
type SeededToken struct {
	StartURL              string
	Region                string
	AccessToken           string
	RefreshToken          string
	ClientID              string
	ClientSecret          string
	ExpiresAt             time.Time
	RegistrationExpiresAt time.Time
	SessionEndsAt         time.Time // known to the test, never written to the cache
}

// NewSSOSession starts an Identity Center session named name (the
// sso-session name) for startURL that lasts sessionLife, with an access
// token living tokenLife (capped at the session's end). The client
// registration is created with it. A tokenLife <= 0 seeds an access token
// that expired -tokenLife ago; tokens refreshed later then live 1h.
func (f *Fakes) NewSSOSession(name, startURL string, sessionLife, tokenLife time.Duration) SeededToken {
	now := f.Ledger.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	cid, secret := "cid-"+randomHex(8), "csecret-"+randomHex(24)
	f.clients[cid] = client{secret: secret, expires: now.Add(90 * 24 * time.Hour)}
	life := tokenLife
	if life <= 0 {
		life = time.Hour
	}
	s := &session{name: name, startURL: startURL, started: now, ends: now.Add(sessionLife), tokenLife: life, clientID: cid}
	f.sessions[name] = s
	at, exp, rt := f.mintLocked(s, now)
	if tokenLife <= 0 {
		exp = now.Add(tokenLife)
		f.tokenExp[at] = exp
	}
	return SeededToken{
		StartURL: startURL, Region: "us-east-1",
		AccessToken: at, RefreshToken: rt, ClientID: cid, ClientSecret: secret,
		ExpiresAt: exp, RegistrationExpiresAt: now.Add(90 * 24 * time.Hour), SessionEndsAt: s.ends,
	}
}

// mintLocked issues a new access token and rotates the refresh token.
func (f *Fakes) mintLocked(s *session, now time.Time) (access string, expires time.Time, refresh string) {
	access = "aoa" + randomHex(32)
	expires = now.Add(s.tokenLife)
	if expires.After(s.ends) {
		expires = s.ends
	}
	f.tokens[access] = s
	f.tokenExp[access] = expires
	for rt, rs := range f.refresh {
		if rs == s {
			f.oldRefresh = append(f.oldRefresh, rt)
			delete(f.refresh, rt)
		}
	}
	refresh = "aor" + randomHex(32)
	f.refresh[refresh] = s
	return access, expires, refresh
}

// EndSession ends the named session now: its access tokens stop working
// with the portal and its refresh token is refused.
func (f *Fakes) EndSession(name string) error { return f.EndSessionAt(name, f.Ledger.Now()) }

// EndSessionAt makes the named session end at t.
func (f *Fakes) EndSessionAt(name string, t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[name]
	if !ok {
		return fmt.Errorf("no sso session %q", name)
	}
	s.ends = t
	return nil
}

// ExpireAccessTokens makes every access token of the named session expire
// now (the session and its refresh token stay alive).
func (f *Fakes) ExpireAccessTokens(name string) error {
	now := f.Ledger.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[name]; !ok {
		return fmt.Errorf("no sso session %q", name)
	}
	for tok, s := range f.tokens {
		if s.name == name {
			f.tokenExp[tok] = now
		}
	}
	return nil
}

// SessionEnds reports when the named session ends.
func (f *Fakes) SessionEnds(name string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[name]
	if !ok {
		return time.Time{}, false
	}
	return s.ends, true
}

// ErrNoDevice is returned by ApproveDevice for an unknown user code.
var ErrNoDevice = errors.New("no pending device authorization with that user code")

// ApproveDevice is the person in the browser approving userCode. The next
// device_code poll gets tokens for a new session of LoginSessionLife.
func (f *Fakes) ApproveDevice(userCode string) error { return f.decide(userCode, true) }

// DenyDevice is the person refusing userCode (the poll gets access_denied).
func (f *Fakes) DenyDevice(userCode string) error { return f.decide(userCode, false) }

func (f *Fakes) decide(userCode string, ok bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.devices {
		if d.userCode == userCode && !d.used {
			d.approved, d.denied = ok, !ok
			return nil
		}
	}
	return ErrNoDevice
}

// PendingUserCodes lists user codes waiting for approval (what a person
// would read off the terminal).
func (f *Fakes) PendingUserCodes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, d := range f.devices {
		if !d.approved && !d.denied && !d.used {
			out = append(out, d.userCode)
		}
	}
	return out
}

// Secrets lists every secret the fakes and their ledger ever handed out:
// access keys' secrets and session tokens, SSO access and refresh tokens,
// client secrets. Tests grep captured output for them.
func (f *Fakes) Secrets() []string {
	var out []string
	for _, c := range f.Ledger.All() {
		out = append(out, c.SecretAccessKey)
		if c.SessionToken != "" {
			out = append(out, c.SessionToken)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for t := range f.tokens {
		out = append(out, t)
	}
	for t := range f.refresh {
		out = append(out, t)
	}
	out = append(out, f.oldRefresh...)
	for _, c := range f.clients {
		out = append(out, c.secret)
	}
	return out
}
