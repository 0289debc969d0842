package tfout

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const seedLockID = "d27f3f1c-6ce8-c97b-0a3f-e6f77255b429"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type wantClass struct {
	expired, persist, release, acquire, both bool
	services                                 []string
	lockID, table, lockfileKey               string
	holderID, holderWho                      string
	notExpiry                                []string
	tool                                     string
}

func checkClass(t *testing.T, name string, got Classification, w wantClass) {
	t.Helper()
	if got.Expired != w.expired || got.PersistFailed != w.persist || got.ReleaseFailed != w.release ||
		got.AcquireFailed != w.acquire || got.BothLocks != w.both {
		t.Errorf("%s: expired/persist/release/acquire/both = %v/%v/%v/%v/%v, want %v/%v/%v/%v/%v", name,
			got.Expired, got.PersistFailed, got.ReleaseFailed, got.AcquireFailed, got.BothLocks,
			w.expired, w.persist, w.release, w.acquire, w.both)
	}
	if w.services != nil && !reflect.DeepEqual(got.Services, w.services) {
		t.Errorf("%s: services %v, want %v", name, got.Services, w.services)
	}
	if got.LockID != w.lockID {
		t.Errorf("%s: lock ID %q, want %q", name, got.LockID, w.lockID)
	}
	if got.LockTable != w.table || got.LockfileKey != w.lockfileKey {
		t.Errorf("%s: table %q lockfile %q, want %q %q", name, got.LockTable, got.LockfileKey, w.table, w.lockfileKey)
	}
	if w.holderID != "" {
		if got.Holder == nil || got.Holder.ID != w.holderID || got.Holder.Who != w.holderWho {
			t.Errorf("%s: holder %+v, want ID %s Who %s", name, got.Holder, w.holderID, w.holderWho)
		}
	} else if got.Holder != nil {
		t.Errorf("%s: unexpected holder %+v", name, got.Holder)
	}
	if !reflect.DeepEqual(got.NotExpiry, w.notExpiry) {
		t.Errorf("%s: not-expiry %v, want %v", name, got.NotExpiry, w.notExpiry)
	}
	tool := w.tool
	if tool == "" {
		tool = "terraform"
	}
	if got.Tool != tool {
		t.Errorf("%s: tool %q, want %q", name, got.Tool, tool)
	}
}

// TestClassifyRecorded runs the classifier over every recorded output in
// testdata/. seed_* is the seed guide's text verbatim; rig_* are real
// terraform 1.11.4 captures from the incident rig, copied from
// e2e/testdata/captures (commits 79fa1db, cb3280f); facts_* are FACTS.md texts,
// wrapped the way terraform wraps; tofu_* are OpenTofu's wording.
func TestClassifyRecorded(t *testing.T) {
	cases := map[string]wantClass{
		"seed_eks_dynamodb.stderr": {expired: true, persist: true, release: true,
			services: []string{ServiceS3, ServiceDynamoDB}, lockID: seedLockID, table: "dev-state-storage-locks"},
		// A provider's diagnostics never decide the cause: these three are
		// the AWS provider's, so they say nothing about the backend.
		"facts_sso_session_ended.stderr":    {},
		"facts_sts_expired.stderr":          {},
		"facts_invalid_client_token.stderr": {},
		// The backend's configuration diagnostics do.
		"facts_sso_cached_token.stderr": {expired: true, services: []string{ServiceSSOOIDC}},
		"facts_sdk_sso_session.stderr":  {expired: true, services: []string{ServiceSSOOIDC}},
		"tofu_dynamodb.stderr": {expired: true, persist: true, release: true, tool: "tofu",
			services: []string{ServiceS3, ServiceDynamoDB}, lockID: "6f0e8a52-1c4b-8e0e-5d2a-0c8f2b7a9e31", table: "tf-locks"},
	}
	for name, w := range rigCaptures {
		cases[name] = w
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("recorded output missing: %v", err)
			}
			checkClass(t, name, Classify(readTestdata(t, name)), w)
		})
	}
}

// rigCaptures are the real terraform outputs recorded on the incident rig.
var rigCaptures = func() map[string]wantClass {
	s3ddb := []string{ServiceS3, ServiceDynamoDB}
	lf := "incident/terraform.tfstate.tflock"
	m := map[string]wantClass{}
	for _, v := range []string{"nocolor", "color"} {
		ids := map[string]string{
			"a": "180ac457-5e14-1ecd-aac5-fe1df2058399", "c": "1641263c-1899-77c4-66cd-4e89eb420add", "d": "423eda9e-7f2e-64ea-df7e-cc197b912ff0"}
		if v == "color" {
			ids = map[string]string{
				"a": "03d30f56-8cb1-0bf8-5cfc-04096e29a91e", "c": "a4afc9d0-0228-7116-3f53-6206618a400a", "d": "c29bdbb8-422f-c25c-ea56-262ecf2aa8e6"}
		}
		m["rig_a_dynamodb."+v+".stderr"] = wantClass{expired: true, persist: true, release: true, services: s3ddb, lockID: ids["a"], table: "tf-locks"}
		m["rig_b_lockfile."+v+".stderr"] = wantClass{expired: true, persist: true, release: true, services: []string{ServiceS3}, lockfileKey: lf}
		m["rig_c_both."+v+".stderr"] = wantClass{expired: true, persist: true, release: true, both: true, services: s3ddb, lockID: ids["c"], table: "tf-locks", lockfileKey: lf}
		m["rig_d_sso_dynamodb."+v+".stderr"] = wantClass{expired: true, persist: true, release: true, services: []string{ServiceSSO}, lockID: ids["d"], table: "tf-locks"}
		m["rig_e_stale_dynamodb."+v+".stderr"] = wantClass{acquire: true, holderID: "983bc952-f18c-f80c-38d7-f603a290fcb1", holderWho: "root@vm"}
	}
	m["rig_b_stale_lockfile.nocolor.stderr"] = wantClass{acquire: true, holderID: "7723ed61-0f88-4e20-549a-101ab97ae0bd", holderWho: "root@vm"}
	m["rig_c_stale_both.nocolor.stderr"] = wantClass{acquire: true, holderID: "1641263c-1899-77c4-66cd-4e89eb420add", holderWho: "root@vm"}
	return m
}()

// TestClassifyAnyWrapping re-wraps each of the seed's diagnostics, in its
// own box as terraform prints them, at every width from 20 to 120 columns
// (breaking even inside the first line and between `lock ID` and the quoted
// ID), with and without colour, and expects the same answer.
func TestClassifyAnyWrapping(t *testing.T) {
	seed := readTestdata(t, "seed_eks_dynamodb.stderr")
	want := Classify(seed)
	if want.LockID != seedLockID {
		t.Fatalf("seed lock ID %q", want.LockID)
	}
	diags := diagnostics(cleanLines(seed))
	if len(diags) != 5 {
		t.Fatalf("the seed has 5 diagnostics, read %d", len(diags))
	}
	for width := 20; width <= 120; width++ {
		for _, colour := range []bool{false, true} {
			var text string
			for _, d := range diags {
				text += rewrap(d.text, width, colour)
			}
			got := Classify([]byte(text))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("width %d colour %v: got %+v\nwant %+v\n%s", width, colour, got, want, text)
			}
		}
	}
	// Through the wrapper's pty, lines end in CRLF.
	if got := Classify(bytes.ReplaceAll(seed, []byte("\n"), []byte("\r\n"))); !reflect.DeepEqual(got, want) {
		t.Errorf("CRLF: got %+v", got)
	}
	// The split the FACTS call out: `lock ID` at the end of one line, the
	// quoted ID at the start of the next.
	split := strings.Replace(string(seed), `lock ID "`, "lock ID\n│ \"", 1)
	if got := Classify([]byte(split)).LockID; got != seedLockID {
		t.Errorf("split between lock ID and the ID: got %q", got)
	}
}

// rewrap breaks flat text into box-prefixed lines of at most width columns
// at spaces, as terraform's diagnostic printer does; colour adds the bold and
// red codes terraform uses around "Error:".
func rewrap(flat string, width int, colour bool) string {
	var b strings.Builder
	col := 0
	b.WriteString("╷\n│ ")
	for i, w := range strings.Fields(flat) {
		if colour && w == "Error:" {
			w = "\x1b[31m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1m"
		}
		n := utf8.RuneCountInString(w)
		if i > 0 && col+1+n > width {
			b.WriteString("\n│ ")
			col = 0
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	b.WriteString("\n╵\n")
	return b.String()
}

func TestParseLockInfoBlock(t *testing.T) {
	text := "\x1b[31m╷\x1b[0m\n│ \x1b[1mError: Error acquiring the state lock\x1b[0m\n│ \n│ Error message: operation error DynamoDB: PutItem, https response error\n│ StatusCode: 400, RequestID: X, ConditionalCheckFailedException: The\n│ conditional request failed\n│ Lock Info:\n│   ID:        0b2c4f7e-0000-4000-8000-000000000001\n│   Path:      tf-state/incident/terraform.tfstate\n│   Operation: OperationTypeApply\n│   Who:       alice@build-7\n│   Version:   1.11.4\n│   Created:   2026-11-25 21:00:00.123456789 +0000 UTC\n│   Info:      \n│ \n│ \n│ Terraform acquires a state lock to protect the state from being written\n╵\n"
	c := Classify([]byte(text))
	want := &LockInfo{ID: "0b2c4f7e-0000-4000-8000-000000000001", Path: "tf-state/incident/terraform.tfstate",
		Operation: "OperationTypeApply", Who: "alice@build-7", Version: "1.11.4", Created: "2026-11-25 21:00:00.123456789 +0000 UTC"}
	if !c.AcquireFailed || !reflect.DeepEqual(c.Holder, want) {
		t.Fatalf("got %+v holder %+v", c, c.Holder)
	}
	if c.Expired || c.LockID != "" {
		t.Errorf("an acquire failure is not expiry and names no lock of ours: %+v", c)
	}
}

func TestNotCredentials(t *testing.T) {
	for _, text := range []string{
		"",
		"Error: Invalid reference\n\nA reference to a resource type must be followed by at least one attribute\naccess, specifying the resource name.",
		"Error: creating S3 Bucket: operation error S3: CreateBucket, api error BucketAlreadyExists: taken",
		"Error: local-exec provisioner error: exit status 1",
	} {
		if c := Classify([]byte(text)); c.Expired || c.PersistFailed || c.ReleaseFailed {
			t.Errorf("%q classified as %+v", text, c)
		}
	}
}

// FuzzClassify: no panic on any input, and these invariants hold:
// Expired iff the cause is expired or vanished credentials, iff at least one
// service and one shape is named; a cause other than none says where it was
// read from, and only a save or release failure can have an unknown cause;
// the kind is set iff the cause is known; details are single tokens; a lock
// ID is only reported for a release failure and appears in the input; a
// holder only for an acquire failure, with an ID present in the input; flags
// are only set when their key words are in the input; Flatten is
// idempotent; ReadProgress never counts more done changes than "complete
// after" lines.
func FuzzClassify(f *testing.F) {
	for _, name := range []string{"seed_eks_dynamodb.stderr", "facts_sso_session_ended.stderr", "facts_invalid_client_token.stderr"} {
		f.Add(readTestdata(f, name))
	}
	for _, c := range readCorpusIndex(f) {
		f.Add(readTestdata(f, filepath.Join("realworld", c.file)))
	}
	f.Add([]byte("│ Lock Info:\n│   ID:  x\n"))
	f.Add([]byte("Error releasing the state lock lock info for lock ID\n│ \"abc\""))
	f.Add([]byte(`{"log":"\u2577\n\u2502 Error: Failed to save state\n\u2502 \n\u2502 Error saving state: failed to upload state: SlowDown: Please reduce your request rate.\n"}`))
	f.Add([]byte("x: Creating...\nPlan: 2 to add, 0 to change, 0 to destroy.\nx: Creation complete after 1s [id=a]\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Classify(in)
		if c.Expired != (len(c.Services) > 0) || c.Expired != (len(c.Shapes) > 0) {
			t.Fatalf("expired %v with services %v shapes %v", c.Expired, c.Services, c.Shapes)
		}
		if c.Expired != (c.Cause == CauseExpired || c.Cause == CauseVanished) {
			t.Fatalf("expired %v with cause %s", c.Expired, c.Cause)
		}
		switch c.Cause {
		case CauseNone:
			if c.From != "" || c.Kind != "" || c.Detail != "" {
				t.Fatalf("no cause but from %q kind %q detail %q", c.From, c.Kind, c.Detail)
			}
		case CauseUnknown:
			if (c.From != "save" && c.From != "release") || c.Kind != "" {
				t.Fatalf("unknown cause from %q kind %q", c.From, c.Kind)
			}
		case CauseExpired, CauseVanished, CauseTransient, CausePermanent, CauseLookalike:
			if c.From == "" || c.Kind == "" {
				t.Fatalf("cause %s from %q kind %q", c.Cause, c.From, c.Kind)
			}
		default:
			t.Fatalf("cause %q", c.Cause)
		}
		for _, d := range []string{c.Detail, c.Principal, c.Resource} {
			if strings.ContainsAny(d, " \t\n") {
				t.Fatalf("detail %q is not one token", d)
			}
		}
		clean := cleanFlat(in)
		if c.LockID != "" {
			if !c.ReleaseFailed {
				t.Fatalf("lock ID %q without a release failure", c.LockID)
			}
			if !strings.Contains(clean, c.LockID) {
				t.Fatalf("lock ID %q not in input", c.LockID)
			}
		}
		if c.Holder != nil && (!c.AcquireFailed || c.Holder.ID == "" || !strings.Contains(string(in), c.Holder.ID)) {
			t.Fatalf("holder %+v (acquire %v)", c.Holder, c.AcquireFailed)
		}
		if c.ReleaseFailed && !strings.Contains(clean, "releasing the state lock") {
			t.Fatal("release flag without its words")
		}
		if c.PersistFailed && !strings.Contains(clean, "persist state") && !strings.Contains(clean, "errored.tfstate") {
			t.Fatal("persist flag without its words")
		}
		flat := Flatten(in)
		if again := Flatten([]byte(flat)); again != flat {
			t.Fatalf("Flatten not idempotent:\n%q\n%q", flat, again)
		}
		p := ReadProgress(in)
		if n := strings.Count(string(in), " complete after"); len(p.Done) > n || p.Planned < 0 {
			t.Fatalf("progress %+v from %d complete lines", p, n)
		}
	})
}
