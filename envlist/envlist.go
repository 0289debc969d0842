// Package envlist reads a process environment given as a KEY=VALUE list
// (os.Environ, exec.Cmd.Env, the environment tf gives terraform). It is the
// one place tf looks a variable up in such a list: when a key is there
// more than once, the last one wins, as for a process started with that
// list.
package envlist

import "strings"

// Lookup is key's value in env, and whether key is there at all.
func Lookup(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Get is key's value in env, "" when it is not there.
func Get(env []string, key string) string {
	v, _ := Lookup(env, key)
	return v
}

// First is the value of the first of keys that is set to something other
// than "" in env, "" when none is.
func First(env []string, keys ...string) string {
	for _, k := range keys {
		if v := Get(env, k); v != "" {
			return v
		}
	}
	return ""
}
