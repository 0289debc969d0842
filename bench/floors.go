package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// floor is a Go program that links some of tf's dependencies and does
// nothing: what linking them costs every start of tf, whether or not the
// command uses them (Go initialises every linked package before main).
type floor struct {
	name    string
	imports []string
}

// floors grow one group of tf's dependencies at a time, in the order a
// smaller tf could drop them.
var floors = []floor{
	{"empty Go program", nil},
	{"+ net/http, crypto/tls", []string{"net/http", "crypto/tls"}},
	{"+ aws-sdk-go-v2/config (links sts, sso, ssooidc, signin)", []string{"github.com/aws/aws-sdk-go-v2/config"}},
	{"+ service/s3", []string{"github.com/aws/aws-sdk-go-v2/service/s3"}},
	{"+ service/dynamodb", []string{"github.com/aws/aws-sdk-go-v2/service/dynamodb"}},
	{"+ urfave/cli/v2 (links blackfriday for its doc generator)", []string{"github.com/urfave/cli/v2"}},
	{"+ hc-install/releases (links ProtonMail openpgp)", []string{"github.com/hashicorp/hc-install/releases"}},
	{"+ hcl/v2, go-cty stdlib, terraform-exec", []string{"github.com/hashicorp/hcl/v2/hclparse", "github.com/zclconf/go-cty/cty/function/stdlib", "github.com/hashicorp/terraform-exec/tfexec"}},
}

// buildFloorLadder builds each floor in a module that requires exactly
// what tf's go.mod requires (a copy of it and its go.sum), so the
// versions are tf's.
func buildFloorLadder(tmp, repo string) ([]string, error) {
	dir := filepath.Join(tmp, "ladder")
	mod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		return nil, err
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		return nil, err
	}
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module benchladder"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		return nil, err
	}
	var bins, imports []string
	for i, f := range floors {
		imports = append(imports, f.imports...)
		var src strings.Builder
		src.WriteString("package main\n\nimport (\n")
		for _, p := range imports {
			fmt.Fprintf(&src, "\t_ %q\n", p)
		}
		src.WriteString(")\n\nfunc main() {}\n")
		pkg := fmt.Sprintf("f%d", i)
		if err := os.MkdirAll(filepath.Join(dir, pkg), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, pkg, "main.go"), []byte(src.String()), 0o644); err != nil {
			return nil, err
		}
		bin := filepath.Join(tmp, "floor-"+pkg)
		c := exec.Command("go", "build", "-o", bin, "./"+pkg)
		c.Dir, c.Env = dir, withEnv(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := c.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", f.name, err, out)
		}
		bins = append(bins, bin)
	}
	return bins, nil
}

// initBytes runs bin with GODEBUG=inittrace=1 and sums what package
// initialisation allocated.
func initBytes(bin string, env []string, args ...string) (bytesAlloc int64, packages int) {
	c := exec.Command(bin, args...)
	c.Env = withEnv(env, "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	_ = c.Run()
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 9 && f[0] == "init" && f[8] == "bytes," {
			b, _ := strconv.ParseInt(f[7], 10, 64)
			bytesAlloc += b
			packages++
		}
	}
	return bytesAlloc, packages
}

// ladder prints what each group of dependencies costs at start-up: the
// floors and tf itself, paired with the empty program.
func ladder(bins []string, dir string, base []string, tfBins [][2]string, n int) error {
	var vs []variant
	for i, b := range bins {
		vs = append(vs, variant{floors[i].name, b, base})
	}
	for _, b := range tfBins {
		vs = append(vs, variant{b[0], b[1], base})
	}
	// The floors ignore their arguments; tf prints its version.
	runs, err := pairedRuns(dir, vs, n, "", "guard", "version")
	if err != nil {
		return err
	}
	fmt.Println("### Where tf's start-up goes: programs that only link a part of tf's dependencies")
	fmt.Println()
	fmt.Println("Each row links what the rows above it link, plus its own packages, and does nothing (its main is empty); the last rows are tf itself running `tf guard version`. Go initialises every linked package before main, so the difference between rows is what a group of packages costs every start of tf, also for `terraform fmt`.")
	fmt.Println()
	fmt.Println("| program | bytes | init allocations | wall | − empty Go program (paired) | − row above (paired) |")
	fmt.Println("|---|---|---|---|---|---|")
	for i, v := range vs {
		st, err := os.Stat(v.bin)
		if err != nil {
			return err
		}
		alloc, _ := initBytes(v.bin, base, "guard", "version")
		above := ""
		if i > 0 {
			above = spread(diffs(runs[i], runs[i-1], wallOf))
		}
		fmt.Printf("| %s | %d | %d | %s | %s | %s |\n", v.name, st.Size(), alloc, spread(walls(runs[i])), spread(diffs(runs[i], runs[0], wallOf)), above)
	}
	fmt.Println()
	return nil
}
