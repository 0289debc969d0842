package wrapper

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/recovery"
)

// ProductHooks are the hooks that make tf more than a passthrough: the
// credential guard before and during a guarded command, recovery after it,
// an unfinished recovery finished before anything else runs, and the
// `tf guard check|login|recover` commands.
func ProductHooks() Hooks {
	g := &guards{}
	return Hooks{Startup: g, Guard: g, Commands: guardProductCommands()}
}

// guards holds what lives across one guarded run: the background refresher,
// the lock watch and, when opted in, the GitHub OIDC credentials endpoint.
type guards struct {
	stopRefresher func()
	oidc          *credguard.CredentialServer
	// oidcTried: startOIDC has run in this tf (Startup's resume, then
	// Before, share one start); oidcErr is how it failed, already printed.
	oidcTried bool
	oidcErr   error
	watch     *recovery.Watch
	stdin     *stdinWatch // how long terraform waits at prompts
	stop      stopState   // stop in time (stopintime.go)
	owner     *recovery.OwnerWriter
}

// Startup deals with a recovery that an earlier tf could not complete for
// this directory's state, before anything else runs. Without a journal it
// is one stat. A command that could write state or take the lock (a
// guarded one) finishes the recovery first and is refused while it stays
// pending, so nobody forks the state; every refusal prints how to go on,
// including `tf guard recover --abandon`. Any other command, and the manual
// steps tf itself prints (state push, force-unlock), only gets a one-line
// explanation and runs: they must stay usable while a person repairs.
func (g *guards) Startup(ctx context.Context, inv *Invocation) (int, bool) {
	if inv.Config.Recovery && inv.Command.Guarded {
		// errored.tfstate is the working directory's: a recovery of another
		// data directory that has not secured it yet comes first.
		if _, refused := recovery.SecureShared(ctx, recoveryRun(inv, nil)); refused {
			return ExitRecoveryIncomplete, true
		}
	}
	if !inv.Config.Recovery || !recovery.Pending(inv.WorkDir, inv.Env) {
		return 0, false
	}
	cmd := strings.Join(inv.Command.Words, " ")
	if !inv.Command.Guarded || cmd == "state push" || cmd == "force-unlock" {
		fmt.Fprintf(inv.Stderr, "tf: an interrupted recovery is pending in %s; a guarded command (plan, apply, ...) or `tf guard recover` finishes it, `tf guard recover --abandon` gives up on it\n",
			recovery.RecoveryRoot(inv.WorkDir, inv.Env))
		return 0, false
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// In a GitHub OIDC job the endpoint may be the only credential there
	// is: it is up before the resume, and the command reuses it (a failed
	// start is said here, once; Before then refuses the command).
	if err := g.startOIDC(ctx, inv); err != nil {
		fmt.Fprintf(inv.Stderr, "tf: %v; the pending recovery is tried with the job's own credentials\n", err)
	}
	run := recoveryRun(inv, nil)
	// Expired credentials are renewed as after a failed run: refreshed, or
	// at a terminal (never in CI) logged in again the configured way.
	run.Renew = renewCredentials(inv)
	out := recovery.Resume(ctx, run)
	if out.Kind == recovery.NeedsPerson {
		// Pending: refused until the condition printed changes. Closed:
		// refused this once, so the report is read; the next command runs.
		g.closeOIDC()
		return ExitRecoveryIncomplete, true
	}
	return 0, false
}

// startOIDC starts the GitHub OIDC credentials endpoint when it is
// configured (github_oidc_role, in CI), once, and gives terraform's
// environment to it. A job that cannot request ID tokens is told so in one
// line and runs with its own credentials. ctx (signals) stops the start.
// A second call (Before after Startup's resume) neither starts it again nor
// repeats what the first said: it returns the first call's error.
func (g *guards) startOIDC(ctx context.Context, inv *Invocation) error {
	if g.oidcTried || !inv.CI || inv.Config.GitHubOIDCRole == "" {
		return g.oidcErr
	}
	g.oidcTried = true
	if !hasEnv(inv.Env, credguard.EnvActionsIDTokenURL) || !hasEnv(inv.Env, credguard.EnvActionsIDTokenToken) {
		fmt.Fprintf(inv.Stderr, "tf: github_oidc_role is set, but this job cannot request GitHub ID tokens (no %s: give it `permissions: id-token: write`); terraform runs with the job's own credentials\n", credguard.EnvActionsIDTokenURL)
		return nil
	}
	srv, err := credguard.StartGitHubOIDC(ctx, credOptions(inv), inv.Config.GitHubOIDCRole)
	if err != nil {
		g.oidcErr = fmt.Errorf("github_oidc_role is set but the OIDC credentials endpoint could not start: %w", err)
		return g.oidcErr
	}
	g.oidc = srv
	inv.Env = srv.Env(inv.Env)
	return nil
}

// Abort stops what Before started, when After will not run.
func (g *guards) Abort() {
	if g.stopRefresher != nil {
		g.stopRefresher()
		g.stopRefresher = nil
	}
	g.watch.Stop()
	if g.stdin != nil {
		g.stdin.Stop()
	}
	g.closeOIDC()
}

func (g *guards) closeOIDC() {
	if g.oidc != nil {
		g.oidc.Close()
		g.oidc = nil
	}
}

// Before runs the credential guard: it refuses a run its credentials
// cannot finish (or renews them first) and keeps SSO tokens fresh while
// terraform runs. Last, it starts the lock watch (recovery's evidence).
func (g *guards) Before(ctx context.Context, inv *Invocation) (err error) {
	defer func() {
		if err != nil {
			g.Abort() // refused: After will not run
			annotateRefusal(inv, err)
		}
	}()
	g.stop.started = time.Now()
	// The OIDC endpoint comes first, whatever the preflight setting: the
	// preflight then judges the environment terraform will really get.
	said := g.oidcTried // Startup tried it (and printed a failure)
	if err := g.startOIDC(ctx, inv); err != nil {
		if said {
			return withExitCode(errors.New("terraform does not run: it would not get the GitHub OIDC role credentials github_oidc_role sets up (the endpoint's failure is above); rerun once the job can get them, or unset github_oidc_role"), ExitPreflight)
		}
		return err
	}
	if inv.Config.Preflight {
		if err := g.preflight(ctx, inv); err != nil {
			return err
		}
	}
	if inv.Config.Recovery {
		g.watch = recovery.StartWatch(inv.WorkDir, inv.Env, inv.Args, nil)
		g.owner = recovery.StartOwner(inv.WorkDir, inv.Env, inv.Args, g.watch, inv.Config.OwnerRecord != OwnerRecordLocal)
		inv.owner = g.owner
	}
	inv.stop = g.stop.watch(inv)
	return nil
}

func (g *guards) preflight(ctx context.Context, inv *Invocation) error {
	o := credOptions(inv)
	if g.oidc != nil {
		o.GitHubOIDCURL = g.oidc.URL
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

// After stops the refresher and the watch, records how long a successful
// run took (the next preflight requires that much), and runs recovery when
// the run failed. terraform's exit code wins unless a person must act.
// ctx ends at a signal: recovery then stops between steps.
func (g *guards) After(ctx context.Context, inv *Invocation, res *Result) (code int) {
	defer func() { code = g.stop.after(inv, res, code) }()
	if g.stopRefresher != nil {
		g.stopRefresher()
	}
	keepOwner := true // the owner record stays while the run's lock may (recovery/owner.go)
	defer func() { g.owner.End(keepOwner, res.ExitCode) }()
	observed := g.watch.Stop()
	defer g.closeOIDC()
	o := credOptions(inv)
	var waited time.Duration
	watched := false
	if g.stdin != nil {
		waited, watched = g.stdin.Stop()
	}
	if res.ExitCode == 0 || (res.ExitCode == 2 && inv.Command.Words[0] == "plan") { // guarded commands always have Words
		// Learn only from the time terraform worked: time blocked at a
		// prompt is left out; where that cannot be seen, a run that may
		// have waited for its approval is not learnt from.
		if worked := res.End.Sub(res.Start) - waited; watched || !mayAskApproval(inv) {
			if err := credguard.RecordDuration(o, strings.Join(inv.Command.Words, " "), worked); err != nil {
				fmt.Fprintf(inv.Stderr, "tf: warning: could not record this run's duration: %v\n", err)
			}
		}
		// taint, untaint, state rm/mv and import exit 0 when only the lock
		// release failed: the stale lock is recovered as after a failure.
		if !inv.Config.Recovery || res.Signal != nil || !recovery.ReleaseFailedIn(res.StderrTail) {
			keepOwner = false
			return res.ExitCode
		}
	}
	if !inv.Config.Recovery || res.Signal != nil {
		return res.ExitCode
	}
	run := recoveryRun(inv, res)
	run.Observed = observed
	run.Renew = renewCredentials(inv)
	out := recovery.Recover(ctx, run)
	keepOwner = out.Kind == recovery.NeedsPerson // a lock may be left for a person
	if out.Kind == recovery.NeedsPerson {
		return ExitRecoveryIncomplete
	}
	return res.ExitCode
}

// renewCredentials is how recovery renews the run's credentials, after a
// failed run and when a pending recovery is resumed: credguard's Renew with
// the run's login rules (the configured login mode; a login only for a
// person at a terminal, never in CI). tf ignores signals while it finishes
// its work, but a login waiting for a person stops at Ctrl-C or SIGTERM.
func renewCredentials(inv *Invocation) func(ctx context.Context, env []string) ([]string, error) {
	o := credOptions(inv)
	return func(ctx context.Context, env []string) ([]string, error) {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		ro := o
		ro.Env = env
		return env, credguard.Renew(ctx, ro)
	}
}

// offerProfile: when exported session keys are what will not last, and
// AWS_PROFILE names the profile they were exported from (which terraform's
// SDK can refresh), a person at a terminal is offered that profile for this
// run. It returns the environment without the exported keys when accepted.
// The offer does not print the refusal: declined, the caller returns it, so
// it is the last line tf prints. Ctrl-C (ctx) ends the question at once.
func offerProfile(ctx context.Context, inv *Invocation, o credguard.Options, err error) (env []string, ok bool) {
	var short *credguard.ShortError
	profile, _ := lookupEnv(inv.Env, "AWS_PROFILE")
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

// recoveryRun describes the finished run to recovery; res is nil when
// there is no run (a journal resumed on start, `tf guard recover`).
func recoveryRun(inv *Invocation, res *Result) recovery.Run {
	r := recovery.Run{
		Dir:         inv.WorkDir,
		Terraform:   inv.Terraform.Path,
		Flavor:      inv.Terraform.Flavor,
		Env:         inv.Env,
		Args:        inv.Args,
		Interactive: inv.Interactive,
		CI:          inv.CI,
		ReportPath:  inv.Config.ReportFile,
		Out:         inv.Stderr,
		In:          os.Stdin,
	}
	r.OnStep, r.Out = recoveryProgress(inv)
	if res != nil {
		r.ExitCode = res.ExitCode
		r.Stderr = res.StderrTail
		r.Stdout = res.Stdout
		r.Started, r.Ended = res.Start, res.End
	}
	return r
}

// recoveryStepWords says what a recovery step does, for the progress line.
func recoveryStepWords(step string) string {
	switch step {
	case recovery.StepSecure:
		return "securing errored.tfstate"
	case recovery.StepCredentials:
		return "renewing and checking the credentials"
	case recovery.StepProve:
		return "proving which lock is this run's"
	case recovery.StepPush:
		return "putting the state back"
	case recovery.StepVerify:
		return "verifying the backend's state"
	case recovery.StepUnlock:
		return "releasing this run's lock"
	}
	return "cleaning up"
}

// recoveryProgress shows each recovery step: at a terminal one updating
// line (cleared before recovery writes anything else, and not drawn while
// the credentials step may ask a person to log in), elsewhere one plain line
// per step.
func recoveryProgress(inv *Invocation) (func(string), io.Writer) {
	if inv.Stderr == nil {
		return nil, inv.Stderr
	}
	live := !inv.CI && isTerminal(inv.Stderr)
	p := newProgress(inv.Stderr, live, nil)
	steps := recovery.StepNames()
	onStep := func(step string) {
		n := slices.Index(steps, step) + 1
		msg := fmt.Sprintf("recovery %d/%d: %s", n, len(steps), recoveryStepWords(step))
		if live && step == recovery.StepCredentials {
			p.Done("") // a login may talk to the person now
			return
		}
		p.Step(msg)
	}
	return onStep, clearingWriter{p: p, w: inv.Stderr}
}

// clearingWriter clears the live progress line before anything else is
// written to the same terminal.
type clearingWriter struct {
	p *progress
	w io.Writer
}

func (c clearingWriter) Write(b []byte) (int, error) {
	c.p.Done("")
	return c.w.Write(b)
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(fdOf(f)))
}

// applyTakesValue: apply's options that take a value, which Go's flag
// package (terraform's) also accepts as the next argument: `-var-file
// prod.tfvars` names no plan.
func applyTakesValue(name string) bool {
	switch name {
	case "var", "var-file", "target", "replace", "lock-timeout", "parallelism", "state", "state-out", "backup":
		return true
	}
	return false
}

// applyPositional is the first argument after apply's options (its plan
// file or, in old terraform, a directory), "" when there is none.
func applyPositional(args []string) string {
	i := slices.Index(args, "apply")
	if i < 0 {
		return ""
	}
	for i++; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if applyTakesValue(name) && !hasVal {
			i++ // its value
		}
	}
	if i < len(args) {
		return args[i]
	}
	return ""
}

// savedPlan is the plan file of `apply PLANFILE`, "" for any other run.
func savedPlan(inv *Invocation) string {
	if len(inv.Command.Words) != 1 || inv.Command.Words[0] != "apply" {
		return ""
	}
	p := applyPositional(inv.Args)
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(inv.WorkDir, p)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return ""
	}
	return p
}

// mayAskApproval: an apply or destroy that stops at "Enter a value:" for
// its approval (no -auto-approve, no saved plan, input not disabled).
func mayAskApproval(inv *Invocation) bool {
	if len(inv.Command.Words) != 1 || (inv.Command.Words[0] != "apply" && inv.Command.Words[0] != "destroy") {
		return false
	}
	for _, a := range inv.Args {
		switch strings.TrimLeft(a, "-") {
		case "auto-approve", "auto-approve=true", "input=false":
			return false
		}
	}
	return inv.Command.Words[0] == "destroy" || savedPlan(inv) == ""
}

func hasEnv(env []string, key string) bool {
	v, ok := lookupEnv(env, key)
	return ok && v != ""
}

// guardProductCommands are `tf guard check`, `login` and `recover`.
func guardProductCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "check",
			Usage: "show every AWS credential a guarded command here would use, how long it lasts and whether that is enough",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
				&cli.StringFlag{Name: "command", Value: "apply", Usage: "the guarded terraform command whose expected length counts: " + strings.Join(GuardedCommands(), ", ")},
				&cli.BoolFlag{Name: "reset-history", Usage: "forget the recorded run lengths of every command in this directory and workspace first"},
			},
			Action: func(c *cli.Context) error {
				inv, err := sessionInvocation(c)
				if err != nil {
					return err
				}
				o := credOptions(inv)
				o.Command = c.String("command")
				if !isGuarded(o.Command) {
					return cli.Exit(fmt.Sprintf("tf guard check: --command %q is not a command tf guards; use one of: %s",
						o.Command, strings.Join(GuardedCommands(), ", ")), ExitUsage)
				}
				if c.Bool("reset-history") {
					dir, err := credguard.ResetHistory(o)
					if err != nil {
						return cli.Exit("tf guard check: "+err.Error(), 1)
					}
					fmt.Fprintf(c.App.ErrWriter, "forgot the run-length history of this directory and workspace (%s)\n", dir)
				}
				// In GitHub OIDC mode a guarded command's terraform gets the
				// endpoint's credentials, not the job's: check starts it the
				// same way (bounded; Ctrl-C and SIGTERM stop it) and judges
				// what terraform would get.
				ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
				defer stop()
				g := &guards{}
				defer g.closeOIDC()
				if err := g.startOIDC(ctx, inv); err != nil {
					fmt.Fprintf(c.App.ErrWriter, "tf guard check: GitHub OIDC mode is on (github_oidc_role = %s), but %v\n"+
						"tf guard check: a guarded command here is refused for the same reason; the job's own AWS credentials are not judged, since terraform would not get them\n",
						inv.Config.GitHubOIDCRole, strings.TrimPrefix(err.Error(), "github_oidc_role is set but "))
					return exitWith(1)
				}
				if g.oidc != nil {
					o.Env = inv.Env
					o.GitHubOIDCURL = g.oidc.URL
				} else if !inv.CI && inv.Config.GitHubOIDCRole != "" {
					fmt.Fprintf(c.App.ErrWriter, "tf guard check: github_oidc_role is set, but GitHub OIDC mode is used only in CI (CI or GITHUB_ACTIONS set, or ci = on): judging the credentials here\n")
				}
				return exitWith(credguard.Check(ctx, o, c.App.Writer, c.Bool("json")))
			},
		},
		{
			Name:  "login",
			Usage: "renew the SSO sessions the configuration here uses, now",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "profile", Usage: "log in only this profile's SSO session"},
			},
			Action: func(c *cli.Context) error {
				inv, err := sessionInvocation(c)
				if err != nil {
					return err
				}
				if c.String("profile") == "" {
					names, err := credguard.SSOInUse(c.Context, credOptions(inv))
					if err != nil {
						return cli.Exit("tf guard login: "+err.Error(), 1)
					}
					if len(names) == 0 {
						fmt.Fprintln(c.App.Writer, "tf guard login: nothing to log in: no IAM Identity Center (SSO) credential is used here (see `tf guard check`)")
						return nil
					}
				}
				if !inv.Interactive {
					return cli.Exit("tf guard login: no person at a terminal here (or CI is set); run it in a terminal, or `aws sso login --profile NAME`", ExitPreflight)
				}
				if err := credguard.Login(c.Context, credOptions(inv), c.String("profile")); err != nil {
					return cli.Exit("tf guard login: "+err.Error(), ExitPreflight)
				}
				return nil
			},
		},
		{
			Name:  "recover",
			Usage: "finish, or give up on, a pending recovery; repair a workspace left with errored.tfstate and/or a stale lock (also by plain terraform)",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "yes", Usage: "do it without asking (CI)"},
				&cli.StringFlag{Name: "lock-id", Usage: "the ID of the lock the failed run held, when tf has no proof of its own (tf checks it is the lock on this state)"},
				&cli.BoolFlag{Name: "show", Usage: "only show what is there and what would be done"},
				&cli.BoolFlag{Name: "abandon", Usage: "give up on the pending recovery: nothing more is done, every backup is kept"},
				&cli.StringFlag{Name: "use", Usage: "when tf cannot prove a push is safe: 'errored' pushes errored.tfstate, 'remote' keeps the backend's state"},
			},
			Action: func(c *cli.Context) error {
				inv, err := sessionInvocation(c)
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
				defer stop()
				// In a GitHub OIDC job the endpoint may be the only credential:
				// up for the recovery's side calls and lock reads, as in Startup.
				g := &guards{}
				if err := g.startOIDC(ctx, inv); err != nil {
					fmt.Fprintf(inv.Stderr, "tf: %v\n", err)
				}
				defer g.closeOIDC()
				run := recoveryRun(inv, nil)
				run.Renew = renewCredentials(inv)
				out := recovery.RecoverCommand(ctx, run, recovery.CommandOptions{
					Yes: c.Bool("yes"), LockID: c.String("lock-id"), Show: c.Bool("show"),
					Abandon: c.Bool("abandon"), Use: c.String("use"),
				})
				if out.Kind == recovery.NeedsPerson {
					return exitWith(ExitRecoveryIncomplete)
				}
				return nil
			},
		},
	}
}

// sessionInvocation is the Invocation a guard subcommand works with: the
// current directory's configuration and terraform.
func sessionInvocation(c *cli.Context) (*Invocation, error) {
	s := SessionFrom(c)
	if s.ConfigErr != nil {
		return nil, cli.Exit("tf: "+s.ConfigErr.Error(), ExitConfig)
	}
	if s.FindErr != nil {
		return nil, cli.Exit("tf: "+s.FindErr.Error(), exitCodeOf(s.FindErr))
	}
	p := s.Process
	ci := detectCI(s.Config.CI, p.Environ)
	return &Invocation{
		Cwd:         s.Cwd,
		WorkDir:     s.Cwd,
		Terraform:   s.Terraform,
		Env:         ChildEnv(p.Environ, s.Self),
		Interactive: p.Stdin != nil && term.IsTerminal(int(fdOf(p.Stdin))) && !ci,
		CI:          ci,
		Config:      s.Config,
		Stderr:      p.Stderr,
	}, nil
}

// exitWith turns a non-zero code into urfave/cli's exit error (no message:
// the command printed its own).
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return cli.Exit("", code)
}
