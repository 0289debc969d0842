// Command bench compares tf with bare terraform on this machine:
//
//	go run ./bench            # prints a Markdown report for BENCHMARKS.md
//
// It runs `terraform version` (exec'd by tf), `terraform plan` and
// `terraform apply` (guarded: tf stays in between, and relays an apply's
// stdout) alternately through tf (linked as terraform first on PATH) and bare
// terraform, -n times each, and reports the medians and their ratio. Then it
// measures tf's peak RSS while a stand-in "terraform" writes -size bytes to
// stderr, then to stdout, through a pipe and through a pty. Not part of the tests: timings depend on the machine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/creack/pty"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 21, "runs of each command per binary (median of these)")
	size := flag.Int64("size", 1<<30, "bytes the stand-in terraform writes to stderr")
	flag.Parse()

	real, err := exec.LookPath("terraform")
	if err != nil {
		return fmt.Errorf("terraform must be on PATH: %w", err)
	}
	tmp, err := os.MkdirTemp("", "tf-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tfBin := filepath.Join(tmp, "tf")
	if out, err := exec.Command("go", "build", "-o", tfBin, "github.com/tfguard/tf").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	linkDir := filepath.Join(tmp, "bin")
	os.Mkdir(linkDir, 0o755)
	if err := os.Symlink(tfBin, filepath.Join(linkDir, "terraform")); err != nil {
		return err
	}
	cliCfg := filepath.Join(tmp, "empty.tfrc")
	os.WriteFile(cliCfg, nil, 0o644)
	base := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliCfg, "CHECKPOINT_DISABLE=1", "XDG_CONFIG_HOME="+filepath.Join(tmp, "xdg"))
	work := filepath.Join(tmp, "work")
	os.Mkdir(work, 0o755)
	os.WriteFile(filepath.Join(work, "main.tf"), []byte("resource \"terraform_data\" \"a\" {\n  input = \"x\"\n}\n"), 0o644)
	if out, err := cmdIn(work, base, real, "init", "-input=false").CombinedOutput(); err != nil {
		return fmt.Errorf("init: %v\n%s", err, out)
	}
	tfPath := filepath.Join(linkDir, "terraform")

	fmt.Printf("## Benchmark %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("Machine: %d CPUs (nproc), %s, %s/%s, %s; %s\n\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), firstLine(real, "version"))
	fmt.Printf("Paired runs, alternating which goes first, %d of each; wall time from start to exit.\n\n", *n)
	fmt.Println("| command | terraform median | tf median | ratio of medians | median of paired ratios |")
	fmt.Println("|---|---|---|---|---|")
	for _, args := range [][]string{{"version"}, {"plan", "-input=false", "-lock=false"},
		// an apply that always has work to do; through tf its stdout is relayed
		{"apply", "-input=false", "-auto-approve", "-lock=false", "-replace=terraform_data.a"}} {
		var bare, tf, ratios []float64
		for i := 0; i < *n; i++ {
			order := []bool{false, true}
			if i%2 == 1 {
				order = []bool{true, false}
			}
			var b, t float64
			for _, useTF := range order {
				bin := real
				if useTF {
					bin = tfPath
				}
				d, err := timeRun(work, base, bin, args...)
				if err != nil {
					return err
				}
				if useTF {
					t = d
				} else {
					b = d
				}
			}
			bare, tf, ratios = append(bare, b), append(tf, t), append(ratios, t/b)
		}
		mb, mt := median(bare), median(tf)
		fmt.Printf("| `terraform %s` | %.1f ms | %.1f ms | %.3f | %.3f |\n", strings.Join(args, " "), mb*1000, mt*1000, mt/mb, median(ratios))
	}

	var own []float64
	for i := 0; i < *n; i++ {
		d, err := timeRun(work, base, tfPath, "guard", "version")
		if err != nil {
			return err
		}
		own = append(own, d)
	}
	fmt.Printf("\n`tf guard version` (tf's own start-up and exit, no terraform): median %.1f ms.\n", median(own)*1000)

	// stderr: zeros; stdout: nothing but lines tf keeps for recovery's
	// report, its worst case (it keeps them up to its bound, then drops all).
	scripts := map[string]string{
		"stderr": fmt.Sprintf("#!/bin/sh\nhead -c %d /dev/zero >&2\n", *size),
		"stdout": fmt.Sprintf("#!/bin/sh\nyes 'module.m.aws_instance.web[\"k\"]: Creation complete after 1s [id=i-0123456789]' | head -c %d\n", *size),
	}
	fmt.Printf("\nPeak RSS of tf while its child writes %d MiB to stderr or stdout (`apply`, a guarded command):\n\n", *size>>20)
	fmt.Println("| stream | tf's end | tf VmHWM | wall time | bytes relayed |")
	fmt.Println("|---|---|---|---|---|")
	for _, stream := range []string{"stderr", "stdout"} {
		writer := filepath.Join(tmp, "writer-"+stream)
		if err := os.WriteFile(writer, []byte(scripts[stream]), 0o755); err != nil {
			return err
		}
		env := append(append([]string{}, base...), "TFGUARD_TERRAFORM="+writer)
		for _, mode := range []string{"pipe", "pty"} {
			hwm, wall, relayed, err := rssRun(work, env, tfPath, stream, mode)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %s | %.1f MiB | %.1f s | %d |\n", stream, mode, float64(hwm)/1024, wall.Seconds(), relayed)
		}
	}
	return nil
}

func cmdIn(dir string, env []string, bin string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Dir, c.Env = dir, env
	return c
}

func timeRun(dir string, env []string, bin string, args ...string) (float64, error) {
	c := cmdIn(dir, env, bin, args...)
	c.Stdout, c.Stderr = io.Discard, io.Discard
	start := time.Now()
	err := c.Run()
	d := time.Since(start).Seconds()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		err = nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", bin, args, err)
	}
	return d, nil
}

// rssRun runs tf apply with the writer as terraform, its stream (stderr or
// stdout) to a pipe or a pty that is drained, and samples tf's VmHWM (peak
// RSS, KiB) until exit.
func rssRun(dir string, env []string, tf, stream, mode string) (hwmKiB int64, wall time.Duration, relayed int64, err error) {
	c := cmdIn(dir, env, tf, "apply")
	set := func(f *os.File) {
		if stream == "stdout" {
			c.Stdout = f
		} else {
			c.Stderr = f
		}
	}
	var drain io.Reader
	var closer io.Closer
	var childEnd *os.File // closed once tf has it, so the drain ends when tf exits
	switch mode {
	case "pipe":
		r, w, perr := os.Pipe()
		if perr != nil {
			return 0, 0, 0, perr
		}
		set(w)
		childEnd = w
		drain, closer = r, r
	case "pty":
		m, s, perr := pty.Open()
		if perr != nil {
			return 0, 0, 0, perr
		}
		set(s)
		childEnd = s
		drain, closer = m, m
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 256<<10)
		for {
			k, rerr := drain.Read(buf)
			n.Add(int64(k))
			if rerr != nil {
				close(done)
				return
			}
		}
	}()
	start := time.Now()
	if err := c.Start(); err != nil {
		return 0, 0, 0, err
	}
	childEnd.Close()
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	status := filepath.Join("/proc", strconv.Itoa(c.Process.Pid), "status")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case werr := <-exited:
			wall = time.Since(start)
			closer.Close()
			<-done
			if werr != nil {
				return 0, 0, 0, fmt.Errorf("tf apply (%s): %w", mode, werr)
			}
			return hwmKiB, wall, n.Load(), nil
		case <-tick.C:
			if v := vmHWM(status); v > hwmKiB {
				hwmKiB = v
			}
		}
	}
}

func vmHWM(status string) int64 {
	f, err := os.Open(status)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func firstLine(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).Output()
	l, _, _ := strings.Cut(string(out), "\n")
	return l
}
