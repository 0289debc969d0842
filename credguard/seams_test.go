package credguard

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The refresher stays quiet about a token whose failed refresh the
// preflight reported, also when the token is a role's SSO source; it still
// reports tokens the preflight refreshed or did not need to.
func TestRefresherSkipsTokensThePreflightReported(t *testing.T) {
	r := Report{Entries: []Entry{
		{Credential: Credential{Name: "profile admin", Kind: KindAssumeRole, Source: &Credential{Name: "profile sso", Kind: KindSSOSession, CachePath: "/cache/a.json"}}, RefreshFailed: true},
		{Credential: Credential{Name: "profile other", Kind: KindSSOSession, CachePath: "/cache/b.json"}, Verdict: VerdictRefreshed},
	}}
	got := r.refreshFailures()
	if !got["/cache/a.json"] || got["/cache/b.json"] || len(got) != 1 {
		t.Fatalf("reported failures %v, want only the role's source /cache/a.json", got)
	}
}

// One report of a failed refresh: the cause, how long the token lasts, and
// the command that gives it a new one.
func TestRefreshFailedTextHasCauseAndFix(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	c := Credential{Kind: KindSSOSession, SSOSession: "corp", ValidUntil: now.Add(5 * time.Minute)}
	got := refreshFailedText(Options{}, c, errors.New("dial tcp: connection refused"), now)
	for _, want := range []string{"connection refused", "valid until 15:05:00 UTC (5m)", "aws sso login --sso-session corp", "tf guard login"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

// The profile offer's question names what is short without the ways out,
// which the refusal (Error) alone carries.
func TestShortErrorBriefLeavesTheWayOutToTheRefusal(t *testing.T) {
	e := &ShortError{Required: 15 * time.Minute, Short: []Entry{{Credential: Credential{Name: "env keys", UsedBy: []string{`backend "s3"`}},
		Lasts: 3 * time.Minute, LastsKnown: true, Detail: "unset AWS_ACCESS_KEY_ID"}}}
	if got, want := e.Brief(), `env keys (used by backend "s3") have 3m left, the run needs 15m`; got != want {
		t.Fatalf("Brief() = %q, want %q", got, want)
	}
	if !strings.HasSuffix(e.Error(), e.Brief()+": unset AWS_ACCESS_KEY_ID") {
		t.Fatalf("Error() = %q does not end with the brief and the way out", e.Error())
	}
}
