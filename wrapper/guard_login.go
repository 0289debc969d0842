package wrapper

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tfguard/tf/credguard"
)

// guardLoginCommand is `tf guard login`: renew the SSO sessions the
// configuration here uses, now.
func guardLoginCommand() *cli.Command {
	return &cli.Command{
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
	}
}
