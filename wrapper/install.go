package wrapper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hc-install/httpclient"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
)

// releasesHost is where hc-install downloads terraform from by default.
const releasesHost = "releases.hashicorp.com"

// ReleasesInstaller downloads terraform from releases.hashicorp.com with
// hc-install (checksums and signature verified) into the cache. Concurrent tf
// processes installing the same version take turns on a lock file; the
// binary appears in dir only once complete.
type ReleasesInstaller struct {
	Timeout   time.Duration // 0: 5 minutes
	Attempts  int           // tries per request; 0: 3
	RetryWait time.Duration // first wait before a retry, doubling; 0: 1 s
	BaseURL   string        // "" : releases.hashicorp.com (tests point it elsewhere)
	Progress  *progress     // nil: silent
}

var _ Installer = ReleasesInstaller{}

// Install installs exactly version into dir and returns the binary path.
func (r ReleasesInstaller) Install(ctx context.Context, v, dir string) (string, error) {
	ver, err := version.NewVersion(v)
	if err != nil {
		return "", fmt.Errorf("bad version %q: %w", v, err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	lock := flock.New(dir + ".lock")
	if locked, _ := lock.TryLock(); !locked {
		r.Progress.Step(fmt.Sprintf("waiting for another tf installing terraform %s into %s", v, dir))
		if err := lock.Lock(); err != nil {
			r.Progress.Done("")
			return "", fmt.Errorf("lock %s: %w", lock.Path(), err)
		}
	}
	defer lock.Unlock()
	final := filepath.Join(dir, exeName(FlavorTerraform))
	if isExecutable(final) { // another tf finished it while we waited
		r.Progress.Done("")
		return final, nil
	}
	tmp, err := os.MkdirTemp(parent, ".install-"+v+"-")
	if err != nil {
		r.Progress.Done("")
		return "", fmt.Errorf("create temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	host := r.host()
	r.Progress.Step(fmt.Sprintf("installing terraform %s from %s", v, host))
	ev := &releases.ExactVersion{Product: product.Terraform, Version: ver, InstallDir: tmp, Timeout: timeout,
		ApiBaseURL: r.BaseURL, HTTPClient: r.httpClient(v, host)}
	if _, err := ev.Install(ctx); err != nil {
		r.Progress.Done("")
		if noNetwork(err) {
			return "", fmt.Errorf("cannot reach %s (no network, or a proxy is needed: set HTTPS_PROXY): %w", host, err)
		}
		return "", fmt.Errorf("download terraform %s: %w", v, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		r.Progress.Done("")
		return "", fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		r.Progress.Done("")
		return "", fmt.Errorf("move the installed terraform into %s: %w", dir, err)
	}
	r.Progress.Done(fmt.Sprintf("installed terraform %s into %s", v, dir))
	return final, nil
}

func (r ReleasesInstaller) host() string {
	if r.BaseURL == "" {
		return releasesHost
	}
	if u, err := url.Parse(r.BaseURL); err == nil && u.Host != "" {
		return u.Host
	}
	return r.BaseURL
}

// httpClient is hc-install's client with tf's retry policy: a few tries
// with short waits, each retry shown ("retry k of n"), and none at all when
// the network is plainly absent (hc-install's own default would spend about
// 15 silent seconds retrying a failed DNS lookup).
func (r ReleasesInstaller) httpClient(v, host string) *http.Client {
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	wait := r.RetryWait
	if wait <= 0 {
		wait = time.Second
	}
	return httpclient.New(func(c *retryablehttp.Client) {
		c.RetryMax = attempts - 1
		c.RetryWaitMin, c.RetryWaitMax = wait, 4*wait
		c.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, retry int) {
			msg := fmt.Sprintf("installing terraform %s from %s: %s", v, host, path.Base(req.URL.Path))
			if retry > 0 {
				msg += fmt.Sprintf(" (retry %d of %d)", retry, attempts-1)
			}
			r.Progress.Step(msg)
		}
		c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if err != nil && noNetwork(err) {
				return false, nil
			}
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		}
	})
}

// noNetwork reports an error that retrying in a few seconds will not fix: the
// name does not resolve, or nothing answers at the address.
func noNetwork(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) && (dns.IsNotFound || !dns.IsTimeout) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}
