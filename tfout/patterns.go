package tfout

import (
	"bufio"
	"bytes"
	"regexp"
	"slices"
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
//
// The cause of a failure is read only from terraform's own backend
// diagnostics: first the ones that leave the wreck (saving or uploading the
// state, persisting it, releasing the lock), and only when there are none of
// those, the other backend diagnostics (loading the state, acquiring the
// lock, configuring the backend). Text anywhere else in stderr, such as a
// provider's ExpiredToken on a resource, never decides the cause.
type Classification struct {
	// Expired is true when the backend diagnostics say the credentials
	// expired or vanished (Cause is CauseExpired or CauseVanished).
	Expired bool `json:"expired"`
	// Services that reported expiry (s3, dynamodb, sso, sso-oidc, sts, other).
	Services []string `json:"services,omitempty"`
	// Shapes names each expiry text that matched (for the report).
	Shapes []string `json:"shapes,omitempty"`
	// NotExpiry lists credential errors in the backend diagnostics that look
	// similar but are not expiry (InvalidClientTokenId: the keys are wrong,
	// not old).
	NotExpiry []string `json:"not_expiry,omitempty"`

	// Cause is why the backend failed; Kind names the specific shape within
	// the cause (KindAccessDenied, KindClockSkew, ...).
	Cause Cause  `json:"cause"`
	Kind  string `json:"kind,omitempty"`
	// Detail is the one thing to fix, as printed: the denied IAM action
	// (s3:PutObject), the KMS key, the missing bucket or table, the host that
	// did not answer, the missing SSO cache file, the unknown profile.
	Detail string `json:"detail,omitempty"`
	// Principal and Resource of an access denial, when printed.
	Principal string `json:"principal,omitempty"`
	Resource  string `json:"resource,omitempty"`
	// From says which diagnostics the cause was read from: "save",
	// "release" or "backend" (load, lock acquire, configuration).
	From string `json:"from,omitempty"`

	// SaveFailed: terraform could not save or upload the state (the "Failed
	// to save state" / "failed to upload state" diagnostics).
	SaveFailed bool `json:"save_failed"`
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

// Cause is why a backend operation failed.
type Cause string

// Causes tf tells apart. Expired and vanished credentials are renewed and the
// state put back; a transient failure is retried once the backend answers; a
// permanent one is never retried; a look-alike must not make tf act; unknown
// is a save or release failure whose reason tf does not recognise.
const (
	CauseNone      Cause = "none"
	CauseExpired   Cause = "expired"
	CauseVanished  Cause = "vanished-credentials"
	CauseTransient Cause = "transient"
	CausePermanent Cause = "permanent"
	CauseLookalike Cause = "lookalike"
	CauseUnknown   Cause = "unknown"
)

// Kinds within a cause (Classification.Kind).
const (
	KindExpiredToken       = "expired-token"
	KindSSOSessionExpired  = "sso-session-expired"
	KindNoCredentials      = "no-credentials"
	KindTimeout            = "timeout"
	KindDNS                = "dns"
	KindConnection         = "connection"
	KindThrottled          = "throttled"
	KindServerError        = "server-error"
	KindAccessDenied       = "access-denied"
	KindKMS                = "kms"
	KindNoSuchBucket       = "no-such-bucket"
	KindNoSuchTable        = "no-such-table"
	KindInvalidCredentials = "invalid-credentials"
	KindStateConflict      = "state-conflict"
	KindConfiguration      = "configuration"
	KindUntrustedTLS       = "untrusted-tls"
	KindClockSkew          = "clock-skew"
	KindTLSCertExpired     = "tls-certificate-expired"
	KindSSOCacheMissing    = "sso-cache-missing"
	KindSSOTokenUnreadable = "sso-token-unreadable"
	KindProfileNotFound    = "profile-not-found"
	KindLockHeld           = "lock-held"
)

// Acts says whether tf may act on the cause by itself: renew and put the
// state back (expired, vanished) or retry once the backend answers
// (transient). Everything else secures the state and stops.
func (c Cause) Acts() bool {
	return c == CauseExpired || c == CauseVanished || c == CauseTransient
}

// Wreck says whether terraform reported a save or a lock release that
// failed: it left something to repair. A failed save counts on its own:
// some terraform versions print nothing but "Failed to save state" and
// "Error saving state: failed to upload state: NoCredentialProviders: no
// valid providers in chain." (no word of errored.tfstate, no release
// error), and that is the same wreck as its longer forms.
func (c Classification) Wreck() bool {
	return c.SaveFailed || c.PersistFailed || c.ReleaseFailed
}

// ReleaseFailedIn says whether terraform's stderr reports that it failed to
// release its state lock. taint, untaint, state rm/mv and import still exit
// 0 then, so the wrapper asks on every successful guarded run: a byte search
// first, the full reading only when that phrase is there.
func ReleaseFailedIn(stderr []byte) bool {
	if !bytes.Contains(stderr, []byte("releasing the state lock")) {
		return false
	}
	return Classify(stderr).ReleaseFailed
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
	apiError, opError                                                           *regexp.Regexp
	persistFailed, releaseFailed, acquireFailed                                 *regexp.Regexp
	releaseLockID, unlockLockID, releaseLockInfoID, dynamoTable, lockfileObject *regexp.Regexp
	bothLocks, openTofu, lockInfoHeader, lockInfoField                          *regexp.Regexp

	// Reading diagnostics out of noisy logs (see cleanLines, diagnostics).
	ansiLoose, jsonEscaped                   *regexp.Regexp
	noisePrefixes                            []*regexp.Regexp
	logrusPrefix, logrusSuffix               *regexp.Regexp
	header, saveHead, releaseHead, otherHead *regexp.Regexp
	providerOwned, backendWord               *regexp.Regexp

	// Causes, in the order they are tried (first match wins).
	causes []causeRule
	// Details named in a cause's text.
	deniedAction, principal, deniedResource, kmsKey *regexp.Regexp
	bucketQuoted, bucketHost, tableQuoted, urlHost  *regexp.Regexp
	dialHost, lookupHost, cacheFile, profileName    *regexp.Regexp

	// Apply progress (stdout): see Progress.
	planLine, applyLine, completeLine, startLine, errorLine, errorHead *regexp.Regexp
	actionsLine, plannedLine                                           *regexp.Regexp
}

// causeRule maps a text shape in a backend diagnostic to a cause.
type causeRule struct {
	re    *regexp.Regexp
	cause Cause
	kind  string
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
	p.releaseLockInfoID = regexp.MustCompile(`Lock Info:\s+ID:\s+([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})`)
	p.unlockLockID = regexp.MustCompile(`(?:Lock ID|lock ID|lock with ID|force-unlock(?: -force)?) "?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"?`)
	p.dynamoTable = regexp.MustCompile(`(?:Unable to retrieve item from|from) DynamoDB table "([^"]+)"`)
	p.lockfileObject = regexp.MustCompile(`unable to retrieve file from S3 bucket '([^']+)' with key '([^']+\.tflock)'`)
	p.bothLocks = regexp.MustCompile(`failed to unlock both S3 and DynamoDB`)
	p.openTofu = regexp.MustCompile(`OpenTofu|\btofu (?:state push|force-unlock|apply|init)`)
	p.lockInfoHeader = regexp.MustCompile(`^\s*Lock Info:\s*$`)
	p.lockInfoField = regexp.MustCompile(`^\s+(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$`)
	compileDiagnostics(p)
	compileCauses(p)
	compileProgress(p)
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

// planValueIndent is the least indentation of a multi-line value's lines in
// terraform's plan (see Classify).
const planValueIndent = 8

// Classify reads terraform's stderr. The cause comes from the backend's own
// diagnostics only (see Classification); the flags and the lock ID come from
// terraform's fixed headers, wherever they are.
func Classify(stderr []byte) Classification {
	pt := compiledPatterns()
	lines := cleanLines(stderr)
	for i, l := range lines {
		// Indented to column 8 or further and outside a diagnostic's box:
		// the lines of a multi-line value in a plan (a heredoc's lines start
		// at column 8 in "Changes to Outputs", at 12 in a resource), never
		// terraform's own diagnostic (its unboxed text is at column 0, a
		// command in it at 4; old multi-error lists at 1 to 6). When stdout
		// and stderr are one destination (a CI log) the text read here
		// holds the plan too, and text quoted in a value must not read as
		// this run's failure or its lock ID.
		if !l.gutter && l.indent >= planValueIndent {
			lines[i].text = ""
		}
	}
	var parts []string
	for _, l := range lines {
		if l.text != "" {
			parts = append(parts, l.text)
		}
	}
	flat := strings.Join(parts, " ")
	c := Classification{Tool: "terraform", Cause: CauseNone}
	if pt.openTofu.MatchString(flat) {
		c.Tool = "tofu"
	}

	var save, release, other []string
	for _, d := range diagnostics(lines) {
		switch {
		case pt.saveHead.MatchString(d.text):
			save = append(save, d.text)
			c.SaveFailed = true
		case pt.releaseHead.MatchString(d.text):
			release = append(release, d.text)
		case pt.otherHead.MatchString(d.text) && !pt.providerOwned.MatchString(d.text) &&
			(!strings.Contains(strings.ToLower(d.head), "credential") || pt.backendWord.MatchString(d.text)):
			other = append(other, d.text)
		}
	}
	// The wreck's own diagnostics decide; the save's before the release's.
	// Without a wreck, the other backend diagnostics name the cause, but an
	// unrecognised one is not a cause of anything.
	var text string
	for _, src := range []struct {
		from  string
		texts []string
	}{{"save", save}, {"release", release}, {"backend", other}} {
		if len(src.texts) == 0 {
			continue
		}
		t := strings.Join(src.texts, " ")
		cause, kind := readCause(t)
		if cause == CauseUnknown && src.from == "backend" {
			continue
		}
		if c.From == "" || (c.Cause == CauseUnknown && cause != CauseUnknown) {
			c.Cause, c.Kind, c.From, text = cause, kind, src.from, t
		}
		if c.Cause != CauseUnknown {
			break
		}
	}
	if text != "" {
		readDetail(&c, text)
		c.NotExpiry = notExpiryCodes(text)
	}
	if c.Cause == CauseExpired || c.Cause == CauseVanished {
		c.Expired = true
		shapesText := text
		if c.From != "backend" {
			shapesText = strings.Join(append(append([]string{}, save...), release...), " ")
		}
		c.Services, c.Shapes = expiryShapes(shapesText)
		if len(c.Shapes) == 0 {
			c.Shapes = []string{c.Kind}
		}
		if len(c.Services) == 0 {
			c.Services = []string{ServiceOther}
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
		// The ID is evidence of ownership: it is read only from the release
		// diagnostic itself, never from trace logs or other diagnostics
		// (another run's Lock Info, a -lock-timeout retry) elsewhere.
		relText := strings.Join(release, " ")
		if relText == "" {
			relText = flat // pre-1.0 "Error releasing the state lock!" without a box
		}
		if m := pt.releaseLockID.FindStringSubmatch(relText); m != nil {
			c.LockID = m[1]
		} else if m := pt.unlockLockID.FindStringSubmatch(relText); m != nil {
			c.LockID = m[1]
		} else if m := pt.releaseLockInfoID.FindStringSubmatch(relText); m != nil && !strings.Contains(relText, "does not match") {
			// The S3 backend's Unlock reads the lock record, returns "does
			// not match" with another holder's Lock Info, and otherwise
			// fails only after the record's ID was found equal to the one
			// it releases (a denied DeleteItem): that Lock Info is the run's.
			c.LockID = m[1]
		}
	}
	if c.AcquireFailed {
		c.Holder = parseLockInfo(stderr)
	}
	return c
}

// expiryShapes names the services and the expiry texts in a diagnostic.
func expiryShapes(flat string) (services, shapes []string) {
	pt := compiledPatterns()
	add := func(s, shape string) {
		if !slices.Contains(services, s) {
			services = append(services, s)
		}
		if !slices.Contains(shapes, shape) {
			shapes = append(shapes, shape)
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
		if ok, shape := expiryCode(code, msg); ok {
			add(service, shape)
		}
	}
	for _, p := range pt.sdkExpiry {
		if p.re.MatchString(flat) {
			add(p.service, p.shape)
		}
	}
	if strings.Contains(flat, "NoCredentialProviders") {
		add(ServiceOther, "NoCredentialProviders")
	}
	return services, shapes
}

// notExpiryCodes lists credential error codes that look like expiry but
// are not.
func notExpiryCodes(flat string) []string {
	var out []string
	for _, m := range compiledPatterns().apiError.FindAllStringSubmatch(flat, -1) {
		switch m[1] {
		case "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId":
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	return out
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

func compileDiagnostics(p *textPatterns) {
	// Colour codes, also when a log viewer mangled ESC into U+FFFD or
	// dropped it ("[31m").
	p.ansiLoose = regexp.MustCompile("(?:\x1b|\uFFFD)\\[[0-9;?]*[ -/]*[@-~]|\\[(?:[0-9]{1,3};)*[0-9]{1,3}m")
	// A log that stored stderr as a JSON string: literal \n between lines.
	p.jsonEscaped = regexp.MustCompile(`\\[nrt"]`)
	// What CI systems and wrappers put in front of each line.
	p.noisePrefixes = []*regexp.Regexp{
		regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\s?`),                             // GitHub Actions timestamps
		regexp.MustCompile(`^##\[(?:error|warning|debug|notice|info|group|endgroup|command|section)\]`), // Actions / Azure DevOps
		regexp.MustCompile(`^\d{1,6} \| ?`),                                                             // CodeBuild line numbers
		regexp.MustCompile(`^(?:> ?)+`),                                                                 // quoted in a comment
		regexp.MustCompile(`^\[terragrunt\](?: \[[^\]]*\])? \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\s?`),         // old terragrunt
		regexp.MustCompile(`^time=\S+ level=\w+ (?:prefix=\S+ )?msg=`),                                  // terragrunt logrus text
		regexp.MustCompile(`^\[(?:ERROR|INFO|WARN|DEBUG)[^\]]*\]:?\s?`),                                 // python loggers
		// stderr kept as JSON (docker's json-file, CI APIs): once the
		// escaped newlines are undone, the object's keys are left around
		// the lines.
		regexp.MustCompile(`^"?,"[a-z_]+":"[^"]*"(?:,"[a-z_]+":"[^"]*")*\}\s*`),
		regexp.MustCompile(`^\{(?:"[a-z_]+":"[^"]*",)*"(?:log|msg|message|output|text)":"`),
	}
	p.logrusPrefix = regexp.MustCompile(`^(?:DEBU|INFO|WARN|ERRO|FATA|TRAC)\[\d+\]\s?`)
	p.logrusSuffix = regexp.MustCompile(`(?:\s+[a-z_]+=\S*)+\s*$`)

	// A diagnostic's first line. Old terraform printed some without "Error:".
	p.header = regexp.MustCompile(`^(?:Error|Warning):\s|^(?:Failed to save state|Failed to persist state|Failed to upload state|failed to upload state|Error releasing the state lock|Error saving state|Error loading state|Error locking (?:source |destination )?state|Error refreshing state|Error reading state|Error inspecting states|Error configuring the backend|Failed to load backend|Failed to load state|Failed to get existing workspaces|Failed to unlock state)\b`)
	lead := `(?i)^(?:error:\s*)*`
	p.saveHead = regexp.MustCompile(lead + `(?:failed to save state|error saving state|failed to upload state|failed to persist state|error copying state)`)
	p.releaseHead = regexp.MustCompile(lead + `(?:error releasing the state lock|failed to unlock state)`)
	p.otherHead = regexp.MustCompile(lead + `(?:error loading state|failed to load state|error reading state|error locking (?:source |destination )?state|error acquiring the state lock|failed to load backend|failed to get existing workspaces|error inspecting states|error configuring (?:the backend|s3 backend)|error refreshing state|no valid credential sources)`)
	// A provider's diagnostic, even when its header looks like a backend's.
	p.providerOwned = regexp.MustCompile(`with provider\[|\* provider\.|registry\.terraform\.io/providers/|validating provider credentials`)
	p.backendWord = regexp.MustCompile(`(?i)backend`)
}

func compileCauses(p *textPatterns) {
	r := func(expr string, c Cause, kind string) causeRule {
		return causeRule{re: regexp.MustCompile(expr), cause: c, kind: kind}
	}
	p.causes = []causeRule{
		// Look-alikes first: worded like expiry, but renewing credentials
		// does not fix them.
		r(`(?i)(?:SSO session has expired or is invalid|SSOProviderInvalidToken).{0,300}?(?:no such file or directory|cannot find the (?:file|path) specified)`, CauseLookalike, KindSSOCacheMissing),
		r(`(?i)failed to read cached SSO token file`, CauseLookalike, KindSSOTokenUnreadable),
		r(`(?i)failed to get shared config profile|SharedConfigProfileNotExist|profile \S+ (?:does not exist|could not be found)`, CauseLookalike, KindProfileNotFound),
		r(`RequestTimeTooSkewed|Signature expired: .{0,60}is now earlier than|Signature not yet current|request time and the current time is too large`, CauseLookalike, KindClockSkew),
		r(`x509: certificate has expired or is not yet valid`, CauseLookalike, KindTLSCertExpired),
		r(`ConditionalCheckFailedException|PreconditionFailed|StatusCode: 412\b`, CauseLookalike, KindLockHeld),
		// Expired, then vanished credentials.
		r(`(?i)the SSO session has expired or is invalid|cached SSO token is expired|refresh cached SSO token failed|Session token not found or invalid|InvalidGrantException|access token is expired`, CauseExpired, KindSSOSessionExpired),
		r(`\bExpiredToken(?:Exception)?\b|TokenRefreshRequired|The provided token has expired|security token included in the request is expired`, CauseExpired, KindExpiredToken),
		r(`(?i)NoCredentialProviders|no valid providers in chain|no valid credential sources|no EC2 IMDS role found|EC2RoleRequestError|failed to retrieve credentials|AnonymousCredentials`, CauseVanished, KindNoCredentials),
		// Permanent: a person must change something.
		r(`(?i)\bkms:[A-Za-z]+|arn:aws:kms:|KMS\.\w+Exception|KMSInvalidStateException|KMS key`, CausePermanent, KindKMS),
		r(`InvalidClientTokenId|UnrecognizedClientException|InvalidAccessKeyId|SignatureDoesNotMatch|security token included in the request is invalid`, CausePermanent, KindInvalidCredentials),
		r(`AccessDenied|is not authorized to perform|Access Denied|api error Forbidden|StatusCode: 403\b|status code: 403\b|UnauthorizedOperation`, CausePermanent, KindAccessDenied),
		r(`NoSuchBucket|S3 bucket (?:"[^"]*" )?does not exist|specified bucket does not exist`, CausePermanent, KindNoSuchBucket),
		r(`ResourceNotFoundException|Requested resource not found|non-existent table`, CausePermanent, KindNoSuchTable),
		r(`(?i)error uploading state: (?:\d+ )?conflict|lineage .{0,60}does not match|workspace is not locked`, CausePermanent, KindStateConflict),
		r(`AuthorizationHeaderMalformed|PermanentRedirect|IllegalLocationConstraintException|InvalidRegion`, CausePermanent, KindConfiguration),
		r(`x509: certificate signed by unknown authority|x509: certificate is valid for`, CausePermanent, KindUntrustedTLS),
		// Transient: the backend did not answer, or answered "later".
		r(`SlowDown|Throttling|ThrottlingException|ProvisionedThroughputExceeded|RequestLimitExceeded|TooManyRequests|Rate exceeded|retry quota exceeded`, CauseTransient, KindThrottled),
		r(`InternalError|ServiceUnavailable|InternalServerError|StatusCode: 5\d\d\b|status code: 5\d\d\b|\b50[234] (?:Service Unavailable|Bad Gateway|Gateway Timeout)`, CauseTransient, KindServerError),
		r(`no such host|server misbehaving|[Tt]emporary failure in name resolution|dial tcp: lookup `, CauseTransient, KindDNS),
		r(`i/o timeout|context deadline exceeded|Client\.Timeout|TLS handshake timeout|timeout awaiting response headers|connection timed out|RequestTimeout`, CauseTransient, KindTimeout),
		r(`connection reset by peer|broken pipe|connection refused|unexpected EOF|network is unreachable|no route to host|tls: oversized record|failed to rewind transport stream|send request failed|: EOF\b`, CauseTransient, KindConnection),
	}
	p.deniedAction = regexp.MustCompile(`perform: ([a-z0-9-]+:[A-Za-z0-9*]+)`)
	p.principal = regexp.MustCompile(`User: (arn:aws[a-z-]*:[^\s"]+) is not authorized`)
	p.deniedResource = regexp.MustCompile(`on resource: "?([^\s"]+)"?`)
	p.kmsKey = regexp.MustCompile(`arn:aws[a-z-]*:kms:[^\s"',]+`)
	p.bucketQuoted = regexp.MustCompile(`(?:S3 bucket|bucket) ["']([a-z0-9][a-z0-9.\-]{1,62})["']`)
	p.bucketHost = regexp.MustCompile(`https?://([a-z0-9][a-z0-9.\-]{1,62})\.s3[.\-][a-z0-9.\-]*amazonaws\.com`)
	p.tableQuoted = regexp.MustCompile(`DynamoDB table "([^"]+)"|table/([A-Za-z0-9_.\-]+)`)
	p.urlHost = regexp.MustCompile(`(?:Put|Get|Post|Head|Delete) "?https?://([^/"\s:]+)`)
	p.dialHost = regexp.MustCompile(`dial tcp ([0-9a-fA-F.:\[\]]+:\d+)`)
	p.lookupHost = regexp.MustCompile(`lookup ([^\s:]+)`)
	p.cacheFile = regexp.MustCompile(`open (\S+?\.json)`)
	p.profileName = regexp.MustCompile(`(?:failed to get shared config profile,?|profile) "?([A-Za-z0-9_.@\-]+)"?`)
}

// line is one cleaned line of stderr; open and close mark the top and bottom
// of terraform's diagnostic box (╷ and ╵), gutter a line that had the box's
// left edge (│).
type line struct {
	text                string
	open, close, gutter bool
	// indent is the whitespace cleanLines took from the line's head (not
	// counting what a log prefix itself ends with): terraform prints its
	// progress at column 0 and the plan's "# address" at 2, while values,
	// heredocs and quoted output in the plan are indented further.
	indent int
}

// cleanLines undoes what logs do to terraform's text: JSON-escaped newlines,
// colour codes (also mangled), CI and logger prefixes, the box gutter.
func cleanLines(text []byte) []line {
	pt := compiledPatterns()
	s := string(text)
	if strings.Count(s, `\n`) > strings.Count(s, "\n") {
		s = pt.jsonEscaped.ReplaceAllStringFunc(s, func(m string) string {
			switch m {
			case `\n`:
				return "\n"
			case `\t`:
				return "\t"
			case `\r`:
				return ""
			}
			return `"`
		})
	}
	s = pt.ansiLoose.ReplaceAllString(s, "")
	var out []line
	for _, raw := range strings.Split(s, "\n") {
		l := strings.TrimRight(raw, "\r")
		var ln line
		// Each pass peels one layer (a timestamp, then ##[error], then the
		// gutter, ...); prefixes are short, so only a line's head is read.
		for pass := 0; pass < 16; pass++ {
			before := l
			trimmed := strings.TrimLeft(l, " \t")
			ln.indent += len(l) - len(trimmed)
			l = trimmed
			for _, re := range pt.noisePrefixes {
				if m := re.FindStringIndex(head(l)); m != nil {
					l = l[m[1]:]
				}
			}
			if m := pt.logrusPrefix.FindString(head(l)); m != "" {
				l = pt.logrusSuffix.ReplaceAllString(l[len(m):], "")
			}
			// A logger's own prefix in front of the box: cut it.
			if i := strings.IndexAny(head(l), "│╷╵"); i > 0 {
				l = l[i:]
			}
			switch {
			case strings.HasPrefix(l, "╷"):
				ln.open, l = true, l[len("╷"):]
			case strings.HasPrefix(l, "╵"):
				ln.close, l = true, l[len("╵"):]
			case strings.HasPrefix(l, "│"):
				ln.gutter, l = true, l[len("│"):]
			}
			if l == before {
				break
			}
		}
		ln.text = strings.TrimSpace(l)
		out = append(out, ln)
	}
	return out
}

// head is the part of a line where a log prefix can be.
func head(l string) string {
	if len(l) > 160 {
		return l[:160]
	}
	return l
}

// cleanFlat is the cleaned text as one line (hard wrapping undone).
func cleanFlat(text []byte) string {
	var parts []string
	for _, l := range cleanLines(text) {
		if l.text != "" {
			parts = append(parts, l.text)
		}
	}
	return strings.Join(parts, " ")
}

// diagnostic is one of terraform's diagnostics: its first line and the rest.
type diagnostic struct {
	head, text string
}

// diagnostics splits cleaned stderr into terraform's diagnostics. A box (╷
// to ╵) is one diagnostic even when its detail holds further "Error:" lines;
// a run of gutter lines whose top edge was lost in copying counts as a box
// too. A header line without the gutter ends a box whose bottom edge was
// lost. Outside a box, every header line starts a new one and other lines
// (apply progress, make's complaints) belong to the one before.
func diagnostics(lines []line) []diagnostic {
	pt := compiledPatterns()
	var out []diagnostic
	var head string
	var body []string
	boxed, open, implicit := false, false, false
	flush := func() {
		if open && head != "" {
			out = append(out, diagnostic{head: head, text: strings.Join(append([]string{head}, body...), " ")})
		}
		head, body, open, boxed, implicit = "", nil, false, false, false
	}
	for _, l := range lines {
		switch {
		case l.open:
			flush()
			open, boxed = true, true
		case l.close:
			flush()
		}
		if implicit && !l.gutter {
			implicit = false
		}
		if l.text == "" {
			continue
		}
		switch {
		case boxed && head == "":
			head = l.text
		case (boxed || implicit) && (l.gutter || !pt.header.MatchString(l.text)):
			body = append(body, l.text)
		case pt.header.MatchString(l.text):
			flush()
			open, head, implicit = true, l.text, l.gutter
		case open:
			body = append(body, l.text)
		}
	}
	flush()
	return out
}

// readCause names the cause in a backend diagnostic's text.
func readCause(text string) (c Cause, kind string) {
	for _, r := range compiledPatterns().causes {
		if r.re.MatchString(text) {
			return r.cause, r.kind
		}
	}
	return CauseUnknown, ""
}

// readDetail fills Detail, Principal and Resource for the cause found.
func readDetail(c *Classification, text string) {
	pt := compiledPatterns()
	first := func(re *regexp.Regexp) string {
		m := re.FindStringSubmatch(text)
		for _, g := range m[1:] {
			if g != "" {
				return g
			}
		}
		return ""
	}
	has := func(re *regexp.Regexp) bool { return re.MatchString(text) }
	switch c.Kind {
	case KindAccessDenied, KindKMS:
		if has(pt.deniedAction) {
			c.Detail = first(pt.deniedAction)
		} else if m := pt.opError.FindAllStringSubmatch(text, -1); m != nil {
			last := m[len(m)-1]
			c.Detail = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(last[1]), " ", "")) + ":" + last[2]
		}
		if has(pt.principal) {
			c.Principal = first(pt.principal)
		}
		if has(pt.deniedResource) {
			c.Resource = first(pt.deniedResource)
		}
		if c.Kind == KindKMS && has(pt.kmsKey) {
			c.Resource = pt.kmsKey.FindString(text)
		}
	case KindNoSuchBucket:
		if has(pt.bucketQuoted) {
			c.Detail = first(pt.bucketQuoted)
		} else if has(pt.bucketHost) {
			c.Detail = first(pt.bucketHost)
		}
	case KindNoSuchTable:
		if has(pt.tableQuoted) {
			c.Detail = first(pt.tableQuoted)
		}
	case KindTimeout, KindDNS, KindConnection, KindThrottled, KindServerError, KindTLSCertExpired:
		switch {
		case c.Kind == KindDNS && has(pt.lookupHost):
			c.Detail = first(pt.lookupHost)
		case has(pt.urlHost):
			c.Detail = first(pt.urlHost)
		case has(pt.dialHost):
			c.Detail = first(pt.dialHost)
		}
	case KindSSOCacheMissing:
		if has(pt.cacheFile) {
			c.Detail = first(pt.cacheFile)
		}
	case KindProfileNotFound:
		if has(pt.profileName) {
			c.Detail = first(pt.profileName)
		}
	}
}

func compileProgress(p *textPatterns) {
	p.planLine = regexp.MustCompile(`^Plan: (?:\d+ to import, )?(\d+) to add, (\d+) to change, (\d+) to destroy\b`)
	p.applyLine = regexp.MustCompile(`^(?:Apply|Destroy) complete! Resources: (?:\d+ imported, )?(\d+) added, (\d+) changed, (\d+) destroyed`)
	// A resource instance address and nothing else before the colon (a
	// deposed object's suffix aside): a provisioner's output ("x
	// (local-exec): ...") or a value quoted in the plan never matches.
	key := `(?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])?`
	name := `[A-Za-z_][A-Za-z0-9_-]*`
	addr := `((?:module\.` + name + key + `\.)*(?:data\.)?` + name + `\.` + name + key + `)(?: \(deposed object [0-9a-f]+\))?`
	p.startLine = regexp.MustCompile(`^` + addr + `: (Creating|Modifying|Destroying)\.\.\.`)
	p.completeLine = regexp.MustCompile(`^` + addr + `: (Creation|Modifications|Destruction) complete after`)
	p.errorLine = regexp.MustCompile(`^with ([^\s,]+),$`)
	// The plan's list of changes, between this header and the "Plan:" line
	// (the "changed outside of Terraform" section before it uses the same
	// "# address ..." shape and is not a plan).
	p.errorHead = regexp.MustCompile(`^Error: `)
	p.actionsLine = regexp.MustCompile(`^Terraform will perform the following actions:`)
	p.plannedLine = regexp.MustCompile(`^# ` + addr + ` (will be created|will be updated in-place|will be destroyed|must be replaced|will be replaced, as requested|is tainted, so must be replaced)\b`)
}

// progressMarks are the fixed words of every line ReadProgress reads from
// stdout, short enough that terraform's colour codes never split one; KeepProgressLine is the wrapper's cheap filter over terraform's
// stdout so that it keeps only these lines, never a whole plan's text.
var progressMarks = [][]byte{
	[]byte("Plan:"), []byte("complete! Resources:"), []byte("following actions:"),
	[]byte("Creating..."), []byte("Modifying..."), []byte("Destroying..."),
	[]byte(" complete after "),
	[]byte("will be created"), []byte("will be updated in-place"), []byte("will be destroyed"),
	[]byte("must be replaced"), []byte("will be replaced, as requested"),
}

// errorHeadMark starts the first line of an unboxed (-no-color) error
// diagnostic: kept, so that ReadProgress knows that the lines after it quote
// other programs' output. It matters when stdout and stderr are one
// destination: then the kept lines are both streams'.
var errorHeadMark = []byte("Error: ")

// KeepProgressLine says whether ReadProgress could use this line of stdout.
func KeepProgressLine(l []byte) bool {
	if bytes.HasPrefix(l, errorHeadMark) {
		return true
	}
	for _, m := range progressMarks {
		if bytes.Contains(l, m) {
			return true
		}
	}
	return false
}

// Change is one planned change as terraform printed it.
type Change struct {
	Address string `json:"address"`
	// Action is "create", "update" or "destroy".
	Action string `json:"action"`
}

// Progress is what terraform's own output says the failed run did.
type Progress struct {
	// Planned is add+change+destroy from the "Plan:" line; PlanSeen says
	// whether there was one (a saved plan's apply prints none).
	Planned  int  `json:"planned"`
	PlanSeen bool `json:"plan_seen"`
	// Done are the changes terraform reported complete, in order.
	Done []Change `json:"done,omitempty"`
	// Cut are changes that started and neither completed nor failed: the
	// run ended while they were in progress, so they may or may not exist.
	Cut []Change `json:"cut,omitempty"`
	// Failed are the resource addresses named in error diagnostics.
	Failed []string `json:"failed,omitempty"`
	// ApplyComplete: terraform printed "Apply complete!".
	ApplyComplete bool `json:"apply_complete"`
	// Plan lists the changes the plan printed (a replacement is a destroy
	// and a create), in its order; empty when no plan text was seen.
	Plan []Change `json:"plan,omitempty"`
	// Unrecorded are changes terraform reported complete that the state tf
	// pushed does not show (an object created or updated that is not in
	// it, one destroyed that still is): set when tf checks, see UnrecordedIn.
	Unrecorded []Change `json:"unrecorded,omitempty"`
}

// UnrecordedIn lists the changes p.Done says were made that a state does
// not show; inState says whether that state holds a resource instance
// address. A destroy of an address that is also to be created (a
// replacement, whose new object may exist, or exist tainted after its
// create failed) cannot be judged by the address.
func (p Progress) UnrecordedIn(inState func(address string) bool) []Change {
	var out []Change
	for _, ch := range p.Done {
		present := inState(ch.Address)
		switch ch.Action {
		case "create", "update":
			if !present {
				out = append(out, ch)
			}
		case "destroy":
			recreated := slices.Contains(p.Done, Change{ch.Address, "create"}) ||
				slices.Contains(p.Plan, Change{ch.Address, "create"}) || slices.Contains(p.Failed, ch.Address)
			if present && !recreated {
				out = append(out, ch)
			}
		}
	}
	return out
}

// AllMade says whether terraform's output shows every planned change made,
// none cut off or failed, and (once checked) all of them in the state.
func (p Progress) AllMade() bool {
	return len(p.Cut) == 0 && len(p.Failed) == 0 && len(p.Unrecorded) == 0 &&
		(p.ApplyComplete || (p.PlanSeen && len(p.Done) >= p.Planned))
}

// NotMade are the planned changes that neither completed, nor were cut off,
// nor failed: terraform never started them.
func (p Progress) NotMade() []Change {
	var out []Change
	for _, ch := range p.Plan {
		if !slices.Contains(p.Done, ch) && !slices.Contains(p.Cut, ch) && !slices.Contains(p.Failed, ch.Address) {
			out = append(out, ch)
		}
	}
	return out
}

// ReadProgress reads an apply's output (stdout and stderr, in any order):
// the plan's counts, each "Creating..."/"Creation complete after" pair and
// the addresses of failed resources.
func ReadProgress(out []byte) Progress {
	pt := compiledPatterns()
	var p Progress
	action := map[string]string{
		"Creating": "create", "Modifying": "update", "Destroying": "destroy",
		"Creation": "create", "Modifications": "update", "Destruction": "destroy",
	}
	started := map[Change]bool{}
	var order []Change
	done := map[Change]bool{}
	inPlan, afterError := false, false
	var plan []Change
	for _, l := range cleanLines(out) {
		t := l.text
		if m := pt.errorLine.FindStringSubmatch(t); m != nil {
			if !strings.HasPrefix(m[1], "provider[") && !slices.Contains(p.Failed, m[1]) {
				p.Failed = append(p.Failed, m[1])
			}
			continue
		}
		if l.indent == 0 && !l.gutter && pt.errorHead.MatchString(t) {
			// terraform prints its error diagnostics after the run's last
			// progress line; what follows one (unboxed without colour) quotes
			// other programs' output, until a new plan starts.
			afterError = true
			continue
		}
		if afterError && !pt.actionsLine.MatchString(t) {
			continue
		}
		afterError = false
		if l.gutter || l.open || l.close || l.indent > 2 {
			// Inside a diagnostic, or indented like the plan's values and
			// heredocs: never terraform's own progress or plan line.
			continue
		}
		if l.indent > 0 { // only the plan's "  # address will be ..." is indented
			if m := pt.plannedLine.FindStringSubmatch(t); m != nil && inPlan {
				plan = appendPlanned(plan, m[1], m[2])
			}
			continue
		}
		if pt.actionsLine.MatchString(t) {
			inPlan, plan = true, nil // a second plan (apply after a prompt's refresh) replaces the first
			continue
		}
		if m := pt.planLine.FindStringSubmatch(t); m != nil {
			p.PlanSeen, p.Planned = true, atoi(m[1])+atoi(m[2])+atoi(m[3])
			if inPlan {
				p.Plan, inPlan = plan, false
			}
			continue
		}
		if inPlan {
			if m := pt.plannedLine.FindStringSubmatch(t); m != nil {
				plan = appendPlanned(plan, m[1], m[2])
				continue
			}
		}
		if pt.applyLine.MatchString(t) {
			p.ApplyComplete = true
			continue
		}
		if m := pt.completeLine.FindStringSubmatch(t); m != nil {
			ch := Change{Address: m[1], Action: action[m[2]]}
			if !done[ch] {
				done[ch] = true
				p.Done = append(p.Done, ch)
			}
			continue
		}
		if m := pt.startLine.FindStringSubmatch(t); m != nil {
			ch := Change{Address: m[1], Action: action[m[2]]}
			if !started[ch] {
				started[ch] = true
				order = append(order, ch)
			}
			continue
		}
	}
	for _, ch := range order {
		if !done[ch] && !slices.Contains(p.Failed, ch.Address) {
			p.Cut = append(p.Cut, ch)
		}
	}
	return p
}

// appendPlanned adds one "# address <what>" line of the plan's list.
func appendPlanned(plan []Change, address, what string) []Change {
	switch what {
	case "will be created":
		return append(plan, Change{address, "create"})
	case "will be updated in-place":
		return append(plan, Change{address, "update"})
	case "will be destroyed":
		return append(plan, Change{address, "destroy"})
	default: // a replacement
		return append(plan, Change{address, "destroy"}, Change{address, "create"})
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' || n > 1<<20 {
			return n
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// pushRefusal matches terraform's refusals of `state push` that no retry
// changes (statemgr.CheckValidImport, printed as "Failed to write state:
// ..."): another lineage, an older serial, a different state with the same
// serial. Compiled on first use: package initialisation stays free of it
// (TestStartupInitAllocations).
var pushRefusal = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`cannot import state with lineage "[^"]*" over unrelated state with lineage "[^"]*"|cannot import state with serial \d+ over newer state with serial \d+|cannot overwrite existing state with serial \d+ with a different state that has the same serial`)
})

// PushRefused is terraform's own words when it refused a state push for
// good (without -force), "" otherwise.
func PushRefused(stderr []byte) string {
	return pushRefusal().FindString(Flatten(stderr))
}

// ClassifySideCall reads the stderr of one of tf's own side calls (state
// pull, state push, force-unlock). No provider runs in them, so every
// diagnostic is the backend's: the cause is read from all of them (the S3
// backend reports dead credentials at `state pull` as "validating provider
// credentials", which is not a save or release diagnostic).
func ClassifySideCall(stderr []byte) Classification {
	c := Classify(stderr)
	if c.Expired || c.Cause != CauseNone {
		return c
	}
	flat := cleanFlat(stderr)
	cause, kind := readCause(flat)
	if cause == CauseUnknown {
		return c
	}
	c.Cause, c.Kind, c.From = cause, kind, "backend"
	readDetail(&c, flat)
	if cause == CauseExpired || cause == CauseVanished {
		c.Expired = true
		c.Services, c.Shapes = expiryShapes(flat)
		if len(c.Shapes) == 0 {
			c.Shapes = []string{kind}
		}
	}
	return c
}
