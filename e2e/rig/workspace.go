package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// Names of the environment variables a workspace sets. The child environment
// is built from these alone (plus PATH and TMPDIR by the caller), so nothing
// of the developer's AWS_* / TF_* settings can leak in.
const (
	EnvHome                 = "HOME"
	EnvAWSConfigFile        = "AWS_CONFIG_FILE"
	EnvAWSCredentialsFile   = "AWS_SHARED_CREDENTIALS_FILE"
	EnvAWSRegion            = "AWS_REGION"
	EnvAWSDefaultRegion     = "AWS_DEFAULT_REGION"
	EnvEndpointS3           = "AWS_ENDPOINT_URL_S3"
	EnvEndpointDynamoDB     = "AWS_ENDPOINT_URL_DYNAMODB"
	EnvEndpointSTS          = "AWS_ENDPOINT_URL_STS"
	EnvEndpointSSO          = "AWS_ENDPOINT_URL_SSO"
	EnvEndpointSSOOIDC      = "AWS_ENDPOINT_URL_SSO_OIDC"
	EnvIMDSDisabled         = "AWS_EC2_METADATA_DISABLED"
	EnvTFCLIConfigFile      = "TF_CLI_CONFIG_FILE"
	EnvCheckpointDisable    = "CHECKPOINT_DISABLE"
	EnvAccessKeyID          = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey      = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken         = "AWS_SESSION_TOKEN"
	EnvCredentialExpiration = "AWS_CREDENTIAL_EXPIRATION"
	EnvProfile              = "AWS_PROFILE"
)

// LeakyEnv lists variables of a developer's shell that would change what
// terraform does in a workspace; callers that start from os.Environ must
// drop them (testscript and cmd/incident start from an empty environment).
func LeakyEnv() []string {
	return []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_ROLE_ARN",
		"AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL",
		"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CA_BUNDLE", "AWS_SDK_LOAD_CONFIG",
		"TF_WORKSPACE", "TF_DATA_DIR", "TF_CLI_ARGS", "TF_LOG", "TF_LOG_PATH", "TF_IN_AUTOMATION",
		"TF_INPUT", "TF_PLUGIN_CACHE_DIR", "TF_STATE_PERSIST_INTERVAL", "HTTP_PROXY", "HTTPS_PROXY",
		"http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
	}
}

// Profile names written into every workspace's AWS config.
const (
	ProfileSSO       = "sso"        // sso_session = SSOSessionName
	ProfileLegacySSO = "legacy-sso" // sso_start_url on the profile itself
	ProfileAssume    = "assume"     // role_arn + source_profile = static
	ProfileStatic    = "static"     // long-lived keys in the credentials file
	SSOSessionName   = "rig"
	SSOStartURL      = "https://rig.awsapps.example/start"
	LegacyStartURL   = "https://rig-legacy.awsapps.example/start"
	SSOAccountID     = "111122223333"
	SSORoleName      = "RigAdmin"
	AssumeRoleARN    = "arn:aws:iam::111122223333:role/RigDeployer"
)

// WorkspaceOptions configure NewWorkspace.
type WorkspaceOptions struct {
	// Dir is the terraform working directory (created if missing); Home the
	// workspace's HOME (Dir/.home when empty).
	Dir, Home string
	// Mode is the lock mode (dynamodb when empty).
	Mode LockMode
	// Workspace is a named terraform workspace the scenario will select
	// ("" = default). The script creates it with `terraform workspace new`.
	Workspace string
	// Sleep is the default duration of the long resource's local-exec.
	Sleep time.Duration
	// Name keys the state ("<name>/terraform.tfstate"); "incident" if empty.
	Name string
}

// Workspace is a terraform working directory wired to a rig.
type Workspace struct {
	Dir, Home string
	Backend   Backend
	env       map[string]string
}

// The bucket and lock table every rig workspace uses; state keys differ.
const (
	StateBucket = "tf-state"
	LockTable   = "tf-locks"
)

// NewWorkspace writes a workspace: main.tf with the S3 backend and a
// terraform_data resource whose local-exec sleeps, an AWS config with every
// kind of profile, an empty terraform CLI config, and the environment to run
// terraform in. It creates the bucket and lock table when missing.
func (r *Rig) NewWorkspace(ctx context.Context, o WorkspaceOptions) (*Workspace, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("workspace needs a directory")
	}
	if o.Mode == "" {
		o.Mode = LockDynamoDB
	}
	if o.Name == "" {
		o.Name = "incident"
	}
	if o.Home == "" {
		o.Home = filepath.Join(o.Dir, ".home")
	}
	if err := r.ensureBackends(ctx); err != nil {
		return nil, err
	}
	w := &Workspace{
		Dir: o.Dir, Home: o.Home,
		Backend: Backend{Bucket: StateBucket, Key: o.Name + "/terraform.tfstate", Table: LockTable, Mode: o.Mode, Workspace: o.Workspace},
	}
	awsDir := filepath.Join(o.Home, ".aws")
	for _, d := range []string{o.Dir, filepath.Join(awsDir, "sso", "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create workspace: %w", err)
		}
	}
	static := r.Ledger.Issue("static-profile", 0, true)
	files := map[string]string{
		filepath.Join(o.Dir, "main.tf"):          MainTF(w.Backend, o.Sleep),
		filepath.Join(awsDir, "config"):          awsConfig(),
		filepath.Join(awsDir, "credentials"):     staticCredentials(static),
		filepath.Join(o.Home, ".terraformrc.tf"): "",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	w.env = map[string]string{
		EnvHome:               o.Home,
		EnvAWSConfigFile:      filepath.Join(awsDir, "config"),
		EnvAWSCredentialsFile: filepath.Join(awsDir, "credentials"),
		EnvAWSRegion:          Region,
		EnvAWSDefaultRegion:   Region,
		EnvEndpointS3:         r.S3URL,
		EnvEndpointDynamoDB:   r.DynamoDBURL,
		EnvEndpointSTS:        r.Identity.STSURL,
		EnvEndpointSSO:        r.Identity.SSOURL,
		EnvEndpointSSOOIDC:    r.Identity.OIDCURL,
		EnvIMDSDisabled:       "true",
		EnvTFCLIConfigFile:    filepath.Join(o.Home, ".terraformrc.tf"),
		EnvCheckpointDisable:  "1",
	}
	return w, nil
}

func (r *Rig) ensureBackends(ctx context.Context) error {
	r.setupMu.Lock()
	defer r.setupMu.Unlock()
	if r.setupDone {
		return nil
	}
	if err := r.CreateBucket(ctx, StateBucket); err != nil {
		return err
	}
	if err := r.CreateLockTable(ctx, LockTable); err != nil {
		return err
	}
	r.setupDone = true
	return nil
}

// Env returns the workspace's environment as KEY=VALUE, sorted.
func (w *Workspace) Env() []string {
	out := make([]string, 0, len(w.env))
	for k, v := range w.env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Set changes one variable of the workspace environment ("" removes it).
func (w *Workspace) Set(key, value string) {
	if value == "" {
		delete(w.env, key)
		return
	}
	w.env[key] = value
}

// Get returns one variable of the workspace environment.
func (w *Workspace) Get(key string) string { return w.env[key] }

// EnvCredentials returns the variables that hand session credentials to
// terraform the way `aws configure export-credentials --format env` does.
func EnvCredentials(c fakeaws.Issued) map[string]string {
	m := map[string]string{
		EnvAccessKeyID:     c.AccessKeyID,
		EnvSecretAccessKey: c.SecretAccessKey,
		EnvSessionToken:    c.SessionToken,
	}
	if !c.Expires.IsZero() {
		m[EnvCredentialExpiration] = c.Expires.UTC().Format(time.RFC3339)
	}
	return m
}

// SeedSSOLogin writes what `aws sso login` leaves in the SSO cache for key
// (the sso-session name, or the start URL of a legacy profile, which gets no
// refresh token).
func (w *Workspace) SeedSSOLogin(key string, tok fakeaws.SeededToken) error {
	_, err := fakeaws.WriteSSOCache(w.Home, key, tok, key != SSOSessionName)
	return err
}

// MainTF is the workspace's configuration: the S3 backend for b (endpoints
// come from AWS_ENDPOINT_URL_*, STS included, so terraform validates its
// credentials against the fake STS as against AWS; path-style because the
// rig's S3 is on 127.0.0.1) and two resources: "base" (instant) and "long", replaced
// whenever var.run changes, whose local-exec sleeps var.sleep seconds.
func MainTF(b Backend, sleep time.Duration) string {
	var lock strings.Builder
	if b.Mode.UsesDynamoDB() {
		fmt.Fprintf(&lock, "    dynamodb_table = %q\n", b.Table)
	}
	if b.Mode.UsesLockfile() {
		lock.WriteString("    use_lockfile   = true\n")
	}
	return `terraform {
  backend "s3" {
    bucket         = ` + strconv.Quote(b.Bucket) + `
    key            = ` + strconv.Quote(b.Key) + `
    region         = ` + strconv.Quote(Region) + `
` + lock.String() + `    use_path_style = true

    skip_metadata_api_check = true
  }
}

variable "run" {
  type    = string
  default = "1"
}

variable "sleep" {
  type    = number
  default = ` + strconv.Itoa(int(sleep/time.Second)) + `
}

resource "terraform_data" "base" {
  input = "base"
}

resource "terraform_data" "long" {
  triggers_replace = [var.run]

  provisioner "local-exec" {
    command = "sleep ${var.sleep}"
  }
}
`
}

func awsConfig() string {
	return `[default]
region = ` + Region + `

[sso-session ` + SSOSessionName + `]
sso_start_url = ` + SSOStartURL + `
sso_region = ` + Region + `
sso_registration_scopes = sso:account:access

[profile ` + ProfileSSO + `]
sso_session = ` + SSOSessionName + `
sso_account_id = ` + SSOAccountID + `
sso_role_name = ` + SSORoleName + `
region = ` + Region + `

[profile ` + ProfileLegacySSO + `]
sso_start_url = ` + LegacyStartURL + `
sso_region = ` + Region + `
sso_account_id = ` + SSOAccountID + `
sso_role_name = ` + SSORoleName + `
region = ` + Region + `

[profile ` + ProfileAssume + `]
role_arn = ` + AssumeRoleARN + `
source_profile = ` + ProfileStatic + `
role_session_name = rig
region = ` + Region + `

[profile ` + ProfileStatic + `]
region = ` + Region + `
`
}

func staticCredentials(c fakeaws.Issued) string {
	return "[" + ProfileStatic + "]\naws_access_key_id = " + c.AccessKeyID +
		"\naws_secret_access_key = " + c.SecretAccessKey + "\n"
}
