package credguard

import "context"

// credentials are the run's credentials: those the preflight that made r
// found and judged (so the configuration is read once per command), or,
// for a report that no preflight made, found now.
func (r Report) credentials(ctx context.Context, o Options) ([]Credential, error) {
	if !r.discovered {
		creds, _, err := Discover(ctx, o)
		return creds, err
	}
	creds := make([]Credential, 0, len(r.Entries))
	for _, e := range r.Entries {
		creds = append(creds, e.Credential)
	}
	return creds, nil
}
