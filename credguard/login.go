package credguard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/gofrs/flock"
)

// deviceAPI is what a native device-authorization login needs.
type deviceAPI interface {
	createTokenAPI
	RegisterClient(ctx context.Context, in *ssooidc.RegisterClientInput, optFns ...func(*ssooidc.Options)) (*ssooidc.RegisterClientOutput, error)
	StartDeviceAuthorization(ctx context.Context, in *ssooidc.StartDeviceAuthorizationInput, optFns ...func(*ssooidc.Options)) (*ssooidc.StartDeviceAuthorizationOutput, error)
}

// ErrNoTerminal: a login was needed but nobody can answer it.
var ErrNoTerminal = errors.New("logging in needs a person at a terminal; run `tf guard login` in one, or `aws sso login`")

// loginCredential logs c in again the configured way and records the
// login time, so the session's end is known from now on.
func loginCredential(ctx context.Context, o Options, c Credential) error {
	if !o.mayPrompt() {
		return ErrNoTerminal
	}
	mode := o.Config.withDefaults().Login
	if mode == LoginNever {
		return errors.New("login is disabled (login = never)")
	}
	if mode == LoginAuto {
		mode = LoginDevice
		if _, err := o.lookPath("aws"); err == nil {
			mode = LoginAWSCLI
		}
	}
	key := c.SSOSession
	if c.Kind == KindLegacySSO {
		key = c.StartURL
	}
	unlock, done, err := lockLogin(ctx, o, c, key)
	if err != nil {
		return err
	}
	defer unlock()
	if done {
		return nil // another tf logged this session in while this one waited
	}
	if mode == LoginAWSCLI {
		cmd := awsLoginCommand(ctx, o, c)
		fmt.Fprintf(o.out(), "tf: running %s\n", displayArgs(cmd.Args))
		if err = cmd.Run(); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			err = fmt.Errorf("aws sso login: %w", err)
		}
	} else {
		var api *ssooidc.Client
		if api, err = oidcClient(ctx, o, c.SSORegion); err == nil {
			err = deviceLogin(ctx, o, api, c)
		}
	}
	if err != nil {
		return err
	}
	if err := RecordLogin(o, key, o.now()); err != nil {
		fmt.Fprintf(o.out(), "tf: warning: could not record the login time: %v\n", err)
	}
	return nil
}

// lockLogin serialises the logins of one SSO session across tf processes
// (parallel runs at one terminal, `terragrunt run-all`): one asks the
// person, the others wait for it. done reports that another tf logged the
// session in (its record of the login is newer than this wait) while this
// one waited: then nobody is asked again. A failed login elsewhere leaves
// no record, and this tf logs in itself. Ctrl-C (ctx) ends the wait.
func lockLogin(ctx context.Context, o Options, c Credential, key string) (unlock func(), done bool, err error) {
	d, err := o.stateDir()
	if err != nil {
		return func() {}, false, nil // nowhere to keep a lock: log in unserialised
	}
	p := filepath.Join(d, "locks", "login-"+hashName(key)+".lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return func() {}, false, nil
	}
	fl := flock.New(p)
	ok, err := fl.TryLock()
	if err != nil {
		return func() {}, false, nil
	}
	if ok {
		return func() { _ = fl.Unlock() }, false, nil
	}
	start := o.now()
	fmt.Fprintf(o.out(), "tf: another tf is logging in to %s; waiting for it (Ctrl-C stops)\n", c.StartURL)
	if ok, err = fl.TryLockContext(ctx, 100*time.Millisecond); err != nil || !ok {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, false, fmt.Errorf("wait for another tf's login: %w", err)
	}
	unlock = func() { _ = fl.Unlock() }
	if rec, ok := loadLogin(o, key); ok && !rec.LoginAt.Before(start.Add(-time.Second)) {
		fmt.Fprintf(o.out(), "tf: the other tf logged in to %s\n", c.StartURL)
		return unlock, true, nil
	}
	return unlock, false, nil
}

func (o Options) lookPath(name string) (string, error) {
	if o.LookPath != nil {
		return o.LookPath(name)
	}
	return exec.LookPath(name)
}

func displayArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}

// awsLoginCommand builds `aws sso login` for c, attached to the terminal;
// it is stopped when ctx ends (SIGTERM to tf; Ctrl-C reaches it from the
// terminal directly).
func awsLoginCommand(ctx context.Context, o Options, c Credential) *exec.Cmd {
	args := []string{"sso", "login"}
	if c.Kind == KindSSOSession {
		args = append(args, "--sso-session", c.SSOSession)
	} else {
		args = append(args, "--profile", c.Profile)
	}
	cmd := exec.CommandContext(ctx, "aws", args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = o.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.In, o.out(), o.out()
	return cmd
}

var spinner = []string{"|", "/", "-", "\\"}

// deviceLogin runs the OAuth device authorization grant: show the code and
// URL, wait (with a progress indicator) until the person approves it in a
// browser, then write the SSO cache the way the SDK reads it.
func deviceLogin(ctx context.Context, o Options, api deviceAPI, c Credential) error {
	now := o.now()
	old, _ := readCache(c.CachePath)
	clientID, secret, regExp := old.ClientID, old.ClientSecret, old.RegistrationExpiresAt
	// A registration that ends before the new session would be refreshed
	// until its end is replaced now.
	fresh := now.Add(o.Config.withDefaults().SessionLength).Before(regExp)
	if c.Kind != KindSSOSession || clientID == "" || secret == "" || !fresh {
		in := &ssooidc.RegisterClientInput{ClientName: aws.String("tfguard"), ClientType: aws.String("public")}
		if c.Kind == KindSSOSession {
			in.Scopes = []string{"sso:account:access"}
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		reg, err := api.RegisterClient(cctx, in)
		cancel()
		if err != nil {
			return fmt.Errorf("register sso client: %w", err)
		}
		clientID, secret = aws.ToString(reg.ClientId), aws.ToString(reg.ClientSecret)
		regExp = time.Unix(reg.ClientSecretExpiresAt, 0)
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	dev, err := api.StartDeviceAuthorization(cctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: aws.String(clientID), ClientSecret: aws.String(secret), StartUrl: aws.String(c.StartURL),
	})
	cancel()
	if err != nil {
		return fmt.Errorf("start device authorization: %w", err)
	}
	url := aws.ToString(dev.VerificationUriComplete)
	if url == "" {
		url = aws.ToString(dev.VerificationUri)
	}
	fmt.Fprintf(o.out(), "tf: to log in to %s, open this address in a browser:\n\n    %s\n\nand confirm the code: %s\n\n", c.StartURL, url, aws.ToString(dev.UserCode))
	interval := time.Duration(dev.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := now.Add(time.Duration(dev.ExpiresIn) * time.Second)
	start := time.Now()
	tick := 0
	for {
		if err := waitWithProgress(ctx, o, interval, start, &tick); err != nil {
			fmt.Fprintln(o.out())
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := api.CreateToken(cctx, &ssooidc.CreateTokenInput{
			ClientId: aws.String(clientID), ClientSecret: aws.String(secret), DeviceCode: dev.DeviceCode,
			GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"),
		})
		cancel()
		var pending *oidctypes.AuthorizationPendingException
		var slow *oidctypes.SlowDownException
		var expired *oidctypes.ExpiredTokenException
		var denied *oidctypes.AccessDeniedException
		switch {
		case errors.As(err, &pending):
			continue
		case errors.As(err, &slow):
			interval += 5 * time.Second
			continue
		case errors.As(err, &expired):
			fmt.Fprintln(o.out())
			return fmt.Errorf("the code expired before it was approved (by %s); run `tf guard login` again", deadline.UTC().Format("15:04:05 UTC"))
		case errors.As(err, &denied):
			fmt.Fprintln(o.out())
			return errors.New("the login was refused in the browser")
		case err != nil && ctx.Err() != nil:
			fmt.Fprintln(o.out())
			return ctx.Err()
		case err != nil:
			fmt.Fprintln(o.out())
			return fmt.Errorf("wait for device approval: %w", err)
		}
		fmt.Fprintf(o.out(), "\rtf: logged in to %s.                                  \n", c.StartURL)
		got := o.now()
		tok := old
		if tok.raw == nil {
			tok = cachedToken{}
		}
		tok.StartURL, tok.Region = c.StartURL, c.SSORegion
		tok.AccessToken = aws.ToString(out.AccessToken)
		tok.ExpiresAt = got.Add(time.Duration(out.ExpiresIn) * time.Second)
		if c.Kind == KindSSOSession {
			tok.RefreshToken, tok.ClientID, tok.ClientSecret, tok.RegistrationExpiresAt = aws.ToString(out.RefreshToken), clientID, secret, regExp
		}
		return writeCacheLocked(ctx, ssoLockPath(o, c.CachePath), c.CachePath, tok)
	}
}

func writeCacheLocked(ctx context.Context, lockPath, path string, tok cachedToken) error {
	unlock, err := lockCache(ctx, lockPath, path)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := tok.encode()
	if err != nil {
		return fmt.Errorf("encode sso cache: %w", err)
	}
	return writeFileAtomic(path, b)
}

// waitWithProgress sleeps d, redrawing one status line every 250ms.
func waitWithProgress(ctx context.Context, o Options, d time.Duration, start time.Time, tick *int) error {
	end := time.NewTimer(d)
	defer end.Stop()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end.C:
			return nil
		case <-t.C:
			*tick++
			fmt.Fprintf(o.out(), "\rtf: waiting for approval in the browser %s %s ", spinner[*tick%len(spinner)], time.Since(start).Round(time.Second))
		}
	}
}

// Login logs every SSO credential the run uses in again now (`tf guard
// login`), the configured way, and records the login time so the session's
// end is known. profile, when set, limits it to that profile's credential.
// It needs Options.Interactive (and not CI).
func Login(ctx context.Context, o Options, profile string) error {
	creds, _, err := Discover(ctx, o)
	if err != nil {
		return err
	}
	if profile != "" {
		c, err := resolveProfile(ctx, o, profile, nil, nil)
		if err != nil {
			return err
		}
		creds = []Credential{c}
	}
	n := 0
	for _, c := range ssoCredentials(creds) {
		n++
		if err := loginCredential(ctx, o, c); err != nil {
			return fmt.Errorf("log in %s: %w", c.Name, err)
		}
	}
	if n == 0 {
		return errors.New("no SSO credential in use here: nothing to log in (see `tf guard check`)")
	}
	return nil
}

// ssoCredentials lists the SSO credentials among creds, sources included.
func ssoCredentials(creds []Credential) []Credential {
	var out []Credential
	seen := map[string]bool{}
	var walk func(c Credential)
	walk = func(c Credential) {
		if c.Kind == KindAssumeRole && c.Source != nil {
			walk(*c.Source)
			return
		}
		if (c.Kind == KindSSOSession || c.Kind == KindLegacySSO) && !seen[c.CachePath] {
			seen[c.CachePath] = true
			out = append(out, c)
		}
	}
	for _, c := range creds {
		walk(c)
	}
	return out
}

// Renew makes the run's credentials usable again after a failure (recovery
// calls it): SSO tokens are refreshed now; where the session is over, a
// person at a terminal logs in again. Anything that cannot be renewed gives
// a *ShortError saying what to do.
func Renew(ctx context.Context, o Options) error {
	creds, _, err := Discover(ctx, o)
	if err != nil {
		return err
	}
	required, _ := Required(o)
	var short []Entry
	for _, c := range creds {
		base := c
		for base.Kind == KindAssumeRole && base.Source != nil {
			base = *base.Source
		}
		switch base.Kind {
		case KindSSOSession:
			if _, _, err := refreshSSO(ctx, o, base, 1<<62); err == nil {
				continue
			} else if !isSessionOver(err) && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("renew %s: %w", base.Name, err)
			}
			if err := loginCredential(ctx, o, base); err != nil {
				short = append(short, Entry{Credential: base, LastsKnown: true, Verdict: VerdictShort, Detail: "the SSO session is over; log in again (" + loginHint(base) + "): " + err.Error()})
			}
		case KindLegacySSO:
			// A legacy token cannot be refreshed, but one that still lasts
			// the run needs no new login: the SDK gets new role
			// credentials with it.
			if !base.ValidUntil.IsZero() && base.ValidUntil.Sub(o.now()) >= required {
				continue
			}
			if err := loginCredential(ctx, o, base); err != nil {
				short = append(short, Entry{Credential: base, LastsKnown: true, Verdict: VerdictShort, Detail: "legacy SSO tokens cannot be refreshed; log in again (" + loginHint(base) + "): " + err.Error()})
			}
		case KindEnvSession:
			if e := evaluateEnv(o, Entry{Credential: base}, required); e.Verdict == VerdictShort {
				short = append(short, e)
			}
		}
	}
	if len(short) > 0 {
		return &ShortError{Required: required, Short: short}
	}
	return nil
}

// loginPass remembers, across one preflight, the SSO caches it logged in
// (or failed to): two consumers of one session get one device login.
type loginPass struct {
	mu   sync.Mutex
	done map[string]error // cache path -> the login's outcome
}

func newLoginPass() *loginPass { return &loginPass{done: map[string]error{}} }

func (p *loginPass) result(path string) (err error, ok bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err, ok = p.done[path]
	return err, ok
}

func (p *loginPass) record(path string, err error) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[path] = err
}

// loginAndRecheck logs e in again (once per SSO cache and preflight) and
// judges the result against required like any other credential: a new
// session shorter than the run is still too short.
func loginAndRecheck(ctx context.Context, o Options, e Entry, needLogin string, required time.Duration) Entry {
	if err, ok := o.pass.result(e.CachePath); ok {
		if err != nil {
			e.Verdict, e.Detail = VerdictShort, needLogin+"; login failed: "+err.Error()
			return e
		}
		return recheckAfterLogin(o, e, required)
	}
	fmt.Fprintf(o.out(), "tf: %s%s: %s; the run needs %s. Logging in again.\n", e.Name, usedByText(e.UsedBy), needLogin, human(required))
	err := loginCredential(ctx, o, e.Credential)
	o.pass.record(e.CachePath, err)
	if err != nil {
		e.Verdict, e.Detail = VerdictShort, needLogin+"; login failed: "+err.Error()
		return e
	}
	return recheckAfterLogin(o, e, required)
}

// recheckAfterLogin reads the SSO credential of e again after a login and
// judges the new token and session.
func recheckAfterLogin(o Options, e Entry, required time.Duration) Entry {
	now := o.now()
	c := e.Credential
	c.Notes, c.SessionEnds = nil, time.Time{}
	readSSOToken(o, &c)
	ne := Entry{Credential: c}
	ne.Lasts, ne.LastsKnown = remaining(c, now)
	switch {
	case c.ValidUntil.IsZero() || !c.ValidUntil.After(now):
		ne.Verdict, ne.Detail = VerdictShort, "logged in again, but the SSO cache holds no valid token; log in again ("+loginHint(c)+") and rerun"
	case c.Kind == KindLegacySSO && c.ValidUntil.Sub(now) < required:
		ne.Verdict, ne.Detail = VerdictShort, "logged in again, but a legacy SSO token lasts only "+human(c.ValidUntil.Sub(now))
		ne.Lasts, ne.LastsKnown = c.ValidUntil.Sub(now), true
	case c.Kind == KindSSOSession && !c.SessionEnds.IsZero() && c.SessionEnds.Sub(now) < required:
		ne.Verdict, ne.Detail = VerdictShort, fmt.Sprintf("logged in again, but the new session lasts %s (sso_session_length); a run needs %s: the session must be longer, or the run shorter", human(c.SessionEnds.Sub(now)), human(required))
	case c.Kind == KindSSOSession && !c.RegistrationEnds.IsZero() && c.RegistrationEnds.Sub(now) < required:
		ne.Verdict, ne.Detail = VerdictShort, "logged in again, but "+registrationEndText(c.RegistrationEnds, now)+"; the run needs "+human(required)
	case c.Kind == KindSSOSession && !c.Refreshable && c.ValidUntil.Sub(now) < required:
		ne.Verdict, ne.Detail = VerdictShort, "logged in again, but the new token cannot be refreshed and "+leftText(c.ValidUntil.Sub(now))
		ne.Lasts, ne.LastsKnown = c.ValidUntil.Sub(now), true
	default:
		ne.Verdict, ne.Detail = VerdictLoggedIn, "logged in again; token valid until "+c.ValidUntil.UTC().Format("15:04:05 UTC")
		if !c.SessionEnds.IsZero() {
			ne.Detail += "; the session ends at " + c.SessionEnds.UTC().Format("15:04:05 UTC")
		}
	}
	return ne
}

// usedByText is " (used by backend, ...)", or "" for a credential only
// another one uses (the source of a role).
func usedByText(users []string) string {
	if len(users) == 0 {
		return ""
	}
	return " (used by " + strings.Join(users, ", ") + ")"
}

// registrationEndText says when the SSO client registration that
// refreshes the token ends, or ended.
func registrationEndText(end, now time.Time) string {
	if end.After(now) {
		return "the SSO client registration that refreshes the token ends at " + end.UTC().Format("2006-01-02 15:04 UTC") + " (in " + human(end.Sub(now)) + ")"
	}
	return "the SSO client registration that refreshes the token ended at " + end.UTC().Format("2006-01-02 15:04 UTC")
}

// sessionEndText says when an SSO session ends, or ended: a past end is
// never printed as if it were to come.
func sessionEndText(end, now time.Time) string {
	if end.After(now) {
		return "the SSO session ends at " + end.UTC().Format("15:04:05 UTC") + " (in " + human(end.Sub(now)) + ")"
	}
	return "the SSO session ended at " + end.UTC().Format("15:04:05 UTC") + " (" + human(now.Sub(end)) + " ago)"
}
