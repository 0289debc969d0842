package recovery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tfguard/tf/envlist"
)

// The owner record's copy in the backend. The local record (owner.go) can
// only be read on the machine that ran terraform; a tf on another machine
// (a colleague's laptop, the next CI job) that meets the lock finds this
// copy next to the state, shows its evidence (host, CI run, when the run
// was last seen alive) and leaves the decision to a person. It is never
// proof: tf acts only on the local record.
//
// Where it lives, one per state (workspace):
//   - with a DynamoDB lock table: an item in that table whose LockID is
//     "tfguard-owner:<bucket>/<state key>". terraform's own items are
//     "<bucket>/<state key>" (the lock) and "<bucket>/<state key>-md5" (the
//     digest); a bucket name cannot hold ':', so no state's items can ever
//     be this one. DynamoDB keeps no versions, and a policy that lets
//     terraform lock lets it write items in that table.
//   - with use_lockfile only: the S3 object "<state key>.tfowner" next to
//     the state. terraform's workspace listing only counts keys that end in
//     the state's key name, so this object is not a workspace.
//
// It is written only once tf saw this run's lock (so only by the run that
// holds it), then rewritten every ownerHeartbeat while terraform runs
// ("last seen alive"), and removed when the run ends and released its
// lock, conditioned on the record still being this run's (its Run nonce).
// Every call is in the background with a deadline; a denied or failed
// write costs the run nothing and is never reported during it.

// ownerHeartbeat is how often a running tf rewrites its backend record.
// Five minutes: a person deciding whether a lock's owner is dead needs
// minutes, not seconds, and every write to a versioned bucket is one more
// version kept (a one-hour apply adds 13 small ones; terraform's own state
// saves add far more).
const ownerHeartbeat = 5 * time.Minute

// ownerCallTimeout bounds each backend call for the record; the last one
// (the removal) runs after terraform has exited, so it is short.
const ownerCallTimeout = 3 * time.Second

const (
	ownerItemPrefix   = "tfguard-owner:"
	ownerObjectSuffix = ".tfowner"
)

// BackendOwner is the owner record as kept in the backend: facts about the
// run, no secrets.
type BackendOwner struct {
	// Tool is always "tf": the item or object is tf's, not terraform's.
	Tool string `json:"tool"`
	// Run is a random nonce of this run: rewrites and the removal are
	// conditioned on it, so a run never overwrites or removes another's.
	Run     string `json:"run"`
	LockID  string `json:"lock_id"`
	Host    string `json:"host"`
	Command string `json:"command"`
	Dir     string `json:"dir,omitempty"`
	// CI provider, run ID, attempt and the job's URL when tf ran in CI.
	CI        string `json:"ci,omitempty"`
	CIRunID   string `json:"ci_run_id,omitempty"`
	CIAttempt string `json:"ci_attempt,omitempty"`
	CIJobURL  string `json:"ci_job_url,omitempty"`
	// TfPID, BootID, PidNS: only meaningful on Host.
	TfPID    int       `json:"tf_pid"`
	TfStart  uint64    `json:"tf_start,omitempty"`
	BootID   string    `json:"boot_id,omitempty"`
	PidNS    string    `json:"pid_ns,omitempty"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen_alive"`
	// Ended: tf saw terraform end without releasing its lock (exit code
	// ExitCode) and kept the record as evidence.
	Ended    time.Time `json:"ended,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`
}

// OwnerLocation says where b keeps the backend owner record ("" when it
// keeps none: not S3, or no locking).
func (b Backend) OwnerLocation() string {
	switch {
	case !b.IsS3():
		return ""
	case b.Table != "":
		return fmt.Sprintf("DynamoDB table %s, item %s", b.Table, b.ownerItemID())
	case b.UseLockfile:
		return fmt.Sprintf("s3://%s/%s", b.Bucket, b.ownerObjectKey())
	}
	return ""
}

func (b Backend) ownerItemID() string    { return ownerItemPrefix + b.LockPath() }
func (b Backend) ownerObjectKey() string { return b.StateKey() + ownerObjectSuffix }

// ownerStore keeps the backend owner record (awsBackend; fakes in tests).
type ownerStore interface {
	// PutOwner writes rec. first: this run's first write, which replaces
	// whatever is there unless it names the same lock for another run;
	// otherwise only this run's own record is replaced.
	PutOwner(ctx context.Context, rec BackendOwner, first bool) error
	// GetOwner reads the record (nil, nil when there is none).
	GetOwner(ctx context.Context) (*BackendOwner, error)
	// DeleteOwner removes the record only if it is run's.
	DeleteOwner(ctx context.Context, run string) error
}

var errOwnerNotOurs = errors.New("the backend owner record is not this run's")

// PutOwner implements ownerStore.
func (l *awsBackend) PutOwner(ctx context.Context, rec BackendOwner, first bool) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if l.b.Table != "" {
		in := &dynamodb.PutItemInput{TableName: aws.String(l.b.Table),
			Item: map[string]ddbtypes.AttributeValue{
				"LockID":      &ddbtypes.AttributeValueMemberS{Value: l.b.ownerItemID()},
				"Owner":       &ddbtypes.AttributeValueMemberS{Value: string(raw)},
				"OwnerRun":    &ddbtypes.AttributeValueMemberS{Value: rec.Run},
				"OwnerLockID": &ddbtypes.AttributeValueMemberS{Value: rec.LockID},
			}}
		if first {
			in.ConditionExpression = aws.String("attribute_not_exists(LockID) OR OwnerLockID <> :lock OR OwnerRun = :run")
			in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{
				":lock": &ddbtypes.AttributeValueMemberS{Value: rec.LockID},
				":run":  &ddbtypes.AttributeValueMemberS{Value: rec.Run},
			}
		} else {
			in.ConditionExpression = aws.String("OwnerRun = :run")
			in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":run": &ddbtypes.AttributeValueMemberS{Value: rec.Run}}
		}
		_, err := l.ddb.PutItem(ctx, in)
		var ccf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return errOwnerNotOurs
		}
		return err
	}
	if !l.b.UseLockfile {
		return nil
	}
	in := &s3.PutObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(l.b.ownerObjectKey()),
		Body: bytes.NewReader(raw), ContentType: aws.String("application/json")}
	if !first {
		cur, etag, err := l.getOwnerObject(ctx)
		if err != nil {
			return err
		}
		if cur == nil || cur.Run != rec.Run {
			return errOwnerNotOurs
		}
		in.IfMatch = aws.String(etag) // S3 refuses it if another write came between
	}
	_, err = l.s3.PutObject(ctx, in)
	return err
}

// GetOwner implements ownerStore.
func (l *awsBackend) GetOwner(ctx context.Context) (*BackendOwner, error) {
	if l.b.Table != "" {
		res, err := l.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.b.Table),
			Key:            map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: l.b.ownerItemID()}},
			ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		v, ok := res.Item["Owner"].(*ddbtypes.AttributeValueMemberS)
		if !ok {
			return nil, nil
		}
		return parseBackendOwner([]byte(v.Value))
	}
	if !l.b.UseLockfile {
		return nil, nil
	}
	rec, _, err := l.getOwnerObject(ctx)
	return rec, err
}

func (l *awsBackend) getOwnerObject(ctx context.Context) (*BackendOwner, string, error) {
	res, err := l.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(l.b.ownerObjectKey())})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, "", err
	}
	rec, err := parseBackendOwner(body)
	return rec, aws.ToString(res.ETag), err
}

// DeleteOwner implements ownerStore.
func (l *awsBackend) DeleteOwner(ctx context.Context, run string) error {
	if l.b.Table != "" {
		_, err := l.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.b.Table),
			Key:                       map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: l.b.ownerItemID()}},
			ConditionExpression:       aws.String("OwnerRun = :run"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":run": &ddbtypes.AttributeValueMemberS{Value: run}}})
		var ccf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return errOwnerNotOurs
		}
		return err
	}
	if !l.b.UseLockfile {
		return nil
	}
	cur, etag, err := l.getOwnerObject(ctx)
	if err != nil || cur == nil {
		return err
	}
	if cur.Run != run {
		return errOwnerNotOurs
	}
	// If-Match: S3 deletes it only if it is still the object just read.
	_, err = l.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(l.b.Bucket), Key: aws.String(l.b.ownerObjectKey()), IfMatch: aws.String(etag)})
	return err
}

func parseBackendOwner(raw []byte) (*BackendOwner, error) {
	var r BackendOwner
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("the backend owner record is not tf's JSON: %w", err)
	}
	if r.Tool != "tf" {
		return nil, errors.New("the backend owner record is not tf's")
	}
	return &r, nil
}

// newRunNonce is a random ID for one run's backend record.
func newRunNonce() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}

// ciJobURL is the CI job's web address when the CI tells it.
func ciJobURL(env []string) string {
	if u := envlist.Get(env, "CI_JOB_URL"); u != "" { // GitLab
		return u
	}
	server, repo, run := envlist.Get(env, "GITHUB_SERVER_URL"), envlist.Get(env, "GITHUB_REPOSITORY"), envlist.Get(env, "GITHUB_RUN_ID")
	if server == "" || repo == "" || run == "" {
		return ""
	}
	u := strings.TrimRight(server, "/") + "/" + repo + "/actions/runs/" + run
	if a := envlist.Get(env, "GITHUB_RUN_ATTEMPT"); a != "" {
		u += "/attempts/" + a
	}
	return u
}

// backendHeart keeps one run's backend owner record: written once the lock
// is known, rewritten every ownerHeartbeat, removed or marked ended at the
// end. All of it runs in its own goroutine; errors are kept, never printed.
type backendHeart struct {
	open   func(ctx context.Context) (ownerStore, error)
	rec    BackendOwner
	every  time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// attempted: the first write was sent (it may have landed even if its
	// answer never came: the end removes it all the same, conditionally);
	// wrote: it succeeded; lost: the record became another run's.
	attempted, wrote, lost bool
	store                  ownerStore
}

func startBackendHeart(open func(ctx context.Context) (ownerStore, error), rec BackendOwner, every time.Duration) *backendHeart {
	ctx, cancel := context.WithCancel(context.Background())
	h := &backendHeart{open: open, rec: rec, every: every, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go h.loop()
	return h
}

func (h *backendHeart) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(h.ctx, ownerCallTimeout)
	defer cancel()
	return f(ctx)
}

func (h *backendHeart) loop() {
	defer close(h.done)
	defer func() { _ = recover() }() // a bug here must never end tf
	if err := h.call(func(ctx context.Context) (err error) { h.store, err = h.open(ctx); return err }); err != nil {
		return
	}
	h.rec.LastSeen = time.Now().UTC()
	h.attempted = true
	if err := h.call(func(ctx context.Context) error { return h.store.PutOwner(ctx, h.rec, true) }); err != nil {
		h.lost = errors.Is(err, errOwnerNotOurs)
		return // denied, cut short by the end, or not ours: nothing more is written
	}
	h.wrote = true
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(h.every):
		}
		h.rec.LastSeen = time.Now().UTC()
		if errors.Is(h.call(func(ctx context.Context) error { return h.store.PutOwner(ctx, h.rec, false) }), errOwnerNotOurs) {
			h.lost = true // another run's now: leave it alone
			return
		}
	}
}

// end stops the heartbeat and then, if this run sent a record, removes it
// (released: the run let go of its lock) or marks it ended with terraform's
// exit code (the lock may be left for a person). Bounded by
// ownerCallTimeout.
func (h *backendHeart) end(released bool, exitCode int) {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
	if !h.attempted || h.lost || h.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ownerCallTimeout)
	defer cancel()
	if released {
		_ = h.store.DeleteOwner(ctx, h.rec.Run)
		return
	}
	h.rec.Ended, h.rec.ExitCode = time.Now().UTC(), exitCode
	h.rec.LastSeen = h.rec.Ended // tf was alive to see the end
	_ = h.store.PutOwner(ctx, h.rec, false)
}
