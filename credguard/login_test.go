package credguard

import (
	"strings"
	"testing"
	"time"
)

// A session end already past is never printed as if it were to come.
func TestSessionEndTextPastAndFuture(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	if got := sessionEndText(now.Add(5*time.Minute), now); !strings.Contains(got, "ends at 12:05:00 UTC (in 5m)") {
		t.Errorf("future: %q", got)
	}
	if got := sessionEndText(now.Add(-2*time.Hour), now); !strings.Contains(got, "ended at 10:00:00 UTC (2h ago)") || strings.Contains(got, "ends at") {
		t.Errorf("past: %q", got)
	}
	if got := registrationEndText(now.Add(-time.Minute), now); !strings.Contains(got, "ended at") {
		t.Errorf("registration past: %q", got)
	}
}

// The role's source has no consumers of its own: the login line names
// none rather than "(used by )".
func TestUsedByTextEmpty(t *testing.T) {
	if got := usedByText(nil); got != "" {
		t.Errorf("usedByText(nil) = %q", got)
	}
	if got := usedByText([]string{"backend", "provider"}); got != " (used by backend, provider)" {
		t.Errorf("usedByText = %q", got)
	}
}
