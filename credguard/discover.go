package credguard

import (
	"context"
	"fmt"
	"time"
)

// Discover finds every AWS credential the run will use: the backend's, each
// AWS provider's, and the environment's, in the order terraform's AWS SDK
// picks them (keys in configuration, profile in configuration, env keys,
// AWS_WEB_IDENTITY_TOKEN_FILE, AWS_PROFILE, the default profile). The notes
// say what was not read.
func Discover(ctx context.Context, o Options) ([]Credential, []string, error) {
	var consumers []consumer
	var notes []string
	b, ok, err := backendConsumer(o)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		consumers = append(consumers, b)
	}
	ps, pn, usesAWS, err := providerConsumers(o.Dir)
	if err != nil {
		return nil, nil, err
	}
	notes = append(notes, pn...)
	consumers = append(consumers, ps...)
	if len(ps) == 0 && usesAWS {
		consumers = append(consumers, consumer{Name: "environment (providers without a provider block)"})
	}
	var out []Credential
	index := map[string]int{}
	for _, c := range consumers {
		for _, s := range c.Skipped {
			notes = append(notes, c.Name+": "+s+" (skipped)")
		}
		cred, err := resolveConsumer(ctx, o, c)
		if err != nil {
			return nil, notes, err
		}
		if i, ok := index[cred.key()]; ok {
			out[i].UsedBy = append(out[i].UsedBy, c.Name)
			continue
		}
		cred.UsedBy = []string{c.Name}
		index[cred.key()] = len(out)
		out = append(out, cred)
	}
	return out, notes, nil
}

func resolveConsumer(ctx context.Context, o Options, c consumer) (Credential, error) {
	var base Credential
	switch {
	case c.HasStaticKeys:
		base = Credential{Name: "keys in " + c.Name, Kind: KindStatic, Notes: []string{"keys written in the configuration; static keys do not expire"}}
	case c.Profile != "":
		var err error
		if base, err = resolveProfile(ctx, o, c.Profile, c.ConfigFiles); err != nil {
			base = Credential{Name: "profile " + c.Profile, Profile: c.Profile, Kind: KindUnknown, Notes: []string{err.Error()}}
		}
	default:
		env, ok, err := envCredential(o)
		if err != nil {
			return Credential{}, err
		}
		switch {
		case ok:
			base = env
		case o.getenv(EnvWebIdentityTokenFile) != "":
			base = webIdentity(Credential{Name: "web identity (" + EnvWebIdentityTokenFile + ")"}, o.getenv(EnvWebIdentityTokenFile), o.getenv(EnvRoleARN), o.now())
		default:
			profile := o.getenv(EnvProfile)
			if profile == "" {
				profile = o.getenv(EnvDefaultProfile)
			}
			explicit := profile != ""
			if !explicit {
				profile = "default"
			}
			if base, err = resolveProfile(ctx, o, profile, c.ConfigFiles); err != nil {
				base = Credential{Name: "profile " + profile, Profile: profile, Kind: KindUnknown, Notes: []string{err.Error()}}
				if !explicit {
					base = Credential{Name: "default chain", Kind: KindUnknown, Notes: []string{"no env keys or profile: the SDK will try the container endpoint or IMDS"}}
				}
			}
		}
	}
	if c.RoleARN == "" && !c.WebIdentity {
		return base, nil
	}
	role := c.RoleARN
	if role == "" {
		role = "web identity role"
	}
	src := base
	return Credential{
		Name: fmt.Sprintf("role %s via %s", role, base.Name), Kind: KindAssumeRole, RoleARN: role,
		Refreshable: true, Source: &src,
		Notes: []string{"terraform assumes the role again while " + base.Name + " lasts"},
	}, nil
}

// remaining is how long c can still provide working credentials from now;
// ok is false when there is no known end.
func remaining(c Credential, now time.Time) (time.Duration, bool) {
	end := c.lastsUntil()
	if end.IsZero() {
		return 0, false
	}
	return end.Sub(now), true
}
