package tfout

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusCase is one line of testdata/realworld/index.tsv.
type corpusCase struct {
	file, source, version, label, reason string
}

func readCorpusIndex(t testing.TB) []corpusCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "realworld", "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		col := strings.Split(l, "\t")
		if len(col) != 5 {
			t.Fatalf("index.tsv line %d: %d columns, want 5 (file, source, version, label, reason)", n, len(col))
		}
		out = append(out, corpusCase{col[0], col[1], col[2], col[3], col[4]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// labelOf maps a classification to the corpus's labels: expired covers
// vanished credentials; lookalike covers "nothing to act on" (CauseNone).
func labelOf(c Classification) string {
	switch c.Cause {
	case CauseExpired, CauseVanished:
		return "expired"
	case CauseTransient:
		return "transient"
	case CausePermanent:
		return "permanent"
	case CauseLookalike, CauseNone:
		return "lookalike"
	}
	return string(c.Cause)
}

// TestCorpusIndex: every case file is indexed with a source address, a
// version and a known label, and every indexed file exists.
func TestCorpusIndex(t *testing.T) {
	cases := readCorpusIndex(t)
	indexed := map[string]bool{}
	counts := map[string]int{}
	for _, c := range cases {
		if indexed[c.file] {
			t.Errorf("%s indexed twice", c.file)
		}
		indexed[c.file] = true
		counts[c.label]++
		if !strings.HasPrefix(c.source, "https://") || c.version == "" || c.reason == "" {
			t.Errorf("%s: source %q version %q reason %q: each case needs all three", c.file, c.source, c.version, c.reason)
		}
		switch c.label {
		case "expired", "transient", "permanent", "lookalike":
		default:
			t.Errorf("%s: unknown label %q", c.file, c.label)
		}
		if _, err := os.Stat(filepath.Join("testdata", "realworld", c.file)); err != nil {
			t.Errorf("%s: %v", c.file, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "realworld"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "index.tsv" && !indexed[e.Name()] {
			t.Errorf("%s is not in index.tsv", e.Name())
		}
	}
	if len(cases) < 40 {
		t.Errorf("%d cases, want at least 40", len(cases))
	}
	for _, l := range []string{"expired", "transient", "permanent", "lookalike"} {
		if counts[l] < 5 {
			t.Errorf("only %d %s cases", counts[l], l)
		}
	}
	t.Logf("corpus: %d cases %v", len(cases), counts)
}

// TestCorpusClassify runs the classifier over every real-world case and
// checks the label its cause maps to.
func TestCorpusClassify(t *testing.T) {
	var wrong []string
	for _, c := range readCorpusIndex(t) {
		got := Classify(readTestdata(t, filepath.Join("realworld", c.file)))
		if l := labelOf(got); l != c.label {
			wrong = append(wrong, c.file+": "+l+" ("+string(got.Cause)+"/"+got.Kind+"), want "+c.label+": "+c.reason)
		}
		if got.Expired != (got.Cause == CauseExpired || got.Cause == CauseVanished) {
			t.Errorf("%s: Expired %v with cause %s", c.file, got.Expired, got.Cause)
		}
	}
	sort.Strings(wrong)
	for _, w := range wrong {
		t.Error(w)
	}
}

// TestCorpusDetails: the cause's kind and the detail a person needs, for the
// cases that print one.
func TestCorpusDetails(t *testing.T) {
	for file, want := range map[string]struct {
		cause                    Cause
		kind, detail, principal  string
		from                     string
		saveFailed, persistFaild bool
	}{
		"modernisation-platform-13075.txt": {CausePermanent, KindAccessDenied, "s3:PutObject",
			"arn:aws:sts::883644721336:assumed-role/AWSReservedSSO_platform-engineer-admin_257f8c4deb3e79ef/jacobwoffenden@digital.justice.gov.uk", "save", true, true},
		"terraform-pipeline-429.txt":            {CausePermanent, KindAccessDenied, "", "", "save", true, true},
		"tarmak-541.txt":                        {CausePermanent, KindNoSuchTable, "", "", "backend", false, false},
		"terraform-up-and-running-code-115.txt": {CausePermanent, KindNoSuchBucket, "", "", "backend", false, false},
		"terraform-19622.txt":                   {CauseLookalike, KindClockSkew, "", "", "save", true, false},
		"terraform-32448-cache-missing.txt":     {CauseLookalike, KindSSOCacheMissing, "/Users/username/.aws/sso/cache/7ad....0ebf54.json", "", "backend", false, false},
		"terraform-32448-windows.txt":           {CauseNone, "", "", "", "", false, false},
		"terraform-34248.txt":                   {CauseLookalike, KindSSOTokenUnreadable, "", "", "backend", false, false},
		"drone-terraform-95.txt":                {CauseTransient, KindDNS, "********.s3.eu-central-1.amazonaws.com", "", "save", true, true},
		"sxarp-drafts-33.txt":                   {CauseTransient, KindDNS, "terraform-backend-for-eks-sxarp.s3.ap-northeast-1.amazonaws.com", "", "save", true, true},
		"kubefirst-626.txt":                     {CauseTransient, KindConnection, "127.0.0.1", "", "save", true, false},
		"terraform-14513-release-timeout.txt":   {CauseTransient, KindTimeout, "dynamodb.ap-southeast-2.amazonaws.com", "", "release", false, false},
		"terraform-15688.txt":                   {CauseVanished, KindNoCredentials, "", "", "save", true, true},
		"terraform-provider-aws-41016.txt":      {CauseExpired, KindExpiredToken, "", "", "save", true, false},
		"terraform-provider-aws-37723.txt":      {CauseNone, "", "", "", "", false, false},
		"terraformmagentocloud-22.txt":          {CauseLookalike, KindLockHeld, "", "", "backend", false, false},
		"tfm-75.txt":                            {CausePermanent, KindStateConflict, "", "", "save", true, true},
	} {
		got := Classify(readTestdata(t, filepath.Join("realworld", file)))
		if got.Cause != want.cause || got.Kind != want.kind || got.Detail != want.detail || got.Principal != want.principal ||
			got.From != want.from || got.SaveFailed != want.saveFailed || got.PersistFailed != want.persistFaild {
			t.Errorf("%s: got cause %s kind %q detail %q principal %q from %q save %v persist %v\nwant %+v",
				file, got.Cause, got.Kind, got.Detail, got.Principal, got.From, got.SaveFailed, got.PersistFailed, want)
		}
	}
}

// TestProviderExpiryElsewhere: a provider's ExpiredToken printed next to a
// save that failed for another reason does not make it an expiry, in either
// order, and on its own it is no cause at all. The provider's case was cut
// off by its source inside the box; it is closed here as terraform closes it.
func TestProviderExpiryElsewhere(t *testing.T) {
	provider := append(readTestdata(t, filepath.Join("realworld", "terraform-provider-aws-37723.txt")), "\n╵\n"...)
	for _, save := range []string{"modernisation-platform-13075.txt", "drone-terraform-95.txt", "terraform-19622.txt"} {
		alone := Classify(readTestdata(t, filepath.Join("realworld", save)))
		s := readTestdata(t, filepath.Join("realworld", save))
		for _, text := range [][]byte{append(append([]byte{}, provider...), s...), append(append(append([]byte{}, s...), '\n'), provider...)} {
			got := Classify(text)
			if got.Cause != alone.Cause || got.Kind != alone.Kind || got.Expired {
				t.Errorf("%s with a provider's ExpiredTokenException: %s/%s expired=%v, alone %s/%s", save, got.Cause, got.Kind, got.Expired, alone.Cause, alone.Kind)
			}
		}
	}
	if got := Classify(provider); got.Cause != CauseNone || got.Expired {
		t.Errorf("provider expiry alone: %+v", got)
	}
}

// TestCorpusThroughLogs: every case read back as a log would show it (as a
// JSON string with escaped newlines; with colour codes whose ESC a viewer
// turned into U+FFFD; behind Actions timestamps) classifies the same.
func TestCorpusThroughLogs(t *testing.T) {
	for _, cc := range readCorpusIndex(t) {
		in := readTestdata(t, filepath.Join("realworld", cc.file))
		want := Classify(in)
		s := string(in)
		var stamped, mangled strings.Builder
		for _, l := range strings.Split(s, "\n") {
			stamped.WriteString("2024-01-16T07:15:39.7033998Z " + l + "\n")
			mangled.WriteString("\uFFFD[0m\uFFFD[1m" + l + "\uFFFD[0m\n")
		}
		escaped := strings.NewReplacer("\\", `\\`, "\"", `\"`, "\n", `\n`, "\t", `\t`).Replace(s)
		for name, text := range map[string]string{
			"json":    `{"stream":"stderr","log":"` + escaped + `"}`,
			"stamped": stamped.String(),
			"mangled": mangled.String(),
		} {
			got := Classify([]byte(text))
			if got.Cause != want.Cause || got.Kind != want.Kind || got.Detail != want.Detail || got.From != want.From {
				t.Errorf("%s as %s: %s/%s %q from %q, plain %s/%s %q from %q", cc.file, name,
					got.Cause, got.Kind, got.Detail, got.From, want.Cause, want.Kind, want.Detail, want.From)
			}
		}
	}
}
