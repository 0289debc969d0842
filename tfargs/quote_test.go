package tfargs

import "testing"

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"errored.tfstate": "errored.tfstate",
		"a b":             "'a b'",
		"it's":            `'it'\''s'`,
		"":                "''",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}
