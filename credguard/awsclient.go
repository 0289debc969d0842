package credguard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tfguard/tf/awsfiles"
)

// Deadlines of tf's own network calls. Every call credguard makes is bounded
// by one of them; docs/credguard.md lists them.
const (
	// callTimeout bounds one AWS operation (all its retries included): an
	// SSO-OIDC CreateToken, RegisterClient, StartDeviceAuthorization, an STS
	// AssumeRoleWithWebIdentity.
	callTimeout = 10 * time.Second
	// attemptTimeout bounds one HTTP attempt of such an operation.
	attemptTimeout = 8 * time.Second
	// githubTimeout bounds one request for a GitHub Actions ID token.
	githubTimeout = 10 * time.Second
	// lockWait bounds the wait for another tf's lock on an SSO cache file;
	// that tf holds it across at most one callTimeout.
	lockWait = 5 * time.Second
)

// More environment variables the SDK's configuration honours.
const (
	EnvCABundle      = "AWS_CA_BUNDLE"
	EnvDefaultRegion = "AWS_DEFAULT_REGION"
)

// sdkConfig loads the AWS SDK's own configuration for tf's calls, as
// terraform's SDK would load it from the same environment: AWS_CA_BUNDLE,
// HTTP(S)_PROXY/NO_PROXY, AWS_MAX_ATTEMPTS/AWS_RETRY_MODE, the shared files
// and their ca_bundle, region and partition. Credentials are anonymous: the
// calls tf makes (SSO-OIDC, AssumeRoleWithWebIdentity) are unsigned. The
// HTTP client has a per-attempt timeout; callers bound each operation with
// callTimeout.
func sdkConfig(ctx context.Context, o Options, region string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithAppID(AppID),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(attemptTimeout)),
		config.WithSharedConfigFiles(o.configFiles()),
		config.WithSharedCredentialsFiles(o.credentialsFiles()),
	}
	if p := o.getenv(EnvProfile); p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if f := o.getenv(EnvCABundle); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return aws.Config{}, fmt.Errorf("read %s=%s: %w", EnvCABundle, f, err)
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(b)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS SDK configuration: %w", awsfiles.HideValues(err, o.configFiles(), o.credentialsFiles()))
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// endpointFor is the endpoint URL the environment sets for one service
// (AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL), "" for AWS's own.
func (o Options) endpointFor(serviceVar string) string {
	if u := o.getenv(serviceVar); u != "" {
		return u
	}
	return o.getenv(EnvEndpointURL)
}

// oidcClient is the SSO-OIDC client for an Identity Center in region.
func oidcClient(ctx context.Context, o Options, region string) (*ssooidc.Client, error) {
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := sdkConfig(ctx, o, region)
	if err != nil {
		return nil, err
	}
	return ssooidc.NewFromConfig(cfg, func(so *ssooidc.Options) {
		if u := o.endpointFor(EnvEndpointURLSSOOIDC); u != "" {
			so.BaseEndpoint = aws.String(u)
		}
	}), nil
}

// stsClient is the STS client GitHub OIDC mode exchanges ID tokens with:
// the region of AWS_REGION, AWS_DEFAULT_REGION or the profile, else
// us-east-1.
func stsClient(ctx context.Context, o Options) (*sts.Client, error) {
	region := o.getenv(EnvRegion)
	if region == "" {
		region = o.getenv(EnvDefaultRegion)
	}
	cfg, err := sdkConfig(ctx, o, region)
	if err != nil {
		return nil, err
	}
	return sts.NewFromConfig(cfg, func(so *sts.Options) {
		if u := o.endpointFor(EnvEndpointURLSTS); u != "" {
			so.BaseEndpoint = aws.String(u)
		}
	}), nil
}

// githubClient asks GitHub for ID tokens: proxies from the environment, a
// timeout on every request.
func githubClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	return &http.Client{Transport: tr, Timeout: githubTimeout}
}
