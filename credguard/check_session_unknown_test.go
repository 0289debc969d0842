package credguard

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// newcomer H2: an sso-session profile whose login tf did not perform has
// no known end. `tf guard check` shows it as unknown with the access
// token's own expiry, never the client registration's end (about 90 days
// ahead) as VALID UNTIL, never "ok" and "session alive" for an expired
// token it has not refreshed, and its JSON says the same as the table.
func TestCheckShowsAnUntrackedSSOSessionAsUnknown(t *testing.T) {
	e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=sso")
	tok := e.seed(8*time.Hour, -3*time.Minute) // expired 3 minutes ago
	var b bytes.Buffer
	code := Check(context.Background(), e.opts, &b, false)
	table := b.String()
	row := lineWith(table, "profile sso  ")
	if !strings.Contains(row, "unknown (token expired "+tok.ExpiresAt.UTC().Format("15:04 UTC")+")") || !strings.HasSuffix(strings.TrimSpace(row), "unknown") {
		t.Errorf("row %q, want VALID UNTIL unknown with the token's expiry, verdict unknown\n%s", row, table)
	}
	reg := time.Now().Add(90 * 24 * time.Hour).UTC().Format("2006-01-02")
	for _, bad := range []string{reg, "session alive", " ok\n"} {
		if strings.Contains(table, bad) {
			t.Errorf("table says %q:\n%s", bad, table)
		}
	}
	if code != 0 {
		t.Errorf("exit %d for an unknown verdict", code)
	}
	b.Reset()
	Check(context.Background(), e.opts, &b, true)
	var r struct {
		Entries []struct {
			Name        string    `json:"name"`
			Verdict     string    `json:"verdict"`
			LastsKnown  bool      `json:"lasts_known"`
			LastsUntil  time.Time `json:"lasts_until"`
			AccessToken time.Time `json:"access_token_expires"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(b.Bytes(), &r); err != nil || len(r.Entries) != 1 {
		t.Fatalf("json: %v\n%s", err, b.String())
	}
	j := r.Entries[0]
	if j.Verdict != "unknown" || j.LastsKnown || !j.LastsUntil.IsZero() || !j.AccessToken.Equal(tok.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("json entry %+v disagrees with the table (unknown, token expired at %s)", j, tok.ExpiresAt)
	}
	if e.f.Total() != 0 {
		t.Fatalf("check made calls: %v", e.f.CallCounts())
	}

	// tf performed the login 9h ago: with an 8h session it is over, and
	// check says so (exit 75), as the next guarded command would.
	if err := RecordLogin(e.opts, "corp", time.Now().Add(-9*time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if code := Check(context.Background(), e.opts, &b, false); code != ExitShort ||
		!strings.Contains(lineWith(b.String(), "profile sso  "), "too short") || !strings.Contains(b.String(), "the SSO session ended at") {
		t.Errorf("an ended session: exit %d\n%s", code, b.String())
	}
	// Logged in by tf 1h ago: the session's end is known and shown.
	if err := RecordLogin(e.opts, "corp", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	end := time.Now().Add(7 * time.Hour).UTC()
	code = Check(context.Background(), e.opts, &b, false)
	row = lineWith(b.String(), "profile sso  ")
	shown := strings.Contains(row, end.Format("2006-01-02 15:04 UTC")) || strings.Contains(row, end.Add(time.Minute).Format("2006-01-02 15:04 UTC"))
	if code != 0 || !shown || strings.Contains(b.String(), "session alive") {
		t.Errorf("a tracked session: exit %d\n%s", code, b.String())
	}
}

func lineWith(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
