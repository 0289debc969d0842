// Package awsfiles keeps the values of the user's AWS shared config and
// credentials files out of tf's messages. The SDK quotes a value it cannot
// read, and a value may be a secret; credguard and recovery both print the
// SDK's configuration errors, so both pass them through HideValues.
package awsfiles

import (
	"os"
	"sort"
	"strings"
)

// Hidden stands for a value of the user's AWS files in a message.
const Hidden = "[value hidden]"

// fileError is an error of the SDK's shared-config reader with every value
// of the files it read hidden: the SDK quotes a value it cannot read
// (`max_attempts=<value>`, `invalid value: <value>`), and a value may hold
// a secret, or a secret key on the wrong line may become part of one (an
// indented line continues the value above it). Unwrap gives the SDK's
// error for callers that branch on it; it is never printed.
type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// HideValues returns err with every value of files that appears in its
// text replaced by Hidden. Section names (profile and sso-session
// names) stay: they say which profile is broken.
func HideValues(err error, files ...[]string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	values, sections := fileValues(files...)
	// Longest first: a value that contains another is hidden whole.
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	hid := false
	for _, v := range values {
		if sections[v] || !strings.Contains(msg, v) {
			continue
		}
		msg = strings.ReplaceAll(msg, v, Hidden)
		hid = true
	}
	if !hid {
		return err
	}
	return &fileError{msg: msg, err: err}
}

// fileValues reads the values of ini files the way the SDK splits them:
// the part after the first = of a property line, each indented line of its
// own (a continuation or sub-property), and every other line that is not a
// section header or a comment. Values too short to be secrets (AWS keys
// and tokens are 16 characters and more), true, false and numbers are left
// out, so the SDK's text around them stays readable ("need true or false").
func fileValues(lists ...[]string) (values []string, sections map[string]bool) {
	sections = map[string]bool{}
	seen := map[string]bool{}
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) < 6 || seen[v] || v == "true" || v == "false" || isDigits(v) {
			return
		}
		seen[v] = true
		values = append(values, v)
	}
	for _, files := range lists {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				t := strings.TrimSpace(strings.TrimSuffix(line, "\r"))
				if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
					continue
				}
				if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
					for _, w := range strings.Fields(strings.Trim(t, "[]")) {
						sections[w] = true
					}
					continue
				}
				add(t) // the whole line: an indented or broken one is a value the SDK may quote
				if _, v, ok := strings.Cut(t, "="); ok {
					add(v)
					if i := strings.IndexAny(v, "#;"); i > 0 {
						add(v[:i]) // before a trailing comment
					}
				}
			}
		}
	}
	return values, sections
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
