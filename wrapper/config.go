package wrapper

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"

	"github.com/tfguard/tf/recovery"
)

// Environment variables and file names of tf's own configuration.
const (
	// EnvPrefix starts every configuration variable: key "min_lifetime" is
	// TFGUARD_MIN_LIFETIME.
	EnvPrefix = "TFGUARD_"
	// EnvChain is not configuration: each tf appends its own executable's path
	// (os.PathListSeparator-separated) before starting a child, so a tf started
	// by another tf never picks either of them as "terraform".
	EnvChain = "TFGUARD_CHAIN"
	// WorkDirConfigName is the per-working-directory configuration file.
	WorkDirConfigName = ".tfguard"
)

// Enumerated configuration values.
const (
	FlavorTerraform = "terraform"
	FlavorTofu      = "tofu"

	InstallAuto  = "auto"
	InstallNever = "never"

	LoginNative = "native"
	LoginAWSCLI = "aws-cli"
	LoginNever  = "never"

	CIAuto  = "auto"
	CITrue  = "true"
	CIFalse = "false"

	UnknownAllow  = "allow"
	UnknownRefuse = "refuse"
	UnknownQuiet  = "quiet"

	OwnerRecordLocal   = "local"
	OwnerRecordBackend = "backend"
)

// Config is tf's own configuration after all sources are merged
// (environment > working-directory file > user file > defaults).
type Config struct {
	Terraform        string        // explicit path to the real terraform (or tofu); empty: discover
	Flavor           string        // FlavorTerraform or FlavorTofu
	Install          string        // InstallAuto or InstallNever: install a pinned version when none is found
	Recovery         bool          // recover state and locks after an expired-credential failure
	ReportFile       string        // where recovery writes its report; empty: none
	Preflight        bool          // check credential lifetime before guarded commands
	MinLifetime      time.Duration // credentials must outlive the run by this much
	SSOSessionLength time.Duration // assumed length of an IAM Identity Center session
	SSORefreshAhead  time.Duration // refresh an SSO access token with less than this left
	SSORefreshEvery  time.Duration // how often the background refresher looks during a run
	Login            string        // LoginNative, LoginAWSCLI or LoginNever
	CI               string        // CIAuto, CITrue or CIFalse
	GitHubOIDCRole   string        // role ARN to re-assume with GitHub Actions OIDC; empty: off
	UnknownLifetime  string        // UnknownAllow, UnknownQuiet or UnknownRefuse: a credential whose lifetime cannot be known
	Deadline         string        // when terraform must be done: an RFC 3339 time or a duration from tf's start; empty: none
	// DirectStdout (read_stdout off): apply and destroy get the real stdout,
	// and recovery's report cannot say which planned changes were made.
	DirectStdout bool
	// OwnerRecord: OwnerRecordBackend also keeps a run's owner record next
	// to the state in the backend (recovery/owner_backend.go);
	// OwnerRecordLocal keeps it on this machine only.
	OwnerRecord string

	// Untrusted are the warnings about lines of a working-directory file
	// that were ignored, one per line: a restricted key in an untrusted
	// file, a setting less careful than the user's, a key this tf does not
	// know (a newer tf's setting), a key set twice.
	Untrusted []string

	// Sources says where each key's value came from, for `tf guard doctor`.
	Sources map[string]Source
}

// Source is where one configuration value came from.
type Source struct {
	Kind string // "default", "env", "file" or "name" (the name tf was run as)
	Name string // the variable name or the file path
	Line int    // line in the file (Kind "file")
}

func (s Source) String() string {
	switch s.Kind {
	case "env":
		return "env " + s.Name
	case "file":
		return fmt.Sprintf("%s:%d", s.Name, s.Line)
	case "name":
		return "run as " + s.Name
	default:
		return "default"
	}
}

// ConfigError is an invalid configuration value or key. Where names the
// file and line, or the environment variable.
type ConfigError struct {
	Where string
	Key   string
	Err   error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("config %s: key %q: %v", e.Where, e.Key, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ExitCode makes every configuration error end tf with ExitConfig.
func (e *ConfigError) ExitCode() int { return ExitConfig }

// configKey describes one key: its default and how to apply a value.
type configKey struct {
	name  string
	def   string
	help  string
	apply func(c *Config, v string, baseDir string) error
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("bad value %q: must be one of %s", v, strings.Join(allowed, ", "))
	}
}

// parseOnOff reads a switch the ways people write one: on/off, true/false,
// yes/no, 1/0, in any letter case.
func parseOnOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("bad value %q: must be on or off (true/false, yes/no and 1/0 work too)", v)
}

// parseCI reads the ci setting: auto, or a switch (on/off, true/false,
// yes/no, 1/0), kept as CITrue or CIFalse.
func parseCI(v string) (string, error) {
	if strings.EqualFold(v, CIAuto) {
		return CIAuto, nil
	}
	b, err := parseOnOff(v)
	if err != nil {
		return "", fmt.Errorf("bad value %q: must be one of auto, true, false (on/off, yes/no and 1/0 work too)", v)
	}
	if b {
		return CITrue, nil
	}
	return CIFalse, nil
}

func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad value %q: must be a positive duration such as 15m or 8h", v)
	}
	return d, nil
}

// resolvePath makes a relative path from a file relative to that file's
// directory (baseDir); from the environment it stays relative to the cwd.
func resolvePath(v, baseDir string) string {
	if v == "" || filepath.IsAbs(v) || baseDir == "" {
		return v
	}
	return filepath.Join(baseDir, v)
}

func configKeys() []configKey {
	return []configKey{
		{"terraform", "", "path to the real terraform (or tofu) binary, or a bare name searched on PATH; empty: discover", func(c *Config, v, dir string) error {
			if strings.ContainsRune(v, '/') || strings.ContainsRune(v, filepath.Separator) {
				v = resolvePath(v, dir)
			}
			c.Terraform = v
			return nil
		}},
		{"flavor", FlavorTerraform, "terraform or tofu: which binary to look for on PATH", func(c *Config, v, _ string) error {
			c.Flavor = v
			return oneOf(FlavorTerraform, FlavorTofu)(v)
		}},
		{"install", InstallAuto, "auto or never: install a version pinned by the configuration when none is found", func(c *Config, v, _ string) error {
			c.Install = v
			return oneOf(InstallAuto, InstallNever)(v)
		}},
		{"recovery", "on", "on or off: recover state and locks after a run dies of expired credentials", func(c *Config, v, _ string) (err error) {
			c.Recovery, err = parseOnOff(v)
			return err
		}},
		{"read_stdout", "on", "on or off: read the stdout of apply and destroy on its way to you (a pty at a terminal, a pipe elsewhere), so that recovery can say which planned changes were made; off gives terraform your stdout itself", func(c *Config, v, _ string) error {
			on, err := parseOnOff(v)
			c.DirectStdout = !on
			return err
		}},
		{"owner_record", OwnerRecordBackend, "local or backend: where a run that takes the state lock keeps its owner record (who holds the lock); backend also keeps a copy next to the state, for a tf on another machine that meets the lock", func(c *Config, v, _ string) error {
			c.OwnerRecord = v
			return oneOf(OwnerRecordLocal, OwnerRecordBackend)(v)
		}},
		{"report_file", "", "file recovery writes its report to; empty: none", func(c *Config, v, dir string) error {
			c.ReportFile = resolvePath(v, dir)
			return nil
		}},
		{"preflight", "on", "on or off: check credential lifetime before guarded commands", func(c *Config, v, _ string) (err error) {
			c.Preflight, err = parseOnOff(v)
			return err
		}},
		{"min_lifetime", "15m", "credentials must outlive the start of a guarded command by this long", func(c *Config, v, _ string) (err error) {
			c.MinLifetime, err = parsePositiveDuration(v)
			return err
		}},
		{"sso_session_length", "8h", "assumed length of an IAM Identity Center session", func(c *Config, v, _ string) (err error) {
			c.SSOSessionLength, err = parsePositiveDuration(v)
			return err
		}},
		{"sso_refresh_ahead", "15m", "refresh an SSO access token when less than this is left, before terraform's SDK would need to", func(c *Config, v, _ string) (err error) {
			c.SSORefreshAhead, err = parsePositiveDuration(v)
			return err
		}},
		{"sso_refresh_every", "1m", "how often tf looks at the SSO access tokens while terraform runs", func(c *Config, v, _ string) (err error) {
			c.SSORefreshEvery, err = parsePositiveDuration(v)
			return err
		}},
		{"login", LoginNative, "native, aws-cli or never: how to renew an SSO session", func(c *Config, v, _ string) error {
			c.Login = v
			return oneOf(LoginNative, LoginAWSCLI, LoginNever)(v)
		}},
		{"ci", CIAuto, "auto, true or false: auto detects CI from the CI and GITHUB_ACTIONS variables", func(c *Config, v, _ string) (err error) {
			c.CI, err = parseCI(v)
			return err
		}},
		{"unknown_lifetime", UnknownAllow, "allow, quiet or refuse: a guarded run with a credential whose lifetime cannot be known before it (session keys without AWS_CREDENTIAL_EXPIRATION, credential_process, the container endpoint) starts after a warning, starts without one (`tf guard check` still shows it), or is refused (exit 75)", func(c *Config, v, _ string) error {
			c.UnknownLifetime = v
			return oneOf(UnknownAllow, UnknownQuiet, UnknownRefuse)(v)
		}},
		{"deadline", "", "when a guarded run must be over (a CI job's timeout): an RFC 3339 time, or a duration counted from tf's start; tf interrupts terraform once, early enough for it to save the state and release the lock (see docs/stop-in-time.md); empty: none", func(c *Config, v, _ string) error {
			c.Deadline = v
			_, err := parseDeadline(v, time.Time{})
			return err
		}},
		{"github_oidc_role", "", "role ARN to assume again with GitHub Actions OIDC; empty: off", func(c *Config, v, _ string) error {
			if v != "" && !strings.HasPrefix(v, "arn:") {
				return fmt.Errorf("bad value %q: must be an IAM role ARN (arn:aws:iam::123456789012:role/name)", v)
			}
			c.GitHubOIDCRole = v
			return nil
		}},
	}
}

// ConfigKeys lists the configuration keys in documentation order.
func ConfigKeys() []string {
	var names []string
	for _, k := range configKeys() {
		names = append(names, k.name)
	}
	return names
}

// ConfigFiles are the optional files LoadConfig reads. Empty paths are skipped.
type ConfigFiles struct {
	User    string // user file, see UserConfigPath
	WorkDir string // per-working-directory file, <workdir>/.tfguard
}

// UserConfigPath is $XDG_CONFIG_HOME/tf/config, else os.UserConfigDir()/tf/config.
// getenv is the process environment's lookup.
func UserConfigPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "tf", "config")
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tf", "config")
}

// LoadConfig merges defaults, the user file, the working-directory file and
// the TFGUARD_* variables of environ, later ones winning. A missing file is
// fine; an unreadable one, an unknown key or a bad value is a *ConfigError.
func LoadConfig(environ []string, files ConfigFiles) (Config, error) {
	keys := configKeys()
	byName := map[string]configKey{}
	c := Config{Sources: map[string]Source{}}
	for _, k := range keys {
		byName[k.name] = k
		if err := k.apply(&c, k.def, ""); err != nil {
			return Config{}, fmt.Errorf("default of %s: %w", k.name, err) // programming error
		}
		c.Sources[k.name] = Source{Kind: "default"}
	}
	if files.User != "" {
		if err := applyFile(&c, byName, fileSource{path: files.User}); err != nil {
			return Config{}, err
		}
	}
	if files.WorkDir != "" {
		// Repository content: the keys that pick an executable or lower
		// safety count only once the user trusted this exact file.
		src := fileSource{path: files.WorkDir, repo: true, user: files.User,
			untrusted: !isTrusted(trustStorePath(files.User), files.WorkDir)}
		if err := applyFile(&c, byName, src); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&c, byName, environ); err != nil {
		return Config{}, err
	}
	return c, nil
}

// fileSource is one configuration file and how far tf trusts it.
type fileSource struct {
	path string
	// repo: a working-directory file (repository content, shared by a
	// team and by tf versions): a key this tf does not know, or one set
	// twice, is a warning, not an error that stops every command.
	repo bool
	// untrusted: a repository file the user has not trusted (see
	// RestrictedKeys): it may only make tf more careful.
	untrusted bool
	// user is the user's own config file, named in the warnings.
	user string
}

// applyFile applies one configuration file. An untrusted file (repository
// content) does not set the restricted keys, and may only make tf more
// careful than the settings before it (see loosens), never less.
func applyFile(c *Config, keys map[string]configKey, src fileSource) error {
	path := src.path
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &ConfigError{Where: path, Key: "", Err: fmt.Errorf("cannot read the file: %w", err)}
	}
	defer f.Close()
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	dir := filepath.Dir(abs)
	sc := bufio.NewScanner(f)
	line := 0
	seen := map[string]int{} // key -> the line that set it
	for sc.Scan() {
		line++
		where := fmt.Sprintf("%s:%d", path, line)
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // the byte-order mark some Windows editors write
		}
		key, val, ok, err := parseConfigLine(text)
		if err != nil {
			return &ConfigError{Where: where, Key: key, Err: err}
		}
		if !ok {
			continue
		}
		k, known := keys[key]
		if !known {
			if src.repo {
				c.Untrusted = append(c.Untrusted, unknownRepoKey(where, key))
				continue
			}
			return &ConfigError{Where: where, Key: key, Err: unknownKey(key, "")}
		}
		if first, dup := seen[key]; dup {
			err := fmt.Errorf("set again (first at line %d)", first)
			if src.repo {
				c.Untrusted = append(c.Untrusted, (&ConfigError{Where: where, Key: key, Err: err}).Error()+
					fmt.Sprintf("; ignored: line %d counts", first))
				continue
			}
			return &ConfigError{Where: where, Key: key, Err: fmt.Errorf("%w: keep one of the two lines", err)}
		}
		seen[key] = line
		if src.untrusted && isRestricted(key) {
			// Still checked, so a bad value is reported wherever it is.
			if err := k.apply(&Config{}, val, dir); err != nil {
				return &ConfigError{Where: where, Key: key, Err: err}
			}
			c.Untrusted = append(c.Untrusted, untrustedMessage(where, key, path, src.user))
			continue
		}
		prev := *c
		if err := k.apply(c, val, dir); err != nil {
			return &ConfigError{Where: where, Key: key, Err: err}
		}
		if src.untrusted && loosens(prev, *c) {
			*c = prev
			c.Untrusted = append(c.Untrusted, fmt.Sprintf("%s: %s = %s ignored: a repository's %s may only make tf more careful than your own settings (tf uses %s); to have it, put it in %s, or run `tf guard trust %s`",
				where, key, val, WorkDirConfigName, prev.Value(key), ownConfigPlace(src.user, key), path))
			continue
		}
		c.Sources[key] = Source{Kind: "file", Name: path, Line: line}
	}
	if err := sc.Err(); err != nil {
		return &ConfigError{Where: path, Err: fmt.Errorf("cannot read the file: %w", err)}
	}
	return nil
}

// unknownRepoKey is the warning for a key this tf does not know in a
// repository's file: a typo, or a newer tf's setting.
func unknownRepoKey(where, key string) string {
	names := ConfigKeys()
	sort.Strings(names)
	hint := "`tf guard doctor` lists the keys this tf knows"
	if near := nearestKey(key, names); near != "" {
		hint = "did you mean " + near + "?"
	}
	return fmt.Sprintf("%s: unknown key %q ignored (a newer tf's setting, or a typo: %s)", where, key, hint)
}

// ownConfigPlace names where the user sets key for themselves: their
// config file, else the environment variable.
func ownConfigPlace(userFile, key string) string {
	if userFile == "" {
		return EnvName(key)
	}
	return "your own " + userFile + " (or " + EnvName(key) + ")"
}

// parseConfigLine reads `key = value` with optional double quotes around the
// value; blank lines and lines starting with # are skipped (ok false). A #
// after an unquoted value starts a comment.
func parseConfigLine(text string) (key, val string, ok bool, err error) {
	t := strings.TrimSpace(text)
	if t == "" || strings.HasPrefix(t, "#") {
		return "", "", false, nil
	}
	k, v, found := strings.Cut(t, "=")
	key = strings.TrimSpace(k)
	if !found {
		return key, "", false, errors.New("expected `key = value`")
	}
	if key == "" {
		return "", "", false, errors.New("missing key before =")
	}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		uq, rest, qerr := unquotePrefix(v)
		if qerr != nil {
			return key, "", false, qerr
		}
		rest = strings.TrimSpace(rest)
		if rest != "" && !strings.HasPrefix(rest, "#") {
			return key, "", false, fmt.Errorf("unexpected %q after the quoted value", rest)
		}
		return key, uq, true, nil
	}
	if i := strings.Index(v, "#"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return key, v, true, nil
}

func unquotePrefix(v string) (string, string, error) {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			s, err := strconv.Unquote(v[:i+1])
			if err != nil {
				return "", "", fmt.Errorf("bad quoted value %s", v[:i+1])
			}
			return s, v[i+1:], nil
		}
	}
	return "", "", errors.New("unterminated quoted value")
}

// unknownKey is the error for an unknown key, suggesting the nearest known
// one; envName is the variable it came from ("" in a file).
func unknownKey(key, envName string) error {
	names := ConfigKeys()
	sort.Strings(names)
	if near := nearestKey(key, names); near != "" {
		if envName != "" {
			return fmt.Errorf("unknown key: did you mean %s (%s)? unset %s or fix its name", near, EnvName(near), envName)
		}
		return fmt.Errorf("unknown key: did you mean %s? (known keys: %s)", near, strings.Join(names, ", "))
	}
	if envName != "" {
		return fmt.Errorf("unknown key (known keys: %s); unset %s or fix its name", strings.Join(names, ", "), envName)
	}
	return fmt.Errorf("unknown key (known keys: %s)", strings.Join(names, ", "))
}

// nearestKey is the known key closest to key in edit distance, when it is
// close enough to be a typo (or differs only in letter case); else "".
func nearestKey(key string, names []string) string {
	lower := strings.ToLower(strings.TrimSpace(key))
	best, bestD := "", -1
	for _, n := range names {
		d := levenshtein.Distance(lower, n, nil)
		if bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	if bestD < 0 || bestD > max(2, len(best)/4) {
		return ""
	}
	return best
}

// loosens says whether b is less careful than a: it lets a shorter
// credential through (a lower min_lifetime, a longer assumed SSO session,
// which every later login record carries, unknown lifetimes allowed), acts
// later (a later or rarer SSO refresh), runs something else (a login
// program, an install of a pinned terraform) or keeps less evidence
// (read_stdout = off, owner_record = local). The more careful values: login = never,
// install = never.
func loosens(a, b Config) bool {
	return b.MinLifetime < a.MinLifetime || b.SSOSessionLength > a.SSOSessionLength ||
		b.SSORefreshAhead < a.SSORefreshAhead || b.SSORefreshEvery > a.SSORefreshEvery ||
		(a.UnknownLifetime == UnknownRefuse && b.UnknownLifetime != UnknownRefuse) ||
		(a.UnknownLifetime == UnknownAllow && b.UnknownLifetime == UnknownQuiet) ||
		(b.DirectStdout && !a.DirectStdout) ||
		(b.OwnerRecord == OwnerRecordLocal && a.OwnerRecord != OwnerRecordLocal) ||
		(b.Login != a.Login && b.Login != LoginNever) ||
		(b.Install != a.Install && b.Install != InstallNever)
}

func applyEnv(c *Config, keys map[string]configKey, environ []string) error {
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		// Not configuration: the tf chain, and recovery's test hooks (only in
		// builds with the tfguard_testhooks tag).
		if !strings.HasPrefix(name, EnvPrefix) || name == EnvChain || recovery.IsTestVariable(name) {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		k, known := keys[key]
		if !known {
			return &ConfigError{Where: "environment variable " + name, Key: key, Err: unknownKey(key, name)}
		}
		if err := k.apply(c, val, ""); err != nil {
			return &ConfigError{Where: "environment variable " + name, Key: key, Err: err}
		}
		c.Sources[key] = Source{Kind: "env", Name: name}
	}
	return nil
}

// Value renders the current value of key as it would be written in a file.
func (c Config) Value(key string) string {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	switch key {
	case "terraform":
		return c.Terraform
	case "flavor":
		return c.Flavor
	case "install":
		return c.Install
	case "recovery":
		return onOff(c.Recovery)
	case "report_file":
		return c.ReportFile
	case "read_stdout":
		return onOff(!c.DirectStdout)
	case "owner_record":
		return c.OwnerRecord
	case "preflight":
		return onOff(c.Preflight)
	case "min_lifetime":
		return c.MinLifetime.String()
	case "sso_session_length":
		return c.SSOSessionLength.String()
	case "sso_refresh_ahead":
		return c.SSORefreshAhead.String()
	case "sso_refresh_every":
		return c.SSORefreshEvery.String()
	case "login":
		return c.Login
	case "ci":
		return c.CI
	case "github_oidc_role":
		return c.GitHubOIDCRole
	case "unknown_lifetime":
		return c.UnknownLifetime
	}
	return ""
}

// EnvName is the environment variable for a configuration key.
func EnvName(key string) string { return EnvPrefix + strings.ToUpper(key) }
