package main

// Every command tf only hands to terraform (version, fmt, validate, ...)
// still pays for the initialisation of every package linked into tf: Go
// runs all of them before main. These tests keep that cost from growing
// unnoticed. They measure work, not time (no timed assertions): which
// packages are linked, and how many bytes package initialisation
// allocates, which is deterministic for a given set of dependencies.
// BENCHMARKS.md says where the start-up time goes and how `go run ./bench`
// measures it.

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// awsServices are the AWS service clients tf may link: S3 and DynamoDB
// (recovery reads and takes the state lock), STS, SSO and SSO OIDC (the
// guard), and what the SDK's shared-config loader links itself (signin,
// for console-login credentials). Each service client carries an endpoint
// table and, in the versions go.mod names, schemas built at init: 80 to
// 670 KB allocated on every start of tf, including every `terraform fmt`.
var awsServices = map[string]bool{
	"s3": true, "dynamodb": true, "sts": true, "sso": true, "ssooidc": true, "signin": true,
}

// initBudget bounds the bytes all package initialisation allocates in tf
// (1,911,816 with the dependencies of December 2026, of which DynamoDB's
// schemas are 587 KB and blackfriday, linked by urfave/cli's doc generator,
// 214 KB). Page faults on this fresh heap are a large part of tf's start-up
// (see BENCHMARKS.md): a change that goes over this is a change that makes
// every unguarded command slower, and should be measured with `go run
// ./bench` before the budget is raised.
const initBudget = 2_000_000

// ownInitBudget bounds what each of tf's own packages allocates at init:
// package-level regexps, tables and templates belong in functions or
// sync.OnceValue, built on the paths that use them.
const ownInitBudget = 16 << 10

func TestStartupLinksOnlyTheAWSServicesItUses(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	seen := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go/") {
			t.Errorf("tf links the AWS SDK v1 (%s): its init is far heavier than v2's; use aws-sdk-go-v2", p)
		}
		rest, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
		if !ok {
			continue
		}
		svc, _, _ := strings.Cut(rest, "/")
		if svc == "internal" {
			continue
		}
		if !seen[svc] && !awsServices[svc] {
			t.Errorf("tf links the AWS service client %s (%s): its endpoint table and schemas are built at every start of tf, also for `terraform fmt`; measure with `go run ./bench` and add it to awsServices only if a guarded path needs it", svc, p)
		}
		seen[svc] = true
	}
	if !seen["s3"] || !seen["sts"] {
		t.Fatalf("go list -deps found no s3 or sts client; the list is not what this test expects:\n%s", out)
	}
}

func TestStartupInitAllocations(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tf")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := t.TempDir()
	c := exec.Command(bin, "guard", "version")
	c.Dir = home
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GODEBUG" && k != "HOME" && !strings.HasPrefix(k, "TFGUARD_") && k != "XDG_CONFIG_HOME" {
			env = append(env, kv)
		}
	}
	c.Env = append(env, "GODEBUG=inittrace=1", "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if out, err := c.Output(); err != nil || !strings.HasPrefix(string(out), "tf ") {
		t.Fatalf("tf guard version: %v, stdout %q, stderr:\n%s", err, out, stderr.String())
	}
	inits, err := parseInitTrace(stderr.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inits["runtime"]; !ok || len(inits) < 50 {
		t.Fatalf("GODEBUG=inittrace=1 printed %d packages; expected the runtime's and many more:\n%s", len(inits), stderr.String())
	}
	var total int64
	var own []string
	for pkg, b := range inits {
		total += b
		if strings.HasPrefix(pkg, "github.com/tfguard/tf") {
			own = append(own, pkg)
			if b > ownInitBudget {
				t.Errorf("package %s allocates %d bytes at init (budget %d): move package-level work into the functions that need it", pkg, b, ownInitBudget)
			}
		}
	}
	if len(own) == 0 {
		t.Fatalf("no init line for tf's own packages in:\n%s", stderr.String())
	}
	if total > initBudget {
		t.Errorf("package initialisation allocates %d bytes, budget %d; largest:\n%s", total, initBudget, largest(inits, 12))
	}
	t.Logf("package initialisation: %d packages, %d bytes; largest:\n%s", len(inits), total, largest(inits, 8))
}

// parseInitTrace reads GODEBUG=inittrace=1 lines
// ("init PKG @T ms, D ms clock, B bytes, A allocs") into bytes per package.
func parseInitTrace(trace []byte) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(trace))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		b, err := strconv.ParseInt(f[7], 10, 64)
		if err != nil {
			return nil, err
		}
		out[f[1]] += b
	}
	return out, sc.Err()
}

func largest(m map[string]int64, n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var b strings.Builder
	for i := 0; i < n && i < len(all); i++ {
		b.WriteString("  " + strconv.FormatInt(all[i].v, 10) + " " + all[i].k + "\n")
	}
	return b.String()
}
