package tfout

// Every pattern tfout reads terraform's text with, compiled on first use.

import (
	"regexp"
	"sync"
)

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
	movedLine, movedFromLine, forgetLine, deletedLine, importLine      *regexp.Regexp
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
	// What a plan takes out of the state or brings into it without a
	// destroy or a create (see Progress.Gone and Adopted): moved blocks,
	// removed blocks with destroy = false, objects refresh found deleted
	// outside terraform, import blocks.
	p.movedLine = regexp.MustCompile(`^# ` + addr + ` has moved to ` + addr)
	p.movedFromLine = regexp.MustCompile(`^# \(moved from ` + addr + `\)`)
	p.forgetLine = regexp.MustCompile(`^# ` + addr + ` will (?:no longer be managed by Terraform|be removed from Terraform state), but will not be destroyed`)
	p.deletedLine = regexp.MustCompile(`^# ` + addr + ` has been deleted`)
	p.importLine = regexp.MustCompile(`^# ` + addr + ` will be imported`)
}

// pushRefusal matches terraform's refusals of `state push` that no retry
// changes (statemgr.CheckValidImport, printed as "Failed to write state:
// ..."): another lineage, an older serial, a different state with the same
// serial. Compiled on first use: package initialisation stays free of it
// (TestStartupInitAllocations).
var pushRefusal = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`cannot import state with lineage "[^"]*" over unrelated state with lineage "[^"]*"|cannot import state with serial \d+ over newer state with serial \d+|cannot overwrite existing state with serial \d+ with a different state that has the same serial`)
})
