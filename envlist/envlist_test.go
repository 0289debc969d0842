package envlist

import "testing"

func TestLookup(t *testing.T) {
	env := []string{"A=1", "B=", "NOEQUALS", "A=2", "C=x=y"}
	for _, tc := range []struct {
		key  string
		want string
		ok   bool
	}{
		{"A", "2", true}, // the last one wins
		{"B", "", true},  // set, empty
		{"NOEQUALS", "", false},
		{"C", "x=y", true},
		{"D", "", false},
		{"", "", false},
	} {
		if v, ok := Lookup(env, tc.key); v != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.key, v, ok, tc.want, tc.ok)
		}
		if v := Get(env, tc.key); v != tc.want {
			t.Errorf("Get(%q) = %q, want %q", tc.key, v, tc.want)
		}
	}
	if v := First(env, "D", "B", "C", "A"); v != "x=y" {
		t.Errorf("First skips unset and empty: %q", v)
	}
	if v := First(env, "D", "B"); v != "" {
		t.Errorf("First of none set: %q", v)
	}
}
