// Package rig is the incident rig: a real S3 (gofakes3, in-process) and a
// real DynamoDB (dynalite, child process), each behind an expiry-enforcing
// proxy that consults the fakeaws credential ledger, plus a factory for
// terraform workspaces that use them. Everything listens on 127.0.0.1 on
// random ports and is stopped by Close.
package rig

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// Region is the AWS region every rig client and workspace uses.
const Region = "us-east-1"

// Options configure Start.
type Options struct {
	// E2EDir is the repository's e2e/ directory (holding package.json);
	// found from the working directory when empty.
	E2EDir string
	// Node is the node binary; "node" from PATH when empty.
	Node string
	// Now is the ledger's clock; time.Now when nil.
	Now func() time.Time
	// Identity configures the fake Identity Center, SSO-OIDC and STS.
	Identity fakeaws.Options
}

// Rig is one running set of backends. Its fields are read-only after Start.
type Rig struct {
	Ledger *fakeaws.Ledger
	// Identity is the fake IAM Identity Center portal, SSO-OIDC and STS,
	// issuing into Ledger.
	Identity *fakeaws.Fakes

	// S3URL and DynamoDBURL are the proxied endpoints terraform must use.
	S3URL, DynamoDBURL string
	// S3Proxy and DynamoDBProxy count what went through them.
	S3Proxy, DynamoDBProxy *Proxy

	s3Server, s3Front, ddbFront *httptest.Server
	dyn                         *dynalite

	// Direct clients (not through the proxies, not counted, never expire)
	// for set-up and inspection.
	s3c  *s3.Client
	ddbc *dynamodb.Client

	setupMu   sync.Mutex
	setupDone bool
}

// Start launches S3, DynamoDB and the proxies. On error nothing is left
// running. Call EnsureDynalite first (Start does not run npm).
func Start(ctx context.Context, opts Options) (r *Rig, err error) {
	if opts.E2EDir == "" {
		root, err := ModuleRoot(".")
		if err != nil {
			return nil, err
		}
		opts.E2EDir = filepath.Join(root, "e2e")
	}
	if opts.Node == "" {
		opts.Node = "node"
	}
	r = &Rig{Ledger: fakeaws.NewLedger(opts.Now)}
	defer func() {
		if err != nil {
			_ = r.Close()
			r = nil
		}
	}()

	if opts.Identity.Account == "" {
		opts.Identity.Account = SSOAccountID
	}
	r.Identity = fakeaws.New(r.Ledger, opts.Identity)

	faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(false))
	r.s3Server = httptest.NewServer(faker.Server())
	r.dyn, err = startDynalite(ctx, opts.Node, DynaliteCLI(opts.E2EDir))
	if err != nil {
		return r, err
	}

	s3Target, _ := url.Parse(r.s3Server.URL)
	ddbTarget, err := url.Parse(r.dyn.url)
	if err != nil {
		return r, fmt.Errorf("dynalite url %q: %w", r.dyn.url, err)
	}
	r.S3Proxy = NewProxy(ServiceS3, s3Target, r.Ledger)
	r.DynamoDBProxy = NewProxy(ServiceDynamoDB, ddbTarget, r.Ledger)
	r.s3Front = httptest.NewServer(r.S3Proxy)
	r.ddbFront = httptest.NewServer(r.DynamoDBProxy)
	r.S3URL, r.DynamoDBURL = r.s3Front.URL, r.ddbFront.URL

	creds := credentials.NewStaticCredentialsProvider("RIGINSPECTOR", "rig-inspector-secret", "")
	r.s3c = s3.New(s3.Options{
		Region: Region, Credentials: creds, UsePathStyle: true,
		BaseEndpoint: aws.String(r.s3Server.URL),
	})
	r.ddbc = dynamodb.New(dynamodb.Options{
		Region: Region, Credentials: creds,
		BaseEndpoint: aws.String(r.dyn.url),
	})
	return r, nil
}

// Close stops the proxies, S3 and dynalite, and reports whether dynalite is
// really gone.
func (r *Rig) Close() error {
	var errs []error
	for _, s := range []*httptest.Server{r.s3Front, r.ddbFront, r.s3Server} {
		if s != nil {
			s.CloseClientConnections()
			s.Close()
		}
	}
	if r.Identity != nil {
		r.Identity.Close()
	}
	if r.dyn != nil {
		errs = append(errs, r.dyn.stop())
	}
	return errors.Join(errs...)
}

// DynaliteLog is what dynalite printed (for failure messages).
func (r *Rig) DynaliteLog() string { return r.dyn.output() }

// DynalitePID is the pid of the dynalite child (tests check it is gone).
func (r *Rig) DynalitePID() int { return r.dyn.cmd.Process.Pid }

// CreateBucket creates an S3 bucket directly in the backend.
func (r *Rig) CreateBucket(ctx context.Context, name string) error {
	if _, err := r.s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// CreateLockTable creates a terraform lock table (hash key LockID) and waits
// until dynalite reports it ACTIVE.
func (r *Rig) CreateLockTable(ctx context.Context, name string) error {
	_, err := r.ddbc.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("LockID"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("LockID"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("create lock table %s: %w", name, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := r.ddbc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe lock table %s: %w", name, err)
		}
		if out.Table.TableStatus == ddbtypes.TableStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lock table %s still %s after 15s", name, out.Table.TableStatus)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
