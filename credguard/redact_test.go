package credguard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// The SDK quotes a value of the shared config it cannot read, and an
// indented line (a secret pasted one line too low) becomes part of the
// value above it: tf's warnings name the profile and the key, never a value
// of the files (review F6, "secret in a parse error").
func TestProfileErrorsNeverQuoteAValueOfTheAWSFiles(t *testing.T) {
	const secret = "SECRETVALUEwJalrXUtnFEMI"
	for _, body := range []string{
		"max_attempts = 3\n    " + secret + "\n",
		"retry_mode = standard\n    " + secret + "\n",
		"defaults_mode = " + secret + "\n",
		"request_min_compression_size_bytes = " + secret + "\n",
		"disable_request_compression = true\n  aws_secret_access_key " + secret + "\n",
	} {
		e := newEnv(t, fakeaws.Options{}, "AWS_PROFILE=p")
		cfg := filepath.Join(e.home, ".aws", "config")
		if err := os.WriteFile(cfg, []byte("[profile p]\nregion = us-east-1\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Inspect(context.Background(), e.opts)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(r.Warnings(), "\n")
		key, _, _ := strings.Cut(body, " ")
		if !strings.Contains(text, `profile "p" is not usable`) || !strings.Contains(text, key) {
			t.Errorf("%q: the warning does not say what is wrong:\n%s", body, text)
		}
		if strings.Contains(text, secret) {
			t.Errorf("%q: a value of the config file is printed:\n%s", body, text)
		}
	}
}
