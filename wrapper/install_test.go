package wrapper

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Without a network tf says so at once, after one try, instead of retrying
// in silence.
func TestInstallNoNetworkFailsEarly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing answers there now
	for _, base := range []string{"http://" + closed, "http://releases.example.invalid"} {
		var out bytes.Buffer
		r := ReleasesInstaller{BaseURL: base, Progress: newProgress(&out, false, nil), RetryWait: time.Hour}
		_, err := r.Install(context.Background(), "1.11.4", filepath.Join(t.TempDir(), "terraform", "1.11.4"))
		host := strings.TrimPrefix(base, "http://")
		if err == nil || !strings.Contains(err.Error(), "cannot reach "+host+" (no network, or a proxy is needed: set HTTPS_PROXY)") {
			t.Errorf("%s: err %v", base, err)
		}
		// A retry would have waited an hour: the test finishing shows there was none.
		if strings.Contains(out.String(), "retry") {
			t.Errorf("%s: retried:\n%s", base, out.String())
		}
		if !strings.HasPrefix(out.String(), "tf: installing terraform 1.11.4 from "+host+"\n") {
			t.Errorf("%s: progress:\n%s", base, out.String())
		}
	}
}

// A server that fails is tried again, each retry shown; then a clear error.
func TestInstallRetriesShown(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var out bytes.Buffer
	r := ReleasesInstaller{BaseURL: srv.URL, Attempts: 3, RetryWait: time.Millisecond, Progress: newProgress(&out, false, nil)}
	_, err := r.Install(context.Background(), "1.11.4", filepath.Join(t.TempDir(), "terraform", "1.11.4"))
	if err == nil || !strings.Contains(err.Error(), "download terraform 1.11.4") {
		t.Fatalf("err %v", err)
	}
	if hits.Load() != 3 {
		t.Errorf("%d requests, want 3", hits.Load())
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	want := "tf: installing terraform 1.11.4 from " + host + "\n" +
		"tf: installing terraform 1.11.4 from " + host + ": index.json\n" +
		"tf: installing terraform 1.11.4 from " + host + ": index.json (retry 1 of 2)\n" +
		"tf: installing terraform 1.11.4 from " + host + ": index.json (retry 2 of 2)\n"
	if out.String() != want {
		t.Errorf("progress:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestProgressPlainHasNoControlCharacters(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, nil)
	p.Step("waiting for a")
	p.Step("waiting for a")
	p.Step("waiting for b")
	p.Done("done")
	if out.String() != "tf: waiting for a\ntf: waiting for b\ntf: done\n" {
		t.Fatalf("%q", out.String())
	}
	var nilProgress *progress
	nilProgress.Step("x") // a nil progress is silent
	nilProgress.Done("x")
}

func TestProgressLiveUpdatesOneLine(t *testing.T) {
	var out bytes.Buffer // written only from this goroutine: the ticker never fires
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	p := newProgress(&out, true, func() time.Time { return time.Unix(0, now.Load()) })
	p.tick = time.Hour // the test draws by hand
	p.Step("installing terraform 1.11.4")
	now.Store(t0.Add(3 * time.Second).UnixNano())
	p.mu.Lock()
	p.draw()
	p.mu.Unlock()
	p.Done("")
	want := "\r\x1b[Ktf: installing terraform 1.11.4" + "\r\x1b[Ktf: installing terraform 1.11.4 (3s)" + "\r\x1b[K"
	if out.String() != want || strings.Contains(out.String(), "\n") {
		t.Fatalf("%q\nwant %q", out.String(), want)
	}
}
