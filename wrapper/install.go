package wrapper

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
)

// ReleasesInstaller downloads terraform from releases.hashicorp.com with
// hc-install (checksums and signature verified) into the cache. Concurrent tf
// processes installing the same version take turns on a lock file; the
// binary appears in dir only once complete.
type ReleasesInstaller struct {
	Timeout time.Duration // 0: 5 minutes
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
	if err := lock.Lock(); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Path(), err)
	}
	defer lock.Unlock()
	final := filepath.Join(dir, exeName(FlavorTerraform))
	if isExecutable(final) { // another tf finished it while we waited
		return final, nil
	}
	tmp, err := os.MkdirTemp(parent, ".install-"+v+"-")
	if err != nil {
		return "", fmt.Errorf("create temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ev := &releases.ExactVersion{Product: product.Terraform, Version: ver, InstallDir: tmp, Timeout: timeout}
	if _, err := ev.Install(ctx); err != nil {
		return "", fmt.Errorf("download terraform %s: %w", v, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("move the installed terraform into %s: %w", dir, err)
	}
	return final, nil
}
