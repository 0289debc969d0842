package credguard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// GitHub Actions and container-credential variables.
const (
	EnvActionsIDTokenURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsIDTokenToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
	EnvGitHubRunID         = "GITHUB_RUN_ID"
	EnvContainerFullURI    = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvContainerAuthToken  = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	EnvRegion              = "AWS_REGION"
	EnvEndpointURLSTS      = "AWS_ENDPOINT_URL_STS"
)

// ErrNoGitHubOIDC: the job cannot request ID tokens (no `id-token: write`).
var ErrNoGitHubOIDC = errors.New("no GitHub Actions OIDC here: " + EnvActionsIDTokenURL + " is not set (give the job `permissions: id-token: write`)")

// CredentialServer serves terraform renewable role credentials on a
// loopback container-credentials endpoint. Each time the credentials near
// their end it fetches a fresh GitHub Actions ID token and exchanges it
// again with STS AssumeRoleWithWebIdentity, so a CI apply can outlive any
// one set of role credentials.
type CredentialServer struct {
	URL string // the endpoint, for AWS_CONTAINER_CREDENTIALS_FULL_URI

	auth    string // random; the SDK sends it from AWS_CONTAINER_AUTHORIZATION_TOKEN
	o       Options
	role    string
	session string
	srv     *http.Server
	ln      net.Listener
	done    chan struct{}

	mu     sync.Mutex
	creds  aws.Credentials
	issued time.Time
	// Exchanges counts AssumeRoleWithWebIdentity calls (for tests and logs).
	exchanges int
}

// StartGitHubOIDC starts the endpoint for roleARN (opt-in: the wrapper
// calls it only when the user configured a role and
// ACTIONS_ID_TOKEN_REQUEST_URL is present). It fetches the first
// credentials before returning, so a misconfiguration fails before the run.
func StartGitHubOIDC(ctx context.Context, o Options, roleARN string) (*CredentialServer, error) {
	if o.getenv(EnvActionsIDTokenURL) == "" || o.getenv(EnvActionsIDTokenToken) == "" {
		return nil, ErrNoGitHubOIDC
	}
	if roleARN == "" {
		return nil, errors.New("github oidc: no role configured to assume")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("github oidc: random token: %w", err)
	}
	s := &CredentialServer{auth: hex.EncodeToString(b), o: o, role: roleARN, session: "tfguard", done: make(chan struct{})}
	if id := o.getenv(EnvGitHubRunID); id != "" {
		s.session = "tfguard-" + id
	}
	if _, err := s.current(ctx); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("github oidc: listen: %w", err)
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String() + "/credentials"
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Env returns base with the container-credential variables set and every
// variable that would beat them in the SDK's chain removed.
func (s *CredentialServer) Env(base []string) []string {
	drop := map[string]bool{
		EnvAccessKeyID: true, EnvSecretAccessKey: true, EnvSessionToken: true, EnvCredentialExpiration: true,
		EnvProfile: true, EnvDefaultProfile: true, EnvWebIdentityTokenFile: true, EnvRoleARN: true,
		EnvContainerFullURI: true, EnvContainerAuthToken: true, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": true,
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, EnvContainerFullURI+"="+s.URL, EnvContainerAuthToken+"="+s.auth)
}

// Exchanges is how many times the server exchanged an ID token.
func (s *CredentialServer) Exchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges
}

// Close stops the endpoint.
func (s *CredentialServer) Close() error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.done
	return err
}

// renewBefore is how long before their end credentials are replaced:
// 5 minutes, or a third of their life when that is shorter.
func renewBefore(life time.Duration) time.Duration {
	if d := life / 3; d < 5*time.Minute {
		return d
	}
	return 5 * time.Minute
}

type containerCreds struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

func (s *CredentialServer) serve(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(s.auth)) != 1 {
		http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	c, err := s.current(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "RenewFailed", "message": err.Error()})
		return
	}
	// Report an expiry early enough that the SDK comes back before the
	// credentials really end.
	life := c.Expires.Sub(s.o.now())
	exp := c.Expires.Add(-renewBefore(life) / 2)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(containerCreds{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken,
		Expiration: exp.UTC().Format(time.RFC3339),
	})
}

// current returns credentials with time left, exchanging a fresh ID token
// when the held ones are near their end.
func (s *CredentialServer) current(ctx context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.now()
	if s.creds.HasKeys() {
		life := s.creds.Expires.Sub(s.issued)
		if s.creds.Expires.Sub(now) > renewBefore(life) {
			return s.creds, nil
		}
	}
	jwt, err := s.idToken(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	region := s.o.getenv(EnvRegion)
	if region == "" {
		region = "us-east-1"
	}
	opts := sts.Options{Region: region, HTTPClient: s.o.httpClient(), AppID: AppID, Credentials: aws.AnonymousCredentials{}}
	if u := s.o.getenv(EnvEndpointURLSTS); u != "" {
		opts.BaseEndpoint = aws.String(u)
	} else if u := s.o.getenv(EnvEndpointURL); u != "" {
		opts.BaseEndpoint = aws.String(u)
	}
	in := &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(s.role), RoleSessionName: aws.String(s.session), WebIdentityToken: aws.String(jwt)}
	if d := s.o.Config.withDefaults().GitHubOIDCDuration; d >= 15*time.Minute {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	out, err := sts.New(opts).AssumeRoleWithWebIdentity(ctx, in)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("github oidc: assume %s: %w", s.role, err)
	}
	s.exchanges++
	c := out.Credentials
	s.creds = aws.Credentials{
		AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), CanExpire: true, Expires: aws.ToTime(c.Expiration),
		Source: "tfguard-github-oidc",
	}
	s.issued = now
	return s.creds, nil
}

// idToken asks GitHub for a fresh ID token for STS.
func (s *CredentialServer) idToken(ctx context.Context) (string, error) {
	u, err := url.Parse(s.o.getenv(EnvActionsIDTokenURL))
	if err != nil {
		return "", fmt.Errorf("github oidc: %s is not a URL: %w", EnvActionsIDTokenURL, err)
	}
	q := u.Query()
	q.Set("audience", "sts.amazonaws.com")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("github oidc: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+s.o.getenv(EnvActionsIDTokenToken))
	req.Header.Set("Accept", "application/json")
	resp, err := s.o.httpClient().Do(req)
	if err != nil {
		return "", fmt.Errorf("github oidc: request an ID token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("github oidc: ID token request answered %s", resp.Status)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", errors.New("github oidc: ID token response has no value")
	}
	return v.Value, nil
}
