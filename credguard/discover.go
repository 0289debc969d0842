package credguard

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Discover finds every AWS credential the run will use: the backend's, each
// AWS provider's (the implicit default provider included), each resolved
// as terraform's AWS SDK resolves it. A consumer whose credential depends
// on a value that only exists during the run is reported as unknown. The
// notes say what was not read. Discover fails only when the context does:
// what it cannot read becomes an unknown credential or a note, never a
// reason to stop the run.
func Discover(ctx context.Context, o Options) ([]Credential, []string, error) {
	var consumers []consumer
	var notes []string
	b, ok, err := backendConsumer(o)
	if err != nil {
		notes = append(notes, err.Error())
		consumers = append(consumers, consumer{Name: `backend`, Unknown: []string{"the backend record could not be read: " + err.Error()}})
	}
	if ok {
		consumers = append(consumers, b)
	}
	ps, pn, _ := providerConsumers(o, ok)
	notes = append(notes, pn...)
	consumers = append(consumers, ps...)
	var out []Credential
	index := map[string]int{}
	for _, c := range consumers {
		if err := ctx.Err(); err != nil {
			return nil, notes, err
		}
		cred := resolveConsumer(ctx, o, c)
		key := cred.key()
		if len(c.Unknown) > 0 {
			key += "|" + c.Name // each has its own reason
		}
		if i, ok := index[key]; ok {
			out[i].UsedBy = append(out[i].UsedBy, c.Name)
			continue
		}
		cred.UsedBy = []string{c.Name}
		index[key] = len(out)
		out = append(out, cred)
	}
	return out, notes, nil
}

// resolveConsumer follows the order of terraform's AWS configuration: keys
// in the configuration; a profile in the configuration; then the
// environment's default chain (see envChain). An assume_role block puts a
// role on top of whichever that is.
func resolveConsumer(ctx context.Context, o Options, c consumer) Credential {
	if len(c.Unknown) > 0 {
		return Credential{Name: "unknown credential", Kind: KindUnknown,
			Notes: append([]string{"which credential terraform uses is decided during the run"}, c.Unknown...)}
	}
	var base Credential
	switch {
	case c.WebIdentity:
		// aws-sdk-go-base replaces the credentials of the base chain with
		// the web identity provider: an unsigned AssumeRoleWithWebIdentity
		// with the block's token. Nothing else is the source.
		base = webIdentityBlock(o, c)
	case c.HasStaticKeys && c.SessionToken:
		base = Credential{Name: "keys in " + c.Name, Kind: KindUnknown, Notes: []string{"session keys written in the configuration: lifetime unknown, cannot be refreshed"}}
	case c.HasStaticKeys:
		base = Credential{Name: "keys in " + c.Name, Kind: KindStatic, Notes: []string{"keys written in the configuration; static keys do not expire"}}
	case c.Profile != "":
		var err error
		if base, err = resolveProfile(ctx, o, c.Profile, c.ConfigFiles, c.CredentialsFiles); err != nil {
			base = Credential{Name: "profile " + c.Profile, Profile: c.Profile, Kind: KindUnknown, Err: err.Error()}
		}
	default:
		base = envChain(ctx, o, c)
	}
	if c.RoleARN == "" {
		return base
	}
	src := base
	return Credential{
		Name: fmt.Sprintf("role %s via %s", c.RoleARN, base.Name), Kind: KindAssumeRole, RoleARN: c.RoleARN,
		Refreshable: true, Source: &src,
		Notes: []string{"terraform assumes the role again while " + base.Name + " lasts"},
	}
}

// webIdentityBlock is the credential of an assume_role_with_web_identity
// setting: the role, assumed with the token given as a value or in a file;
// the token's exp claim (read, never verified or printed) says how long it
// can be exchanged.
func webIdentityBlock(o Options, c consumer) Credential {
	role := c.WebIdentityRole
	if role == "" {
		return Credential{Name: "web identity role (no role_arn) for " + c.Name, Kind: KindWebIdentity,
			Err: "assume_role_with_web_identity has no role_arn: terraform cannot configure " + c.Name}
	}
	cred := Credential{Kind: KindWebIdentity, RoleARN: role, RoleDuration: c.WebIdentityDuration}
	switch {
	case c.WebIdentityToken != "":
		cred.Name = "web identity role " + role + " (token in the configuration)"
		if exp, ok := jwtExpiry(strings.TrimSpace(c.WebIdentityToken)); ok {
			cred.Expires, cred.ValidUntil = true, exp
		} else {
			cred.Notes = append(cred.Notes, "the token is not a JWT with an exp claim")
		}
		return cred
	case c.WebIdentityTokenFile != "":
		cred.Name = "web identity role " + role + " (token file " + c.WebIdentityTokenFile + ")"
		return webIdentity(o, cred, c.WebIdentityTokenFile, role)
	}
	cred.Name = "web identity role " + role
	cred.Err = "assume_role_with_web_identity sets neither web_identity_token nor web_identity_token_file: terraform cannot configure " + c.Name
	return cred
}

// envChain is the credential the SDK finds with nothing in the
// configuration: keys in the environment (AWS_ACCESS_KEY_ID, else
// AWS_ACCESS_KEY), AWS_WEB_IDENTITY_TOKEN_FILE, the profile AWS_PROFILE
// names (else AWS_DEFAULT_PROFILE, else "default"), and without a default
// profile the container endpoint or the instance metadata service.
func envChain(ctx context.Context, o Options, c consumer) Credential {
	if env, ok := envCredential(o); ok {
		return env
	}
	if f := o.getenv(EnvWebIdentityTokenFile); f != "" {
		return webIdentity(o, Credential{Name: "web identity (" + EnvWebIdentityTokenFile + ")"}, f, o.getenv(EnvRoleARN))
	}
	profile := o.getenv(EnvProfile)
	if profile == "" {
		profile = o.getenv(EnvDefaultProfile)
	}
	explicit := profile != ""
	if !explicit {
		profile = "default"
	}
	cred, err := resolveProfile(ctx, o, profile, c.ConfigFiles, c.CredentialsFiles)
	if err == nil {
		return cred
	}
	if explicit {
		return Credential{Name: "profile " + profile, Profile: profile, Kind: KindUnknown, Err: err.Error()}
	}
	return Credential{Name: "default chain", Kind: KindUnknown, Notes: []string{"no keys or profile in the environment: the SDK will try the container endpoint or the instance metadata service"}}
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
