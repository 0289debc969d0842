package rig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// LockMode is how a workspace's S3 backend locks its state.
type LockMode string

// The lock modes of terraform's S3 backend.
const (
	LockDynamoDB LockMode = "dynamodb" // dynamodb_table
	LockFile     LockMode = "lockfile" // use_lockfile = true
	LockBoth     LockMode = "both"     // both at once
)

// ParseLockMode validates a -lock argument.
func ParseLockMode(s string) (LockMode, error) {
	switch m := LockMode(s); m {
	case LockDynamoDB, LockFile, LockBoth:
		return m, nil
	}
	return "", fmt.Errorf("unknown lock mode %q: use dynamodb, lockfile or both", s)
}

// UsesDynamoDB says whether the mode takes a DynamoDB lock.
func (m LockMode) UsesDynamoDB() bool { return m == LockDynamoDB || m == LockBoth }

// UsesLockfile says whether the mode takes an S3 lockfile.
func (m LockMode) UsesLockfile() bool { return m == LockFile || m == LockBoth }

// Backend is where a workspace keeps its state.
type Backend struct {
	Bucket    string
	Key       string // the backend's key, without workspace prefix
	Table     string // DynamoDB lock table (used when Mode.UsesDynamoDB)
	Mode      LockMode
	Workspace string // "" or "default" for the default workspace
}

// StateKey is the S3 key of the current workspace's state
// (env:/<workspace>/<key> for named workspaces).
func (b Backend) StateKey() string {
	if b.Workspace == "" || b.Workspace == "default" {
		return b.Key
	}
	return "env:/" + b.Workspace + "/" + b.Key
}

// LockPath is the lock's Path and the DynamoDB LockID: <bucket>/<state key>.
func (b Backend) LockPath() string { return b.Bucket + "/" + b.StateKey() }

// StateFile is the part of a terraform state the rig asserts on.
type StateFile struct {
	Version int    `json:"version"`
	Serial  uint64 `json:"serial"`
	Lineage string `json:"lineage"`
}

// ParseState reads serial and lineage from state JSON.
func ParseState(b []byte) (StateFile, error) {
	var s StateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parse state: %w", err)
	}
	if s.Lineage == "" {
		return s, errors.New("parse state: no lineage: not a terraform state file")
	}
	return s, nil
}

// ReadStateFile reads a local state file such as errored.tfstate.
func ReadStateFile(path string) (StateFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return StateFile{}, fmt.Errorf("read state file: %w", err)
	}
	return ParseState(b)
}

// ErrNoObject means the S3 object or DynamoDB item does not exist.
var ErrNoObject = errors.New("not found")

// RemoteState reads the backend's current state for b's workspace.
func (r *Rig) RemoteState(ctx context.Context, b Backend) (StateFile, error) {
	body, err := r.getObject(ctx, b.Bucket, b.StateKey())
	if err != nil {
		return StateFile{}, err
	}
	return ParseState(body)
}

// LockInfo is terraform's lock record (statemgr.LockInfo as JSON).
type LockInfo struct {
	ID        string `json:"ID"`
	Operation string `json:"Operation"`
	Info      string `json:"Info"`
	Who       string `json:"Who"`
	Version   string `json:"Version"`
	Created   string `json:"Created"`
	Path      string `json:"Path"`
}

// Locks are the lock records present for a workspace, by kind.
type Locks struct {
	DynamoDB *LockInfo // item LockID=<bucket>/<key>, attribute Info
	Lockfile *LockInfo // object <key>.tflock
}

// Held says whether any lock record exists.
func (l Locks) Held() bool { return l.DynamoDB != nil || l.Lockfile != nil }

// ID returns the lock ID, preferring DynamoDB's; "" when none is held.
func (l Locks) ID() string {
	switch {
	case l.DynamoDB != nil:
		return l.DynamoDB.ID
	case l.Lockfile != nil:
		return l.Lockfile.ID
	}
	return ""
}

// Locks reads the lock records of every kind b's mode uses, directly from
// the backends.
func (r *Rig) Locks(ctx context.Context, b Backend) (Locks, error) {
	var l Locks
	if b.Mode.UsesDynamoDB() {
		out, err := r.ddbc.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(b.Table),
			Key:            map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: b.LockPath()}},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return l, fmt.Errorf("read DynamoDB lock %s: %w", b.LockPath(), err)
		}
		if v, ok := out.Item["Info"].(*ddbtypes.AttributeValueMemberS); ok {
			var info LockInfo
			if err := json.Unmarshal([]byte(v.Value), &info); err != nil {
				return l, fmt.Errorf("parse DynamoDB lock info: %w", err)
			}
			l.DynamoDB = &info
		}
	}
	if b.Mode.UsesLockfile() {
		body, err := r.getObject(ctx, b.Bucket, b.StateKey()+".tflock")
		switch {
		case errors.Is(err, ErrNoObject):
		case err != nil:
			return l, err
		default:
			var info LockInfo
			if err := json.Unmarshal(body, &info); err != nil {
				return l, fmt.Errorf("parse lockfile: %w", err)
			}
			l.Lockfile = &info
		}
	}
	return l, nil
}

// PutLockInfo writes a lock record as another terraform run would (used to
// simulate someone else's live lock).
func (r *Rig) PutLockInfo(ctx context.Context, b Backend, info LockInfo) error {
	js, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if b.Mode.UsesDynamoDB() {
		_, err := r.ddbc.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(b.Table),
			Item: map[string]ddbtypes.AttributeValue{
				"LockID": &ddbtypes.AttributeValueMemberS{Value: b.LockPath()},
				"Info":   &ddbtypes.AttributeValueMemberS{Value: string(js)},
			},
		})
		if err != nil {
			return fmt.Errorf("write DynamoDB lock: %w", err)
		}
	}
	if b.Mode.UsesLockfile() {
		if err := r.putObject(ctx, b.Bucket, b.StateKey()+".tflock", js); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rig) getObject(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := r.s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, ErrNoObject)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

func (r *Rig) putObject(ctx context.Context, bucket, key string, body []byte) error {
	_, err := r.s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytesReader(body)})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

func bytesReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }

// OwnerRecord reads tf's owner record kept in the backend for b's state:
// the DynamoDB item "tfguard-owner:<bucket>/<key>" (attribute Owner) when
// the mode uses a table, else the object "<key>.tfowner". ErrNoObject when
// there is none.
func (r *Rig) OwnerRecord(ctx context.Context, b Backend) ([]byte, error) {
	if b.Mode.UsesDynamoDB() {
		id := "tfguard-owner:" + b.LockPath()
		out, err := r.ddbc.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(b.Table),
			Key:            map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: id}},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("read DynamoDB item %s: %w", id, err)
		}
		v, ok := out.Item["Owner"].(*ddbtypes.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("DynamoDB item %s: %w", id, ErrNoObject)
		}
		return []byte(v.Value), nil
	}
	return r.getObject(ctx, b.Bucket, b.StateKey()+".tfowner")
}
