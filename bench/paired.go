package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// variant is one way of running a command: a binary and its environment.
type variant struct {
	name string
	bin  string
	env  []string
}

// sample is one timed run: wall time and the child's CPU time (user+sys),
// in milliseconds, and its peak RSS in KiB (after an exec: the larger of
// the two programs').
type sample struct{ wall, cpu, rssKiB float64 }

// pairedRuns runs args through every variant, rounds times, rotating which
// variant goes first in each round so that none profits from a warm cache
// or a quiet moment more than another. runs[v][r] is variant v in round r.
func pairedRuns(dir string, vs []variant, rounds int, stdin string, args ...string) ([][]sample, error) {
	runs := make([][]sample, len(vs))
	for r := 0; r < rounds; r++ {
		for k := range vs {
			i := (k + r) % len(vs)
			s, err := timeOne(dir, vs[i], stdin, args...)
			if err != nil {
				return nil, err
			}
			runs[i] = append(runs[i], s)
		}
	}
	return runs, nil
}

// timeOne runs one command to its end. Exit code 2 is accepted (plan's
// -detailed-exitcode, fmt -check with changes): what counts is that the
// variants agree, which the caller checks.
func timeOne(dir string, v variant, stdin string, args ...string) (sample, error) {
	c := exec.Command(v.bin, args...)
	c.Dir, c.Env = dir, v.env
	c.Stdout, c.Stderr = io.Discard, io.Discard
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		err = nil
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s %s %q: %w", v.name, v.bin, args, err)
	}
	var cpu time.Duration
	var rss float64
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rss = float64(ru.Maxrss)
	}
	return sample{wall: ms(wall), cpu: ms(cpu), rssKiB: rss}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// diffs is a[r]-b[r] for every round: the paired differences.
func diffs(a, b []sample, f func(sample) float64) []float64 {
	out := make([]float64, len(a))
	for r := range a {
		out[r] = f(a[r]) - f(b[r])
	}
	return out
}

func walls(xs []sample) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x.wall
	}
	return out
}

func wallOf(s sample) float64 { return s.wall }
func cpuOf(s sample) float64  { return s.cpu }
func rssOf(s sample) float64  { return s.rssKiB }

// medianOf is the median of f over xs.
func medianOf(xs []sample, f func(sample) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	return median(v)
}

// quantile of xs, p in [0,1], by linear interpolation between order
// statistics.
func quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := p * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

// spread is "median [p25, p75]" of xs.
func spread(xs []float64) string {
	return fmt.Sprintf("%.2f [%.2f, %.2f]", median(xs), quantile(xs, 0.25), quantile(xs, 0.75))
}

// loadAvg is /proc/loadavg's first three fields ("" where there is none).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
