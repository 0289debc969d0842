package credguard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// ExitShort is the exit code of a refused run (the same number as the
// wrapper's ExitPreflight); ShortError carries it.
const ExitShort = 75

// ExitCode makes a ShortError decide tf's exit code.
func (e *ShortError) ExitCode() int { return ExitShort }

// Inspect is Preflight without side effects: nothing is refreshed, nobody
// is asked to log in, nothing goes over the network.
func Inspect(ctx context.Context, o Options) (Report, error) {
	return assess(ctx, o, false)
}

// Check prints the credential table of `tf guard check` (or JSON) to w and
// returns the exit code: 0 when every credential lasts, ExitShort when one
// does not, 1 when they could not be read.
func Check(ctx context.Context, o Options, w io.Writer, asJSON bool) int {
	r, err := Inspect(ctx, o)
	if err != nil {
		fmt.Fprintf(w, "tf guard check: %v\n", err)
		return 1
	}
	code := 0
	for _, e := range r.Entries {
		switch e.Verdict {
		case VerdictShort:
			code = ExitShort
		case VerdictError:
			if code == 0 {
				code = 1
			}
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return 1
		}
		return code
	}
	if r.GitHubOIDCRole != "" {
		fmt.Fprintf(w, "GitHub OIDC mode is on: a guarded command's terraform gets role credentials for %s from tf's local endpoint, renewed with a fresh GitHub ID token before they end; the job's own AWS credentials are not given to it\n\n", r.GitHubOIDCRole)
	}
	if len(r.Entries) == 0 {
		fmt.Fprintln(w, "no AWS credentials are used here: no S3 backend, no AWS provider (nothing to check)")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		return 0
	}
	now := o.now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CREDENTIAL\tSOURCE\tVALID UNTIL\tREQUIRED\tVERDICT")
	for _, e := range r.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, validUntil(e, now), human(r.Required), e.Verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nrequired: %s (%s)\n", human(r.Required), strings.Join(r.RequiredWhy, "; "))
	fmt.Fprintln(w, historyLine(o, r))
	for _, e := range r.Entries {
		fmt.Fprintf(w, "%s, used by %s: %s\n", e.Name, strings.Join(e.UsedBy, ", "), e.Detail)
		for _, n := range e.Notes {
			if !strings.Contains(e.Detail, n) {
				fmt.Fprintf(w, "  note: %s\n", n)
			}
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return code
}

// historyLine says what the run-length history of the command holds here.
func historyLine(o Options, r Report) string {
	if isQuick(o.Command) {
		return "history: not used for `" + o.Command + "` (a quick command)"
	}
	if len(r.History) == 0 {
		return "history: no earlier successful " + o.Command + " recorded here (directory and workspace)"
	}
	var ds []string
	for _, d := range r.History {
		ds = append(ds, human(d))
	}
	return fmt.Sprintf("history: the last %d %s runs here worked %s (time at prompts left out); the second-longest counts, so one outlier cannot raise the requirement. Forget it: tf guard check --reset-history",
		len(r.History), o.Command, strings.Join(ds, ", "))
}

// Warnings are the lines a guarded run prints before terraform starts: every
// credential whose verdict is a warning, unknown or an error, and every note
// on what could not be read. One line each; they never hold a secret (names,
// kinds, times and file paths only).
func (r Report) Warnings() []string {
	var out []string
	for _, e := range r.Entries {
		if r.quietUnknown && e.UnknownLifetime && !e.RefreshFailed && e.Err == "" && (e.Verdict == VerdictUnknown || e.Verdict == VerdictWarn) {
			continue // unknown_lifetime = quiet: the user knows; check still shows it
		}
		used := ""
		if len(e.UsedBy) > 0 {
			used = " (used by " + strings.Join(e.UsedBy, ", ") + ")"
		}
		switch e.Verdict {
		case VerdictWarn:
			out = append(out, "warning: "+e.Name+used+": "+e.Detail)
		case VerdictUnknown:
			out = append(out, "note: "+e.Name+used+": "+e.Detail)
		case VerdictError:
			out = append(out, "error: "+e.Name+used+": "+e.Detail+" (terraform will fail on it too)")
		}
	}
	for _, n := range r.Notes {
		out = append(out, "note: "+n)
	}
	return out
}

// ProfileServes says whether profile would give the run credentials that
// last (or renew themselves) for what it requires; why says what it gives.
// tf offers a profile instead of short exported keys only when it does.
func ProfileServes(ctx context.Context, o Options, profile string) (bool, string) {
	c, err := resolveProfile(ctx, o, profile, nil, nil)
	if err != nil {
		return false, err.Error()
	}
	req, _ := Required(o)
	e := evaluate(ctx, o, c, req, false)
	if e.Verdict == VerdictOK || e.Verdict == VerdictRefreshed {
		return true, e.Detail
	}
	// An SSO profile (or a role assumed from one) that needs a refresh or
	// a login: at a terminal the run refreshes it, or logs in first, and
	// then it renews itself.
	if ssoBase(c) != nil && e.Verdict != VerdictError && o.mayPrompt() && o.Config.withDefaults().Login != LoginNever {
		return true, "an SSO profile: tf refreshes it, or logs in first (" + e.Detail + ")"
	}
	if e.UnknownLifetime || e.Verdict == VerdictUnknown {
		return false, "profile " + profile + " gives credentials of unknown lifetime: " + e.Detail
	}
	return false, "profile " + profile + ": " + e.Detail
}

// SSOInUse names the SSO credentials the configuration here uses: what
// `tf guard login` would log in.
func SSOInUse(ctx context.Context, o Options) ([]string, error) {
	creds, _, err := Discover(ctx, o)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range ssoCredentials(creds) {
		names = append(names, c.Name)
	}
	return names, nil
}

// sessionUnknownNote is said of an sso-session whose login tf did not
// perform (and so whose end it does not know).
const sessionUnknownNote = "session end unknown: tf did not perform the login (run `tf guard login` to track it)"

func validUntil(e Entry, now time.Time) string {
	if !e.LastsKnown {
		if e.Kind == KindStatic {
			return "no expiry"
		}
		if e.Kind == KindGitHubOIDC || renewedByTF(e.Credential) {
			return "renewed by tf (end unknown)"
		}
		if notLoggedIn(e) {
			return "not logged in"
		}
		if !e.AccessTokenExpires.IsZero() {
			// An SSO session whose end tf does not know: the access
			// token's own expiry is what is known.
			t := e.AccessTokenExpires
			if t.After(now) {
				return "unknown (token until " + t.UTC().Format("15:04 UTC") + ")"
			}
			return "unknown (token expired " + t.UTC().Format("15:04 UTC") + ")"
		}
		if e.Expires && !e.ValidUntil.IsZero() {
			return e.ValidUntil.UTC().Format("2006-01-02 15:04 UTC") + " (token, renewable)"
		}
		return "unknown"
	}
	end := now.Add(e.Lasts)
	s := end.UTC().Format("2006-01-02 15:04 UTC")
	if e.Lasts <= 0 {
		return s + " (over)"
	}
	return s + " (" + human(e.Lasts) + ")"
}

// StartRefresher keeps the run's SSO access tokens fresh while terraform
// runs: every RefreshEvery it refreshes a token with less than RefreshAhead
// left, before terraform's SDK (which refreshes only after expiry) needs
// it. A failure is reported once per token, and not at all for a token
// whose failed refresh the preflight's report (reported) already gave.
// stop ends it and waits for it.
func StartRefresher(ctx context.Context, o Options, reported Report) (stop func()) {
	cfg := o.Config.withDefaults()
	creds, err := reported.credentials(ctx, o)
	if err != nil {
		fmt.Fprintf(o.out(), "tf: warning: credential refresher not started: %v\n", err)
		return func() {}
	}
	var sso []Credential
	for _, c := range ssoCredentials(creds) {
		if c.Kind == KindSSOSession {
			sso = append(sso, c)
		}
	}
	if len(sso) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// It runs beside terraform, whose output passes through tf: a bug
		// here must end the refresher, never tf (and with it terraform).
		defer func() {
			if v := recover(); v != nil {
				fmt.Fprintf(o.out(), "\ntf: warning: the SSO token refresher stopped (tf internal error: %v); terraform goes on with the tokens it has\n", v)
			}
		}()
		warned := reported.refreshFailures()
		t := time.NewTicker(cfg.RefreshEvery)
		defer t.Stop()
		for {
			for _, c := range sso {
				// A refresh already sent when stop is called is finished
				// and written (refreshCache); stop waits for it.
				_, _, err := refreshSSO(ctx, o, c, cfg.RefreshAhead)
				if err != nil && ctx.Err() == nil && !warned[c.CachePath] {
					warned[c.CachePath] = true
					cur := c
					readSSOToken(o, &cur) // the token as it is now, for its end
					fmt.Fprintf(o.out(), "\ntf: warning: %s: %s\n", c.Name, refreshFailedText(o, cur, err, o.now()))
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// refreshFailures are the SSO token caches whose refresh ahead of time
// failed in this report's preflight (a role's source included).
func (r Report) refreshFailures() map[string]bool {
	out := map[string]bool{}
	for _, e := range r.Entries {
		if !e.RefreshFailed {
			continue
		}
		c := e.Credential
		for c.Kind == KindAssumeRole && c.Source != nil {
			c = *c.Source
		}
		if c.CachePath != "" {
			out[c.CachePath] = true
		}
	}
	return out
}
