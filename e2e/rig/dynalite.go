package rig

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dynalite is one dynalite child process listening on 127.0.0.1.
type dynalite struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

// dynaliteCommand builds (but does not start) the dynalite command.
func dynaliteCommand(ctx context.Context, node, cli string, port int) *exec.Cmd {
	cmd := exec.CommandContext(ctx, node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.SysProcAttr = childSysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// startDynalite starts dynalite on a free port and waits until it listens.
// dynalite treats --port 0 as "default 4567", so the rig picks a free port
// itself and retries if another process grabbed it in between.
func startDynalite(ctx context.Context, node, cli string) (*dynalite, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		d, err := tryDynalite(ctx, node, cli, port)
		if err == nil {
			return d, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryDynalite(ctx context.Context, node, cli string, port int) (*dynalite, error) {
	d := &dynalite{done: make(chan struct{})}
	d.cmd = dynaliteCommand(context.WithoutCancel(ctx), node, cli, port)
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("dynalite stdout: %w", err)
	}
	d.cmd.Stderr = writerFunc(d.appendLog)
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite (%s): %w", cli, err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			d.appendLog([]byte(line + "\n"))
			if strings.HasPrefix(line, "Dynalite listening at: ") {
				select {
				case ready <- strings.TrimPrefix(line, "Dynalite listening at: "):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case u := <-ready:
		d.url = u
		return d, nil
	case <-d.done:
		return nil, fmt.Errorf("dynalite exited before listening on port %d: %s", port, d.output())
	case <-timer.C:
		d.stop()
		return nil, fmt.Errorf("dynalite did not listen on port %d within 15s: %s", port, d.output())
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
}

func (d *dynalite) appendLog(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log.Len() < 64<<10 {
		d.log.Write(p)
	}
	return len(p), nil
}

func (d *dynalite) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.TrimSpace(d.log.String())
}

// stop kills dynalite's process group and waits for it to be gone.
func (d *dynalite) stop() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	if err := killGroup(d.cmd); err != nil && !errors.Is(err, errProcessDone) {
		return fmt.Errorf("kill dynalite: %w", err)
	}
	select {
	case <-d.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("dynalite (pid %d) still running 5s after SIGKILL", d.cmd.Process.Pid)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
