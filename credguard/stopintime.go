package credguard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// RenewalEnd is the earliest moment after which terraform can no longer get
// working credentials without a person, among the credentials the
// preflight judged: exported session keys with a known expiry, a legacy SSO
// token, an SSO session whose end tf recorded, an `aws login` session
// without a refresh token, a role whose source ends, and what tf renews
// with GitHub ID tokens (tf's GitHub OIDC endpoint, a renewed token file)
// when the job's ID token request token says until when. Credentials
// renewed with no known end (an SSO session of unknown end, a web identity
// file's own writer, credential_process, static keys) set none. ok is
// false when no credential has such an end. who names the credential that
// ends first.
func (r Report) RenewalEnd() (end time.Time, who string, ok bool) {
	for _, e := range r.Entries {
		t := e.renewalEnd()
		if t.IsZero() {
			continue
		}
		if !ok || t.Before(end) {
			end, who, ok = t, e.Name, true
		}
	}
	return end, who, ok
}

// renewalEnd is when nobody can renew e any more; zero: no known end.
func (e Entry) renewalEnd() time.Time {
	c := e.Credential
	switch c.Kind {
	case KindProcess:
		// Renewed by the process itself: the SDK asks again when they
		// expire. (Web identity and tf's GitHub OIDC endpoint: lastsUntil.)
		return time.Time{}
	}
	if end := c.lastsUntil(); !end.IsZero() {
		return end
	}
	// An SSO token tf cannot refresh (no refresh token, or a legacy one)
	// ends with the token even when the session's end is unknown.
	if (c.Kind == KindSSOSession || c.Kind == KindLegacySSO) && !c.Refreshable && c.Expires && !c.ValidUntil.IsZero() {
		return c.ValidUntil
	}
	return time.Time{}
}

// Where an operation time comes from.
const (
	OpTimeLearned = "learned" // from terraform's "complete after" lines in earlier runs here
	OpTimeTable   = "table"   // the slow-resource table
	OpTimeGuess   = "guess"   // neither: DefaultOperationTime
)

// DefaultOperationTime is how long an operation on a resource type is
// assumed to take when tf has neither seen one here nor knows the type as
// slow.
const DefaultOperationTime = 5 * time.Minute

// keepOperationTimes is how many recent operation times are kept per type.
const keepOperationTimes = 10

func operationsPath(o Options) (string, error) {
	d, err := durationsDir(o)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "operations.json"), nil
}

func loadOperationTimes(o Options) map[string][]time.Duration {
	p, err := operationsPath(o)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var m map[string][]time.Duration
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// RecordOperationTimes adds the times terraform reported for operations on
// each resource type ("Creation complete after 12m3s") to the history of
// this working directory and workspace, beside the run lengths the
// preflight's floor uses.
func RecordOperationTimes(o Options, byType map[string][]time.Duration) error {
	if len(byType) == 0 {
		return nil
	}
	p, err := operationsPath(o)
	if err != nil {
		return fmt.Errorf("find tf state dir: %w", err)
	}
	return updateLocked(p, func() []byte {
		m := loadOperationTimes(o)
		if m == nil {
			m = map[string][]time.Duration{}
		}
		for t, ds := range byType {
			list := append(m[t], ds...)
			if len(list) > keepOperationTimes {
				list = list[len(list)-keepOperationTimes:]
			}
			m[t] = list
		}
		b, _ := json.Marshal(m)
		return b
	})
}

// OperationTimes tells how long one operation on a resource type is
// expected to take here.
type OperationTimes struct {
	learned map[string][]time.Duration
}

// LoadOperationTimes reads the operation times recorded in this working
// directory and workspace.
func LoadOperationTimes(o Options) OperationTimes {
	return OperationTimes{learned: loadOperationTimes(o)}
}

// Expect is how long one operation on resourceType may take, and where
// that comes from: 1.25 x the longest recorded here (OpTimeLearned), else
// the slow-resource table (OpTimeTable), else DefaultOperationTime
// (OpTimeGuess).
func (t OperationTimes) Expect(resourceType string) (time.Duration, string) {
	if list := t.learned[resourceType]; len(list) > 0 {
		longest := slices.Max(list)
		return longest + longest/4, OpTimeLearned
	}
	if d, ok := slowResources[resourceType]; ok {
		return d, OpTimeTable
	}
	return DefaultOperationTime, OpTimeGuess
}
