package credguard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// F6: the S3 backend's file settings as terraform 1.11.4's backend passes
// them to aws-sdk-go-base: shared_credentials_files, else
// AWS_SHARED_CREDENTIALS_FILE, replace the deprecated
// shared_credentials_file; an unset shared_config_files defaults to
// AWS_SHARED_CONFIG_FILE (for the backend only), before AWS_CONFIG_FILE.
func TestBackendSharedFilePrecedenceAsTerraformsBackend(t *testing.T) {
	listCreds := "[p]\naws_access_key_id = AKIALISTFILE00000000\naws_secret_access_key = s\n"
	oldCreds := "[p]\naws_access_key_id = ASIAOLDFILE000000000\naws_secret_access_key = s\naws_session_token = t\n"
	for _, c := range []struct {
		name     string
		backend  string
		env      []string
		provider string
		want     Kind
	}{
		{"the list replaces the single file", `"profile":"p","shared_credentials_files":["list"],"shared_credentials_file":"old"`, nil, "", KindStatic},
		{"the single file alone", `"profile":"p","shared_credentials_file":"old"`, nil, "", KindUnknown},
		{"AWS_SHARED_CREDENTIALS_FILE replaces the single file", `"profile":"p","shared_credentials_file":"old"`, []string{"AWS_SHARED_CREDENTIALS_FILE=list"}, "", KindStatic},
		{"AWS_SHARED_CONFIG_FILE for an unset shared_config_files", `"profile":"q"`, []string{"AWS_SHARED_CONFIG_FILE=ciconfig"}, "", KindStatic},
		{"shared_config_files beats AWS_SHARED_CONFIG_FILE", `"profile":"q","shared_config_files":["` + "${HOME}" + `/.aws/config"]`, []string{"AWS_SHARED_CONFIG_FILE=ciconfig"}, "", KindLegacySSO},
		{"the provider does not read AWS_SHARED_CONFIG_FILE", ``, []string{"AWS_SHARED_CONFIG_FILE=ciconfig"}, "provider \"aws\" {\n  profile = \"q\"\n}\n", KindLegacySSO},
		{"the provider v4's single file wins over its list", ``, nil, "provider \"aws\" {\n  profile = \"p\"\n  shared_credentials_files = [\"list\"]\n  shared_credentials_file = \"old\"\n}\n", KindUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{})
			e.seedLegacy(2 * time.Minute)
			e.writeTF("list", listCreds)
			e.writeTF("old", oldCreds)
			e.writeTF("ciconfig", "[profile q]\naws_access_key_id = AKIACICONFIG00000000\naws_secret_access_key = s\n")
			// q in ~/.aws/config is a legacy SSO profile
			if err := os.WriteFile(filepath.Join(e.home, ".aws", "config"), []byte(awsConfig+"\n[profile q]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			o := e.opts
			o.Env = nil
			for _, kv := range e.opts.Env {
				if !strings.HasPrefix(kv, "AWS_SHARED_CREDENTIALS_FILE=") {
					o.Env = append(o.Env, kv)
				}
			}
			o.Env = append(o.Env, c.env...)
			if c.backend != "" {
				writeBackendRecord(t, e.dir, `{"bucket":"b","key":"k","region":"us-east-1",`+c.backend+`}`)
			}
			if c.provider != "" {
				e.writeTF("main.tf", c.provider)
			}
			m := credNames(t, o)
			var got []Credential
			for _, cr := range m {
				got = append(got, cr)
			}
			if len(got) != 1 || got[0].Kind != c.want {
				t.Fatalf("want one %s credential, got %+v", c.want, m)
			}
		})
	}
}
