package recovery

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tfguard/tf/awsfiles"
	"github.com/tfguard/tf/envlist"
)

// The SDK's LoadDefaultConfig reads credentials from tf's own process
// environment; the lock records must be read with the credentials
// terraform's S3 backend used, which come from the backend configuration
// and from the run's environment (which tf may have changed: a GitHub OIDC
// credentials endpoint, exported keys left out after the profile offer).
// So the source is chosen here, in terraform's order, from those two only:
//
//  1. access_key/secret_key (and token) written in the backend block;
//  2. profile in the backend block;
//  3. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY/
//     AWS_SECRET_KEY) in the run's environment;
//  4. AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN;
//  5. AWS_PROFILE in the run's environment;
//  6. the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI
//     or _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]);
//  7. the SDK's default chain (default profile, instance metadata);
//
// and then, when the backend names assume_role, that role is assumed with
// those credentials, as the backend does. Everything else the SDK reads
// from tf's own process environment (HOME for the SSO token cache, endpoint
// URLs, AWS_CA_BUNDLE): tf's process environment is the run's apart from the
// credential variables chosen above.

// Run-environment variables read for credentials.
const (
	envAccessKeyAlt      = "AWS_ACCESS_KEY"
	envSecretKeyAlt      = "AWS_SECRET_KEY"
	envWebIdentityFile   = "AWS_WEB_IDENTITY_TOKEN_FILE"
	envRoleARN           = "AWS_ROLE_ARN"
	envRoleSessionName   = "AWS_ROLE_SESSION_NAME"
	envContainerFullURI  = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	envContainerRelURI   = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
	envContainerAuth     = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	envContainerAuthFile = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	envEndpointSTS       = "AWS_ENDPOINT_URL_STS"
	ecsRelativeHost      = "http://169.254.170.2"
	// awsCallTimeout bounds every lock-record and state-object read.
	awsCallTimeout = 20 * time.Second
)

// AssumeRole is the backend's assume_role block.
type AssumeRole struct {
	RoleARN     string `json:"role_arn"`
	SessionName string `json:"session_name,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
	Duration    string `json:"duration,omitempty"`
}

// credentialSource names where the lock reader's credentials come from
// (for messages; never a secret).
func credentialSource(b Backend, env []string) string {
	var src string
	switch {
	case b.keys.id != "":
		src = "access keys in the backend configuration"
	case b.Profile != "":
		src = "profile " + b.Profile + " (backend configuration)"
	case envlist.First(env, envAccessKeyID, envAccessKeyAlt) != "":
		src = "AWS_ACCESS_KEY_ID in the environment"
	case envlist.Get(env, envWebIdentityFile) != "" && envlist.Get(env, envRoleARN) != "":
		src = "web identity role " + envlist.Get(env, envRoleARN)
	case envlist.Get(env, envProfile) != "":
		src = "profile " + envlist.Get(env, envProfile) + " (AWS_PROFILE)"
	case envlist.Get(env, envContainerFullURI) != "" || envlist.Get(env, envContainerRelURI) != "":
		src = "the container credentials endpoint"
	default:
		src = "the default credential chain"
	}
	if b.AssumeRole != nil && b.AssumeRole.RoleARN != "" {
		src += ", assuming " + b.AssumeRole.RoleARN
	}
	return src
}

// backendAWSConfig builds the SDK configuration for reading b's lock
// records and state object with the credentials terraform used.
func backendAWSConfig(ctx context.Context, b Backend, env []string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryMaxAttempts(3),
	}
	region := b.Region
	if region == "" {
		region = envlist.First(env, envRegion, envDefaultRegion)
	}
	if region == "" {
		region = "us-east-1"
	}
	opts = append(opts, config.WithRegion(region))
	// The files the SDK reads, for hiding their values in its errors.
	configFiles := []string{config.DefaultSharedConfigFilename()}
	credsFiles := []string{config.DefaultSharedCredentialsFilename()}
	if len(b.ConfigFiles) > 0 {
		configFiles = b.ConfigFiles
		opts = append(opts, config.WithSharedConfigFiles(b.ConfigFiles))
	} else if f := envlist.First(env, envSharedConfigFile, envConfigFile); f != "" {
		configFiles = []string{f}
		opts = append(opts, config.WithSharedConfigFiles(configFiles))
	}
	if len(b.CredentialsFiles) > 0 {
		credsFiles = b.CredentialsFiles
		opts = append(opts, config.WithSharedCredentialsFiles(b.CredentialsFiles))
	} else if f := envlist.Get(env, envCredsFile); f != "" {
		credsFiles = []string{f}
		opts = append(opts, config.WithSharedCredentialsFiles(credsFiles))
	}
	static := func(id, secret, token string) {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, token)))
	}
	envProfileName := envlist.Get(env, envProfile)
	switch {
	case b.keys.id != "":
		static(b.keys.id, b.keys.secret, b.keys.token)
	case b.Profile != "":
		opts = append(opts, config.WithSharedConfigProfile(b.Profile))
	case envlist.First(env, envAccessKeyID, envAccessKeyAlt) != "":
		static(envlist.First(env, envAccessKeyID, envAccessKeyAlt), envlist.First(env, envSecretKey, envSecretKeyAlt), envlist.Get(env, envSessionToken))
	case envlist.Get(env, envWebIdentityFile) != "" && envlist.Get(env, envRoleARN) != "":
		// Built below, once the STS client exists.
	case envProfileName != "":
		opts = append(opts, config.WithSharedConfigProfile(envProfileName))
	case envlist.Get(env, envContainerFullURI) != "" || envlist.Get(env, envContainerRelURI) != "":
		uri := envlist.Get(env, envContainerFullURI)
		if uri == "" {
			uri = ecsRelativeHost + envlist.Get(env, envContainerRelURI)
		}
		token := envlist.Get(env, envContainerAuth)
		tokenFile := envlist.Get(env, envContainerAuthFile)
		opts = append(opts, config.WithCredentialsProvider(endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.AuthorizationToken = token
			if tokenFile != "" {
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					raw, err := os.ReadFile(tokenFile)
					return strings.TrimSpace(string(raw)), err
				})
			}
		})))
	default:
		// The SDK's own chain (default profile, instance metadata). tf only
		// ever removes sources from the run's environment when it also sets
		// one of the above, so this is the run's chain too.
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK quotes a value it cannot read, and a value may be a secret.
		return aws.Config{}, fmt.Errorf("load AWS configuration (%s): %w", credentialSource(b, env), awsfiles.HideValues(err, configFiles, credsFiles))
	}
	stsClient := func() *sts.Client {
		return sts.NewFromConfig(cfg, func(o *sts.Options) {
			if e := cmp.Or(b.Endpoints["sts"], envlist.Get(env, envEndpointSTS), envlist.Get(env, envEndpoint)); e != "" {
				o.BaseEndpoint = aws.String(e)
			}
		})
	}
	if b.keys.id == "" && b.Profile == "" && envlist.First(env, envAccessKeyID, envAccessKeyAlt) == "" &&
		envlist.Get(env, envWebIdentityFile) != "" && envlist.Get(env, envRoleARN) != "" {
		file := envlist.Get(env, envWebIdentityFile)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(stsClient(), envlist.Get(env, envRoleARN),
			stscreds.IdentityTokenFile(file), func(o *stscreds.WebIdentityRoleOptions) {
				o.RoleSessionName = cmp.Or(envlist.Get(env, envRoleSessionName), "tf-recovery")
			}))
	}
	if ar := b.AssumeRole; ar != nil && ar.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient(), ar.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = cmp.Or(ar.SessionName, "tf-recovery")
			if ar.ExternalID != "" {
				o.ExternalID = aws.String(ar.ExternalID)
			}
			if d, err := time.ParseDuration(ar.Duration); err == nil && d > 0 {
				o.Duration = d
			}
		}))
	}
	return cfg, nil
}
