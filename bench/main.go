// Command bench measures what tf costs on this machine, against bare
// terraform and against the cheapest possible Go wrapper, in one run:
//
//	go run ./bench            # prints a Markdown report for BENCHMARKS.md
//	go run ./bench -rt        # the timed processes at SCHED_FIFO (root): less noise on a busy machine
//
// Unguarded commands (tf execs terraform): every command runs alternately,
// -n rounds, as bare terraform, through a "shim" (an empty Go program that
// only execs terraform: the floor for any Go wrapper) and through tf linked
// as terraform first on PATH. Reported: medians and quartiles of the paired
// differences per round. Then tf's own start-up against an empty Go
// program, a guarded plan, the guard's preflight on a configuration shaped
// like terraform-aws-vpc (with a stand-in terraform, and whether it made any
// network call), binary sizes, and tf's peak RSS while a stand-in terraform
// writes -size bytes through it. Not part of the tests: timings depend on
// the machine. Linux (pty, /proc, strace if present).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// unguarded are the commands tf hands to terraform by exec, with the
// standard input each needs.
var unguarded = []struct {
	args  []string
	stdin string
}{
	{[]string{"version"}, ""},
	{[]string{"-help"}, ""},
	{[]string{"fmt", "-check"}, ""},
	{[]string{"validate"}, ""},
	{[]string{"output"}, ""},
	{[]string{"show"}, ""},
	{[]string{"providers"}, ""},
	{[]string{"graph"}, ""},
	{[]string{"get"}, ""},
	{[]string{"workspace", "show"}, ""},
	{[]string{"workspace", "list"}, ""},
	{[]string{"console"}, "1 + 1\n"},
}

// The preflight's configuration: a root module and 12 child modules of 8
// files each (106 .tf files, about 9,000 lines; terraform-aws-vpc's root
// alone is about 4,000).
const vpcChildren, vpcFilesPerModule = 12, 8

func run() error {
	n := flag.Int("n", 31, "rounds of each comparison (medians of the paired differences over these)")
	size := flag.Int64("size", 1<<30, "bytes the stand-in terraform writes through tf for the RSS figures (0: skip)")
	rt := flag.Bool("rt", false, "run the timed processes at SCHED_FIFO priority (needs root), to keep a busy machine's other work from delaying them")
	only := flag.String("only", "", "comma-separated sections to run: unguarded,startup,ladder,guarded,preflight,size,rss (default: all)")
	vpc := flag.String("write-vpc", "", "only write the terraform-aws-vpc-shaped configuration of the preflight figures into this directory, and exit")
	flag.Parse()
	if *vpc != "" {
		files, lines, err := writeVPCShape(*vpc, vpcChildren, vpcFilesPerModule)
		fmt.Printf("%s: %d .tf files, %d lines\n", *vpc, files, lines)
		return err
	}
	want := func(s string) bool {
		return *only == "" || strings.Contains(","+*only+",", ","+s+",")
	}

	real, err := exec.LookPath("terraform")
	if err != nil {
		return fmt.Errorf("terraform must be on PATH: %w", err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tf-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Builds first, so that nothing is compiled while timing.
	tfBin := filepath.Join(tmp, "tf")
	if out, err := exec.Command("go", "build", "-o", tfBin, "github.com/tfguard/tf").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	// The release build (.goreleaser.yaml) is static: CGO_ENABLED=0. A
	// plain `go build` or `go install` on a machine with a C compiler links
	// the C library for the net and os/user packages.
	staticBin := filepath.Join(tmp, "tf-static")
	static := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", staticBin, "github.com/tfguard/tf")
	static.Env = withEnv(os.Environ(), "CGO_ENABLED=0")
	if out, err := static.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (CGO_ENABLED=0): %v\n%s", err, out)
	}
	emptyBin, shimBin, err := buildFloors(tmp, real)
	if err != nil {
		return err
	}
	var ladderBins []string
	if want("ladder") {
		repo, err := os.Getwd()
		if err != nil {
			return err
		}
		if ladderBins, err = buildFloorLadder(tmp, repo); err != nil {
			return err
		}
	}

	linkDir := filepath.Join(tmp, "bin")
	shimDir := filepath.Join(tmp, "shim")
	for _, l := range [][2]string{{tfBin, linkDir}, {shimBin, shimDir}} {
		if err := os.Mkdir(l[1], 0o755); err != nil {
			return err
		}
		if err := os.Symlink(l[0], filepath.Join(l[1], "terraform")); err != nil {
			return err
		}
	}
	cliCfg := filepath.Join(tmp, "empty.tfrc")
	if err := os.WriteFile(cliCfg, nil, 0o644); err != nil {
		return err
	}
	base := withEnv(os.Environ(), "TF_CLI_CONFIG_FILE="+cliCfg, "CHECKPOINT_DISABLE=1", "XDG_CONFIG_HOME="+filepath.Join(tmp, "xdg"),
		"TF_IN_AUTOMATION=", "CI=", "GITHUB_ACTIONS=")
	tfEnv := withEnv(base, "PATH="+linkDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	work := filepath.Join(tmp, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte("resource \"terraform_data\" \"a\" {\n  input = \"x\"\n}\n\noutput \"a\" {\n  value = terraform_data.a.input\n}\n"), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-input=false"}, {"apply", "-input=false", "-auto-approve"}} {
		if out, err := cmdIn(work, base, real, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	bare := variant{"terraform", real, base}
	shim := variant{"shim", filepath.Join(shimDir, "terraform"), base}
	tf := variant{"tf", filepath.Join(linkDir, "terraform"), tfEnv}

	fmt.Printf("## Run of %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("Machine: %d CPUs (nproc), %s, %s/%s, %s; %s. Load average before: %s.\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), firstLine(real, "version"), loadAvg())
	if *rt {
		if err := realtime(true); err != nil {
			return fmt.Errorf("-rt: %w", err)
		}
		fmt.Println("Timed processes at SCHED_FIFO priority 10 (-rt).")
	}
	fmt.Printf("\n%d rounds per row, the order of the variants rotating each round. Differences are per round (paired), then summarised as median [p25, p75], in ms.\n\n", *n)

	if want("unguarded") {
		fmt.Println("### Unguarded commands: what tf adds before terraform runs")
		fmt.Println()
		fmt.Println("`shim` is an empty Go program that only execs terraform (the floor for any wrapper written in Go); `tf` is tf linked as `terraform` first on PATH.")
		fmt.Println()
		fmt.Println("| command | terraform (wall) | shim − terraform | tf − terraform | tf − shim | tf − terraform (CPU) |")
		fmt.Println("|---|---|---|---|---|---|")
		for _, c := range unguarded {
			runs, err := pairedRuns(work, []variant{bare, shim, tf}, *n, c.stdin, c.args...)
			if err != nil {
				return err
			}
			fmt.Printf("| `terraform %s` | %s | %s | %s | %s | %s |\n", strings.Join(c.args, " "), spread(walls(runs[0])),
				spread(diffs(runs[1], runs[0], wallOf)), spread(diffs(runs[2], runs[0], wallOf)),
				spread(diffs(runs[2], runs[1], wallOf)), spread(diffs(runs[2], runs[0], cpuOf)))
		}
		fmt.Println()
	}

	if want("startup") {
		empty := variant{"empty Go program", emptyBin, base}
		own := variant{"tf guard version", filepath.Join(linkDir, "terraform"), tfEnv}
		rel := variant{"tf guard version (release build)", staticBin, tfEnv}
		runs, err := pairedRuns(work, []variant{empty, own, rel}, *n, "", "guard", "version")
		if err != nil {
			return err
		}
		zero := make([]sample, len(runs[0]))
		fmt.Println("### tf's own start-up and exit, no terraform")
		fmt.Println()
		fmt.Println("Peak RSS is getrusage's: never below the bench's own (about 4 MiB), which a child shares until its exec.")
		fmt.Println()
		fmt.Println("| | wall | CPU | wall − empty Go program (paired) | peak RSS |")
		fmt.Println("|---|---|---|---|---|")
		fmt.Printf("| empty Go program | %s | %s | | %.1f MiB |\n", spread(walls(runs[0])), spread(diffs(runs[0], zero, cpuOf)), medianOf(runs[0], rssOf)/1024)
		fmt.Printf("| `tf guard version` (`go build`) | %s | %s | %s | %.1f MiB |\n", spread(walls(runs[1])), spread(diffs(runs[1], zero, cpuOf)), spread(diffs(runs[1], runs[0], wallOf)), medianOf(runs[1], rssOf)/1024)
		fmt.Printf("| `tf guard version` (release build: CGO_ENABLED=0, -trimpath, -s -w) | %s | %s | %s | %.1f MiB |\n\n", spread(walls(runs[2])), spread(diffs(runs[2], zero, cpuOf)), spread(diffs(runs[2], runs[0], wallOf)), medianOf(runs[2], rssOf)/1024)
	}

	if want("ladder") {
		if err := ladder(ladderBins, work, base, [][2]string{{"tf (`go build`)", tfBin}, {"tf (release build)", staticBin}}, *n); err != nil {
			return err
		}
	}

	if want("guarded") {
		fmt.Println("### A guarded command (tf stays in between: guard, relay, recovery's watch)")
		fmt.Println()
		fmt.Println("| command | terraform | tf − terraform |")
		fmt.Println("|---|---|---|")
		for _, args := range [][]string{{"plan", "-input=false", "-lock=false"}} {
			runs, err := pairedRuns(work, []variant{bare, tf}, *n, "", args...)
			if err != nil {
				return err
			}
			fmt.Printf("| `terraform %s` | %s | %s |\n", strings.Join(args, " "), spread(walls(runs[0])), spread(diffs(runs[1], runs[0], wallOf)))
		}
		fmt.Println()
	}

	if want("preflight") {
		if err := preflight(tmp, tfBin, base, *n); err != nil {
			return err
		}
	}
	if *rt {
		if err := realtime(false); err != nil {
			return err
		}
	}

	if want("size") {
		fmt.Println("### Binary size")
		fmt.Println()
		fmt.Println("| binary | bytes |")
		fmt.Println("|---|---|")
		for _, b := range [][2]string{{"tf (`go build`)", tfBin}, {"tf (release build)", staticBin}, {"shim", shimBin}, {"empty Go program", emptyBin}} {
			st, err := os.Stat(b[1])
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %d |\n", b[0], st.Size())
		}
		fmt.Println()
	}

	if want("rss") && *size > 0 {
		if err := rssSection(tmp, work, base, filepath.Join(linkDir, "terraform"), *size); err != nil {
			return err
		}
	}
	return nil
}

// buildFloors builds, in a module of its own, an empty Go program and the
// shim: a Go program that does nothing but exec the real terraform.
func buildFloors(tmp, real string) (empty, shim string, err error) {
	dir := filepath.Join(tmp, "floors")
	sources := map[string]string{
		"go.mod":        "module benchfloors\n\ngo 1.22\n",
		"empty/main.go": "package main\n\nfunc main() {}\n",
		"shim/main.go": fmt.Sprintf(`package main

import (
	"os"
	"syscall"
)

func main() {
	args := append([]string{%[1]q}, os.Args[1:]...)
	err := syscall.Exec(%[1]q, args, os.Environ())
	os.Stderr.WriteString(err.Error() + "\n")
	os.Exit(1)
}
`, real),
	}
	for name, text := range sources {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return "", "", err
		}
	}
	empty, shim = filepath.Join(tmp, "empty"), filepath.Join(tmp, "shimbin")
	for _, b := range [][2]string{{"./empty", empty}, {"./shim", shim}} {
		c := exec.Command("go", "build", "-o", b[1], b[0])
		c.Dir, c.Env = dir, withEnv(os.Environ(), "GOWORK=off", "GOFLAGS=")
		if out, err := c.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", b[0], err, out)
		}
	}
	return empty, shim, nil
}

// preflight measures the guard's own work before a guarded command on a
// configuration shaped like terraform-aws-vpc, with a stand-in terraform
// that exits at once: tf plan (guarded) against tf version (exec'd), paired.
// The credentials are environment session keys whose expiry is hours away,
// so nothing needs renewing; with strace on PATH it also counts the
// network connections tf opened.
func preflight(tmp, tfBin string, base []string, n int) error {
	dir := filepath.Join(tmp, "vpc")
	files, lines, err := writeVPCShape(dir, vpcChildren, vpcFilesPerModule)
	if err != nil {
		return err
	}
	standIn := filepath.Join(tmp, "standin-terraform")
	if err := os.WriteFile(standIn, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		return err
	}
	env := withEnv(base, "TFGUARD_TERRAFORM="+standIn,
		"AWS_ACCESS_KEY_ID=ASIABENCHBENCHBENCH0", "AWS_SECRET_ACCESS_KEY=bench", "AWS_SESSION_TOKEN=bench",
		"AWS_CREDENTIAL_EXPIRATION="+time.Now().Add(8*time.Hour).UTC().Format(time.RFC3339),
		"AWS_PROFILE=", "AWS_CONFIG_FILE="+filepath.Join(tmp, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "no-aws-credentials"))
	v := variant{"tf version", tfBin, env}
	p := variant{"tf plan", tfBin, env}
	// Both variants take the same arguments in pairedRuns; the plan's
	// differ, so run them as two variants with a wrapper of args.
	var pv, pp []sample
	for r := 0; r < n; r++ {
		order := []bool{r%2 == 0, r%2 != 0}
		for _, plan := range order {
			var s sample
			var err error
			if plan {
				s, err = timeOne(dir, p, "", "plan", "-input=false")
				pp = append(pp, s)
			} else {
				s, err = timeOne(dir, v, "", "version")
				pv = append(pv, s)
			}
			if err != nil {
				return err
			}
		}
	}
	check, err := pairedRuns(dir, []variant{{"tf guard check", tfBin, env}}, n, "", "guard", "check", "--command", "plan")
	if err != nil {
		return err
	}
	fmt.Printf("### The guard's preflight on a configuration of %d .tf files (%d lines) shaped like terraform-aws-vpc\n\n", files, lines)
	fmt.Println("Stand-in terraform (exits at once); environment session keys that expire in 8 hours, so nothing needs renewing.")
	fmt.Println()
	fmt.Println("| | wall |")
	fmt.Println("|---|---|")
	fmt.Printf("| `tf version` (exec'd) | %s |\n", spread(walls(pv)))
	fmt.Printf("| `tf plan` (guarded) | %s |\n", spread(walls(pp)))
	fmt.Printf("| preflight and guarded run's own work: plan − version (paired) | %s |\n", spread(diffs(pp, pv, wallOf)))
	fmt.Printf("| `tf guard check --command plan` | %s |\n", spread(walls(check[0])))
	fmt.Println()
	if st, err := exec.LookPath("strace"); err == nil {
		trace := filepath.Join(tmp, "connect.trace")
		c := exec.Command(st, "-f", "-e", "trace=connect", "-o", trace, tfBin, "plan", "-input=false")
		c.Dir, c.Env = dir, env
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("strace tf plan: %v\n%s", err, out)
		}
		raw, err := os.ReadFile(trace)
		if err != nil {
			return err
		}
		var inet int
		for _, l := range bytes.Split(raw, []byte("\n")) {
			if bytes.Contains(l, []byte("connect(")) && (bytes.Contains(l, []byte("AF_INET")) || bytes.Contains(l, []byte("AF_INET6"))) {
				inet++
			}
		}
		fmt.Printf("Network connections opened by `tf plan` here (strace, connect to AF_INET/AF_INET6): %d.\n\n", inet)
	}
	return nil
}

func rssSection(tmp, work string, base []string, tfPath string, size int64) error {
	// stderr: zeros; stdout: nothing but lines tf keeps for recovery's
	// report, its worst case (it keeps them up to its bound, then drops all).
	scripts := map[string]string{
		"stderr": fmt.Sprintf("#!/bin/sh\nhead -c %d /dev/zero >&2\n", size),
		"stdout": fmt.Sprintf("#!/bin/sh\nyes 'module.m.aws_instance.web[\"k\"]: Creation complete after 1s [id=i-0123456789]' | head -c %d\n", size),
	}
	fmt.Printf("### Peak RSS of tf while its child writes %d MiB to stderr or stdout (`apply`, a guarded command)\n\n", size>>20)
	fmt.Println("| stream | tf's end | tf VmHWM | wall time | bytes relayed |")
	fmt.Println("|---|---|---|---|---|")
	for _, stream := range []string{"stderr", "stdout"} {
		writer := filepath.Join(tmp, "writer-"+stream)
		if err := os.WriteFile(writer, []byte(scripts[stream]), 0o755); err != nil {
			return err
		}
		env := withEnv(base, "TFGUARD_TERRAFORM="+writer)
		for _, mode := range []string{"pipe", "pty"} {
			hwm, wall, relayed, err := rssRun(work, env, tfPath, stream, mode)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %s | %.1f MiB | %.1f s | %d |\n", stream, mode, float64(hwm)/1024, wall.Seconds(), relayed)
		}
	}
	fmt.Println()
	return nil
}

func cmdIn(dir string, env []string, bin string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Dir, c.Env = dir, env
	return c
}

// withEnv is environ with each KEY=VALUE of set replacing any earlier
// KEY (an empty VALUE still sets it, to the empty string).
func withEnv(environ []string, set ...string) []string {
	out := make([]string, 0, len(environ)+len(set))
	drop := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}
