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
		if e.Verdict == VerdictShort {
			code = ExitShort
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
	for _, e := range r.Entries {
		fmt.Fprintf(w, "%s, used by %s: %s\n", e.Name, strings.Join(e.UsedBy, ", "), e.Detail)
		for _, n := range e.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return code
}

func validUntil(e Entry, now time.Time) string {
	if !e.LastsKnown {
		if e.Kind == KindStatic {
			return "no expiry"
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
// it. stop ends it and waits for it.
func StartRefresher(ctx context.Context, o Options) (stop func()) {
	cfg := o.Config.withDefaults()
	creds, _, err := Discover(ctx, o)
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
		warned := map[string]bool{}
		t := time.NewTicker(cfg.RefreshEvery)
		defer t.Stop()
		for {
			for _, c := range sso {
				// A refresh already sent when stop is called is finished
				// and written (refreshCache); stop waits for it.
				_, _, err := refreshSSO(ctx, o, c, cfg.RefreshAhead)
				if err != nil && ctx.Err() == nil && !warned[c.CachePath] {
					warned[c.CachePath] = true
					fmt.Fprintf(o.out(), "\ntf: warning: could not refresh the SSO token of %s ahead of time: %v\n", c.Name, err)
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
