package fakeaws

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// SSOCachePath is where the SDK looks for the token of key (the sso-session
// name, or the start URL for a legacy profile) under home.
func SSOCachePath(home, key string) string {
	sum := sha1.Sum([]byte(key))
	return filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
}

// WriteSSOCache writes tok as `aws sso login` would, mode 0600, and returns
// the path. legacy leaves out the client registration and refresh token
// (what a legacy profile's login leaves; the SDK cannot refresh it).
func WriteSSOCache(home, key string, tok SeededToken, legacy bool) (string, error) {
	m := map[string]any{
		"startUrl":    tok.StartURL,
		"region":      tok.Region,
		"accessToken": tok.AccessToken,
		"expiresAt":   tok.ExpiresAt.UTC().Format(time.RFC3339),
	}
	if !legacy {
		m["clientId"] = tok.ClientID
		m["clientSecret"] = tok.ClientSecret
		m["registrationExpiresAt"] = tok.RegistrationExpiresAt.UTC().Format(time.RFC3339)
		m["refreshToken"] = tok.RefreshToken
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode sso cache: %w", err)
	}
	p := SSOCachePath(home, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("create sso cache dir: %w", err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", fmt.Errorf("write sso cache: %w", err)
	}
	return p, nil
}
