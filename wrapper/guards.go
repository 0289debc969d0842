package wrapper

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// guards holds what lives across one guarded run: the background refresher
// and, when opted in, the GitHub OIDC credentials endpoint.
type guards struct {
	stopRefresher func()
	oidc          *credguard.CredentialServer
}

// Startup deals with a recovery that an earlier tf could not complete in
// this directory, before anything else runs. Without a journal it is one
// stat. A command that could write state or take the lock (a guarded one)
// finishes the recovery first and is refused while it cannot be finished,
// so nobody forks the state. Any other command, and the manual steps tf
// itself prints (state push, force-unlock), only gets a one-line
// explanation and runs: they must stay usable while a person repairs.
func (g *guards) Startup(ctx context.Context, inv *Invocation) (int, bool) {
	if !inv.Config.Recovery || !recovery.Pending(inv.WorkDir) {
		return 0, false
	}
	cmd := strings.Join(inv.Command.Words, " ")
	if !inv.Command.Guarded || cmd == "state push" || cmd == "force-unlock" {
		fmt.Fprintf(inv.Stderr, "tf: an interrupted recovery is pending in %s; a guarded command (plan, apply, ...) or `tf guard recover` finishes it\n", inv.WorkDir)
		return 0, false
	}
	out := recovery.Resume(ctx, recoveryRun(inv, nil))
	if out.Kind == recovery.NeedsPerson {
		return ExitRecoveryIncomplete, true
	}
	return 0, false
}

// Before runs the credential guard: it refuses a run its credentials
// cannot finish (or renews them first) and keeps SSO tokens fresh while
// terraform runs.
func (g *guards) Before(ctx context.Context, inv *Invocation) error {
	if !inv.Config.Preflight {
		return nil
	}
	o := credOptions(inv)
	if plan := savedPlan(inv); plan != "" {
		if types, err := planResourceTypes(ctx, inv, plan); err == nil {
			o.PlanResourceTypes = types
		}
	}
	if _, err := credguard.Preflight(ctx, o); err != nil {
		env, ok := offerProfile(inv, err)
		if !ok {
			return err
		}
		inv.Env, o.Env = env, env
		if _, err := credguard.Preflight(ctx, o); err != nil {
			return err
		}
	}
	// The hook's ctx ends when Before returns; these live until After.
	if inv.CI && inv.Config.GitHubOIDCRole != "" && hasEnv(inv.Env, "ACTIONS_ID_TOKEN_REQUEST_URL") {
		srv, err := credguard.StartGitHubOIDC(context.Background(), o, inv.Config.GitHubOIDCRole)
		if err != nil {
			return fmt.Errorf("github_oidc_role is set but the OIDC credentials endpoint could not start: %w", err)
		}
		g.oidc = srv
		inv.Env = srv.Env(inv.Env)
		o.Env = inv.Env
	}
	g.stopRefresher = credguard.StartRefresher(context.Background(), o)
	return nil
}

// After stops the refresher, records how long a successful run took (the
// next preflight requires that much), and runs recovery when the run failed.
// terraform's exit code wins unless a person must act.
func (g *guards) After(ctx context.Context, inv *Invocation, res *Result) int {
	if g.stopRefresher != nil {
		g.stopRefresher()
	}
	defer func() {
		if g.oidc != nil {
			g.oidc.Close()
		}
	}()
	o := credOptions(inv)
	if res.ExitCode == 0 || (res.ExitCode == 2 && inv.Command.Words[0] == "plan") { // guarded commands always have Words
		if err := credguard.RecordDuration(o, strings.Join(inv.Command.Words, " "), res.End.Sub(res.Start)); err != nil {
			fmt.Fprintf(inv.Stderr, "tf: warning: could not record this run's duration: %v\n", err)
		}
		return res.ExitCode
	}
	if !inv.Config.Recovery || res.Signal != nil {
		return res.ExitCode
	}
	run := recoveryRun(inv, res)
	run.Renew = func(ctx context.Context, env []string) ([]string, error) {
		ro := o
		ro.Env = env
		return env, credguard.Renew(ctx, ro)
	}
	if recovery.Recover(ctx, run).Kind == recovery.NeedsPerson {
		return ExitRecoveryIncomplete
	}
	return res.ExitCode
}

// offerProfile: when exported session keys are what will not last, and
// AWS_PROFILE names the profile they were exported from (which terraform's
// SDK can refresh), a person at a terminal is offered that profile for this
// run. It returns the environment without the exported keys when accepted.
func offerProfile(inv *Invocation, err error) ([]string, bool) {
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
	fmt.Fprintf(inv.Stderr, "tf: %v\ntf: AWS_PROFILE=%s is set too. Use that profile (renewable) for this run instead of the exported keys? [y/N] ", err, profile)
	answer, rerr := bufio.NewReader(os.Stdin).ReadString('\n')
	if rerr != nil && answer == "" {
		fmt.Fprintln(inv.Stderr)
		return nil, false
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return nil, false
	}
	// Without the exported keys the SDK falls through to AWS_PROFILE.
	exported := []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION"}
	env := make([]string, 0, len(inv.Env))
	for _, kv := range inv.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(exported, k) {
			env = append(env, kv)
		}
	}
	fmt.Fprintf(inv.Stderr, "tf: running with profile %s; the exported keys are left out of this run only\n", profile)
	return env, true
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
		Config: credguard.Config{
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
	if res != nil {
		r.ExitCode = res.ExitCode
		r.Stderr = res.StderrTail
		r.Started, r.Ended = res.Start, res.End
	}
	return r
}

// savedPlan is the plan file of `apply PLANFILE`, "" for any other run.
func savedPlan(inv *Invocation) string {
	if len(inv.Command.Words) != 1 || inv.Command.Words[0] != "apply" {
		return ""
	}
	seen := false
	last := ""
	for _, a := range inv.Args {
		if !seen {
			seen = a == "apply"
			continue
		}
		if !strings.HasPrefix(a, "-") {
			last = a
		}
	}
	if last == "" {
		return ""
	}
	p := last
	if !filepath.IsAbs(p) {
		p = filepath.Join(inv.WorkDir, p)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return ""
	}
	return p
}

// planResourceTypes asks terraform which resource types a saved plan
// changes, so the preflight can add the margin of slow ones.
func planResourceTypes(ctx context.Context, inv *Invocation, plan string) ([]string, error) {
	p, err := showPlanFile(ctx, inv.WorkDir, inv.Terraform.Path, inv.Env, plan)
	if err != nil {
		return nil, err
	}
	return credguard.PlanResourceTypes(p), nil
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
				return exitWith(credguard.Check(c.Context, o, c.App.Writer, c.Bool("json")))
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
			Usage: "repair a workspace left with errored.tfstate and/or a stale lock (also by plain terraform)",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "yes", Usage: "do it without asking (CI)"},
				&cli.StringFlag{Name: "lock-id", Usage: "the ID of a lock you know is abandoned (needed when tf cannot prove it is its own)"},
				&cli.BoolFlag{Name: "show", Usage: "only show what is there and what would be done"},
			},
			Action: func(c *cli.Context) error {
				inv, err := sessionInvocation(c)
				if err != nil {
					return err
				}
				run := recoveryRun(inv, nil)
				o := credOptions(inv)
				run.Renew = func(ctx context.Context, env []string) ([]string, error) {
					ro := o
					ro.Env = env
					return env, credguard.Renew(ctx, ro)
				}
				out := recovery.RecoverCommand(c.Context, run, recovery.CommandOptions{
					Yes: c.Bool("yes"), LockID: c.String("lock-id"), Show: c.Bool("show"),
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
