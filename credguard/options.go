package credguard

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfdir"
)

// AppID is sent in the User-Agent (app/tfguard) of every AWS call credguard
// makes, so the rig's fakes can tell tf's calls from terraform's.
const AppID = "tfguard"

// Environment variables credguard reads (from Options.Env, never os.Getenv).
const (
	EnvProfile              = "AWS_PROFILE"
	EnvDefaultProfile       = "AWS_DEFAULT_PROFILE"
	EnvAccessKeyID          = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey      = "AWS_SECRET_ACCESS_KEY"
	EnvAccessKeyAlt         = "AWS_ACCESS_KEY" // read by the SDK when AWS_ACCESS_KEY_ID is unset
	EnvSecretKeyAlt         = "AWS_SECRET_KEY" // read by the SDK when AWS_SECRET_ACCESS_KEY is unset
	EnvSessionToken         = "AWS_SESSION_TOKEN"
	EnvCredentialExpiration = "AWS_CREDENTIAL_EXPIRATION"
	EnvWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
	EnvRoleARN              = "AWS_ROLE_ARN"
	EnvConfigFile           = "AWS_CONFIG_FILE"
	EnvCredentialsFile      = "AWS_SHARED_CREDENTIALS_FILE"
	// EnvSharedConfigFile is read by terraform's S3 backend (and
	// terraform_remote_state) only: an unset shared_config_files defaults
	// to it before the SDK's AWS_CONFIG_FILE.
	EnvSharedConfigFile   = "AWS_SHARED_CONFIG_FILE"
	EnvEndpointURL        = "AWS_ENDPOINT_URL"
	EnvEndpointURLSSO     = "AWS_ENDPOINT_URL_SSO"
	EnvEndpointURLSSOOIDC = "AWS_ENDPOINT_URL_SSO_OIDC"
	EnvAWSVault           = "AWS_VAULT" // set by aws-vault exec: the profile name
	EnvHome               = "HOME"
)

// LoginMode says how a person at a terminal logs in again.
type LoginMode string

// Login modes.
const (
	LoginAuto   LoginMode = "auto"   // `aws sso login` when aws is on PATH, else device authorization
	LoginDevice LoginMode = "device" // device authorization, natively
	LoginAWSCLI LoginMode = "aws"    // `aws sso login`
	LoginNever  LoginMode = "never"  // never log in: refuse instead
)

// Config holds the user's settings (the wrapper fills it from its config).
type Config struct {
	// MinLifetime is the floor of the required lifetime (default 15m).
	MinLifetime time.Duration
	// SessionLength is how long an Identity Center session lasts after a
	// login (default 8h); used with the login time tf records.
	SessionLength time.Duration
	// Login is how to log in again at a terminal (default LoginAuto).
	Login LoginMode
	// RefreshAhead: an SSO access token with less than this left is
	// refreshed (default 15m, like the AWS CLI).
	RefreshAhead time.Duration
	// RefreshEvery is how often the background refresher looks (default 1m).
	RefreshEvery time.Duration
	// RefuseUnknown refuses a run with a credential whose lifetime cannot
	// be known before it (setting unknown_lifetime = refuse); by default
	// such a run starts after a warning.
	RefuseUnknown bool
	// QuietUnknown (unknown_lifetime = quiet) leaves the lines about such
	// credentials out of a guarded run's output; `tf guard check` still
	// shows them.
	QuietUnknown bool
	// GitHubOIDCRole, when set, opts in to serving terraform renewable
	// credentials for this role in GitHub Actions (see StartGitHubOIDC).
	GitHubOIDCRole string
	// GitHubOIDCDuration is the DurationSeconds asked of STS (default: the
	// role's own default; values under 15m are not sent).
	GitHubOIDCDuration time.Duration
}

func (c Config) withDefaults() Config {
	if c.MinLifetime <= 0 {
		c.MinLifetime = 15 * time.Minute
	}
	if c.SessionLength <= 0 {
		c.SessionLength = 8 * time.Hour
	}
	if c.Login == "" {
		c.Login = LoginAuto
	}
	if c.RefreshAhead <= 0 {
		c.RefreshAhead = 15 * time.Minute
	}
	if c.RefreshEvery <= 0 {
		c.RefreshEvery = time.Minute
	}
	return c
}

// Options describe one guarded run.
type Options struct {
	// Dir is terraform's working directory (after -chdir).
	Dir string
	// Env is the environment terraform will get (os.Environ() usually).
	Env []string
	// Command is the terraform command ("apply", "plan", "state push", ...):
	// it decides the requirement (see Required) and names the history of
	// earlier runs.
	Command string
	// Args are terraform's arguments; -var and -var-file are read from them.
	Args []string
	// PlanResourceTypes are the resource types a saved plan changes (from
	// `terraform show -json PLAN`, see PlanResourceTypes); they add the
	// slow-resource margin.
	PlanResourceTypes []string
	// SavedPlan is the plan `apply PLANFILE` applies (see ReadSavedPlan):
	// terraform applies it with the variable values stored in it and
	// ignores TF_VAR_*, tfvars and -var, so those values decide the
	// settings that use variables. nil for any other run.
	SavedPlan *SavedPlan
	Config    Config
	// Interactive: a person is at a terminal and may be asked to log in.
	Interactive bool
	// CI: never prompt, whatever Interactive says.
	CI bool
	// In and Out are the person's terminal (Out also gets warnings).
	In  io.Reader
	Out io.Writer
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// StateDir is where tf keeps its own records: login times and run
	// durations (default os.UserCacheDir()/tf).
	StateDir string
	// LookPath finds executables (for `aws`); exec.LookPath if nil.
	LookPath func(string) (string, error)

	// GitHubOIDCURL is the URL of tf's GitHub OIDC endpoint when it serves
	// this run (CredentialServer.URL); credentials that fall through to it
	// are judged as its.
	GitHubOIDCURL string

	// pass is set by a preflight that may log in (see loginPass).
	pass *loginPass
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) out() io.Writer {
	if o.Out != nil {
		return o.Out
	}
	return io.Discard
}

func (o Options) mayPrompt() bool { return o.Interactive && !o.CI }

// EnvGitHubActions is "true" in a GitHub Actions job.
const EnvGitHubActions = "GITHUB_ACTIONS"

// inGitHubActions: a CI run in a GitHub Actions job, whose advice names
// the job's own tools.
func (o Options) inGitHubActions() bool { return o.CI && o.getenv(EnvGitHubActions) == "true" }

// getenv reads name from o.Env (last one wins, like the process env).
func (o Options) getenv(name string) string { return envlist.Get(o.Env, name) }

func (o Options) home() string {
	if h := o.getenv(EnvHome); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// TerraformArgs are the arguments terraform runs with: args (tf's command
// line, the command words included) with TF_CLI_ARGS and then
// TF_CLI_ARGS_<command> ("state push" reads TF_CLI_ARGS_state_push,
// force-unlock TF_CLI_ARGS_force_unlock) put right after the command's last
// word, each split with shell quoting by the same library and settings as
// terraform's main.go (mergeEnvArgs): the command's own variable comes
// first, then TF_CLI_ARGS, then the rest of the command line. The error is
// a value terraform refuses to split.
func TerraformArgs(env []string, command string, args []string) ([]string, error) {
	get := func(name string) string { return envlist.Get(env, name) }
	var err error
	args, err = mergeEnvArgs(get("TF_CLI_ARGS"), "TF_CLI_ARGS", command, args)
	if err != nil {
		return args, err
	}
	if command != "" {
		name := "TF_CLI_ARGS_" + strings.NewReplacer("-", "_", " ", "_").Replace(command)
		args, err = mergeEnvArgs(get(name), name, command, args)
	}
	return args, err
}

// mergeEnvArgs inserts the words of value after the first argument that is
// the command's last word (at the start when there is none).
func mergeEnvArgs(value, name, command string, args []string) ([]string, error) {
	if value == "" {
		return args, nil
	}
	p := shellwords.NewParser()
	p.ParseEnv, p.ParseBacktick = false, false
	extra, err := p.Parse(value)
	if err != nil {
		return args, fmt.Errorf("%s cannot be split into arguments (%v): terraform stops on it", name, err)
	}
	search := command
	if i := strings.LastIndex(search, " "); i >= 0 {
		search = search[i+1:]
	}
	at := 0
	for i, a := range args {
		if a == search {
			at = i + 1
			break
		}
	}
	out := make([]string, 0, len(args)+len(extra))
	out = append(out, args[:at]...)
	out = append(out, extra...)
	return append(out, args[at:]...), nil
}

// envPath is a file named by the environment as terraform's SDK opens it:
// a relative path is relative to terraform's working directory.
func (o Options) envPath(f string) string {
	if filepath.IsAbs(f) || o.Dir == "" {
		return f
	}
	return filepath.Join(o.Dir, f)
}

func (o Options) configFiles() []string {
	if f := o.getenv(EnvConfigFile); f != "" {
		return []string{o.envPath(f)}
	}
	return []string{filepath.Join(o.home(), ".aws", "config")}
}

func (o Options) credentialsFiles() []string {
	if f := o.getenv(EnvCredentialsFile); f != "" {
		return []string{o.envPath(f)}
	}
	return []string{filepath.Join(o.home(), ".aws", "credentials")}
}

func (o Options) stateDir() (string, error) {
	if o.StateDir != "" {
		return o.StateDir, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "tf"), nil
}

// workspace is the terraform workspace the run uses.
func (o Options) workspace() string { return tfdir.Workspace(o.Dir, o.Env) }
