package wrapper

import (
	"context"
	"fmt"
	"strings"

	"github.com/tfguard/tf/credguard"
)

// startTokenRenewal: in a GitHub Actions job that can request ID tokens,
// the GitHub-issued web identity token files terraform would read get
// fresh copies that tf keeps renewed, and terraform's environment points at
// them (credguard.StartTokenRenewal). Once per tf; what it does is said in
// one line per file, and a failure in one warning (terraform then reads the
// files as they are, as without tf).
func (g *oidcEndpoint) startTokenRenewal(ctx context.Context, inv *Invocation) {
	if g.tokensTried {
		return
	}
	g.tokensTried = true
	o := credOptions(inv)
	if inv.CI && inv.Config.GitHubOIDCRole != "" {
		// GitHub OIDC mode takes AWS_WEB_IDENTITY_TOKEN_FILE out of
		// terraform's environment (CredentialServer.Env): only profiles
		// may still name a token file.
		o.Env = withoutEnv(o.Env, credguard.EnvWebIdentityTokenFile)
	}
	r, err := credguard.StartTokenRenewal(ctx, o)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "tf: warning: %v\n", err)
		return
	}
	if r == nil {
		return
	}
	g.tokens = r
	inv.Env = r.Env(inv.Env)
	inv.renewedTokens = r.Copies()
	for _, line := range r.Describe() {
		fmt.Fprintf(inv.Stderr, "tf: %s\n", line)
	}
}

func (g *oidcEndpoint) closeTokenRenewal() {
	if g.tokens != nil {
		g.tokens.Close()
		g.tokens = nil
	}
}

// withoutEnv is env without the variable key.
func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}
