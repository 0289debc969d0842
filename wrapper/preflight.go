package wrapper

// The credential guard before a run: the preflight, the offer of another
// profile, and the options credguard is given.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/envlist"
)

func (g *guards) preflight(ctx context.Context, inv *Invocation) error {
	o := credOptions(inv)
	if u := g.oidc.url(); u != "" {
		o.GitHubOIDCURL = u
	}
	if plan := savedPlan(inv); plan != "" {
		// terraform applies the plan with the variables stored in it
		p, err := showPlanFile(ctx, inv.WorkDir, inv.Terraform.Path, inv.Env, plan)
		o.PlanResourceTypes = credguard.PlanResourceTypes(p)
		o.SavedPlan = credguard.ReadSavedPlan(plan, p, err)
	}
	// Nothing silent: every warning and unknown, once, before terraform
	// starts, and before an offer or a refusal: the refusal, with its way
	// out, is the last thing tf prints (by the caller).
	said := map[string]bool{}
	say := func(r credguard.Report) {
		for _, w := range r.Warnings() {
			if !said[w] {
				said[w] = true
				fmt.Fprintf(inv.Stderr, "tf: %s\n", w)
			}
		}
	}
	r, err := credguard.Preflight(ctx, o)
	say(r)
	if err != nil {
		if env, ok := offerProfile(ctx, inv, o, err); ok {
			inv.Env, o.Env = env, env
			r, err = credguard.Preflight(ctx, o)
			say(r)
		}
	}
	if err != nil {
		return err
	}
	// The hook's ctx ends when Before returns; the refresher lives until
	// After. It does not repeat a refresh failure the preflight reported.
	g.stop.report = &r
	g.stopRefresher = credguard.StartRefresher(context.Background(), o, r)
	g.stdin = startStdinWatch()
	return nil
}

// offerProfile: when exported session keys are what will not last, and
// AWS_PROFILE names the profile they were exported from (which terraform's
// SDK can refresh), a person at a terminal is offered that profile for this
// run. It returns the environment without the exported keys when accepted.
// The offer does not print the refusal: declined, the caller returns it, so
// it is the last line tf prints. Ctrl-C (ctx) ends the question at once.
func offerProfile(ctx context.Context, inv *Invocation, o credguard.Options, err error) (env []string, ok bool) {
	var short *credguard.ShortError
	profile, _ := envlist.Lookup(inv.Env, "AWS_PROFILE")
	if !inv.Interactive || profile == "" || !errors.As(err, &short) {
		return nil, false
	}
	for _, e := range short.Short {
		if e.Kind != credguard.KindEnvSession {
			return nil, false // something else is short too: the profile would not fix it
		}
	}
	// Offer only a profile that would carry the run.
	if ok, why := credguard.ProfileServes(ctx, o, profile); !ok {
		fmt.Fprintf(inv.Stderr, "tf: AWS_PROFILE=%s is set too, but it would not carry this run either: %s\n", profile, why)
		return nil, false
	}
	fmt.Fprintf(inv.Stderr, "tf: %s, and exported session keys cannot be refreshed during the run.\ntf: AWS_PROFILE=%s is set too. Use that profile (renewable) for this run instead of the exported keys? [y/N] ", short.Brief(), profile)
	answer, rerr := readLine(ctx, os.Stdin)
	if rerr != nil && answer == "" {
		fmt.Fprintln(inv.Stderr)
		return nil, false
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return nil, false
	}
	// Without the exported keys the SDK falls through to AWS_PROFILE.
	exported := []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION"}
	env = make([]string, 0, len(inv.Env))
	for _, kv := range inv.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(exported, k) {
			env = append(env, kv)
		}
	}
	fmt.Fprintf(inv.Stderr, "tf: running with profile %s; the exported keys are left out of this run only\n", profile)
	return env, true
}

// readLine reads one line from r, or gives up when ctx ends (the read is
// left to finish in the background; tf is about to exit).
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		got <- line{s, err}
	}()
	select {
	case l := <-got:
		return l.s, l.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// credOptions maps tf's configuration onto the credential guard's options.
func credOptions(inv *Invocation) credguard.Options {
	cmd := "apply"
	if len(inv.Command.Words) > 0 {
		cmd = strings.Join(inv.Command.Words, " ")
	}
	return credguard.Options{
		Dir:     inv.WorkDir,
		Env:     inv.Env,
		Command: cmd,
		Args:    inv.Args,
		Config: credguard.Config{
			RefuseUnknown:  inv.Config.UnknownLifetime == UnknownRefuse,
			QuietUnknown:   inv.Config.UnknownLifetime == UnknownQuiet,
			MinLifetime:    inv.Config.MinLifetime,
			SessionLength:  inv.Config.SSOSessionLength,
			RefreshAhead:   inv.Config.SSORefreshAhead,
			RefreshEvery:   inv.Config.SSORefreshEvery,
			Login:          loginMode(inv.Config.Login),
			GitHubOIDCRole: inv.Config.GitHubOIDCRole,
		},
		Interactive: inv.Interactive,
		CI:          inv.CI,
		In:          os.Stdin,
		Out:         inv.Stderr,
	}
}

func loginMode(v string) credguard.LoginMode {
	switch v {
	case LoginAWSCLI:
		return credguard.LoginAWSCLI
	case LoginNever:
		return credguard.LoginNever
	default:
		return credguard.LoginDevice
	}
}
