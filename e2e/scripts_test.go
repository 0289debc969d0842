package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tfguard/tf/e2e/fakeaws"
	"github.com/tfguard/tf/e2e/rig"
)

var updateCaptures = flag.Bool("captures", false, "write the stderr of `capture NAME` lines to testdata/captures/NAME")

func TestMain(m *testing.M) {
	flag.Parse()
	// Plain-terraform baselines need the real terraform, even where tf is
	// already installed as terraform on this machine.
	os.Setenv("PATH", rig.PathWithoutTF(os.Getenv("PATH")))
	if _, err := rig.LookTools(); err != nil {
		if rig.InCI(os.Getenv) {
			fmt.Fprintf(os.Stderr, "e2e: CI=true and %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "e2e: skipping the incident rig on this machine: %v\n", err)
		os.Exit(0)
	}
	root, err := rig.ModuleRoot(".")
	if err == nil {
		err = rig.EnsureDynalite(filepath.Join(root, "e2e"), nil)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if testTF.path != "" {
		os.RemoveAll(filepath.Dir(testTF.path))
	}
	os.Exit(code)
}

// TestScripts runs every testdata/scripts/*.txtar scenario, each with its own
// rig (S3, dynalite, proxies) and workspace in $WORK.
func TestScripts(t *testing.T) {
	root, err := rig.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "scripts"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Values[scriptKey{}] = &scriptState{origPath: env.Getenv("PATH")}
			return nil
		},
		Cmds: h.commands(),
	})
}

// harness is shared by all scripts of one test binary.
type harness struct {
	root string
}

type scriptKey struct{}

// scriptState is one script's rig and workspace.
type scriptState struct {
	origPath string
	rig      *rig.Rig
	ws       *rig.Workspace
	creds    fakeaws.Issued
	session  string // fakeaws session name of the last `sso login`
	// mark is the identity fakes' call counts at the last `identity mark`;
	// `identity calls` counts from there.
	mark map[string]int
	// gh is the fake GitHub ID-token service of `github token`.
	gh *fakeIDTokens
}

func state(ts *testscript.TestScript) *scriptState {
	return ts.Value(scriptKey{}).(*scriptState)
}

func (s *scriptState) mustRig(ts *testscript.TestScript) *rig.Rig {
	if s.rig == nil {
		ts.Fatalf("no rig: start one with `rig start` first")
	}
	return s.rig
}

func (h *harness) commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"rig":       h.cmdRig,
		"creds":     cmdCreds,
		"nosecrets": cmdNoSecrets,
		"lock":      cmdLock,
		"remote":    cmdRemote,
		"errored":   cmdErrored,
		"requests":  cmdRequests,
		"exitcode":  cmdExitcode,
		"use":       h.cmdUse,
		"capture":   h.cmdCapture,
		"sso":       cmdSSO,
		"identity":  cmdIdentity,
		"fault":     cmdFault,
		"github":    cmdGitHub,
		"owner":     cmdOwner,
	}
}

// github oidc ROLE   make this a GitHub Actions job with `id-token: write`
// whose only AWS credentials are tf's OIDC endpoint for ROLE: a fake
// ID-token service, ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, GITHUB_ACTIONS=true,
// TFGUARD_GITHUB_OIDC_ROLE=ROLE; env keys and AWS_PROFILE unset.
func cmdGitHub(ts *testscript.TestScript, neg bool, args []string) {
	if !neg && len(args) > 0 && (args[0] == "token" || args[0] == "fetched") {
		cmdGitHubToken(ts, args)
		return
	}
	if neg || len(args) != 2 || args[0] != "oidc" {
		ts.Fatalf("usage: github oidc ROLE | github token [-life D] [-role D] [-no-id-token] [-profile NAME] | github fetched N|>=N")
	}
	state(ts).mustRig(ts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer gh-request-token" || r.URL.Query().Get("audience") != "sts.amazonaws.com" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"count":1,"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOngifQ.c2ln"}`)
	}))
	ts.Defer(srv.Close)
	for k := range rig.EnvCredentials(fakeaws.Issued{Expires: time.Now()}) {
		ts.Setenv(k, "")
	}
	ts.Setenv(rig.EnvProfile, "")
	ts.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?api-version=2.0")
	ts.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token")
	ts.Setenv("GITHUB_ACTIONS", "true")
	ts.Setenv("TFGUARD_GITHUB_OIDC_ROLE", args[1])
}

// fakeIDTokens answers like GitHub's ACTIONS_ID_TOKEN_REQUEST_URL with
// GitHub-shaped ID tokens (iss, aud = the audience asked, exp = now + life;
// unsigned: the fake STS reads only exp). It keeps what it issued, secrets
// that `nosecrets` looks for.
type fakeIDTokens struct {
	srv  *httptest.Server
	life time.Duration

	mu      sync.Mutex
	issued  []string
	fetched int             // tokens fetched over HTTP (by tf)
	byHTTP  map[string]bool // those tokens
	req     string          // the job's request token, the bearer it accepts
}

func (g *fakeIDTokens) token(aud string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	claims := fmt.Sprintf(`{"iss":"https://token.actions.githubusercontent.com","aud":%q,"sub":"repo:octo/infra:ref:refs/heads/main","iat":%d,"nbf":%d,"exp":%d}`,
		aud, now.Unix(), now.Unix(), now.Add(g.life).Unix())
	enc := base64.RawURLEncoding.EncodeToString
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + enc(b)
	g.issued = append(g.issued, tok)
	return tok
}

func (g *fakeIDTokens) secrets() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := append([]string(nil), g.issued...)
	if g.req != "" {
		out = append(out, g.req) // the job's request token, and its claims
		if parts := strings.Split(g.req, "."); len(parts) == 3 {
			out = append(out, parts[1])
		}
	}
	return out
}

// github token [-life D] [-role D] [-no-id-token] [-profile NAME] [-request-ends D]
//
//	make this a GitHub Actions job whose terraform assumes a role with a web
//	identity token file issued by GitHub: $WORK/gh-token holds a fresh ID
//	token (audience sts.amazonaws.com) living -life (default 10s), written
//	again at each call as a job's step would; AWS_WEB_IDENTITY_TOKEN_FILE
//	and AWS_ROLE_ARN name it; role credentials live -role (default 5s);
//	env keys and AWS_PROFILE are unset (with -profile, AWS_PROFILE=NAME and
//	the two variables unset: the profile names the file). Unless
//	-no-id-token, the job may request ID tokens (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN);
//	the request token is opaque, or with -request-ends a JWT whose exp is
//	that far from now (as GitHub's: the job can request ID tokens until then).
//
// github fetched [-used-by-terraform] N|>=N   count the ID tokens fetched
// from the fake service (by tf), or terraform's AssumeRoleWithWebIdentity
// calls that sent one of them
func cmdGitHubToken(ts *testscript.TestScript, args []string) {
	s := state(ts)
	r := s.mustRig(ts)
	if args[0] == "fetched" {
		// github fetched N|>=N: ID tokens fetched over HTTP (by tf);
		// github fetched -used-by-terraform N|>=N: terraform's
		// AssumeRoleWithWebIdentity calls that sent one of those (so
		// terraform read tf's copy, not the job's file).
		usedByTerraform := len(args) == 3 && args[1] == "-used-by-terraform"
		if usedByTerraform {
			args = append(args[:1], args[2])
		}
		if len(args) != 2 || s.gh == nil {
			ts.Fatalf("usage: github fetched [-used-by-terraform] N|>=N (after github token)")
		}
		s.gh.mu.Lock()
		got := s.gh.fetched
		if usedByTerraform {
			got = 0
			for _, tok := range r.Identity.WebIdentityTokens(fakeaws.CallerTerraform) {
				if s.gh.byHTTP[tok] {
					got++
				}
			}
		}
		s.gh.mu.Unlock()
		want, atLeast := strings.CutPrefix(args[1], ">=")
		n, err := strconv.Atoi(want)
		ts.Check(err)
		if (atLeast && got < n) || (!atLeast && got != n) {
			ts.Fatalf("ID tokens fetched: %d, want %s", got, args[1])
		}
		return
	}
	fs := flag.NewFlagSet("github token", flag.ContinueOnError)
	life := fs.Duration("life", 10*time.Second, "ID token lifetime")
	role := fs.Duration("role", 5*time.Second, "role credential lifetime")
	noIDToken := fs.Bool("no-id-token", false, "the job cannot request ID tokens")
	profile := fs.String("profile", "", "terraform uses this profile (whose web_identity_token_file names the file) instead of the variables")
	requestEnds := fs.Duration("request-ends", 0, "the request token is a JWT ending this far from now")
	ts.Check(fs.Parse(args[1:]))
	req := "gh-request-token"
	if *requestEnds > 0 {
		enc := base64.RawURLEncoding.EncodeToString
		req = enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
			enc([]byte(fmt.Sprintf(`{"aud":"vso:job","exp":%d}`, time.Now().Add(*requestEnds).Unix()))) + ".c2lnbmF0dXJl"
	}
	if s.gh == nil {
		g := &fakeIDTokens{byHTTP: map[string]bool{}}
		g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			aud := req.URL.Query().Get("audience")
			g.mu.Lock()
			want := "bearer " + g.req
			g.mu.Unlock()
			if req.Header.Get("Authorization") != want || aud == "" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			tok := g.token(aud)
			g.mu.Lock()
			g.fetched++
			g.byHTTP[tok] = true
			g.mu.Unlock()
			fmt.Fprintf(w, `{"count":1,"value":%q}`, tok)
		}))
		ts.Defer(g.srv.Close)
		s.gh = g
	}
	s.gh.mu.Lock()
	s.gh.life, s.gh.req = *life, req
	s.gh.mu.Unlock()
	r.Identity.SetRoleCredentialLifetime(*role)
	file := ts.MkAbs("gh-token")
	ts.Check(os.WriteFile(file, []byte(s.gh.token("sts.amazonaws.com")), 0o600))
	for k := range rig.EnvCredentials(fakeaws.Issued{Expires: time.Now()}) {
		ts.Setenv(k, "")
	}
	if *profile != "" {
		ts.Setenv(rig.EnvProfile, *profile)
		ts.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
		ts.Setenv("AWS_ROLE_ARN", "")
	} else {
		ts.Setenv(rig.EnvProfile, "")
		ts.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", file)
		ts.Setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/Deploy")
	}
	ts.Setenv("GITHUB_ACTIONS", "true")
	url, tok := s.gh.srv.URL+"/token?api-version=2.0", req
	if *noIDToken {
		url, tok = "", ""
	}
	ts.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", url)
	ts.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", tok)
}

// rig start [-lock dynamodb|lockfile|both] [-workspace NAME] [-sleep N] [-name KEY]
// rig requests (prints the proxies' counts to stdout)
func (h *harness) cmdRig(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("rig: cannot be negated")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: rig start [-lock MODE] [-workspace NAME] [-sleep N] [-name KEY] | rig requests")
	}
	s := state(ts)
	switch args[0] {
	case "requests":
		r := s.mustRig(ts)
		fmt.Fprint(ts.Stdout(), r.S3Proxy.Summary()+r.DynamoDBProxy.Summary())
		return
	case "start":
	default:
		ts.Fatalf("rig: unknown subcommand %q", args[0])
	}
	if s.rig != nil {
		ts.Fatalf("rig start: already started")
	}
	fs := flag.NewFlagSet("rig start", flag.ContinueOnError)
	lock := fs.String("lock", "dynamodb", "dynamodb, lockfile or both")
	workspace := fs.String("workspace", "", "named terraform workspace")
	sleep := fs.Int("sleep", 10, "seconds the long resource's local-exec sleeps")
	name := fs.String("name", "incident", "state key prefix")
	ts.Check(fs.Parse(args[1:]))
	mode, err := rig.ParseLockMode(*lock)
	ts.Check(err)

	ctx := context.Background()
	r, err := rig.Start(ctx, rig.Options{E2EDir: filepath.Join(h.root, "e2e")})
	ts.Check(err)
	s.rig = r
	ts.Defer(func() {
		if err := r.Close(); err != nil {
			ts.Logf("rig close: %v", err)
		}
	})
	ws, err := r.NewWorkspace(ctx, rig.WorkspaceOptions{
		Dir: ts.MkAbs("."), Mode: mode, Workspace: *workspace,
		Sleep: time.Duration(*sleep) * time.Second, Name: *name,
	})
	ts.Check(err)
	s.ws = ws
	for _, kv := range ws.Env() {
		k, v, _ := strings.Cut(kv, "=")
		ts.Setenv(k, v)
	}
	ts.Setenv("LOCK_TABLE", ws.Backend.Table)
	ts.Setenv("STATE_BUCKET", ws.Backend.Bucket)
	ts.Setenv("STATE_KEY", ws.Backend.StateKey())
}

// nosecrets   fail if any secret the rig handed out (secret keys, session
// tokens, SSO access/refresh tokens, client secrets) appears in the last
// command's stdout or stderr, or in anything tf wrote under
// .terraform/tf-recovery (journals, backups' facts, reports).
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: nosecrets")
	}
	r := state(ts).mustRig(ts)
	texts := map[string]string{"stdout": ts.ReadFile("stdout"), "stderr": ts.ReadFile("stderr")}
	root := ts.MkAbs(filepath.Join(".terraform", "tf-recovery"))
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, rerr := os.ReadFile(path); rerr == nil {
				texts[path] = string(b)
			}
		}
		return nil
	})
	secrets := r.Identity.Secrets()
	if g := state(ts).gh; g != nil {
		secrets = append(secrets, g.secrets()...)
	}
	for _, sec := range secrets {
		if len(sec) < 8 {
			continue
		}
		for where, text := range texts {
			if strings.Contains(text, sec) {
				ts.Fatalf("a secret (%s...) appears in %s", sec[:4], where)
			}
		}
	}
}

// creds env LIFETIME   issue session credentials and export them as env vars
// creds kill [IN]      make every credential issued so far die now (or, with
//
//	IN, every credential issued until IN from now dies then)
//
// creds die IN         make the exported credentials die IN from now while
//
//	they keep reporting their original expiry
//
// creds clear          unset the exported credentials
func cmdCreds(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("creds: cannot be negated")
	}
	s := state(ts)
	r := s.mustRig(ts)
	if len(args) == 0 {
		ts.Fatalf("usage: creds env LIFETIME | creds kill [IN] | creds die IN | creds clear")
	}
	switch args[0] {
	case "env":
		if len(args) != 2 {
			ts.Fatalf("usage: creds env LIFETIME (e.g. 6s)")
		}
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		s.creds = r.Ledger.Issue("env", d, false)
		for k, v := range rig.EnvCredentials(s.creds) {
			ts.Setenv(k, v)
		}
	case "kill":
		if len(args) == 1 {
			r.Ledger.KillAll()
			break
		}
		// creds kill IN: every credential issued until then dies IN from
		// now, including those a terraform started meanwhile fetches.
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		t := time.AfterFunc(d, r.Ledger.KillAll)
		ts.Defer(func() { t.Stop() })
	case "die":
		if len(args) != 2 || s.creds.AccessKeyID == "" {
			ts.Fatalf("usage: creds die IN (after creds env)")
		}
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		r.Ledger.DieAt(s.creds.AccessKeyID, r.Ledger.Now().Add(d))
	case "clear":
		for k := range rig.EnvCredentials(s.creds) {
			ts.Setenv(k, "")
		}
		s.creds = fakeaws.Issued{}
	default:
		ts.Fatalf("creds: unknown subcommand %q", args[0])
	}
}

// lock held         assert a lock record exists (every kind the mode uses)
// ! lock held       assert none exists
// lock id VAR       store the held lock's ID in $VAR
// lock foreign VAR  write someone else's live lock (as another terraform run
//
//	on another machine would) and store its ID in $VAR
func cmdLock(ts *testscript.TestScript, neg bool, args []string) {
	s := state(ts)
	r := s.mustRig(ts)
	if len(args) == 2 && args[0] == "foreign" && !neg {
		info := rig.LockInfo{
			ID: newUUID(), Operation: "OperationTypeApply", Who: "alice@build-agent-7",
			Version: "1.11.4", Created: time.Now().UTC().Format(time.RFC3339Nano),
			Path: s.ws.Backend.LockPath(),
		}
		ts.Check(r.PutLockInfo(context.Background(), s.ws.Backend, info))
		ts.Setenv(args[1], info.ID)
		return
	}
	locks, err := r.Locks(context.Background(), s.ws.Backend)
	ts.Check(err)
	switch {
	case len(args) == 1 && args[0] == "held":
		mode := s.ws.Backend.Mode
		all := (!mode.UsesDynamoDB() || locks.DynamoDB != nil) && (!mode.UsesLockfile() || locks.Lockfile != nil)
		if neg && locks.Held() {
			ts.Fatalf("lock is held (%s): %+v %+v", mode, locks.DynamoDB, locks.Lockfile)
		}
		if !neg && !all {
			ts.Fatalf("lock not held in every %s store: dynamodb=%v lockfile=%v", mode, locks.DynamoDB != nil, locks.Lockfile != nil)
		}
	case len(args) == 2 && args[0] == "id" && !neg:
		if !locks.Held() {
			ts.Fatalf("lock id: no lock is held")
		}
		if locks.DynamoDB != nil && locks.Lockfile != nil && locks.DynamoDB.ID != locks.Lockfile.ID {
			ts.Fatalf("lock id: DynamoDB lock %s and lockfile %s differ", locks.DynamoDB.ID, locks.Lockfile.ID)
		}
		ts.Setenv(args[1], locks.ID())
	default:
		ts.Fatalf("usage: [!] lock held | lock id VAR | lock foreign VAR")
	}
}

// remote serial N      assert the backend's state serial
// remote lineage VAR   store the backend's state lineage in $VAR
// ! remote exists      assert there is no remote state yet
func cmdRemote(ts *testscript.TestScript, neg bool, args []string) {
	s := state(ts)
	r := s.mustRig(ts)
	st, err := r.RemoteState(context.Background(), s.ws.Backend)
	if len(args) == 1 && args[0] == "exists" {
		switch {
		case errors.Is(err, rig.ErrNoObject) && !neg:
			ts.Fatalf("no remote state at %s", s.ws.Backend.StateKey())
		case err == nil && neg:
			ts.Fatalf("remote state exists at %s (serial %d)", s.ws.Backend.StateKey(), st.Serial)
		case err != nil && !errors.Is(err, rig.ErrNoObject):
			ts.Fatalf("%v", err)
		}
		return
	}
	ts.Check(err)
	if neg || len(args) != 2 {
		ts.Fatalf("usage: remote serial N | remote lineage VAR | [!] remote exists")
	}
	switch args[0] {
	case "serial":
		assertSerial(ts, "remote", st.Serial, args[1])
	case "lineage":
		ts.Setenv(args[1], st.Lineage)
	default:
		ts.Fatalf("remote: unknown subcommand %q", args[0])
	}
}

// errored serial N     assert errored.tfstate's serial
// errored lineage      assert errored.tfstate has the remote state's lineage
func cmdErrored(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: errored serial N | errored lineage")
	}
	st, err := rig.ReadStateFile(ts.MkAbs("errored.tfstate"))
	ts.Check(err)
	switch {
	case args[0] == "serial" && len(args) == 2:
		assertSerial(ts, "errored.tfstate", st.Serial, args[1])
	case args[0] == "lineage" && len(args) == 1:
		s := state(ts)
		remote, err := s.mustRig(ts).RemoteState(context.Background(), s.ws.Backend)
		ts.Check(err)
		if remote.Lineage != st.Lineage {
			ts.Fatalf("errored.tfstate lineage %s, remote %s", st.Lineage, remote.Lineage)
		}
	default:
		ts.Fatalf("usage: errored serial N | errored lineage")
	}
}

func assertSerial(ts *testscript.TestScript, what string, got uint64, want string) {
	n, err := strconv.ParseUint(want, 10, 64)
	ts.Check(err)
	if got != n {
		ts.Fatalf("%s serial is %d, want %d", what, got, n)
	}
}

// requests [-forwarded|-expired|-unknown-key] OP N|>=N
// counts requests for an operation (S3 or DynamoDB) through the proxies.
func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("requests: use `requests OP 0` instead of negation")
	}
	var outcomes []rig.Outcome
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		outcomes = append(outcomes, rig.Outcome(strings.TrimPrefix(args[0], "-")))
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: requests [-forwarded|-expired|-unknown-key] OP N|>=N")
	}
	r := state(ts).mustRig(ts)
	got := r.S3Proxy.Count(args[0], outcomes...) + r.DynamoDBProxy.Count(args[0], outcomes...)
	atLeast := strings.HasPrefix(args[1], ">=")
	want, err := strconv.Atoi(strings.TrimPrefix(args[1], ">="))
	ts.Check(err)
	if (atLeast && got < want) || (!atLeast && got != want) {
		ts.Fatalf("%s %v requests: %d, want %s\n%s%s", args[0], outcomes, got, args[1], r.S3Proxy.Summary(), r.DynamoDBProxy.Summary())
	}
}

// exitcode N cmd args...   run cmd and assert its exit code is exactly N;
// stdout and stderr are kept for the next stdout/stderr lines.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N cmd args...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// use terraform   `terraform` on PATH is the real terraform
// use tf          `terraform` on PATH is tf (built once per test binary),
//
//	with the real terraform after it on PATH
func (h *harness) cmdUse(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: use terraform|tf")
	}
	s := state(ts)
	switch args[0] {
	case "terraform":
		ts.Setenv("PATH", s.origPath)
	case "tf":
		tf, err := h.buildTF()
		ts.Check(err)
		bin := ts.MkAbs(".bin")
		ts.Check(os.MkdirAll(bin, 0o755))
		link := filepath.Join(bin, "terraform")
		_ = os.Remove(link)
		ts.Check(os.Symlink(tf, link))
		ts.Setenv("PATH", bin+string(os.PathListSeparator)+s.origPath)
	default:
		ts.Fatalf("use: want terraform or tf, got %q", args[0])
	}
}

func (h *harness) buildTF() (string, error) { return buildTestTF(h.root) }

var testTF struct {
	once sync.Once
	path string
	err  error
}

// buildTestTF builds tf once per test binary, with the test hooks
// (TFGUARD_TEST_KILL_AT, TFGUARD_TEST_NO_OBSERVE) that exist only in builds
// with the tfguard_testhooks tag; release builds ignore them.
func buildTestTF(root string) (string, error) {
	testTF.once.Do(func() {
		dir, err := os.MkdirTemp("", "tf-e2e-build")
		if err != nil {
			testTF.err = err
			return
		}
		out := filepath.Join(dir, "tf")
		cmd := exec.Command("go", "build", "-tags", "tfguard_testhooks", "-o", out, ".")
		cmd.Dir = root
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			testTF.err = fmt.Errorf("go build tf: %w\n%s", err, buf.String())
			return
		}
		testTF.path = out
	})
	return testTF.path, testTF.err
}

// capture NAME   with -captures, save the last command's stderr as
// testdata/captures/NAME (recorded terraform output for recovery's tests).
func (h *harness) cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: capture NAME")
	}
	stderr := ts.ReadFile("stderr")
	if stderr == "" {
		ts.Fatalf("capture %s: the last command wrote nothing to stderr", args[0])
	}
	if !*updateCaptures {
		return
	}
	dir := filepath.Join(h.root, "e2e", "testdata", "captures")
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(os.WriteFile(filepath.Join(dir, args[0]), []byte(stderr), 0o644))
}

// sso login [-legacy] [-session D] [-token D] [-role D]
//
//	start an Identity Center session (default 1h; access token 1h; role
//	credentials 1h), seed the SSO cache as `aws sso login` does, and select
//	the profile (AWS_PROFILE=sso, or legacy-sso) instead of env credentials
//
// sso end [IN]   end the session now, or IN from now
func cmdSSO(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: sso login [-legacy] [-session D] [-token D] [-role D] | sso end [IN]")
	}
	s := state(ts)
	r := s.mustRig(ts)
	switch args[0] {
	case "login":
		fs := flag.NewFlagSet("sso login", flag.ContinueOnError)
		legacy := fs.Bool("legacy", false, "use the legacy-sso profile (no refresh token)")
		sessionLife := fs.Duration("session", time.Hour, "session lifetime")
		tokenLife := fs.Duration("token", time.Hour, "access token lifetime")
		roleLife := fs.Duration("role", time.Hour, "role credential lifetime")
		ts.Check(fs.Parse(args[1:]))
		name, startURL, key, profile := rig.SSOSessionName, rig.SSOStartURL, rig.SSOSessionName, rig.ProfileSSO
		if *legacy {
			name, startURL, key, profile = rig.LegacyStartURL, rig.LegacyStartURL, rig.LegacyStartURL, rig.ProfileLegacySSO
		}
		r.Identity.SetRoleCredentialLifetime(*roleLife)
		tok := r.Identity.NewSSOSession(name, startURL, *sessionLife, *tokenLife)
		ts.Check(s.ws.SeedSSOLogin(key, tok))
		s.session = name
		for k := range rig.EnvCredentials(fakeaws.Issued{Expires: time.Now()}) {
			ts.Setenv(k, "")
		}
		ts.Setenv(rig.EnvProfile, profile)
	case "end":
		if s.session == "" {
			ts.Fatalf("sso end: no session (run sso login first)")
		}
		at := r.Ledger.Now()
		if len(args) == 2 {
			d, err := time.ParseDuration(args[1])
			ts.Check(err)
			at = at.Add(d)
		}
		ts.Check(r.Identity.EndSessionAt(s.session, at))
	default:
		ts.Fatalf("sso: unknown subcommand %q", args[0])
	}
}

// identity mark   later `identity calls` count only requests made from now
// identity calls [-by CALLER] OP N|>=N   count requests to the identity
// fakes, e.g. GetRoleCredentials, GetCallerIdentity, CreateToken,
// CreateToken/refresh_token; -by tf|terraform|other counts one caller's
// (told apart by User-Agent: tf sends app/tfguard).
func cmdIdentity(ts *testscript.TestScript, neg bool, args []string) {
	usage := "usage: identity mark | identity calls [-by tf|terraform|other] OP N|>=N"
	s := state(ts)
	r := s.mustRig(ts)
	if !neg && len(args) == 1 && args[0] == "mark" {
		s.mark = r.Identity.CallCounts()
		return
	}
	if neg || len(args) < 1 || args[0] != "calls" {
		ts.Fatalf("%s", usage)
	}
	args = args[1:]
	by := ""
	if len(args) > 0 && args[0] == "-by" {
		if len(args) < 2 {
			ts.Fatalf("%s", usage)
		}
		by, args = args[1], args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("%s", usage)
	}
	got := 0
	for k, v := range r.Identity.CallCounts() { // keys are "OP CALLER"
		op, caller, _ := strings.Cut(k, " ")
		if op == args[0] && (by == "" || caller == by) {
			got += v - s.mark[k]
		}
	}
	atLeast := strings.HasPrefix(args[1], ">=")
	want, err := strconv.Atoi(strings.TrimPrefix(args[1], ">="))
	ts.Check(err)
	if (atLeast && got < want) || (!atLeast && got != want) {
		ts.Fatalf("identity %s calls by %q since the mark: %d, want %s (all: %v)", args[0], by, got, args[1], r.Identity.CallCounts())
	}
}

// newUUID returns a random UUID shaped like terraform's lock IDs.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// cmdFault injects failures into the proxies:
//
//	fault expire-next OP N             the next N requests for OP get the expired-token answer
//	fault deny OP[,OP...] [after D]    from then on, AccessDenied for OP
//	fault reset OP[,OP...] [after D]   from then on, the connection is reset
//	fault ... after D times N          only the first N such requests
//	fault deny-source PREFIX           credentials from that ledger source get AccessDenied
//	fault deny-resource SUB            requests whose S3 key or DynamoDB request contains SUB get AccessDenied
//	fault clear                        no more injected failures
func cmdFault(ts *testscript.TestScript, neg bool, args []string) {
	usage := "usage: fault expire-next OP N | fault deny|reset OP[,OP...] [after DURATION [times N]] | fault deny-source PREFIX | fault deny-resource SUB | fault clear"
	if neg || len(args) == 0 {
		ts.Fatalf("%s", usage)
	}
	r := state(ts).mustRig(ts)
	proxies := []*rig.Proxy{r.S3Proxy, r.DynamoDBProxy}
	switch {
	case args[0] == "clear" && len(args) == 1:
		for _, p := range proxies {
			p.ClearFaults()
		}
	case args[0] == "deny-resource" && len(args) == 2:
		for _, p := range proxies {
			p.DenyResource(args[1])
		}
	case args[0] == "deny-source" && len(args) == 2:
		for _, p := range proxies {
			p.DenySource(args[1])
		}
	case args[0] == "expire-next" && len(args) == 3:
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		for _, p := range proxies {
			p.FailNext(args[1], n)
		}
	case (args[0] == "deny" || args[0] == "reset") && (len(args) == 2 || len(args) == 4 && args[2] == "after" || len(args) == 6 && args[2] == "after" && args[4] == "times"):
		var after time.Duration
		n := -1
		if len(args) >= 4 {
			d, err := time.ParseDuration(args[3])
			ts.Check(err)
			after = d
		}
		if len(args) == 6 {
			var err error
			n, err = strconv.Atoi(args[5])
			ts.Check(err)
		}
		kind := rig.FaultDeny
		if args[0] == "reset" {
			kind = rig.FaultReset
		}
		for _, op := range strings.Split(args[1], ",") {
			for _, p := range proxies {
				p.AddFault(op, kind, after, n)
			}
		}
	default:
		ts.Fatalf("%s", usage)
	}
}

// cmdOwner: `owner backend` waits (up to 20 s) for tf's owner record in
// the backend and prints it (JSON) as the command's stdout; `! owner
// backend` asserts there is none now.
func cmdOwner(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || args[0] != "backend" {
		ts.Fatalf("usage: [!] owner backend")
	}
	s := state(ts)
	r := s.mustRig(ts)
	for i := 0; ; i++ {
		raw, err := r.OwnerRecord(context.Background(), s.ws.Backend)
		switch {
		case err != nil && !errors.Is(err, rig.ErrNoObject):
			ts.Fatalf("owner backend: %v", err)
		case neg && err == nil:
			ts.Fatalf("an owner record is in the backend: %s", raw)
		case neg:
			return
		case err == nil:
			fmt.Fprintf(ts.Stdout(), "%s\n", raw)
			return
		case i >= 200:
			ts.Fatalf("no owner record in the backend after 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
