// Package fakeaws fakes, faithfully, the AWS identity services that cannot
// run here: the IAM Identity Center portal (GetRoleCredentials), SSO-OIDC
// (RegisterClient, StartDeviceAuthorization, CreateToken) and STS
// (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity). Every
// credential they issue is recorded in a Ledger, which the rig's
// expiry-enforcing proxy consults for each S3 and DynamoDB request.
package fakeaws

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
)

// Errors returned by Ledger.Check; the proxy maps both to AWS's expired /
// invalid token responses.
var (
	ErrUnknownKey = errors.New("access key was never issued")
	ErrExpired    = errors.New("credentials are past their lifetime")
)

// Issued is one set of credentials handed out by a fake (or registered by a
// test as static keys).
type Issued struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // empty for static keys
	// Expires is what the issuing API reported; zero for static keys.
	Expires time.Time
	// DiesAt is when the proxy starts refusing them. It equals Expires unless
	// a test made them die earlier than they claim; zero means never.
	DiesAt time.Time
	// Source says which fake issued them (for assertions and debugging).
	Source string
}

// Ledger records issued credentials. It is safe for concurrent use.
type Ledger struct {
	now   func() time.Time
	mu    sync.Mutex
	creds map[string]Issued
}

// NewLedger returns an empty ledger reading time from now (time.Now if nil).
func NewLedger(now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{now: now, creds: map[string]Issued{}}
}

// Now is the ledger's clock.
func (l *Ledger) Now() time.Time { return l.now() }

// Issue creates credentials that report lifetime and die after it. A session
// token is included unless static is true.
func (l *Ledger) Issue(source string, lifetime time.Duration, static bool) Issued {
	now := l.now()
	c := Issued{
		AccessKeyID:     "ASIA" + strings.ToUpper(randomHex(8)),
		SecretAccessKey: randomHex(20),
		Source:          source,
	}
	if static {
		c.AccessKeyID = "AKIA" + c.AccessKeyID[4:]
	} else {
		c.SessionToken = "FQoG" + randomHex(48)
		c.Expires = now.Add(lifetime)
		c.DiesAt = c.Expires
	}
	l.Add(c)
	return c
}

// Add registers credentials made elsewhere (for example static keys that a
// workspace writes into a profile).
func (l *Ledger) Add(c Issued) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creds[c.AccessKeyID] = c
}

// Lookup returns the record for an access key id.
func (l *Ledger) Lookup(accessKeyID string) (Issued, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.creds[accessKeyID]
	return c, ok
}

// Check says whether a request signed with accessKeyID must be accepted.
func (l *Ledger) Check(accessKeyID string) error {
	c, ok := l.Lookup(accessKeyID)
	if !ok {
		return ErrUnknownKey
	}
	if !c.DiesAt.IsZero() && !l.now().Before(c.DiesAt) {
		return ErrExpired
	}
	return nil
}

// DieAt makes the credentials stop working at t while they keep reporting
// their original expiry.
func (l *Ledger) DieAt(accessKeyID string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.creds[accessKeyID]; ok {
		c.DiesAt = t
		l.creds[accessKeyID] = c
	}
}

// KillAll makes every credential issued so far stop working now.
func (l *Ledger) KillAll() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, c := range l.creds {
		c.DiesAt = now
		l.creds[k] = c
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// All returns every credential recorded so far (for tests that grep output
// for secrets).
func (l *Ledger) All() []Issued {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Issued, 0, len(l.creds))
	for _, c := range l.creds {
		out = append(out, c)
	}
	return out
}
