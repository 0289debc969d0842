package tfout

// Reading why a run failed: terraform's diagnostics on stderr, and the
// cause, the failed save or release and the lock ID they name.

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
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
