package wrapper

// The GitHub OIDC credentials endpoint: in CI, with github_oidc_role set,
// terraform gets the role credentials from it.

import (
	"context"
	"fmt"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/envlist"
)

// oidcEndpoint is one tf's GitHub OIDC credentials endpoint: started at
// most once (Startup's resume, then Before, share one start), closed when
// the run ends. The zero value has not been tried.
type oidcEndpoint struct {
	srv *credguard.CredentialServer
	// tried: start has run; err is how it failed, already printed.
	tried bool
	err   error
}

// start starts the endpoint when it is configured (github_oidc_role, in
// CI), once, and gives terraform's environment to it. A job that cannot
// request ID tokens is told so in one line and runs with its own
// credentials. ctx (signals) stops the start. A second call (Before after
// Startup's resume) neither starts it again nor repeats what the first
// said: it returns the first call's error.
func (e *oidcEndpoint) start(ctx context.Context, inv *Invocation) error {
	if e.tried || !inv.CI || inv.Config.GitHubOIDCRole == "" {
		return e.err
	}
	e.tried = true
	if envlist.Get(inv.Env, credguard.EnvActionsIDTokenURL) == "" || envlist.Get(inv.Env, credguard.EnvActionsIDTokenToken) == "" {
		fmt.Fprintf(inv.Stderr, "tf: github_oidc_role is set, but this job cannot request GitHub ID tokens (no %s: give it `permissions: id-token: write`); terraform runs with the job's own credentials\n", credguard.EnvActionsIDTokenURL)
		return nil
	}
	srv, err := credguard.StartGitHubOIDC(ctx, credOptions(inv), inv.Config.GitHubOIDCRole)
	if err != nil {
		e.err = fmt.Errorf("github_oidc_role is set but the OIDC credentials endpoint could not start: %w", err)
		return e.err
	}
	e.srv = srv
	inv.Env = srv.Env(inv.Env)
	return nil
}

// url is the running endpoint's address, "" when it is not running.
func (e *oidcEndpoint) url() string {
	if e.srv == nil {
		return ""
	}
	return e.srv.URL
}

func (e *oidcEndpoint) close() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
}
