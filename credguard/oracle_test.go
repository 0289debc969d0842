package credguard

// The oracle: for a table of configuration shapes, the credential tf judges
// for a consumer must be the one terraform's own SDK signs with. The SDK
// side is testdata/oracle (aws-sdk-go-base v2.0.0-beta.62 with
// aws-sdk-go-v2/config v1.29.4, the versions terraform 1.11.4's S3 backend
// pins), a separate module built by this test, so none of it enters tf. Each
// shape gives what tf reads (files, environment, arguments) and the
// settings terraform hands aws-sdk-go-base for that consumer; the oracle
// says which key the SDK signs with, and the keys say what they are: the
// fixtures' static keys by name, a loopback STS and SSO portal (below)
// answer with keys that encode the role and the key that signed the call.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

var (
	oracleOnce sync.Once
	oracleBin  string
	oracleErr  error
)

// buildOracle builds testdata/oracle once per test binary.
func buildOracle(t *testing.T) string {
	t.Helper()
	oracleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tf-oracle")
		if err != nil {
			oracleErr = err
			return
		}
		oracleBin = filepath.Join(dir, "oracle")
		cmd := exec.Command("go", "build", "-o", oracleBin, ".")
		cmd.Dir = filepath.Join("testdata", "oracle")
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			oracleErr = fmt.Errorf("building the oracle: %v\n%s", err, out)
		}
	})
	if oracleErr != nil {
		t.Fatal(oracleErr)
	}
	return oracleBin
}

// oracleSettings are the settings terraform passes to aws-sdk-go-base for
// one consumer (see testdata/oracle).
type oracleSettings struct {
	Profile                string   `json:"profile,omitempty"`
	AccessKey              string   `json:"access_key,omitempty"`
	SecretKey              string   `json:"secret_key,omitempty"`
	SharedConfigFiles      []string `json:"shared_config_files,omitempty"`
	SharedCredentialsFiles []string `json:"shared_credentials_files,omitempty"`
	AssumeRoleARN          string   `json:"assume_role_arn,omitempty"`
	WebIdentity            *struct {
		RoleARN   string `json:"role_arn"`
		TokenFile string `json:"token_file"`
	} `json:"web_identity,omitempty"`
}

// askOracle runs the oracle in dir with env and returns the key it signs with.
func askOracle(t *testing.T, dir string, env []string, s oracleSettings) string {
	t.Helper()
	in, _ := json.Marshal(s)
	cmd := exec.Command(buildOracle(t))
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, out)
	}
	var a struct {
		AccessKey string `json:"access_key"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal(out, &a); err != nil || a.AccessKey == "" {
		t.Fatalf("oracle answered %s (%v)", out, err)
	}
	return a.AccessKey
}

// identityFakes is a loopback STS and SSO portal whose keys say where they
// come from: "AR"+hex(role|signer) for AssumeRole, "WI"+hex(role) for
// AssumeRoleWithWebIdentity, "SSO"+hex(role name) for GetRoleCredentials.
func identityFakes(t *testing.T) *httptest.Server {
	exp := time.Now().Add(time.Hour).UTC()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/federation/credentials" {
			fmt.Fprintf(w, `{"roleCredentials":{"accessKeyId":"SSO%s","secretAccessKey":"s","sessionToken":"t","expiration":%d}}`,
				hex.EncodeToString([]byte(r.URL.Query().Get("role_name"))), exp.UnixMilli())
			return
		}
		_ = r.ParseForm()
		action, role := r.Form.Get("Action"), r.Form.Get("RoleArn")
		key := "WI" + hex.EncodeToString([]byte(role))
		if action == "AssumeRole" {
			signer := ""
			if _, after, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
				signer, _, _ = strings.Cut(after, "/")
			}
			key = "AR" + hex.EncodeToString([]byte(role+"|"+signer))
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%[1]sResult><Credentials><AccessKeyId>%[2]s</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%[3]s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></%[1]sResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></%[1]sResponse>`,
			action, key, exp.Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// keyMeaning says what the oracle's key is, in the words of meaning below.
func keyMeaning(statics map[string]string, key string) string {
	decode := func(s string) string { b, _ := hex.DecodeString(s); return string(b) }
	switch {
	case strings.HasPrefix(key, "AR"):
		role, signer, _ := strings.Cut(decode(key[2:]), "|")
		return "role " + role + " <- " + keyMeaning(statics, signer)
	case strings.HasPrefix(key, "WI"):
		return "web identity " + decode(key[2:])
	case strings.HasPrefix(key, "SSO"):
		return statics["sso:"+decode(key[3:])]
	}
	if m, ok := statics[key]; ok {
		return m
	}
	return "unknown key " + key
}

// meaning is tf's judgement of a credential in the same words.
func meaning(c Credential) string {
	switch c.Kind {
	case KindAssumeRole:
		src := "?"
		if c.Source != nil {
			src = meaning(*c.Source)
		}
		return "role " + c.RoleARN + " <- " + src
	case KindWebIdentity:
		return "web identity " + c.RoleARN
	}
	return string(c.Kind) + " " + c.Name
}

func TestOracleAgreesWithTheGuardOnTheCredentialTerraformSignsWith(t *testing.T) {
	fakes := identityFakes(t)
	home, dir := t.TempDir(), t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const legacyURL = "https://legacy.awsapps.com/start"
	write(filepath.Join(home, ".aws", "config"), `[profile static]
region = us-east-1
[profile legacy]
sso_start_url = `+legacyURL+`
sso_region = us-east-1
sso_account_id = 111111111111
sso_role_name = LegacyAdmin
[profile deploy]
role_arn = arn:aws:iam::1:role/Deploy
source_profile = static
[profile q]
sso_start_url = `+legacyURL+`
sso_region = us-east-1
sso_account_id = 111111111111
sso_role_name = QAdmin
`)
	write(filepath.Join(home, ".aws", "credentials"), "[static]\naws_access_key_id = AKIAHOMESTATIC\naws_secret_access_key = s\n[p]\naws_access_key_id = AKIAHOMEP\naws_secret_access_key = s\n")
	write(cachePath(home, legacyURL), fmt.Sprintf(`{"startUrl":%q,"region":"us-east-1","accessToken":"tok","expiresAt":%q}`, legacyURL, time.Now().Add(3*time.Hour).UTC().Format(time.RFC3339)))
	write(filepath.Join(dir, "list"), "[p]\naws_access_key_id = AKIALISTFILE\naws_secret_access_key = s\n")
	write(filepath.Join(dir, "old"), "[p]\naws_access_key_id = ASIAOLDFILE\naws_secret_access_key = s\naws_session_token = t\n")
	write(filepath.Join(dir, "ciconfig"), "[profile q]\naws_access_key_id = AKIACICONFIG\naws_secret_access_key = s\n")
	write(filepath.Join(dir, "token.jwt"), jwt(time.Now().Add(2*time.Hour)))
	write(filepath.Join(dir, "prod.tfvars"), "profile = \"legacy\"\n")
	statics := map[string]string{
		"AKIAHOMESTATIC": "static profile static", "AKIAHOMEP": "static profile p", "AKIALISTFILE": "static profile p",
		"ASIAOLDFILE": "unknown profile p", "AKIACICONFIG": "static profile q", "AKIAENVKEYS": "static env keys",
		"AKIACONFIGKEYS":  "static keys in provider \"aws\" (main.tf:1)",
		"sso:LegacyAdmin": "legacy-sso profile legacy", "sso:QAdmin": "legacy-sso profile q",
	}
	varProfile := "variable \"profile\" {\n  type    = string\n  default = \"static\"\n}\nprovider \"aws\" {\n  profile = var.profile\n}\n"
	wi := &struct {
		RoleARN   string `json:"role_arn"`
		TokenFile string `json:"token_file"`
	}{"arn:aws:iam::1:role/ci", filepath.Join(dir, "token.jwt")}
	for _, c := range []struct {
		name     string
		tf       string
		backend  string
		env      []string
		args     []string
		plan     map[string]string
		consumer string
		sdk      oracleSettings
	}{
		{name: "env keys", tf: "resource \"aws_s3_bucket\" \"b\" {}\n", env: []string{"AWS_ACCESS_KEY_ID=AKIAENVKEYS", "AWS_SECRET_ACCESS_KEY=s", "AWS_PROFILE=legacy"},
			consumer: `provider "aws" (default, no provider block)`},
		{name: "provider profile beats env keys", tf: "provider \"aws\" {\n  profile = \"static\"\n}\n", env: []string{"AWS_ACCESS_KEY_ID=AKIAENVKEYS", "AWS_SECRET_ACCESS_KEY=s"},
			consumer: `provider "aws" (main.tf:1)`, sdk: oracleSettings{Profile: "static"}},
		{name: "keys in the configuration", tf: "provider \"aws\" {\n  access_key = \"AKIACONFIGKEYS\"\n  secret_key = \"s\"\n  profile    = \"legacy\"\n}\n",
			consumer: `provider "aws" (main.tf:1)`, sdk: oracleSettings{AccessKey: "AKIACONFIGKEYS", SecretKey: "s", Profile: "legacy"}},
		{name: "AWS_PROFILE legacy SSO", tf: "resource \"aws_s3_bucket\" \"b\" {}\n", env: []string{"AWS_PROFILE=legacy"},
			consumer: `provider "aws" (default, no provider block)`},
		{name: "var.profile from the default", tf: varProfile, consumer: `provider "aws" (main.tf:5)`, sdk: oracleSettings{Profile: "static"}},
		{name: "var.profile from TF_VAR", tf: varProfile, env: []string{"TF_VAR_profile=legacy"}, consumer: `provider "aws" (main.tf:5)`, sdk: oracleSettings{Profile: "legacy"}},
		{name: "var.profile from -var-file", tf: varProfile, args: []string{"apply", "-var-file=prod.tfvars"}, consumer: `provider "aws" (main.tf:5)`, sdk: oracleSettings{Profile: "legacy"}},
		{name: "var.profile from a quoted TF_CLI_ARGS_apply", tf: varProfile, env: []string{`TF_CLI_ARGS_apply=-var "profile=legacy"`}, args: []string{"apply"}, consumer: `provider "aws" (main.tf:5)`, sdk: oracleSettings{Profile: "legacy"}},
		{name: "var.profile from the saved plan", tf: varProfile, env: []string{"TF_VAR_profile=static"}, args: []string{"apply", "p.tfplan"}, plan: map[string]string{"profile": "legacy"},
			consumer: `provider "aws" (main.tf:5)`, sdk: oracleSettings{Profile: "legacy"}},
		{name: "assume_role over a profile", tf: "provider \"aws\" {\n  profile = \"static\"\n  assume_role {\n    role_arn = \"arn:aws:iam::1:role/X\"\n  }\n}\n",
			consumer: `provider "aws" (main.tf:1)`, sdk: oracleSettings{Profile: "static", AssumeRoleARN: "arn:aws:iam::1:role/X"}},
		{name: "a profile's role over its source profile", tf: "provider \"aws\" {\n  profile = \"deploy\"\n}\n",
			consumer: `provider "aws" (main.tf:1)`, sdk: oracleSettings{Profile: "deploy"}},
		{name: "assume_role over a profile's role", tf: "provider \"aws\" {\n  profile = \"deploy\"\n  assume_role {\n    role_arn = \"arn:aws:iam::1:role/Y\"\n  }\n}\n",
			consumer: `provider "aws" (main.tf:1)`, sdk: oracleSettings{Profile: "deploy", AssumeRoleARN: "arn:aws:iam::1:role/Y"}},
		{name: "web identity block beside env keys", tf: "provider \"aws\" {\n  assume_role_with_web_identity {\n    role_arn                = \"arn:aws:iam::1:role/ci\"\n    web_identity_token_file = \"token.jwt\"\n  }\n}\n",
			env: []string{"AWS_ACCESS_KEY_ID=AKIAENVKEYS", "AWS_SECRET_ACCESS_KEY=s"}, consumer: `provider "aws" (main.tf:1)`, sdk: oracleSettings{WebIdentity: wi}},
		{name: "child module provider", tf: "module \"m\" {\n  source = \"./m\"\n}\n", consumer: `provider "aws" in module.m (m/main.tf:1)`, sdk: oracleSettings{Profile: "legacy"}},
		{name: "terraform_remote_state s3", tf: "data \"terraform_remote_state\" \"n\" {\n  backend = \"s3\"\n  config = {\n    bucket  = \"b\"\n    key     = \"k\"\n    profile = \"deploy\"\n  }\n}\n",
			consumer: `data "terraform_remote_state" "n" (main.tf:1)`, sdk: oracleSettings{Profile: "deploy"}},
		{name: "backend: the list replaces the single file", backend: `{"bucket":"b","key":"k","profile":"p","shared_credentials_files":["list"],"shared_credentials_file":"old"}`,
			consumer: `backend "s3"`, sdk: oracleSettings{Profile: "p", SharedCredentialsFiles: []string{"list"}}},
		{name: "backend: the single file alone", backend: `{"bucket":"b","key":"k","profile":"p","shared_credentials_file":"old"}`,
			consumer: `backend "s3"`, sdk: oracleSettings{Profile: "p", SharedCredentialsFiles: []string{"old"}}},
		{name: "backend: AWS_SHARED_CONFIG_FILE", backend: `{"bucket":"b","key":"k","profile":"q"}`, env: []string{"AWS_SHARED_CONFIG_FILE=ciconfig"},
			consumer: `backend "s3"`, sdk: oracleSettings{Profile: "q", SharedConfigFiles: []string{"ciconfig"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range []string{"main.tf", filepath.Join(".terraform", "terraform.tfstate")} {
				_ = os.Remove(filepath.Join(dir, f))
			}
			write(filepath.Join(dir, "m", "main.tf"), "provider \"aws\" {\n  profile = \"legacy\"\n}\n")
			if c.tf != "" {
				write(filepath.Join(dir, "main.tf"), c.tf)
			}
			if c.backend != "" {
				writeBackendRecord(t, dir, c.backend)
			}
			env := append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
				"AWS_ENDPOINT_URL_STS=" + fakes.URL, "AWS_ENDPOINT_URL_SSO=" + fakes.URL}, c.env...)
			o := Options{Dir: dir, Env: env, Command: "apply", Args: c.args, StateDir: filepath.Join(home, "tfstate"),
				LookPath: func(string) (string, error) { return "", os.ErrNotExist }}
			if c.plan != nil {
				o.SavedPlan = ReadSavedPlan("p.tfplan", planWithVars(t, c.plan), nil)
			}
			creds, _, err := Discover(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			var judged *Credential
			for i, cr := range creds {
				for _, by := range cr.UsedBy {
					if by == c.consumer {
						judged = &creds[i]
					}
				}
			}
			if judged == nil {
				t.Fatalf("tf judges no credential for %s: %+v", c.consumer, creds)
			}
			// The oracle gets the SDK's environment: TF_* are terraform's.
			var sdkEnv []string
			for _, kv := range env {
				if !strings.HasPrefix(kv, "TF_") {
					sdkEnv = append(sdkEnv, kv)
				}
			}
			key := askOracle(t, dir, sdkEnv, c.sdk)
			if want, got := keyMeaning(statics, key), meaning(*judged); want != got {
				t.Fatalf("terraform's SDK signs with %s; tf judges %s", want, got)
			}
		})
	}
}

// planWithVars is `terraform show -json` of a plan holding vars.
func planWithVars(t *testing.T, vars map[string]string) *tfjson.Plan {
	t.Helper()
	v := map[string]any{}
	for k, val := range vars {
		v[k] = map[string]string{"value": val}
	}
	b, _ := json.Marshal(map[string]any{"format_version": "1.2", "variables": v})
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}
