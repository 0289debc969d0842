package wrapper

import (
	"context"
	"fmt"

	"github.com/tfguard/tf/credguard"
)

// startTokenRenewal: in a GitHub Actions job that can request ID tokens,
// the GitHub-issued web identity token files terraform would read get
// fresh copies that tf keeps renewed, and terraform's environment points at
// them (credguard.StartTokenRenewal). Once per tf; what it does is said in
// one line per file, and a failure in one warning (terraform then reads the
// files as they are, as without tf).
func (g *guards) startTokenRenewal(ctx context.Context, inv *Invocation) {
	if g.tokensTried {
		return
	}
	g.tokensTried = true
	r, err := credguard.StartTokenRenewal(ctx, credOptions(inv))
	if err != nil {
		fmt.Fprintf(inv.Stderr, "tf: warning: %v\n", err)
		return
	}
	if r == nil {
		return
	}
	g.tokens = r
	inv.Env = r.Env(inv.Env)
	for _, line := range r.Describe() {
		fmt.Fprintf(inv.Stderr, "tf: %s\n", line)
	}
}

func (g *guards) closeTokenRenewal() {
	if g.tokens != nil {
		g.tokens.Close()
		g.tokens = nil
	}
}
