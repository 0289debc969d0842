package credguard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// GitHubIssuer is the iss claim of the ID tokens GitHub Actions issues
// (an enterprise with its own issuer adds a path to it).
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// tokenClaims are the claims of a JWT tf reads, never verifies, and never
// prints: the issuer, the one audience, the expiry and the issue time.
type tokenClaims struct {
	Iss string
	Aud string // "" when the token names none or several
	Exp time.Time
	Iat time.Time
}

// readClaims decodes a JWT's claims without verifying it.
func readClaims(tok string) (tokenClaims, bool) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return tokenClaims{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return tokenClaims{}, false
	}
	var raw struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
		Exp json.Number     `json:"exp"`
		Iat json.Number     `json:"iat"`
	}
	if json.Unmarshal(b, &raw) != nil {
		return tokenClaims{}, false
	}
	c := tokenClaims{Iss: raw.Iss}
	var one string
	var list []string
	switch {
	case json.Unmarshal(raw.Aud, &one) == nil:
		c.Aud = one
	case json.Unmarshal(raw.Aud, &list) == nil && len(list) == 1:
		c.Aud = list[0]
	}
	if n, err := raw.Exp.Int64(); err == nil && n > 0 {
		c.Exp = time.Unix(n, 0)
	}
	if n, err := raw.Iat.Int64(); err == nil && n > 0 {
		c.Iat = time.Unix(n, 0)
	}
	return c, true
}

// fromGitHub: the token was issued by GitHub Actions.
func (c tokenClaims) fromGitHub() bool {
	return c.Iss == GitHubIssuer || strings.HasPrefix(c.Iss, GitHubIssuer+"/")
}

// canRequestIDTokens: this job may ask GitHub for ID tokens (its
// `permissions` include `id-token: write`).
func (o Options) canRequestIDTokens() bool {
	return o.getenv(EnvActionsIDTokenURL) != "" && o.getenv(EnvActionsIDTokenToken) != ""
}

// idTokensUntil is when this job can no longer request ID tokens: GitHub
// answers only while its ACTIONS_ID_TOKEN_REQUEST_TOKEN is valid (about
// the job's 6 hours). That token is decoded, never verified or printed;
// ok is false when it is not a JWT with an exp claim.
func (o Options) idTokensUntil() (time.Time, bool) {
	c, ok := readClaims(o.getenv(EnvActionsIDTokenToken))
	if !ok || c.Exp.IsZero() {
		return time.Time{}, false
	}
	return c.Exp, true
}

// idTokensText says how long tf can get fresh ID tokens, for a sentence
// like "tf renews it ...": until the request token's end when it is known,
// else as long as the job can request them, never "for the whole run".
func idTokensText(until, now time.Time) string {
	if until.IsZero() {
		return "as long as the job can request ID tokens (tf cannot tell until when)"
	}
	if !until.After(now) {
		return "no longer: this job's ID token request token expired at " + until.UTC().Format("15:04:05 UTC")
	}
	return "until " + until.UTC().Format("15:04:05 UTC") + " (" + human(until.Sub(now)) + "), when this job's ID token request token expires"
}

// renewedFrom is the user's token file whose copy tf keeps fresh at path.
func (o Options) renewedFrom(path string) (string, bool) {
	src, ok := o.RenewedTokens[path]
	return src, ok
}

// isRenewedSource: tf keeps a copy of this user file fresh (terraform reads
// the copy where tf could point it there).
func (o Options) isRenewedSource(path string) bool {
	for _, src := range o.RenewedTokens {
		if src == path {
			return true
		}
	}
	return false
}

// TokenRenewer keeps fresh copies of the web identity token files terraform
// reads when they hold GitHub Actions ID tokens. The SDK reads such a file
// each time it assumes the role (at the start and whenever the role's
// credentials expire), but nobody rewrites it during the job, so once the
// token expires (GitHub's expire 5 minutes after issue) terraform can no
// longer renew. tf can: it asks GitHub for a new token with the same
// audience before the held one expires and writes it into its own copy,
// and Env points terraform at the copies. The user's files are never
// written; which credential terraform uses does not change, only where it
// reads the token from.
type TokenRenewer struct {
	o       Options
	dir     string
	files   []*tokenCopy
	configs map[string]string // env variable -> tf's copy of that config file
	life    context.Context
	stop    context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	fetches int
}

// tokenCopy is one user token file and tf's copy of it.
type tokenCopy struct {
	src, copy, aud string
	// envVar: AWS_WEB_IDENTITY_TOKEN_FILE names it; profiles: the config
	// file profiles that name it ("profile NAME of AWS_CONFIG_FILE").
	envVar   bool
	profiles []string

	// exp: the held token's exp claim (GitHub's clock); fetched: when tf
	// got it, on the local clock; life: how long it lives (exp - iat), so
	// that renewals are timed on the local clock alone, whatever its skew.
	exp, fetched time.Time
	life         time.Duration
	failures     int
	nextTry      time.Time
	warned       bool
}

// tokenReference is one place terraform's SDK may find a token file: the
// environment variable, or a profile's web_identity_token_file in a config
// file (named by configVar, "" for the default ~/.aws/config).
type tokenReference struct {
	path      string
	profile   string
	configVar string
}

// StartTokenRenewal starts keeping fresh copies of the GitHub-issued token
// files terraform would read: AWS_WEB_IDENTITY_TOKEN_FILE, and each
// profile's web_identity_token_file in AWS_CONFIG_FILE (else
// ~/.aws/config) and AWS_SHARED_CONFIG_FILE (the S3 backend's). It returns
// nil, nil when there is nothing to renew: no such file, or a job that
// cannot request ID tokens. It fetches one fresh token per file before
// returning (ctx bounds that); an error means terraform reads the files as
// they are.
func StartTokenRenewal(ctx context.Context, o Options) (*TokenRenewer, error) {
	if !o.canRequestIDTokens() {
		return nil, nil
	}
	var refs []tokenReference
	if f := o.getenv(EnvWebIdentityTokenFile); f != "" {
		refs = append(refs, tokenReference{path: o.envPath(f)})
	}
	for _, v := range []string{EnvConfigFile, EnvSharedConfigFile} {
		file := o.getenv(v)
		switch {
		case file != "":
			file = o.envPath(file)
		case v == EnvConfigFile:
			file = o.configFiles()[0]
		default:
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, p := range profileTokenFiles(b) {
			refs = append(refs, tokenReference{path: o.envPath(p.path), profile: p.profile, configVar: v})
		}
	}
	r := &TokenRenewer{o: o, configs: map[string]string{}, done: make(chan struct{})}
	bySrc := map[string]*tokenCopy{}
	for _, ref := range refs {
		t := bySrc[ref.path]
		if t == nil {
			b, err := os.ReadFile(ref.path)
			if err != nil {
				continue
			}
			c, ok := readClaims(string(b))
			if !ok || !c.fromGitHub() || c.Aud == "" {
				continue
			}
			t = &tokenCopy{src: ref.path, aud: c.Aud}
			bySrc[ref.path] = t
			r.files = append(r.files, t)
		}
		if ref.configVar == "" {
			t.envVar = true
		} else if ref.profile != "" {
			of := ref.configVar
			if o.getenv(ref.configVar) == "" {
				of += " (unset: ~/.aws/config)"
			}
			t.profiles = append(t.profiles, "profile "+ref.profile+" of "+of)
		}
	}
	if len(r.files) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "tfguard-idtoken-*")
	if err != nil {
		return nil, fmt.Errorf("cannot keep GitHub ID tokens fresh for terraform: %w", err)
	}
	r.dir = dir
	for i, t := range r.files {
		t.copy = filepath.Join(dir, fmt.Sprintf("token-%d", i+1))
		if err := r.refresh(ctx, t); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("the web identity token in %s was issued by GitHub Actions, but tf could not get a fresh one (%v); terraform reads the file as it is, and cannot assume the role again once that token has expired", t.src, err)
		}
	}
	for _, v := range []string{EnvConfigFile, EnvSharedConfigFile} {
		if p, ok := r.configCopy(v); ok {
			r.configs[v] = p
		}
	}
	r.life, r.stop = context.WithCancel(context.Background())
	go r.loop()
	return r, nil
}

// profileToken is a profile's web_identity_token_file in a config file.
type profileToken struct{ profile, path string }

// profileTokenFiles lists the web_identity_token_file setting of each
// profile in an AWS config file.
func profileTokenFiles(b []byte) []profileToken {
	var out []profileToken
	profile := ""
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if name, ok := sectionProfile(t); ok {
			profile = name
			continue
		}
		if strings.HasPrefix(t, "[") {
			profile = ""
			continue
		}
		if k, v, ok := strings.Cut(t, "="); ok && profile != "" && strings.EqualFold(strings.TrimSpace(k), "web_identity_token_file") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, profileToken{profile, v})
			}
		}
	}
	return out
}

// sectionProfile reads a config file section header: [default],
// [profile NAME]; ok is false for any other line or section.
func sectionProfile(t string) (string, bool) {
	if !strings.HasPrefix(t, "[") {
		return "", false
	}
	i := strings.Index(t, "]")
	if i < 0 {
		return "", false
	}
	f := strings.Fields(t[1:i])
	switch {
	case len(f) == 1 && f[0] == "default":
		return "default", true
	case len(f) == 2 && f[0] == "profile":
		return f[1], true
	}
	return "", false
}

// configCopy writes tf's copy of the config file the variable v names (the
// default one for AWS_CONFIG_FILE when unset), with each profile's
// web_identity_token_file that tf renews pointed at tf's copy, and returns
// its path; ok is false when no line changed.
func (r *TokenRenewer) configCopy(v string) (string, bool) {
	file := r.o.getenv(v)
	switch {
	case file != "":
		file = r.o.envPath(file)
	case v == EnvConfigFile:
		file = r.o.configFiles()[0]
	default:
		return "", false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false
	}
	copies := map[string]string{}
	for _, t := range r.files {
		copies[t.src] = t.copy
	}
	out, changed := rewriteTokenFiles(b, copies, r.o.envPath)
	if !changed {
		return "", false
	}
	name := "config"
	if v == EnvSharedConfigFile {
		name = "shared-config"
	}
	dst := filepath.Join(r.dir, name)
	if writeFileAtomic(dst, out) != nil {
		return "", false
	}
	return dst, true
}

// rewriteTokenFiles points each profile's web_identity_token_file whose
// file (as resolve makes it absolute) has a copy at that copy; every other
// line stays as it was. changed is false when no line changed.
func rewriteTokenFiles(b []byte, copies map[string]string, resolve func(string) string) ([]byte, bool) {
	lines := strings.Split(string(b), "\n")
	changed, profile := false, ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if name, ok := sectionProfile(t); ok {
			profile = name
			continue
		}
		if strings.HasPrefix(t, "[") {
			profile = ""
			continue
		}
		k, val, ok := strings.Cut(t, "=")
		if !ok || profile == "" || !strings.EqualFold(strings.TrimSpace(k), "web_identity_token_file") {
			continue
		}
		if c, ok := copies[resolve(strings.TrimSpace(val))]; ok {
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			eol := ""
			if strings.HasSuffix(line, "\r") {
				eol = "\r"
			}
			lines[i] = indent + "web_identity_token_file = " + c + eol
			changed = true
		}
	}
	return []byte(strings.Join(lines, "\n")), changed
}

// Env returns base with terraform pointed at tf's copies: the token file
// variable, and the config file variables whose profiles name a renewed
// file. Nothing else changes.
func (r *TokenRenewer) Env(base []string) []string {
	repl := map[string]string{}
	for _, t := range r.files {
		if t.envVar {
			repl[EnvWebIdentityTokenFile] = t.copy
		}
	}
	for v, p := range r.configs {
		repl[v] = p
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := repl[k]; !ok {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(repl))
	for k := range repl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+repl[k])
	}
	return out
}

// Describe says, one line per file, what tf did for terraform: where
// terraform finds the file through AWS_WEB_IDENTITY_TOKEN_FILE or a
// profile in the config file tf points it at, it finds tf's copy. It does
// not say terraform uses it: keys in the environment or the configuration
// come first, a file named in the configuration is read as it is, and
// which profile terraform uses is its own choice (the preflight judges
// what terraform really uses).
func (r *TokenRenewer) Describe() []string {
	until, _ := r.o.idTokensUntil()
	var out []string
	for _, t := range r.files {
		var where []string
		if t.envVar {
			where = append(where, EnvWebIdentityTokenFile)
		}
		where = append(where, t.profiles...)
		exp := "its expiry cannot be read"
		if b, err := os.ReadFile(t.src); err == nil {
			if c, ok := readClaims(string(b)); ok && !c.Exp.IsZero() {
				exp = "it expires at " + c.Exp.UTC().Format("15:04:05 UTC")
			}
		}
		out = append(out, fmt.Sprintf("the web identity token in %s was issued by GitHub Actions (%s): where terraform finds this file through %s, it now finds tf's copy, which tf refills with a fresh ID token (audience %s) before each one expires, %s; your files are not changed",
			t.src, exp, strings.Join(where, " or "), t.aud, idTokensText(until, r.o.now())))
	}
	return out
}

// Copies maps each of tf's copies to the user's file it stands for (for
// Options.RenewedTokens); nil for a nil renewer.
func (r *TokenRenewer) Copies() map[string]string {
	if r == nil {
		return nil
	}
	m := map[string]string{}
	for _, t := range r.files {
		m[t.copy] = t.src
	}
	return m
}

// Fetches is how many ID tokens the renewer got from GitHub.
func (r *TokenRenewer) Fetches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetches
}

// Close stops the renewals and removes tf's copies.
func (r *TokenRenewer) Close() {
	if r == nil || r.stop == nil {
		return
	}
	r.stop()
	<-r.done
	os.RemoveAll(r.dir)
	r.stop = nil
}

// refresh fetches a fresh token for t and writes it into t's copy.
func (r *TokenRenewer) refresh(ctx context.Context, t *tokenCopy) error {
	tok, err := fetchIDToken(ctx, r.o, t.aud)
	if err != nil {
		return err
	}
	c, ok := readClaims(tok)
	if !ok || c.Exp.IsZero() {
		return errors.New("github oidc: the ID token GitHub returned has no expiry")
	}
	if err := writeFileAtomic(t.copy, []byte(tok)); err != nil {
		return fmt.Errorf("write tf's copy: %w", err)
	}
	r.mu.Lock()
	t.exp, t.fetched = c.Exp, r.o.now()
	t.life = tokenLife(c, t.fetched)
	r.fetches++
	r.mu.Unlock()
	return nil
}

// minRenewGap is the least time between two fetches for one copy after a
// fetch that worked: a token of no usable life is not asked for again and
// again.
const minRenewGap = time.Second

// tokenLife is how long a token fetched at fetched (local clock) lives:
// exp - iat, both GitHub's, so a skewed local clock does not shorten it;
// without iat, exp - fetched is all there is.
func tokenLife(c tokenClaims, fetched time.Time) time.Duration {
	if !c.Iat.IsZero() {
		return c.Exp.Sub(c.Iat)
	}
	return c.Exp.Sub(fetched)
}

// heldUntil is when the held token ends, on the local clock.
func (t *tokenCopy) heldUntil() time.Time { return t.fetched.Add(t.life) }

// due is when t's token is replaced: renewBefore its end (a third of its
// life for GitHub's 5-minute tokens), counted on the local clock from the
// fetch, never sooner than minRenewGap after it; or the next try after a
// failure.
func (t *tokenCopy) due() time.Time {
	if !t.nextTry.IsZero() {
		return t.nextTry
	}
	at := t.heldUntil().Add(-renewBefore(t.life))
	if earliest := t.fetched.Add(minRenewGap); at.Before(earliest) {
		return earliest
	}
	return at
}

// loop renews each copy when it is due until Close. A failure is said
// once per file (the held token stays in the copy until it expires) and
// retried with a growing pause.
func (r *TokenRenewer) loop() {
	defer close(r.done)
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(r.o.out(), "\ntf: warning: tf stopped renewing GitHub ID tokens (tf internal error: %v); terraform goes on with the tokens it has\n", v)
		}
	}()
	for {
		r.mu.Lock()
		var next *tokenCopy
		for _, t := range r.files {
			if next == nil || t.due().Before(next.due()) {
				next = t
			}
		}
		wait := next.due().Sub(r.o.now())
		r.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-r.life.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		ctx, cancel := context.WithTimeout(r.life, githubTimeout)
		err := r.refresh(ctx, next)
		cancel()
		if r.life.Err() != nil {
			return
		}
		r.mu.Lock()
		if err == nil {
			next.failures, next.nextTry = 0, time.Time{}
			r.mu.Unlock()
			continue
		}
		next.failures++
		now := r.o.now()
		left := next.heldUntil().Sub(now)
		if left <= 0 {
			left = 4 * maxRenewBackoff // expired: no hurry left, keep the usual pauses
		}
		next.nextTry = now.Add(renewBackoff(next.failures, left))
		say := !next.warned
		next.warned = true
		r.mu.Unlock()
		if say {
			fmt.Fprintf(r.o.out(), "\ntf: warning: could not get a fresh GitHub ID token for terraform's copy of %s: %v; the held one stays until %s, retrying\n",
				next.src, err, next.exp.UTC().Format("15:04:05 UTC"))
		}
	}
}

// renewedByTF: c, or the source of the role chain c is, is a web identity
// token tf keeps fresh for the run.
func renewedByTF(c Credential) bool {
	for c.Kind == KindAssumeRole && c.Source != nil {
		c = *c.Source
	}
	return c.Kind == KindWebIdentity && c.RenewedFrom != ""
}
