package wrapper

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tfguard/tf/recovery"
)

// guardRecoverCommand is `tf guard recover`: finish or abandon a pending
// recovery, or repair a workspace left with errored.tfstate or a stale lock.
func guardRecoverCommand() *cli.Command {
	return &cli.Command{
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
			var oidc oidcEndpoint
			if err := oidc.start(ctx, inv); err != nil {
				fmt.Fprintf(inv.Stderr, "tf: %v\n", err)
			}
			defer oidc.close()
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
	}
}
