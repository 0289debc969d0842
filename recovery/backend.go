package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tfguard/tf/tfdir"
)

// Environment variables recovery reads from the run's environment.
const (
	envProfile        = "AWS_PROFILE"
	envRegion         = "AWS_REGION"
	envDefaultRegion  = "AWS_DEFAULT_REGION"
	envAccessKeyID    = "AWS_ACCESS_KEY_ID"
	envSecretKey      = "AWS_SECRET_ACCESS_KEY"
	envSessionToken   = "AWS_SESSION_TOKEN"
	envConfigFile     = "AWS_CONFIG_FILE"
	envCredsFile      = "AWS_SHARED_CREDENTIALS_FILE"
	envEndpoint       = "AWS_ENDPOINT_URL"
	envEndpointS3     = "AWS_ENDPOINT_URL_S3"
	envEndpointDynamo = "AWS_ENDPOINT_URL_DYNAMODB"
	envGitHubActions  = "GITHUB_ACTIONS"
	envStepSummary    = "GITHUB_STEP_SUMMARY"
	envCI             = "CI"
	// The container endpoint tf's GitHub OIDC mode gives terraform.
	envContainerFullURI   = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	envContainerAuthToken = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	// EnvTestKillAt is TEST-ONLY: when set to a step name, tf SIGKILLs
	// itself right after journaling that step as begun, so tests can prove
	// that the next tf converges. Never set it outside tests.
	EnvTestKillAt = "TFGUARD_TEST_KILL_AT"
)

// Backend is the backend configuration terraform recorded in
// .terraform/terraform.tfstate, plus the selected workspace.
type Backend struct {
	Type      string `json:"type"`
	Workspace string `json:"workspace"`

	// S3 backend only.
	Bucket             string            `json:"bucket,omitempty"`
	Key                string            `json:"key,omitempty"`
	Region             string            `json:"region,omitempty"`
	Table              string            `json:"dynamodb_table,omitempty"`
	UseLockfile        bool              `json:"use_lockfile,omitempty"`
	Profile            string            `json:"profile,omitempty"`
	WorkspaceKeyPrefix string            `json:"workspace_key_prefix,omitempty"`
	PathStyle          bool              `json:"use_path_style,omitempty"`
	Endpoints          map[string]string `json:"endpoints,omitempty"`
	ConfigFiles        []string          `json:"shared_config_files,omitempty"`
	CredentialsFiles   []string          `json:"shared_credentials_files,omitempty"`
	// hasKeys: access keys are written in the HCL (never copied here).
	hasKeys bool
}

// IsS3 says whether recovery can read this backend's lock records itself.
func (b Backend) IsS3() bool { return b.Type == "s3" }

// StateKey is the S3 key of the selected workspace's state.
func (b Backend) StateKey() string {
	if b.Workspace == "" || b.Workspace == "default" {
		return b.Key
	}
	prefix := b.WorkspaceKeyPrefix
	if prefix == "" {
		prefix = "env:"
	}
	return prefix + "/" + b.Workspace + "/" + b.Key
}

// LockPath is the lock's Path and DynamoDB LockID: <bucket>/<state key>.
func (b Backend) LockPath() string { return b.Bucket + "/" + b.StateKey() }

// LockModes names the S3 lock kinds in use ("dynamodb", "lockfile").
func (b Backend) LockModes() []string {
	var m []string
	if b.Table != "" {
		m = append(m, "dynamodb")
	}
	if b.UseLockfile {
		m = append(m, "lockfile")
	}
	return m
}

// String describes the backend for people (no secrets).
func (b Backend) String() string {
	if !b.IsS3() {
		return fmt.Sprintf("%s backend, workspace %q", b.Type, b.Workspace)
	}
	locks := strings.Join(b.LockModes(), "+")
	if locks == "" {
		locks = "no locking"
	}
	return fmt.Sprintf("s3://%s/%s (%s, workspace %q)", b.Bucket, b.StateKey(), locks, b.Workspace)
}

// envLookup reads KEY from a KEY=VALUE list; the last one wins, as in exec.
func envLookup(env []string, key string) string { return tfdir.Getenv(env, key) }

// LoadBackend reads the backend configuration terraform recorded at init
// and the selected workspace (TF_WORKSPACE, else .terraform/environment).
// A directory without the record uses the local backend.
func LoadBackend(dir string, env []string) (Backend, error) {
	b := Backend{Type: "local", Workspace: tfdir.Workspace(dir, env)}
	rec, ok, err := tfdir.ReadBackend(dir, env)
	if err != nil || !ok {
		return b, err
	}
	b.Type = rec.Type
	if b.Type != "s3" {
		return b, nil
	}
	b.Bucket, b.Key, b.Region = rec.String("bucket"), rec.String("key"), rec.String("region")
	b.Table, b.UseLockfile, b.Profile = rec.String("dynamodb_table"), rec.Bool("use_lockfile"), rec.String("profile")
	b.WorkspaceKeyPrefix = rec.String("workspace_key_prefix")
	b.PathStyle = rec.Bool("use_path_style") || rec.Bool("force_path_style")
	b.ConfigFiles, b.CredentialsFiles = rec.Strings("shared_config_files"), rec.Strings("shared_credentials_files")
	b.hasKeys = rec.String("access_key") != ""
	b.Endpoints = map[string]string{}
	for k, v := range rec.Map("endpoints") {
		if s, ok := v.(string); ok && s != "" {
			b.Endpoints[k] = s
		}
	}
	if s := rec.String("endpoint"); s != "" && b.Endpoints["s3"] == "" {
		b.Endpoints["s3"] = s
	}
	if s := rec.String("dynamodb_endpoint"); s != "" && b.Endpoints["dynamodb"] == "" {
		b.Endpoints["dynamodb"] = s
	}
	if b.Bucket == "" || b.Key == "" {
		return b, fmt.Errorf("backend configuration in %s names no bucket or key (run `terraform init` again)", rec.Path)
	}
	return b, nil
}

// Locks are the lock records present for a workspace.
type Locks struct {
	DynamoDB *LockInfo `json:"dynamodb,omitempty"`
	Lockfile *LockInfo `json:"lockfile,omitempty"`
}

// Held says whether any record exists.
func (l Locks) Held() bool { return l.DynamoDB != nil || l.Lockfile != nil }

// All returns the records present.
func (l Locks) All() []*LockInfo {
	var out []*LockInfo
	for _, x := range []*LockInfo{l.DynamoDB, l.Lockfile} {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// lockReader reads a workspace's lock records (an interface so that the
// ownership logic is tested without AWS).
type lockReader interface {
	ReadLocks(ctx context.Context) (Locks, error)
}

// awsLocks reads lock records from S3 and DynamoDB with the SDK, using the
// backend's profile and endpoints and credentials from the run's
// environment.
type awsLocks struct {
	b   Backend
	s3  *s3.Client
	ddb *dynamodb.Client
}

// newAWSLocks builds the clients. Credentials come from the default chain as
// a new process would see them (profile from the backend, else the run's
// AWS_PROFILE; keys in the run's environment when no profile is named).
func newAWSLocks(ctx context.Context, b Backend, env []string) (*awsLocks, error) {
	var opts []func(*config.LoadOptions) error
	region := b.Region
	if region == "" {
		region = envLookup(env, envRegion)
	}
	if region == "" {
		region = envLookup(env, envDefaultRegion)
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	profile := b.Profile
	if profile == "" && envLookup(env, envAccessKeyID) == "" {
		profile = envLookup(env, envProfile)
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if len(b.ConfigFiles) > 0 {
		opts = append(opts, config.WithSharedConfigFiles(b.ConfigFiles))
	} else if f := envLookup(env, envConfigFile); f != "" {
		opts = append(opts, config.WithSharedConfigFiles([]string{f}))
	}
	if len(b.CredentialsFiles) > 0 {
		opts = append(opts, config.WithSharedCredentialsFiles(b.CredentialsFiles))
	} else if f := envLookup(env, envCredsFile); f != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f}))
	}
	if b.Profile == "" {
		if id := envLookup(env, envAccessKeyID); id != "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
				id, envLookup(env, envSecretKey), envLookup(env, envSessionToken))))
		} else if u := envLookup(env, envContainerFullURI); u != "" && profile == "" {
			// The run's container endpoint (tf's GitHub OIDC endpoint): the
			// SDK would read it from tf's own environment, not the run's.
			opts = append(opts, config.WithCredentialsProvider(aws.NewCredentialsCache(endpointcreds.New(u, func(o *endpointcreds.Options) {
				o.AuthorizationToken = envLookup(env, envContainerAuthToken)
			}))))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for the lock records: %w", err)
	}
	endpoint := func(svc, envKey string) string {
		if e := b.Endpoints[svc]; e != "" {
			return e
		}
		if e := envLookup(env, envKey); e != "" {
			return e
		}
		return envLookup(env, envEndpoint)
	}
	l := &awsLocks{b: b}
	l.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = b.PathStyle
		// A lock record is a few hundred bytes of JSON parsed strictly
		// below; S3-compatible stores that keep a wrong stored checksum
		// (gofakes3 for objects written with aws-chunked bodies) must not
		// make a readable lock unreadable.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if e := endpoint("s3", envEndpointS3); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	l.ddb = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if e := endpoint("dynamodb", envEndpointDynamo); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	return l, nil
}

// ReadLocks reads the DynamoDB item and/or the .tflock object.
func (l *awsLocks) ReadLocks(ctx context.Context) (Locks, error) {
	var out Locks
	if l.b.Table != "" {
		res, err := l.ddb.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(l.b.Table),
			Key:            map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: l.b.LockPath()}},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return out, fmt.Errorf("read DynamoDB lock %s in table %s: %w", l.b.LockPath(), l.b.Table, err)
		}
		if v, ok := res.Item["Info"].(*ddbtypes.AttributeValueMemberS); ok {
			var info LockInfo
			if err := json.Unmarshal([]byte(v.Value), &info); err != nil {
				return out, fmt.Errorf("parse DynamoDB lock record: %w", err)
			}
			out.DynamoDB = &info
		}
	}
	if l.b.UseLockfile {
		key := l.b.StateKey() + ".tflock"
		res, err := l.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(key)})
		var nsk *s3types.NoSuchKey
		switch {
		case errors.As(err, &nsk):
		case err != nil:
			return out, fmt.Errorf("read lockfile s3://%s/%s: %w", l.b.Bucket, key, err)
		default:
			body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			res.Body.Close()
			if err != nil {
				return out, fmt.Errorf("read lockfile s3://%s/%s: %w", l.b.Bucket, key, err)
			}
			var info LockInfo
			if err := json.Unmarshal(body, &info); err != nil {
				return out, fmt.Errorf("parse lockfile s3://%s/%s: %w", l.b.Bucket, key, err)
			}
			out.Lockfile = &info
		}
	}
	return out, nil
}
