package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/creack/pty"
)

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
