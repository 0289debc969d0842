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

// TestBackendReadsUseTheBackendsConfigFile: terraform's S3 backend takes
// AWS_SHARED_CONFIG_FILE ahead of the SDK's AWS_CONFIG_FILE (and tf's GitHub
// token renewal points it at its copy): recovery's reads of the lock and
// the state object use the same profile definition, not another file's
// profile of the same name.
func TestBackendReadsUseTheBackendsConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, id string) string {
		p := filepath.Join(dir, name)
		body := "[profile p]\naws_access_key_id = " + id + "\naws_secret_access_key = s\n"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	backends := write("backend-config", "AKIABACKENDFILE")
	sdks := write("sdk-config", "AKIASDKFILE")
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, "AWS_SHARED_CONFIG_FILE=" + backends, "AWS_CONFIG_FILE=" + sdks, "AWS_SHARED_CREDENTIALS_FILE=" + creds}
	cfg, err := backendAWSConfig(context.Background(), Backend{Profile: "p"}, env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIABACKENDFILE" {
		t.Errorf("recovery read profile p from %s, want the backend's %s", map[string]string{"AKIASDKFILE": sdks}[c.AccessKeyID], backends)
	}
}
