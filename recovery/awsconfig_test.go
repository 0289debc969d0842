package recovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The SDK quotes a value of the shared files it cannot read; recovery's
// backend reads print its error, so a secret in the files (a key pasted one
// line too low, a token in the wrong setting) would be printed. The error
// names the profile and says what is wrong, without the value.
func TestBackendConfigErrorsNeverQuoteAValueOfTheAWSFiles(t *testing.T) {
	const secret = "SECRETVALUEwJalrXUtnFEMI"
	for _, body := range []string{
		"max_attempts = 3\n    " + secret + "\n",
		"defaults_mode = " + secret + "\n",
		"disable_request_compression = true\n  aws_secret_access_key " + secret + "\n",
	} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config")
		if err := os.WriteFile(cfg, []byte("[profile p]\nregion = us-east-1\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		creds := filepath.Join(dir, "credentials")
		if err := os.WriteFile(creds, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		b := Backend{Profile: "p", ConfigFiles: []string{cfg}, CredentialsFiles: []string{creds}}
		_, err := backendAWSConfig(context.Background(), b, []string{"HOME=" + dir})
		if err == nil {
			t.Fatalf("%q: the SDK read a broken config file without an error; the test needs one", body)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q: a value of the config file is printed: %v", body, err)
		}
		if !strings.Contains(err.Error(), "profile p") {
			t.Errorf("%q: the error does not name the profile: %v", body, err)
		}
	}
}
