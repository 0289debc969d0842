// Package tfdir reads what terraform itself records in a working directory:
// where its data directory is (TF_DATA_DIR), which workspace is selected
// (TF_WORKSPACE or <data dir>/environment) and the backend configuration
// `terraform init` wrote to <data dir>/terraform.tfstate. credguard and
// recovery both need these facts and must read them the same way.
package tfdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfguard/tf/envlist"
)

// Environment variables terraform reads for these facts.
const (
	EnvDataDir   = "TF_DATA_DIR"
	EnvWorkspace = "TF_WORKSPACE"
)

// DataDir is terraform's data directory for dir: TF_DATA_DIR (relative to
// dir) or dir/.terraform.
func DataDir(dir string, env []string) string {
	if d := envlist.Get(env, EnvDataDir); d != "" {
		if filepath.IsAbs(d) {
			return d
		}
		return filepath.Join(dir, d)
	}
	return filepath.Join(dir, ".terraform")
}

// Workspace is the selected workspace: TF_WORKSPACE, else the one recorded
// by `terraform workspace select`, else "default".
func Workspace(dir string, env []string) string {
	if w := envlist.Get(env, EnvWorkspace); w != "" {
		return w
	}
	if b, err := os.ReadFile(filepath.Join(DataDir(dir, env), "environment")); err == nil {
		if w := strings.TrimSpace(string(b)); w != "" {
			return w
		}
	}
	return "default"
}

// Backend is the backend block terraform init recorded.
type Backend struct {
	Type   string
	Config map[string]any
	// Path is the file it was read from.
	Path string
}

// String returns the string setting key ("" when absent or not a string).
func (b Backend) String(key string) string { s, _ := b.Config[key].(string); return s }

// Bool returns the boolean setting key (false when absent).
func (b Backend) Bool(key string) bool { v, _ := b.Config[key].(bool); return v }

// Strings returns the list-of-strings setting key.
func (b Backend) Strings(key string) []string {
	var out []string
	if l, ok := b.Config[key].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// Map returns the object setting key (nil when absent).
func (b Backend) Map(key string) map[string]any { m, _ := b.Config[key].(map[string]any); return m }

// ReadBackend reads the backend record of dir. ok is false when terraform
// has recorded none (never initialised, or the local backend by default).
func ReadBackend(dir string, env []string) (b Backend, ok bool, err error) {
	p := filepath.Join(DataDir(dir, env), "terraform.tfstate")
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Backend{}, false, nil
	}
	if err != nil {
		return Backend{}, false, fmt.Errorf("read backend configuration: %w", err)
	}
	var rec struct {
		Backend *struct {
			Type   string         `json:"type"`
			Config map[string]any `json:"config"`
		} `json:"backend"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Backend{}, false, fmt.Errorf("parse %s: %w (run `terraform init` again)", p, err)
	}
	if rec.Backend == nil || rec.Backend.Type == "" {
		return Backend{}, false, nil
	}
	return Backend{Type: rec.Backend.Type, Config: rec.Backend.Config, Path: p}, true, nil
}
