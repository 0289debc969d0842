package credguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Verdict is the outcome for one credential.
type Verdict string

// Verdicts.
const (
	VerdictOK        Verdict = "ok"
	VerdictRefreshed Verdict = "refreshed"
	VerdictLoggedIn  Verdict = "logged in"
	VerdictShort     Verdict = "too short"
	VerdictWarn      Verdict = "warning"
	VerdictUnknown   Verdict = "unknown"
	// VerdictError: the credential cannot work at all (a profile that does
	// not exist); terraform will fail with the same reason, before any lock.
	VerdictError Verdict = "error"
)

// Entry is one row of a Report.
type Entry struct {
	Credential
	// Lasts is how long the credential can still provide working
	// credentials (negative: already over); LastsKnown says whether known.
	Lasts      time.Duration `json:"lasts_ns"`
	LastsKnown bool          `json:"lasts_known"`
	Verdict    Verdict       `json:"verdict"`
	Detail     string        `json:"detail"`
	// UnknownLifetime: nobody can tell before the run how long this
	// credential lasts (exported session keys without an expiry, the
	// container endpoint, a setting only known during the run). It is
	// refused only with Config.RefuseUnknown.
	UnknownLifetime bool `json:"unknown_lifetime"`
	// RefreshFailed: the preflight tried to refresh this SSO token (or a
	// role's SSO source) ahead of time and could not; Detail says why and
	// what to run. The refresher does not say it again.
	RefreshFailed bool `json:"refresh_failed,omitempty"`
	// LastsUntil is the time the table's VALID UNTIL shows (now + Lasts);
	// zero (absent from JSON) when it is unknown.
	LastsUntil time.Time `json:"lasts_until,omitzero"`
	// AccessTokenExpires is the expiry of the SSO access token this
	// credential (or a role's source) signs in with, when there is one.
	AccessTokenExpires time.Time `json:"access_token_expires,omitzero"`
}

// Report is what Preflight found.
type Report struct {
	// Required is how long the credentials must last; RequiredWhy explains.
	Required    time.Duration `json:"required_ns"`
	RequiredWhy []string      `json:"required_why"`
	Entries     []Entry       `json:"credentials"`
	Notes       []string      `json:"notes,omitempty"`
	// History is the recorded run lengths of the command here (time at
	// prompts left out), oldest first; empty for quick commands.
	History []time.Duration `json:"history_ns,omitempty"`
	// GitHubOIDCRole is the role tf's GitHub OIDC endpoint serves when the
	// run's credentials were judged with the endpoint in terraform's
	// environment (OIDC mode); empty otherwise.
	GitHubOIDCRole string `json:"github_oidc_role,omitempty"`
	// discovered: Entries are this run's credentials as assess found them
	// (see credentials).
	discovered   bool
	quietUnknown bool // Config.QuietUnknown: see Warnings
}

// ShortError says the run was refused before terraform started: at least
// one credential cannot last the run and nobody can log in. The wrapper
// maps it to its preflight exit code.
type ShortError struct {
	Required time.Duration
	Short    []Entry
}

func (e *ShortError) Error() string {
	return "credentials will not last the run: " + e.text(true)
}

// Brief says what is short and what the run needs, without the details and
// ways out that Error gives (for a question asked before the refusal).
func (e *ShortError) Brief() string { return e.text(false) }

func (e *ShortError) text(detail bool) string {
	var b strings.Builder
	for i, s := range e.Short {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.Name)
		if len(s.UsedBy) > 0 {
			b.WriteString(" (used by " + strings.Join(s.UsedBy, ", ") + ")")
		}
		// "env keys have", "profile dev has"
		has, is := " has", " is"
		if strings.HasSuffix(s.Name, "keys") {
			has, is = " have", " are"
		}
		switch {
		case s.UnknownLifetime:
			b.WriteString(has + " an unknown lifetime")
		case notLoggedIn(s):
			b.WriteString(is + " not logged in")
		case s.LastsKnown && s.Lasts <= 0:
			b.WriteString(has + " expired")
		case s.LastsKnown:
			b.WriteString(has + " " + human(s.Lasts) + " left")
		default:
			b.WriteString(is + " not usable")
		}
		b.WriteString(", the run needs " + human(e.Required))
		if detail {
			b.WriteString(": " + s.Detail)
		}
	}
	return b.String()
}

// notLoggedIn: an SSO credential (or a role on one) with no usable cached
// token at all.
func notLoggedIn(e Entry) bool {
	b := ssoBase(e.Credential)
	return b != nil && b.ValidUntil.IsZero()
}

// human formats a duration for people: 1h5m, 3h, 12m, 2m30s, 40s.
func human(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
		if m := (d % time.Hour) / time.Minute; m != 0 {
			return fmt.Sprintf("%dh%dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		d = d.Round(time.Second)
		if s := (d % time.Minute) / time.Second; s != 0 {
			return fmt.Sprintf("%dm%ds", d/time.Minute, s)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.Round(time.Second).String()
	}
}

// isQuick: commands that finish in seconds and take the lock only for that
// long; they are held to QuickFloor, not to an apply's floor, and earlier
// runs do not raise it.
func isQuick(command string) bool {
	switch command {
	case "force-unlock", "state push", "state rm", "state mv", "state replace-provider", "taint", "untaint", "import":
		return true
	}
	return false
}

// QuickFloor is what the quick commands (force-unlock, state push|rm|mv|
// replace-provider, taint, untaint, import of one address) require.
const QuickFloor = 2 * time.Minute

// PlanFloorCap caps the floor of a plan: a plan writes nothing, so fresh
// credentials of the shortest kind (15-minute STS sessions) must be able to
// run one. Earlier plans here still raise the requirement.
const PlanFloorCap = 10 * time.Minute

// Required is how long the run's credentials must last. It depends on the
// command: quick commands need QuickFloor; a plan needs the configured
// floor capped at PlanFloorCap; apply, destroy and refresh need the floor.
// Except for quick commands, the history of earlier runs of the same
// command in this working directory and workspace raises it to 1.25 x the
// second-longest recorded run (so one outlier cannot move it), and a saved
// plan adds the margin of its slow resource types.
func Required(o Options) (time.Duration, []string) {
	cfg := o.Config.withDefaults()
	if isQuick(o.Command) {
		return QuickFloor, []string{"`" + o.Command + "` is a quick command: floor " + human(QuickFloor) + ", its history does not count"}
	}
	floor := cfg.MinLifetime
	why := []string{"floor " + human(floor)}
	if o.Command == "plan" && floor > PlanFloorCap {
		floor = PlanFloorCap
		why = []string{"floor " + human(floor) + " for a plan (min_lifetime " + human(cfg.MinLifetime) + ", capped)"}
	}
	req := floor
	if o.Command != "" {
		h := loadDurations(o, o.Command)
		if exp := expectedDuration(h); exp > 0 {
			if r := exp + exp/4; r > req {
				req = r
			}
			why = append(why, fmt.Sprintf("history: %s here worked up to %s (second-longest of the last %d runs) x1.25 = %s", o.Command, human(exp), len(h), human(exp+exp/4)))
		}
	}
	if m, names := slowMargin(o.PlanResourceTypes); m > 0 {
		req += m
		why = append(why, "slow resources in the plan add "+human(m)+" ("+strings.Join(names, ", ")+")")
	}
	return req, why
}

// Preflight checks every credential of the run before terraform starts:
// refreshes SSO tokens that will not last, logs in again at a terminal when
// a session ends too soon, and otherwise returns a *ShortError. It makes no
// network call when everything lasts.
func Preflight(ctx context.Context, o Options) (Report, error) {
	r, err := assess(ctx, o, true)
	if err != nil {
		return r, err
	}
	var short []Entry
	for i, e := range r.Entries {
		if e.UnknownLifetime && o.Config.RefuseUnknown {
			e.Verdict = VerdictShort
			e.Detail += "; unknown lifetimes are refused here (unknown_lifetime = refuse)"
			r.Entries[i] = e
		}
		if e.Verdict == VerdictShort {
			short = append(short, e)
		}
	}
	if len(short) > 0 {
		return r, &ShortError{Required: r.Required, Short: short}
	}
	return r, nil
}

// assess discovers the run's credentials and judges each against the
// required lifetime; act allows refreshing and logging in.
func assess(ctx context.Context, o Options, act bool) (Report, error) {
	r := Report{quietUnknown: o.Config.QuietUnknown}
	r.Required, r.RequiredWhy = Required(o)
	if o.Command != "" && !isQuick(o.Command) {
		r.History = loadDurations(o, o.Command)
	}
	creds, notes, err := Discover(ctx, o)
	if err != nil {
		return r, err
	}
	r.Notes, r.discovered = notes, true
	if o.GitHubOIDCURL != "" && o.getenv(EnvContainerFullURI) == o.GitHubOIDCURL {
		r.GitHubOIDCRole = o.Config.GitHubOIDCRole
	}
	if act {
		o.pass = newLoginPass() // one login per SSO session in this pass
	}
	for _, c := range creds {
		c = servedByGitHubOIDC(o, c)
		r.Entries = append(r.Entries, evaluate(ctx, o, c, r.Required, act))
	}
	return r, nil
}

// evaluate judges one credential; act allows refresh and login.
func evaluate(ctx context.Context, o Options, c Credential, required time.Duration, act bool) Entry {
	e := judge(ctx, o, c, required, act)
	e.UnknownLifetime = e.UnknownLifetime || e.Verdict == VerdictUnknown ||
		(e.Kind == KindEnvSession && !e.Expires)
	if e.LastsKnown {
		e.LastsUntil = o.now().Add(e.Lasts)
	}
	if tok := ssoBase(e.Credential); tok != nil {
		e.AccessTokenExpires = tok.ValidUntil
	}
	return e
}

// ssoBase is the SSO credential c signs in with (c itself, or the source
// of a role on it), nil for any other.
func ssoBase(c Credential) *Credential {
	for c.Kind == KindAssumeRole && c.Source != nil {
		c = *c.Source
	}
	if c.Kind == KindSSOSession || c.Kind == KindLegacySSO {
		return &c
	}
	return nil
}

func judge(ctx context.Context, o Options, c Credential, required time.Duration, act bool) Entry {
	now := o.now()
	e := Entry{Credential: c}
	e.Lasts, e.LastsKnown = remaining(c, now)
	switch c.Kind {
	case KindUnknown:
		if c.Err != "" {
			e.Verdict, e.Detail = VerdictError, c.Err
			break
		}
		e.Verdict, e.Detail = VerdictUnknown, "lifetime unknown; not checked"
		if len(c.Notes) > 0 {
			e.Detail = "lifetime unknown: " + strings.Join(c.Notes, "; ")
		}
	case KindStatic:
		e.Verdict, e.Detail = VerdictOK, "static keys do not expire"
	case KindGitHubOIDC:
		e = evaluateIDTokenRenewal(o, e, required, "renewed by tf's GitHub OIDC endpoint", "")
	case KindProcess:
		e.Verdict, e.Detail = VerdictUnknown, "lifetime unknown: credential_process (granted, aws-vault, ...) renews its credentials itself, for as long as it can; tf cannot see how long (unknown_lifetime = quiet in your tf config acknowledges it)"
	case KindWebIdentity:
		e = evaluateWebIdentity(o, e, required)
	case KindEnvSession:
		e = evaluateEnv(o, e, required)
	case KindAssumeRole:
		if c.Source == nil {
			e.Verdict, e.Detail = VerdictUnknown, "source renews itself"
			break
		}
		src := evaluate(ctx, o, *c.Source, required, act)
		s := src.Credential
		e.Source = &s
		e.Lasts, e.LastsKnown = src.Lasts, src.LastsKnown
		e.Verdict, e.Detail = src.Verdict, "source "+src.Name+": "+src.Detail
		e.UnknownLifetime = src.UnknownLifetime
		e.RefreshFailed = src.RefreshFailed
	case KindSSOSession, KindLegacySSO:
		e = evaluateSSO(ctx, o, e, required, act)
	case KindLoginSession:
		e = evaluateLoginSession(o, e, required)
	}
	return e
}

func evaluateEnv(o Options, e Entry, required time.Duration) Entry {
	now := o.now()
	if !e.Expires {
		e.Verdict, e.Detail = VerdictWarn, "session keys with no readable "+EnvCredentialExpiration+": tf cannot tell how long they last, and they cannot be refreshed during the run; export their expiry with them, or acknowledge it with unknown_lifetime = quiet in your tf config"
		if o.inGitHubActions() {
			// aws-actions/configure-aws-credentials exports no expiry.
			e.Detail = "session keys without an expiry (configure-aws-credentials exports none): lifetime unknown; " +
				"fix: give that step `output-credentials: true` and pass its aws-expiration output as " + EnvCredentialExpiration + ", or set github_oidc_role"
		}
		return e
	}
	left := e.ValidUntil.Sub(now)
	e.Lasts, e.LastsKnown = left, true
	if left >= required {
		e.Verdict, e.Detail = VerdictOK, "valid until "+e.ValidUntil.UTC().Format(time.RFC3339)
		return e
	}
	e.Verdict = VerdictShort
	fix := "get fresh credentials (for example `aws configure export-credentials --format env`) and export them again"
	if o.CI {
		fix = "have the job's credentials issued for longer (a longer role session duration), or issued again just before this step"
	}
	switch p := o.getenv(EnvProfile); {
	case o.getenv(EnvAWSVault) != "":
		p = o.getenv(EnvAWSVault)
		fix = fmt.Sprintf("they came from aws-vault profile %q: run under `aws-vault exec --ecs-server %s -- tf ...` so that aws-vault serves renewable credentials, or start a new aws-vault session", p, p)
	case o.inGitHubActions():
		fix = "in GitHub Actions, have aws-actions/configure-aws-credentials issue them for longer (`role-duration-seconds`, up to the role's maximum session duration), " +
			"or set github_oidc_role (TFGUARD_GITHUB_OIDC_ROLE, with `permissions: id-token: write`) so that tf renews the role's credentials as long as the job can request ID tokens"
	case p != "":
		fix = fmt.Sprintf("unset %s, %s and %s so that terraform uses profile %q (which it can refresh), or export fresh keys", EnvAccessKeyID, EnvSecretAccessKey, EnvSessionToken, p)
	}
	e.Detail = "exported session keys cannot be refreshed during the run; " + fix
	return e
}

func evaluateSSO(ctx context.Context, o Options, e Entry, required time.Duration, act bool) Entry {
	if err, ok := o.pass.result(e.CachePath); ok && err == nil {
		return recheckAfterLogin(o, e, required) // logged in for another consumer
	}
	now := o.now()
	cfg := o.Config.withDefaults()
	tokenLeft := e.ValidUntil.Sub(now)
	loginCmd := loginHint(e.Credential)
	needLogin := ""
	if e.Kind == KindSSOSession && e.SessionEnds.IsZero() {
		// Without tf's record of the login the session's end (1 to 12
		// hours after it) is unknown. The client registration's end only
		// bounds it (about 90 days): it is never shown as the end.
		e.Lasts, e.LastsKnown = 0, false
	}
	switch {
	case e.ValidUntil.IsZero():
		needLogin = "there is no usable cached SSO token (not logged in)"
		e.Lasts, e.LastsKnown = 0, false
	case e.Kind == KindLegacySSO && tokenLeft < required:
		needLogin = "legacy SSO tokens cannot be refreshed; the token " + leftText(tokenLeft)
		e.Lasts, e.LastsKnown = tokenLeft, true
	case e.Kind == KindSSOSession && !e.SessionEnds.IsZero() && e.SessionEnds.Sub(now) < required:
		needLogin = sessionEndText(e.SessionEnds, now)
	case e.Kind == KindSSOSession && !e.RegistrationEnds.IsZero() && e.RegistrationEnds.Sub(now) < required:
		needLogin = registrationEndText(e.RegistrationEnds, now)
		e.Lasts, e.LastsKnown = e.RegistrationEnds.Sub(now), true
	case e.Kind == KindSSOSession && !e.Refreshable && tokenLeft < required:
		needLogin = "the cached token cannot be refreshed and " + leftText(tokenLeft)
		e.Lasts, e.LastsKnown = tokenLeft, true
	}
	if needLogin == "" && e.Kind == KindSSOSession && tokenLeft < cfg.RefreshAhead {
		if !act {
			// Nothing goes over the network here: whether the session
			// still lets the token be refreshed shows only when it is.
			if e.SessionEnds.IsZero() {
				e.Verdict, e.Detail = VerdictUnknown, "the access token "+tokenText(e.ValidUntil, now)+
					"; a guarded command refreshes it first, which works only while the SSO session lasts; "+sessionUnknownNote
				return e
			}
			e.Verdict, e.Detail = VerdictOK, "the access token "+tokenText(e.ValidUntil, now)+
				"; a guarded command refreshes it first; "+sessionEndText(e.SessionEnds, now)
			return e
		}
		tok, refreshed, err := refreshSSO(ctx, o, e.Credential, cfg.RefreshAhead)
		switch {
		case err == nil:
			e.ValidUntil = tok.ExpiresAt
			e.Verdict, e.Detail = VerdictRefreshed, "access token refreshed, valid until "+tok.ExpiresAt.UTC().Format("15:04:05 UTC")
			if !refreshed {
				e.Detail = "access token already refreshed by another process"
			}
			return e
		case isSessionOver(err):
			needLogin = "the SSO session is over (refresh refused)"
			e.Lasts, e.LastsKnown = tokenLeft, true
		default:
			e.Verdict, e.Detail, e.RefreshFailed = VerdictWarn, refreshFailedText(o, e.Credential, err, now), true
			return e
		}
	}
	if needLogin == "" {
		e.Verdict = VerdictOK
		e.Detail = "access token valid until " + e.ValidUntil.UTC().Format("15:04:05 UTC")
		if e.Kind == KindSSOSession {
			if e.SessionEnds.IsZero() {
				e.Detail += "; refreshable; session end unknown"
			} else {
				e.Detail += "; refreshable until the session ends at " + e.SessionEnds.UTC().Format("15:04:05 UTC")
			}
		}
		return e
	}
	if act && o.mayPrompt() && o.Config.withDefaults().Login != LoginNever {
		return loginAndRecheck(ctx, o, e, needLogin, required)
	}
	e.Verdict = VerdictShort
	e.Detail = needLogin + "; log in again (" + loginCmd + ") and rerun"
	if o.CI {
		e.Detail = needLogin + "; " + ciLoginText(o, e.Credential)
	}
	return e
}

// refreshFailedText is the one report of an SSO access token that could
// not be refreshed ahead of time: the cause, how long terraform can still
// use the token, and the command that gives it a new one.
func refreshFailedText(o Options, c Credential, err error, now time.Time) string {
	left := "a run that needs its access token longer than it lasts fails"
	if !c.ValidUntil.IsZero() {
		if d := c.ValidUntil.Sub(now); d > 0 {
			left = "its access token is valid until " + c.ValidUntil.UTC().Format("15:04:05 UTC") + " (" + human(d) + "), and a run that needs it longer fails"
		} else {
			left = "its access token has expired, so terraform cannot sign in with it"
		}
	}
	fix := "; log in again now (" + loginHint(c) + ")"
	if o.CI {
		fix = "; " + ciLoginText(o, c)
	}
	return "could not refresh the SSO access token ahead of time: " + refreshCause(err) + "; " + left + fix
}

// refreshCause says in a few words why a refresh failed: the endpoint
// that could not be reached and why, instead of the SDK's whole chain
// (operation, status 0, request ID, URL, dial error).
func refreshCause(err error) string {
	host := ""
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		if host == "" {
			host = dns.Name
		}
		return "cannot reach " + host + " (its name does not resolve: no network, or a VPN or a proxy (HTTPS_PROXY) is needed)"
	case errors.Is(err, context.DeadlineExceeded), ue != nil && ue.Timeout():
		if host == "" {
			return "no answer within " + human(callTimeout)
		}
		return "no answer from " + host + " within " + human(callTimeout) + " (no network, or a VPN or a proxy (HTTPS_PROXY) is needed)"
	case errors.As(err, &op) && host != "":
		return "cannot reach " + host + " (" + op.Err.Error() + ": no network, or a VPN or a proxy (HTTPS_PROXY) is needed)"
	}
	return err.Error()
}

// tokenText says when an access token expires, or expired.
func tokenText(exp, now time.Time) string {
	if exp.After(now) {
		return "expires at " + exp.UTC().Format("15:04:05 UTC") + " (in " + human(exp.Sub(now)) + ")"
	}
	return "expired at " + exp.UTC().Format("15:04:05 UTC") + " (" + human(now.Sub(exp)) + " ago)"
}

func leftText(d time.Duration) string {
	if d <= 0 {
		return "has expired"
	}
	return "has " + human(d) + " left"
}

func loginHint(c Credential) string {
	return "`tf guard login` or `" + ssoLoginCommand(c) + "`"
}

func ssoLoginCommand(c Credential) string {
	if c.Kind == KindSSOSession {
		return "aws sso login --sso-session " + c.SSOSession
	}
	return "aws sso login --profile " + c.Profile
}

// ciLoginText is what a CI job is told instead of "log in again": an IAM
// Identity Center login needs a person at a browser, which a job has not.
func ciLoginText(o Options, c Credential) string {
	way := "give the job role credentials made for CI that last the run"
	if o.inGitHubActions() {
		way = "give the job credentials made for CI: github_oidc_role (TFGUARD_GITHUB_OIDC_ROLE, with `permissions: id-token: write`) lets tf renew them as long as the job can request ID tokens"
	}
	return "in CI nobody can log in to IAM Identity Center (a login needs a person at a browser): " + way +
		"; or, on a runner a person can reach, run `" + ssoLoginCommand(c) + "` there before the job"
}

// isSessionOver reports an SSO-OIDC refusal that only a new login fixes.
func isSessionOver(err error) bool {
	var ig interface{ ErrorCode() string }
	if errors.As(err, &ig) {
		switch ig.ErrorCode() {
		case "InvalidGrantException", "ExpiredTokenException", "AccessDeniedException", "InvalidClientException", "UnauthorizedClientException":
			return true
		}
	}
	return strings.Contains(err.Error(), "no usable refresh token")
}
