package rig

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/tfguard/tf/e2e/fakeaws"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if _, err := LookTools(); err != nil {
		if InCI(os.Getenv) {
			fmt.Fprintln(os.Stderr, "rig tests need terraform, node and npm with CI=true:", err)
			return 1
		}
		return m.Run() // each test skips with the reason
	}
	root, err := ModuleRoot(".")
	if err == nil {
		err = EnsureDynalite(filepath.Join(root, "e2e"), nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func startRig(t *testing.T) *Rig {
	t.Helper()
	if _, err := LookTools(); err != nil {
		t.Skipf("skipping on this laptop: %v", err)
	}
	ctx := context.Background()
	r, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func s3Client(r *Rig, c fakeaws.Issued) *s3.Client {
	return s3.New(s3.Options{
		Region: Region, UsePathStyle: true, BaseEndpoint: aws.String(r.S3URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	})
}

func ddbClient(r *Rig, c fakeaws.Issued) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region: Region, BaseEndpoint: aws.String(r.DynamoDBURL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	})
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return ae.ErrorCode() + ": " + ae.ErrorMessage()
}

// TestProxyAnswersLikeAWS drives the proxies with the real SDK: live
// credentials reach the backends, expired and never-issued ones get AWS's
// exact error codes and messages, and requests are counted by operation.
func TestProxyAnswersLikeAWS(t *testing.T) {
	r := startRig(t)
	ctx := context.Background()
	if err := r.ensureBackends(ctx); err != nil {
		t.Fatal(err)
	}
	live := r.Ledger.Issue("test", time.Hour, false)
	s3c, ddb := s3Client(r, live), ddbClient(r, live)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(StateBucket), Key: aws.String("k"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatalf("put with live credentials: %v", err)
	}
	key := map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: "x"}}
	if _, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(LockTable), Key: key}); err != nil {
		t.Fatalf("get item with live credentials: %v", err)
	}

	r.Ledger.KillAll()
	_, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(StateBucket), Key: aws.String("k")})
	if got, want := apiCode(t, err), "ExpiredToken: The provided token has expired."; got != want {
		t.Errorf("S3 expired: got %q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), "StatusCode: 400") {
		t.Errorf("S3 expired: want status 400 in %v", err)
	}
	_, err = ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(LockTable), Key: key})
	if got, want := apiCode(t, err), "ExpiredTokenException: The security token included in the request is expired"; got != want {
		t.Errorf("DynamoDB expired: got %q, want %q", got, want)
	}

	stranger := fakeaws.Issued{AccessKeyID: "ASIANEVERISSUED0000", SecretAccessKey: "x", SessionToken: "y"}
	_, err = s3Client(r, stranger).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(StateBucket), Key: aws.String("k")})
	if got, want := apiCode(t, err), "InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records."; got != want {
		t.Errorf("S3 unknown key: got %q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), "StatusCode: 403") {
		t.Errorf("S3 unknown key: want status 403 in %v", err)
	}
	_, err = ddbClient(r, stranger).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(LockTable), Key: key})
	if got, want := apiCode(t, err), "UnrecognizedClientException: The security token included in the request is invalid."; got != want {
		t.Errorf("DynamoDB unknown key: got %q, want %q", got, want)
	}

	for _, c := range []struct {
		p       *Proxy
		op      string
		outcome Outcome
		want    int
	}{
		{r.S3Proxy, "PutObject", Forwarded, 1},
		{r.S3Proxy, "GetObject", Expired, 1},
		{r.S3Proxy, "GetObject", UnknownKey, 1},
		{r.DynamoDBProxy, "GetItem", Forwarded, 1},
		{r.DynamoDBProxy, "GetItem", Expired, 1},
		{r.DynamoDBProxy, "GetItem", UnknownKey, 1},
	} {
		if got := c.p.Count(c.op, c.outcome); got != c.want {
			t.Errorf("%s %s %s: counted %d, want %d\n%s", c.p.service, c.op, c.outcome, got, c.want, c.p.Summary())
		}
	}
}

// TestCloseLeavesNothingRunning checks dynalite is gone after Close.
func TestCloseLeavesNothingRunning(t *testing.T) {
	if _, err := LookTools(); err != nil {
		t.Skipf("skipping on this laptop: %v", err)
	}
	r, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := r.DynalitePID()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("dynalite pid %d still exists after Close (kill 0: %v)", pid, err)
	}
	resp, err := http.Get(r.DynamoDBURL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("proxy %s still answers after Close", r.DynamoDBURL)
	}
}

func TestS3Operation(t *testing.T) {
	for _, c := range []struct{ method, target, want string }{
		{"GET", "/", "ListBuckets"},
		{"GET", "/b?list-type=2&prefix=env%3A%2F", "ListObjectsV2"},
		{"GET", "/b", "ListObjects"},
		{"HEAD", "/b", "HeadBucket"},
		{"PUT", "/b", "CreateBucket"},
		{"GET", "/b/k/terraform.tfstate", "GetObject"},
		{"PUT", "/b/k/terraform.tfstate.tflock", "PutObject"},
		{"HEAD", "/b/k", "HeadObject"},
		{"DELETE", "/b/k.tflock", "DeleteObject"},
		{"POST", "/b/k?uploads", "CreateMultipartUpload"},
		{"POST", "/b?delete", "DeleteObjects"},
	} {
		req := httptest.NewRequest(c.method, "http://127.0.0.1"+c.target, nil)
		if got := Operation(ServiceS3, req); got != c.want {
			t.Errorf("%s %s: got %s, want %s", c.method, c.target, got, c.want)
		}
	}
	req := httptest.NewRequest("POST", "http://127.0.0.1/", nil)
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
	if got := Operation(ServiceDynamoDB, req); got != "PutItem" {
		t.Errorf("dynamodb: got %s, want PutItem", got)
	}
}

func TestAccessKeyID(t *testing.T) {
	req := httptest.NewRequest("GET", "http://127.0.0.1/b/k", nil)
	if _, signed := AccessKeyID(req); signed {
		t.Error("unsigned request reported as signed")
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	if k, signed := AccessKeyID(req); !signed || k != "ASIAXYZ" {
		t.Errorf("got %q %v, want ASIAXYZ true", k, signed)
	}
	pre := httptest.NewRequest("GET", "http://127.0.0.1/b/k?X-Amz-Credential=AKIAPRE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", nil)
	if k, signed := AccessKeyID(pre); !signed || k != "AKIAPRE" {
		t.Errorf("presigned: got %q %v", k, signed)
	}
}

func TestStateKeyAndMainTF(t *testing.T) {
	b := Backend{Bucket: "bk", Key: "a/terraform.tfstate", Table: "t", Mode: LockBoth, Workspace: "blue"}
	if got := b.LockPath(); got != "bk/env:/blue/a/terraform.tfstate" {
		t.Errorf("LockPath = %s", got)
	}
	tf := MainTF(b, 7*time.Second)
	for _, want := range []string{`dynamodb_table = "t"`, "use_lockfile   = true", "use_path_style = true", "default = 7"} {
		if !strings.Contains(tf, want) {
			t.Errorf("main.tf lacks %q:\n%s", want, tf)
		}
	}
	if strings.Contains(MainTF(Backend{Mode: LockFile}, 0), "dynamodb_table") {
		t.Error("lockfile mode must not configure dynamodb_table")
	}
}

// TestS3ResponsesLookLikeS3 checks the proxy drops request headers gofakes3
// echoes (the writer's session token among them) and serves a checksum that
// matches the body, as S3 does.
func TestS3ResponsesLookLikeS3(t *testing.T) {
	body := []byte(`{"ID":"x"}`)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amz-Security-Token", "FQoGsecret")
		w.Header().Set("X-Amz-Date", "20260101T000000Z")
		w.Header().Set("X-Amz-Checksum-Crc32", "AAAAAA==") // wrong on purpose
		w.Header().Set("X-Amz-Checksum-Sha256", "bm90LXRoZS1zdW0=")
		w.Write(body)
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	ledger := fakeaws.NewLedger(nil)
	live := ledger.Issue("t", time.Hour, false)
	front := httptest.NewServer(NewProxy(ServiceS3, target, ledger))
	defer front.Close()

	req, _ := http.NewRequest(http.MethodGet, front.URL+"/b/k", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+live.AccessKeyID+"/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if string(got) != string(body) {
		t.Fatalf("body %q", got)
	}
	for _, h := range []string{"X-Amz-Security-Token", "X-Amz-Date"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("%s echoed: %q", h, v)
		}
	}
	if got, want := resp.Header.Get("X-Amz-Checksum-Crc32"), crc32Base64(body); got != want {
		t.Errorf("crc32 = %s, want %s", got, want)
	}
	sum := sha256.Sum256(body)
	if got, want := resp.Header.Get("X-Amz-Checksum-Sha256"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("sha256 = %s, want %s", got, want)
	}
}
