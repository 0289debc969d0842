package wrapper

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// TrustFileName is the list of trusted working-directory files, beside the
// user config file: one `<sha256 hex> <absolute path>` per line.
const TrustFileName = "trusted"

// RestrictedKeys pick the executable tf runs (or which tool, flavor) or
// lower its safety: a working-directory .tfguard (repository content) sets
// them only once the user has trusted that exact file with `tf guard
// trust`. The lifetime settings it may set only more carefully (see
// applyFile). Sorted.
func RestrictedKeys() []string {
	return []string{"ci", "flavor", "github_oidc_role", "preflight", "recovery", "report_file", "terraform"}
}

func isRestricted(key string) bool { return slices.Contains(RestrictedKeys(), key) }

// trustStorePath is the trust list beside the user config file, "" when
// there is no user config location.
func trustStorePath(userConfig string) string {
	if userConfig == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(userConfig), TrustFileName)
}

// fileDigest is the sha256 of a file's content and its absolute path.
func fileDigest(path string) (sum, abs string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(b)
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	return hex.EncodeToString(h[:]), abs, nil
}

// isTrusted says whether the file at path, as it is now, was trusted: its
// absolute path and content digest are in the store. A changed file is not.
func isTrusted(store, path string) bool {
	if store == "" {
		return false
	}
	sum, abs, err := fileDigest(path)
	if err != nil {
		return false
	}
	f, err := os.Open(store)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s, p, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok && s == sum && p == abs {
			return true
		}
	}
	return false
}

// trustFile records path's current content as trusted, replacing any
// earlier entry for the same path.
func trustFile(store, path string) (string, error) {
	if store == "" {
		return "", errors.New("no user config directory to keep the trust list in (set XDG_CONFIG_HOME)")
	}
	sum, abs, err := fileDigest(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var keep []string
	if b, err := os.ReadFile(store); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if _, p, ok := strings.Cut(strings.TrimSpace(line), " "); ok && p != abs {
				keep = append(keep, strings.TrimSpace(line))
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", store, err)
	}
	keep = append(keep, sum+" "+abs)
	if err := os.MkdirAll(filepath.Dir(store), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(store), err)
	}
	tmp := store + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, store); err != nil {
		return "", fmt.Errorf("write %s: %w", store, err)
	}
	return abs, nil
}

// untrustedMessage is the line tf prints when an untrusted working-directory
// file sets a restricted key.
func untrustedMessage(where, key, file, userFile string) string {
	return fmt.Sprintf("%s sets %s, which a working-directory file may set only once you trust it; ignored. "+
		"Read the file, then run `tf guard trust %s` to use it as it is now, or put the setting in %s", where, key, file, ownConfigPlace(userFile, key))
}

// trustCommand is `tf guard trust [FILE]`.
func trustCommand() *cli.Command {
	return &cli.Command{
		Name:      "trust",
		Usage:     "let a working-directory .tfguard set " + strings.Join(RestrictedKeys(), ", ") + " (this exact content only)",
		ArgsUsage: "[FILE (default ./" + WorkDirConfigName + ")]",
		Action: func(c *cli.Context) error {
			s := SessionFrom(c)
			if c.NArg() > 1 {
				return cli.Exit("tf guard trust: one file at most; see `tf guard help trust`", ExitUsage)
			}
			path := filepath.Join(s.Cwd, WorkDirConfigName)
			if c.NArg() == 1 {
				path = c.Args().First()
			}
			abs, err := trustFile(trustStorePath(UserConfigPath(s.Process.getenv)), path)
			if err != nil {
				return cli.Exit("tf guard trust: "+err.Error(), 1)
			}
			fmt.Fprintf(c.App.Writer, "trusted %s as it is now; if it changes, tf ignores its %s settings again until you trust it again\n",
				abs, strings.Join(RestrictedKeys(), ", "))
			return nil
		},
	}
}
