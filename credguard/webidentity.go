package credguard

import "time"

// defaultRoleSession is how long STS makes a role session when the call
// names no duration (AssumeRoleWithWebIdentity's DurationSeconds default).
const defaultRoleSession = time.Hour

// evaluateWebIdentity judges a web identity credential by its token: the
// SDK exchanges the token for role credentials when terraform configures
// (at the start of the run) and again each time those expire, reading a
// token file afresh each time. So the run has working credentials until
// the token's exp or one role session after the start, whichever is
// later; past that only a token file that its writer renews helps. A file
// terraform reads from tf's renewed copy (GitHub ID tokens, TokenRenewer)
// lasts while the job can request ID tokens.
func evaluateWebIdentity(o Options, e Entry, required time.Duration) Entry {
	now := o.now()
	if e.Err != "" {
		e.Verdict, e.Detail = VerdictError, e.Err
		return e
	}
	if !e.Expires || e.ValidUntil.IsZero() {
		e.Verdict, e.Detail = VerdictUnknown, "lifetime unknown: the web identity token's expiry cannot be read"
		return e
	}
	if e.RenewedFrom != "" {
		aud := ""
		if e.TokenAudience != "" {
			aud = " (audience " + e.TokenAudience + ")"
		}
		return evaluateIDTokenRenewal(o, e, required, "renewed by tf", "the token in "+e.RenewedFrom+" was issued by GitHub Actions; "+
			"terraform reads tf's copy of that file ("+e.TokenFile+"), which tf refills with a fresh ID token"+aud+" before each one expires, so the SDK can assume "+e.RoleARN+" again whenever its role credentials end")
	}
	session := e.RoleDuration
	if session <= 0 {
		session = defaultRoleSession
	}
	left := e.ValidUntil.Sub(now)
	token := "the web identity token in the configuration"
	if e.TokenFile != "" {
		token = "the web identity token in " + e.TokenFile
	}
	at := e.ValidUntil.UTC().Format("15:04:05 UTC")
	e.LastsKnown = true
	switch {
	case left <= 0:
		e.Lasts = left
		e.Verdict, e.Detail = VerdictShort, token+" has expired ("+at+"): terraform cannot assume "+e.RoleARN+" with it; give terraform a fresh token"
	case left >= required:
		e.Lasts = left
		e.Verdict, e.Detail = VerdictOK, token+" is valid until "+at+" ("+human(left)+")"
	case session >= required:
		e.Lasts = session
		e.Verdict, e.Detail = VerdictOK, token+" expires in "+human(left)+", but the role credentials terraform gets with it when it starts last the role session ("+human(session)+")"
	case e.TokenFile != "" && e.GitHubToken:
		e.Lasts = session
		e.Verdict, e.Detail = VerdictWarn, token+" expires in "+human(left)+" and a role session lasts "+human(session)+"; the run needs "+human(required)+
			", and the token was issued by GitHub Actions, which does not rewrite the file: unless a step of the job does, terraform cannot assume "+e.RoleARN+" again once both have ended; "+githubTokenFix(o, e)
	case e.TokenFile != "":
		e.Lasts = session
		e.Verdict, e.Detail = VerdictWarn, token+" expires in "+human(left)+" and a role session lasts "+human(session)+"; the run needs "+human(required)+", so the file's writer must renew it before then"
	default:
		e.Lasts = session
		e.Verdict, e.Detail = VerdictShort, token+" expires in "+human(left)+" and a role session lasts "+human(session)+": terraform cannot assume "+e.RoleARN+" again after that; give it a token that lasts the run (or a longer role duration)"
	}
	return e
}

// evaluateIDTokenRenewal judges a credential tf renews with GitHub ID
// tokens (what: "renewed by tf ..."; why, when not empty, follows): it
// lasts while the job can request ID tokens, until the request token's exp
// when that is known (e.Lasts, from RenewableUntil; stop in time stops the
// run before it), else for a time tf cannot tell. A known end before the
// run's need is a warning: the role credentials terraform holds then still
// last their session, but tf cannot renew them.
func evaluateIDTokenRenewal(o Options, e Entry, required time.Duration, what, why string) Entry {
	now := o.now()
	e.Lasts, e.LastsKnown = 0, false
	if !e.RenewableUntil.IsZero() {
		e.Lasts, e.LastsKnown = e.RenewableUntil.Sub(now), true
	}
	e.Verdict, e.Detail = VerdictOK, what+" "+idTokensText(e.RenewableUntil, now)
	if e.LastsKnown && e.Lasts < required {
		e.Verdict = VerdictWarn
		e.Detail += "; the run needs " + human(required) + ", and after that end tf cannot get fresh ID tokens (terraform goes on only while the role credentials it holds last)"
	}
	if why != "" {
		e.Detail += ": " + why
	}
	return e
}

// githubTokenFix says what lets tf renew a GitHub-issued token file that it
// does not renew in this run.
func githubTokenFix(o Options, e Entry) string {
	switch {
	case !o.canRequestIDTokens():
		return "fix: give the job `permissions: id-token: write` (and, in a container, pass " + EnvActionsIDTokenURL + " and " + EnvActionsIDTokenToken +
			" to tf): tf then keeps a fresh copy of the token for terraform as long as the job can request ID tokens"
	case o.isRenewedSource(e.TokenFile):
		return "tf keeps a fresh copy of this file, but terraform reads the file itself here (named in the configuration: shared_config_files or assume_role_with_web_identity); " +
			"fix: name it through " + EnvWebIdentityTokenFile + " or a profile in " + EnvConfigFile + " (or ~/.aws/config), where tf points terraform at its copy"
	}
	return "tf renews such a token only where terraform finds it through " + EnvWebIdentityTokenFile + " or a profile in " + EnvConfigFile +
		" (or ~/.aws/config), and only when tf can get a fresh one at the start of the run (a failure to do so is said above)"
}
