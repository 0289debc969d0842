package recovery

// This is the ONLY file that reads terraform's (and OpenTofu's) human text.
// Terraform's diagnostics are not covered by its compatibility promise, so
// every pattern lives here and is tested against recorded output in
// testdata/ (see patterns_test.go). Structured sources (the lock record, the
// backend config, the state files' JSON) always win over what is read here.

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// Service names reported in Classification.Services.
const (
	ServiceS3       = "s3"
	ServiceDynamoDB = "dynamodb"
	ServiceSSO      = "sso"
	ServiceSSOOIDC  = "sso-oidc"
	ServiceSTS      = "sts"
	ServiceOther    = "other"
)

// Classification is what terraform's stderr says about a failed run.
type Classification struct {
	// Expired is true when any error says credentials or the SSO session
	// expired (or the cached SSO token cannot be refreshed).
	Expired bool `json:"expired"`
	// Services that reported expiry (s3, dynamodb, sso, sso-oidc, sts, other).
	Services []string `json:"services,omitempty"`
	// Shapes names each expiry text that matched (for the report).
	Shapes []string `json:"shapes,omitempty"`
	// NotExpiry lists credential errors that look similar but are not
	// expiry (InvalidClientTokenId: the keys are wrong, not old).
	NotExpiry []string `json:"not_expiry,omitempty"`

	// PersistFailed: terraform could not write the state and wrote
	// errored.tfstate in the working directory.
	PersistFailed bool `json:"persist_failed"`
	// ReleaseFailed: terraform could not release its state lock.
	ReleaseFailed bool `json:"release_failed"`
	// LockID is the lock terraform failed to release, when the text names it
	// (DynamoDB locking and the local backend do; the S3 lockfile does not).
	LockID string `json:"lock_id,omitempty"`
	// LockTable / LockfileKey: which lock record the release error names.
	LockTable   string `json:"lock_table,omitempty"`
	LockBucket  string `json:"lock_bucket,omitempty"`
	LockfileKey string `json:"lockfile_key,omitempty"`
	// BothLocks: the release error is terraform's "failed to unlock both S3
	// and DynamoDB".
	BothLocks bool `json:"both_locks,omitempty"`

	// AcquireFailed: a later command found the state locked; Holder is the
	// Lock Info block it printed (nil when none was printed).
	AcquireFailed bool      `json:"acquire_failed"`
	Holder        *LockInfo `json:"holder,omitempty"`

	// Tool is "tofu" when the text is OpenTofu's, else "terraform".
	Tool string `json:"tool"`
}

// LockInfo is terraform's lock record (statemgr.LockInfo); the same JSON is
// stored in the DynamoDB item's Info attribute and in the .tflock object.
type LockInfo struct {
	ID        string `json:"ID"`
	Operation string `json:"Operation"`
	Info      string `json:"Info"`
	Who       string `json:"Who"`
	Version   string `json:"Version"`
	Created   string `json:"Created"`
	Path      string `json:"Path"`
}

// textPatterns are compiled on first use, not at start-up: tf runs as
// `terraform` for every command, and most never read terraform's text.
type textPatterns struct {
	ansi      *regexp.Regexp
	sdkExpiry []struct {
		re      *regexp.Regexp
		service string
		shape   string
	}
	apiError, opError                                        *regexp.Regexp
	persistFailed, releaseFailed, acquireFailed              *regexp.Regexp
	releaseLockID, unlockLockID, dynamoTable, lockfileObject *regexp.Regexp
	bothLocks, openTofu, lockInfoHeader, lockInfoField       *regexp.Regexp
}

var compiledPatterns = sync.OnceValue(func() *textPatterns {
	p := &textPatterns{}
	// ansi matches SGR and other CSI escape sequences (colour output).
	p.ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

	// Expiry texts that carry no "api error" code of their own (SDK errors).
	p.sdkExpiry = []struct {
		re      *regexp.Regexp
		service string
		shape   string
	}{
		{regexp.MustCompile(`(?i)the SSO session has expired or is invalid`), ServiceSSOOIDC, "sso-session-expired"},
		{regexp.MustCompile(`(?i)cached SSO token is expired, or not present, and cannot be refreshed`), ServiceSSOOIDC, "sso-token-not-refreshable"},
		{regexp.MustCompile(`(?i)refresh cached SSO token failed`), ServiceSSOOIDC, "sso-token-refresh-failed"},
	}

	// apiError finds AWS API error codes: "api error CODE: message" for
	// unmodelled errors (S3 ExpiredToken) and "CODE: message" for modelled
	// ones (SSO UnauthorizedException, SSO-OIDC InvalidGrantException).
	p.apiError = regexp.MustCompile(`\b([A-Z][A-Za-z]*(?:Exception|Token|TokenId|KeyId)):\s?([^│]{0,120})`)
	// opError names the AWS service and operation that failed.
	p.opError = regexp.MustCompile(`operation error ([A-Za-z0-9 ]+?): ([A-Za-z0-9]+),`)

	p.persistFailed = regexp.MustCompile(`Failed to persist state to backend|state has been written to the file "errored\.tfstate"`)
	p.releaseFailed = regexp.MustCompile(`Error releasing the state lock`)
	p.acquireFailed = regexp.MustCompile(`Error acquiring the state lock`)
	p.releaseLockID = regexp.MustCompile(`lock info for lock ID "([^"\s]+)"`)
	p.unlockLockID = regexp.MustCompile(`(?:Lock ID|lock ID|lock with ID|force-unlock(?: -force)?) "?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"?`)
	p.dynamoTable = regexp.MustCompile(`(?:Unable to retrieve item from|from) DynamoDB table "([^"]+)"`)
	p.lockfileObject = regexp.MustCompile(`unable to retrieve file from S3 bucket '([^']+)' with key '([^']+\.tflock)'`)
	p.bothLocks = regexp.MustCompile(`failed to unlock both S3 and DynamoDB`)
	p.openTofu = regexp.MustCompile(`OpenTofu|\btofu (?:state push|force-unlock|apply|init)`)
	p.lockInfoHeader = regexp.MustCompile(`^\s*Lock Info:\s*$`)
	p.lockInfoField = regexp.MustCompile(`^\s+(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$`)
	return p
})

// expiryCode says whether an AWS error code (with its message) means the
// credentials or the SSO session expired.
func expiryCode(code, msg string) (expired bool, shape string) {
	switch code {
	case "ExpiredToken":
		return true, "ExpiredToken"
	case "ExpiredTokenException":
		return true, "ExpiredTokenException"
	case "UnauthorizedException":
		// SSO GetRoleCredentials with a dead portal session.
		if strings.Contains(msg, "Session token not found or invalid") {
			return true, "sso-UnauthorizedException"
		}
	case "InvalidGrantException":
		// SSO-OIDC CreateToken refusing the refresh token.
		return true, "sso-oidc-InvalidGrantException"
	}
	return false, ""
}

// serviceName maps the SDK's service ID in "operation error <ID>: <Op>" to
// one of the Service constants.
func serviceName(id string) string {
	switch strings.ToLower(strings.TrimSpace(id)) {
	case "s3":
		return ServiceS3
	case "dynamodb":
		return ServiceDynamoDB
	case "sso":
		return ServiceSSO
	case "sso oidc", "ssooidc":
		return ServiceSSOOIDC
	case "sts":
		return ServiceSTS
	}
	return ServiceOther
}

// Flatten removes colour codes and the diagnostic box drawing, then joins
// the hard-wrapped lines with single spaces, so that a sentence wrapped at
// any column reads as one line again.
func Flatten(text []byte) string {
	var b strings.Builder
	for _, line := range lines(text) {
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(line)
	}
	return b.String()
}

// lines returns the text's lines without colour codes, box-drawing prefixes
// or surrounding blanks (empty lines are kept as "").
func lines(text []byte) []string {
	pt := compiledPatterns()
	clean := pt.ansi.ReplaceAll(text, nil)
	clean = bytes.ReplaceAll(clean, []byte("\r\n"), []byte("\n"))
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(clean))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		for {
			s := strings.TrimSpace(stripBox(l))
			if s == l {
				break
			}
			l = s
		}
		out = append(out, l)
	}
	return out
}

// rawLines keeps leading indentation (the Lock Info block is indented) but
// drops the box prefix.
func rawLines(text []byte) []string {
	pt := compiledPatterns()
	clean := pt.ansi.ReplaceAll(text, nil)
	var out []string
	for _, l := range strings.Split(string(clean), "\n") {
		out = append(out, strings.TrimRight(stripBox(l), "\r \t"))
	}
	return out
}

func stripBox(l string) string {
	for _, p := range []string{"│ ", "│", "╷", "╵"} {
		if strings.HasPrefix(l, p) {
			return l[len(p):]
		}
	}
	return l
}

// Classify reads terraform's stderr.
func Classify(stderr []byte) Classification {
	pt := compiledPatterns()
	flat := Flatten(stderr)
	c := Classification{Tool: "terraform"}
	if pt.openTofu.MatchString(flat) {
		c.Tool = "tofu"
	}
	addService := func(s, shape string) {
		c.Expired = true
		if !contains(c.Services, s) {
			c.Services = append(c.Services, s)
		}
		if !contains(c.Shapes, shape) {
			c.Shapes = append(c.Shapes, shape)
		}
	}
	// Each "api error" belongs to the nearest "operation error" before it.
	ops := pt.opError.FindAllStringSubmatchIndex(flat, -1)
	for _, m := range pt.apiError.FindAllStringSubmatchIndex(flat, -1) {
		code, msg := flat[m[2]:m[3]], flat[m[4]:m[5]]
		service := ServiceOther
		for _, o := range ops {
			if o[0] < m[0] {
				service = serviceName(flat[o[2]:o[3]])
			}
		}
		if code == "InvalidClientTokenId" || code == "UnrecognizedClientException" || code == "InvalidAccessKeyId" {
			if !contains(c.NotExpiry, code) {
				c.NotExpiry = append(c.NotExpiry, code)
			}
			continue
		}
		if ok, shape := expiryCode(code, msg); ok {
			addService(service, shape)
		}
	}
	for _, p := range pt.sdkExpiry {
		if p.re.MatchString(flat) {
			addService(p.service, p.shape)
		}
	}

	c.PersistFailed = pt.persistFailed.MatchString(flat)
	c.ReleaseFailed = pt.releaseFailed.MatchString(flat)
	c.AcquireFailed = pt.acquireFailed.MatchString(flat)
	c.BothLocks = pt.bothLocks.MatchString(flat)
	if m := pt.dynamoTable.FindStringSubmatch(flat); m != nil {
		c.LockTable = m[1]
	}
	if m := pt.lockfileObject.FindStringSubmatch(flat); m != nil {
		c.LockBucket, c.LockfileKey = m[1], m[2]
	}
	if c.ReleaseFailed {
		if m := pt.releaseLockID.FindStringSubmatch(flat); m != nil {
			c.LockID = m[1]
		} else if m := pt.unlockLockID.FindStringSubmatch(flat); m != nil {
			c.LockID = m[1]
		}
	}
	if c.AcquireFailed {
		c.Holder = parseLockInfo(stderr)
	}
	return c
}

// parseLockInfo reads the "Lock Info:" block terraform prints when it cannot
// acquire a lock. The block's lines are indented, which terraform's wrapper
// leaves alone, so it is read line by line.
func parseLockInfo(text []byte) *LockInfo {
	pt := compiledPatterns()
	var info *LockInfo
	for _, l := range rawLines(text) {
		if pt.lockInfoHeader.MatchString(l) {
			info = &LockInfo{}
			continue
		}
		if info == nil {
			continue
		}
		m := pt.lockInfoField.FindStringSubmatch(l)
		if m == nil {
			if strings.TrimSpace(l) == "" && info.ID != "" {
				break
			}
			continue
		}
		switch m[1] {
		case "ID":
			info.ID = m[2]
		case "Path":
			info.Path = m[2]
		case "Operation":
			info.Operation = m[2]
		case "Who":
			info.Who = m[2]
		case "Version":
			info.Version = m[2]
		case "Created":
			info.Created = m[2]
		case "Info":
			info.Info = m[2]
		}
	}
	if info == nil || info.ID == "" {
		return nil
	}
	return info
}

// Commands a person runs, in the tool's own words.
func pushCommand(tool, path string, lockFalse bool) string {
	if lockFalse {
		return tool + " state push -lock=false " + shellQuote(path)
	}
	return tool + " state push " + shellQuote(path)
}

func unlockCommand(tool, id string) string {
	return tool + " force-unlock -force " + shellQuote(id)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
