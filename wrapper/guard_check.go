package wrapper

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tfguard/tf/credguard"
)

// guardCheckCommand is `tf guard check`: every AWS credential a guarded
// command here would use, how long it lasts and whether that is enough.
func guardCheckCommand() *cli.Command {
	return &cli.Command{
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
			var oidc oidcEndpoint
			defer oidc.close()
			if err := oidc.start(ctx, inv); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "tf guard check: GitHub OIDC mode is on (github_oidc_role = %s), but %v\n"+
					"tf guard check: a guarded command here is refused for the same reason; the job's own AWS credentials are not judged, since terraform would not get them\n",
					inv.Config.GitHubOIDCRole, strings.TrimPrefix(err.Error(), "github_oidc_role is set but "))
				return exitWith(1)
			}
			if u := oidc.url(); u != "" {
				o.Env = inv.Env
				o.GitHubOIDCURL = u
			} else if !inv.CI && inv.Config.GitHubOIDCRole != "" {
				fmt.Fprintf(c.App.ErrWriter, "tf guard check: github_oidc_role is set, but GitHub OIDC mode is used only in CI (CI or GITHUB_ACTIONS set, or ci = on): judging the credentials here\n")
			}
			return exitWith(credguard.Check(ctx, o, c.App.Writer, c.Bool("json")))
		},
	}
}
