package recovery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfdir"
	"github.com/tfguard/tf/tfout"
)

// Environment variables recovery reads from the run's environment.
const (
	envProfile       = "AWS_PROFILE"
	envRegion        = "AWS_REGION"
	envDefaultRegion = "AWS_DEFAULT_REGION"
	envAccessKeyID   = "AWS_ACCESS_KEY_ID"
	envSecretKey     = "AWS_SECRET_ACCESS_KEY"
	envSessionToken  = "AWS_SESSION_TOKEN"
	envConfigFile    = "AWS_CONFIG_FILE"
	// envSharedConfigFile is the S3 backend's own default for
	// shared_config_files (terraform 1.11.4 backend.go), ahead of the SDK's
	// AWS_CONFIG_FILE.
	envSharedConfigFile = "AWS_SHARED_CONFIG_FILE"
	envCredsFile        = "AWS_SHARED_CREDENTIALS_FILE"
	envEndpoint         = "AWS_ENDPOINT_URL"
	envEndpointS3       = "AWS_ENDPOINT_URL_S3"
	envEndpointDynamo   = "AWS_ENDPOINT_URL_DYNAMODB"
	envGitHubActions    = "GITHUB_ACTIONS"
	envStepSummary      = "GITHUB_STEP_SUMMARY"
	envCI               = "CI"
)

// Backend is the backend configuration terraform recorded in its data
// directory, plus the data directory and the selected workspace: exactly the
// state a run used. The journal keeps it; every later side call and lock
// read uses it, never whatever the directory points at by then.
type Backend struct {
	Type      string `json:"type"`
	Workspace string `json:"workspace"`
	// DataDir is terraform's data directory (TF_DATA_DIR or .terraform),
	// absolute.
	DataDir string `json:"data_dir"`

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
	AssumeRole         *AssumeRole       `json:"assume_role,omitempty"`
	// keys written in the backend block: used, never journaled or printed.
	keys struct{ id, secret, token string }
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
		m = append(m, lockDynamoDB)
	}
	if b.UseLockfile {
		m = append(m, lockFile)
	}
	return m
}

// Lock kinds.
const (
	lockDynamoDB = "dynamodb"
	lockFile     = "lockfile"
)

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

// LoadBackend reads the backend configuration terraform recorded at init
// and the selected workspace (TF_WORKSPACE, else <data dir>/environment).
// A directory without the record uses the local backend.
func LoadBackend(dir string, env []string) (Backend, error) {
	b := Backend{Type: "local", Workspace: tfdir.Workspace(dir, env), DataDir: tfdir.DataDir(dir, env)}
	if abs, err := filepath.Abs(b.DataDir); err == nil {
		b.DataDir = abs
	}
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
	if f := rec.String("shared_credentials_file"); f != "" && len(b.CredentialsFiles) == 0 {
		// the older single-file setting; the list wins when both are set
		b.CredentialsFiles = []string{f}
	}
	b.keys.id, b.keys.secret, b.keys.token = rec.String("access_key"), rec.String("secret_key"), rec.String("token")
	if ar := rec.Map("assume_role"); ar != nil {
		s := func(k string) string { v, _ := ar[k].(string); return v }
		if s("role_arn") != "" {
			b.AssumeRole = &AssumeRole{RoleARN: s("role_arn"), SessionName: s("session_name"), ExternalID: s("external_id"), Duration: s("duration")}
		}
	} else if arn := rec.String("role_arn"); arn != "" { // terraform < 1.6 spelling
		b.AssumeRole = &AssumeRole{RoleARN: arn, SessionName: rec.String("session_name"), ExternalID: rec.String("external_id")}
	}
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
	if s := rec.String("sts_endpoint"); s != "" && b.Endpoints["sts"] == "" {
		b.Endpoints["sts"] = s
	}
	if b.Bucket == "" || b.Key == "" {
		return b, fmt.Errorf("backend configuration in %s names no bucket or key (run `terraform init` again)", rec.Path)
	}
	return b, nil
}

// Lock is one lock record as read from the backend, with what identifies
// this very record: a lock that was removed and taken again has another ID,
// and a record rewritten in place has another Version.
type Lock struct {
	Info tfout.LockInfo `json:"info"`
	// Version: the .tflock object's ETag, or a digest of the DynamoDB item's
	// Info attribute.
	Version string `json:"version"`
}

// Same says whether two reads saw the same record.
func (l *Lock) Same(o *Lock) bool {
	return l != nil && o != nil && l.Info.ID == o.Info.ID && l.Info.Created == o.Info.Created && l.Version == o.Version
}

// Locks are the lock records present for a workspace.
type Locks struct {
	DynamoDB *Lock `json:"dynamodb,omitempty"`
	Lockfile *Lock `json:"lockfile,omitempty"`
}

// Held says whether any record exists.
func (l Locks) Held() bool { return l.DynamoDB != nil || l.Lockfile != nil }

// Kind returns the record of one lock kind.
func (l Locks) Kind(kind string) *Lock {
	if kind == lockDynamoDB {
		return l.DynamoDB
	}
	return l.Lockfile
}

// All returns the records present.
func (l Locks) All() []*tfout.LockInfo {
	var out []*tfout.LockInfo
	for _, x := range []*Lock{l.DynamoDB, l.Lockfile} {
		if x != nil {
			out = append(out, &x.Info)
		}
	}
	return out
}

// StateObject identifies the state object in the bucket at one moment.
type StateObject struct {
	Exists       bool      `json:"exists"`
	ETag         string    `json:"etag,omitempty"`
	VersionID    string    `json:"version_id,omitempty"`
	LastModified time.Time `json:"last_modified,omitempty"`
	Size         int64     `json:"size,omitempty"`
}

// Same says whether two reads saw the same object.
func (o StateObject) Same(p StateObject) bool {
	if !o.Exists || !p.Exists {
		return o.Exists == p.Exists
	}
	return o.ETag == p.ETag && o.VersionID == p.VersionID && o.Size == p.Size && o.LastModified.Equal(p.LastModified)
}

func (o StateObject) String() string {
	if !o.Exists {
		return "no state object"
	}
	return fmt.Sprintf("ETag %s, %d bytes, written %s", o.ETag, o.Size, o.LastModified.UTC().Format(time.RFC3339))
}

// backendReader reads a workspace's lock records and its state object's
// identity (an interface so that the ownership logic is tested without
// AWS).
type backendReader interface {
	ReadLocks(ctx context.Context) (Locks, error)
	StateObject(ctx context.Context) (StateObject, error)
	// TakeLock locks the state for tf itself (see awsBackend.TakeLock).
	TakeLock(ctx context.Context, info tfout.LockInfo) error
}

// awsBackend reads with the SDK, with the credentials terraform's backend
// used (see backendAWSConfig).
type awsBackend struct {
	b   Backend
	s3  *s3.Client
	ddb *dynamodb.Client
}

func newAWSBackend(ctx context.Context, b Backend, env []string) (*awsBackend, error) {
	cfg, err := backendAWSConfig(ctx, b, env)
	if err != nil {
		return nil, err
	}
	endpoint := func(svc, envKey string) string {
		return cmp.Or(b.Endpoints[svc], envlist.Get(env, envKey), envlist.Get(env, envEndpoint))
	}
	l := &awsBackend{b: b}
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
func (l *awsBackend) ReadLocks(ctx context.Context) (Locks, error) {
	ctx, cancel := context.WithTimeout(ctx, awsCallTimeout)
	defer cancel()
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
			var info tfout.LockInfo
			if err := json.Unmarshal([]byte(v.Value), &info); err != nil {
				return out, fmt.Errorf("parse DynamoDB lock record: %w", err)
			}
			sum := sha256.Sum256([]byte(v.Value))
			out.DynamoDB = &Lock{Info: info, Version: "sha256:" + hex.EncodeToString(sum[:8])}
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
			var info tfout.LockInfo
			if err := json.Unmarshal(body, &info); err != nil {
				return out, fmt.Errorf("parse lockfile s3://%s/%s: %w", l.b.Bucket, key, err)
			}
			out.Lockfile = &Lock{Info: info, Version: "etag:" + strings.Trim(aws.ToString(res.ETag), `"`)}
		}
	}
	return out, nil
}

// StateObject reads the state object's identity (HEAD, no body).
func (l *awsBackend) StateObject(ctx context.Context) (StateObject, error) {
	ctx, cancel := context.WithTimeout(ctx, awsCallTimeout)
	defer cancel()
	res, err := l.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(l.b.StateKey())})
	var nf *s3types.NotFound
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return StateObject{}, nil
	}
	if err != nil {
		return StateObject{}, fmt.Errorf("read state object s3://%s/%s: %w", l.b.Bucket, l.b.StateKey(), err)
	}
	return StateObject{Exists: true, ETag: strings.Trim(aws.ToString(res.ETag), `"`), VersionID: aws.ToString(res.VersionId),
		LastModified: aws.ToTime(res.LastModified), Size: aws.ToInt64(res.ContentLength)}, nil
}

// errLockHeld: TakeLock found a lock record already there.
var errLockHeld = errors.New("the state is locked")

// TakeLock creates lock records for info the way terraform does (a
// conditional DynamoDB put, a .tflock object created only if absent), for
// every lock kind the backend uses. When one is already there it removes
// what it created and returns errLockHeld.
func (l *awsBackend) TakeLock(ctx context.Context, info tfout.LockInfo) error {
	ctx, cancel := context.WithTimeout(ctx, awsCallTimeout)
	defer cancel()
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	var tookFile bool
	if l.b.UseLockfile {
		_, err := l.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(l.b.StateKey() + ".tflock"),
			Body: bytes.NewReader(raw), IfNoneMatch: aws.String("*"), ContentType: aws.String("application/json")})
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "PreconditionFailed" || apiErr.ErrorCode() == "ConditionalRequestConflict") {
			return errLockHeld
		}
		if err != nil {
			return fmt.Errorf("create lockfile: %w", err)
		}
		tookFile = true
	}
	if l.b.Table != "" {
		_, err := l.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.b.Table),
			Item: map[string]ddbtypes.AttributeValue{
				"LockID": &ddbtypes.AttributeValueMemberS{Value: l.b.LockPath()},
				"Info":   &ddbtypes.AttributeValueMemberS{Value: string(raw)},
			},
			ConditionExpression: aws.String("attribute_not_exists(LockID)")})
		if err != nil {
			if tookFile {
				_, _ = l.s3.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(l.b.StateKey() + ".tflock")})
			}
			var ccf *ddbtypes.ConditionalCheckFailedException
			if errors.As(err, &ccf) {
				return errLockHeld
			}
			return fmt.Errorf("create DynamoDB lock: %w", err)
		}
	}
	return nil
}
