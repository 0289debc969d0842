package rig

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tfguard/tf/e2e/fakeaws"
)

// Service names the AWS service a proxy stands in front of.
type Service string

// The services the rig proxies.
const (
	ServiceS3       Service = "s3"
	ServiceDynamoDB Service = "dynamodb"
)

// Checker says whether credentials may still be used; *fakeaws.Ledger is one.
type Checker interface {
	Check(accessKeyID string) error
}

var _ Checker = (*fakeaws.Ledger)(nil)

// Outcome is what the proxy did with one request.
type Outcome string

// Outcomes of a request through the proxy.
const (
	Forwarded   Outcome = "forwarded"    // credentials alive: sent to the backend
	Expired     Outcome = "expired"      // ExpiredToken / ExpiredTokenException
	UnknownKey  Outcome = "unknown-key"  // InvalidAccessKeyId / UnrecognizedClientException
	MissingAuth Outcome = "missing-auth" // no SigV4 signature at all
)

// Request is one request seen by a proxy.
type Request struct {
	Service     Service
	Op          string // e.g. PutObject, GetItem
	AccessKeyID string // not a secret; the secret key and token are never recorded
	Outcome     Outcome
}

// Proxy is an expiry-enforcing reverse proxy in front of one service: a
// request signed with credentials the ledger calls expired or unknown gets
// exactly AWS's error response; the others are forwarded unchanged (Host
// header included, so SigV4 signatures stay valid).
type Proxy struct {
	service Service
	creds   Checker
	rp      *httputil.ReverseProxy

	mu   sync.Mutex
	seen []Request

	// faults are injected failures (tests): per operation, what to answer.
	faults []faultRule
	// denySource: credentials whose ledger Source starts with one of these
	// get AccessDenied (as if the bucket/table policy only allowed the
	// backend's assume_role role).
	denySource []string
	// denyResource: requests for a resource whose S3 key or DynamoDB
	// request (its item key) contains one of these get AccessDenied, as
	// from a policy scoped by resource ARN or dynamodb:LeadingKeys.
	denyResource []string
}

// Fault is an injected failure.
type Fault string

// Faults the proxy can inject.
const (
	// FaultExpire answers as if the request's credentials had expired.
	FaultExpire Fault = "expire"
	// FaultDeny answers AWS's AccessDenied for the operation's IAM action.
	FaultDeny Fault = "deny"
	// FaultReset drops the connection without an answer (connection reset).
	FaultReset Fault = "reset"
)

type faultRule struct {
	op   string
	kind Fault
	from time.Time
	left int // requests still to fail; -1: until cleared
}

// AddFault makes requests for op fail with kind, from after on, n times
// (n < 0: until ClearFaults).
func (p *Proxy) AddFault(op string, kind Fault, after time.Duration, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, faultRule{op: op, kind: kind, from: time.Now().Add(after), left: n})
}

// ClearFaults removes every injected failure.
func (p *Proxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.denySource, p.denyResource = nil, nil, nil
}

// DenyResource makes requests whose S3 key or DynamoDB request body
// contains sub get AccessDenied.
func (p *Proxy) DenyResource(sub string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.denyResource = append(p.denyResource, sub)
}

// resourceDenied reads the request's target (the body of a DynamoDB
// request is read and put back) against denyResource.
func (p *Proxy) resourceDenied(r *http.Request) bool {
	p.mu.Lock()
	subs := append([]string(nil), p.denyResource...)
	p.mu.Unlock()
	if len(subs) == 0 {
		return false
	}
	target := r.URL.Path
	if p.service == ServiceDynamoDB && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		target = string(body)
	}
	for _, sub := range subs {
		if strings.Contains(target, sub) {
			return true
		}
	}
	return false
}

// FailNext makes the next n requests for op get the expired-token answer.
func (p *Proxy) FailNext(op string, n int) { p.AddFault(op, FaultExpire, 0, n) }

func (p *Proxy) takeFault(op string) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for i := range p.faults {
		f := &p.faults[i]
		if f.op != op || now.Before(f.from) || f.left == 0 {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		return f.kind
	}
	return ""
}

// DenySource makes requests signed by credentials whose Source starts with
// prefix get AccessDenied.
func (p *Proxy) DenySource(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.denySource = append(p.denySource, prefix)
}

func (p *Proxy) denied(key string) bool {
	l, ok := p.creds.(*fakeaws.Ledger)
	if !ok {
		return false
	}
	c, ok := l.Lookup(key)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.denySource {
		if strings.HasPrefix(c.Source, d) {
			return true
		}
	}
	return false
}

// iamAction is the IAM action AWS names when it denies op.
func (p *Proxy) iamAction(op string) string {
	if p.service == ServiceDynamoDB {
		return "dynamodb:" + op
	}
	switch op {
	case "HeadObject":
		return "s3:GetObject"
	case "ListObjectsV2", "ListObjects":
		return "s3:ListBucket"
	}
	return "s3:" + op
}

// writeDenied answers as AWS does when a policy denies op: S3 403
// AccessDenied, DynamoDB 400 AccessDeniedException, naming principal,
// action and resource.
func (p *Proxy) writeDenied(w http.ResponseWriter, r *http.Request, op string) {
	action := p.iamAction(op)
	principal := "arn:aws:sts::111122223333:assumed-role/RigAdmin/rig"
	if p.service == ServiceS3 {
		resource := "arn:aws:s3:::" + strings.TrimPrefix(r.URL.Path, "/")
		msg := "User: " + principal + " is not authorized to perform: " + action + " on resource: \"" + resource +
			"\" because no identity-based policy allows the " + action + " action"
		reqID, hostID := randomID(16), randomBase64(76)
		h := w.Header()
		h.Set("x-amz-request-id", reqID)
		h.Set("x-amz-id-2", hostID)
		h.Set("Server", "AmazonS3")
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + "<Error><Code>AccessDenied</Code><Message>" + xmlEscape(msg) +
			"</Message><RequestId>" + reqID + "</RequestId><HostId>" + hostID + "</HostId></Error>"
		h.Set("Content-Type", "application/xml")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(body))
		return
	}
	body := `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: ` + principal + ` is not authorized to perform: ` +
		action + ` on resource: arn:aws:dynamodb:us-east-1:111122223333:table/` + LockTable + ` because no identity-based policy allows the ` + action + ` action"}`
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("x-amz-crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(body))
}

// NewProxy returns a proxy for service forwarding to target.
func NewProxy(service Service, target *url.URL, creds Checker) *Proxy {
	p := &Proxy{service: service, creds: creds}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			// A client that gives up (tf's bounded background calls do)
			// must not abort the request to the service behind: dynalite's
			// node process dies of an aborted connection, and the rig's
			// other clients with it. AWS answers either way.
			pr.Out = pr.Out.WithContext(context.WithoutCancel(pr.In.Context()))
		},
	}
	if service == ServiceS3 {
		p.rp.ModifyResponse = fixS3Response
	}
	return p
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := Operation(p.service, r)
	key, signed := AccessKeyID(r)
	outcome := Forwarded
	switch {
	case !signed:
		outcome = MissingAuth
	default:
		err := p.creds.Check(key)
		switch {
		case errors.Is(err, fakeaws.ErrExpired):
			outcome = Expired
		case err != nil:
			outcome = UnknownKey
		}
	}
	fault := Fault("")
	if outcome == Forwarded {
		fault = p.takeFault(op)
		if fault == "" && (p.denied(key) || p.resourceDenied(r)) {
			fault = FaultDeny
		}
	}
	switch fault {
	case FaultExpire:
		outcome = Expired
	case FaultDeny:
		p.record(Request{Service: p.service, Op: op, AccessKeyID: key, Outcome: "denied"})
		p.writeDenied(w, r, op)
		return
	case FaultReset:
		p.record(Request{Service: p.service, Op: op, AccessKeyID: key, Outcome: "reset"})
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN: "connection reset by peer"
				}
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	p.record(Request{Service: p.service, Op: op, AccessKeyID: key, Outcome: outcome})
	if outcome == Forwarded {
		if p.service == ServiceDynamoDB && r.Body != nil {
			// The whole request first: dynalite's node process dies of a
			// request whose body stops midway (a client that gives up), and
			// the rig's other clients with it. AWS answers either way.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		p.rp.ServeHTTP(w, r)
		return
	}
	switch p.service {
	case ServiceS3:
		writeS3Error(w, r, outcome, key)
	default:
		writeDynamoDBError(w, outcome)
	}
}

func (p *Proxy) record(r Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, r)
}

// Requests returns every request seen so far, in order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.seen...)
}

// Count returns how many requests for op were seen; with outcomes given, only
// those with one of them.
func (p *Proxy) Count(op string, outcomes ...Outcome) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Op != op {
			continue
		}
		if len(outcomes) == 0 || containsOutcome(outcomes, r.Outcome) {
			n++
		}
	}
	return n
}

// Summary renders "Op outcome×n" lines sorted by op, for logs.
func (p *Proxy) Summary() string {
	counts := map[string]int{}
	for _, r := range p.Requests() {
		counts[r.Op+" "+string(r.Outcome)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s x%d\n", p.service, k, counts[k])
	}
	return b.String()
}

func containsOutcome(list []Outcome, o Outcome) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

// AccessKeyID extracts the access key id from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...")
// or a presigned URL's X-Amz-Credential. signed is false if neither is there.
func AccessKeyID(r *http.Request) (key string, signed bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, rest, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return "", true
		}
		cred, _, _ := strings.Cut(rest, ",")
		key, _, _ = strings.Cut(strings.TrimSpace(cred), "/")
		return key, true
	}
	if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		key, _, _ = strings.Cut(cred, "/")
		return key, true
	}
	return "", false
}

// Operation names the API operation of a request: DynamoDB's from
// X-Amz-Target, S3's from method, path (path-style) and subresource.
func Operation(service Service, r *http.Request) string {
	if service == ServiceDynamoDB {
		t := r.Header.Get("X-Amz-Target")
		if _, op, ok := strings.Cut(t, "."); ok {
			return op
		}
		if t == "" {
			return "Unknown"
		}
		return t
	}
	return s3Operation(r)
}

func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	switch {
	case bucket == "":
		return "ListBuckets"
	case key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("location"):
				return "GetBucketLocation"
			case has("versioning"):
				return "GetBucketVersioning"
			case has("versions"):
				return "ListObjectVersions"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			}
			return "ListObjects"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPut:
			if has("versioning") {
				return "PutBucketVersioning"
			}
			return "CreateBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
		return r.Method + "Bucket"
	}
	switch r.Method {
	case http.MethodGet:
		if has("tagging") {
			return "GetObjectTagging"
		}
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPut:
		switch {
		case has("uploadId"):
			return "UploadPart"
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		case has("tagging"):
			return "PutObjectTagging"
		}
		return "PutObject"
	case http.MethodDelete:
		if has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	case http.MethodPost:
		switch {
		case has("uploads"):
			return "CreateMultipartUpload"
		case has("uploadId"):
			return "CompleteMultipartUpload"
		}
	}
	return r.Method + "Object"
}

// writeS3Error answers like S3 does. The real ExpiredToken body also echoes
// the session token (<Token-0>); the rig leaves it out so no secret can reach
// a log or a capture. HEAD answers carry no body, as on AWS.
func writeS3Error(w http.ResponseWriter, r *http.Request, o Outcome, key string) {
	status, code, msg, extra := http.StatusForbidden, "AccessDenied", "Access Denied", ""
	switch o {
	case Expired:
		status, code, msg = http.StatusBadRequest, "ExpiredToken", "The provided token has expired."
	case UnknownKey:
		code, msg = "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
		extra = "<AWSAccessKeyId>" + xmlEscape(key) + "</AWSAccessKeyId>"
	}
	reqID, hostID := randomID(16), randomBase64(76)
	h := w.Header()
	h.Set("x-amz-request-id", reqID)
	h.Set("x-amz-id-2", hostID)
	h.Set("Server", "AmazonS3")
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		"<Error><Code>" + code + "</Code><Message>" + msg + "</Message>" + extra +
		"<RequestId>" + reqID + "</RequestId><HostId>" + hostID + "</HostId></Error>"
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// writeDynamoDBError answers like DynamoDB does, x-amz-crc32 included (the
// SDK verifies it when present).
func writeDynamoDBError(w http.ResponseWriter, o Outcome) {
	typ, msg := "MissingAuthenticationTokenException", "Request is missing Authentication Token"
	switch o {
	case Expired:
		typ, msg = "ExpiredTokenException", "The security token included in the request is expired"
	case UnknownKey:
		typ, msg = "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	body := `{"__type":"com.amazon.coral.service#` + typ + `","message":"` + msg + `"}`
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("x-amzn-RequestId", randomID(52))
	h.Set("x-amz-crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(body))
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

const upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func randomID(n int) string { return randomFrom(upperAlnum, n) }

func randomBase64(n int) string { return randomFrom(base64Chars, n) }

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
