package wrapper

// The GitHub OIDC credentials endpoint: in CI, with github_oidc_role set,
// terraform gets the role credentials from it.

import (
	"context"
	"fmt"

	"github.com/tfguard/tf/credguard"
)

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

func (g *guards) closeOIDC() {
	if g.oidc != nil {
		g.oidc.Close()
		g.oidc = nil
	}
}

func hasEnv(env []string, key string) bool {
	v, ok := lookupEnv(env, key)
	return ok && v != ""
}
