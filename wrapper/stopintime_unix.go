//go:build unix

package wrapper

import (
	"fmt"
	"io"
	"sync"
	"syscall"
)

// interruptGate is the one way signals reach terraform from tf. terraform
// treats SIGINT and SIGTERM alike and a second one as "exit now, without
// saving the state or releasing the lock", so only the first of them
// reaches it, whoever sends it: a signal tf receives (a CI runner's cancel
// sequence sends SIGINT, then SIGTERM 7.5 s later) or tf's own stop in
// time. Other signals (SIGHUP, SIGQUIT) pass as before, once per receipt.
type interruptGate struct {
	mu   sync.Mutex
	pid  int
	out  io.Writer
	sent string // what delivered terraform's interrupt; "" none yet
}

func isInterrupt(s syscall.Signal) bool { return s == syscall.SIGINT || s == syscall.SIGTERM }

// forward passes a signal tf received on to terraform, unless it is a
// second interrupt.
func (g *interruptGate) forward(s syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if isInterrupt(s) {
		if g.sent != "" {
			fmt.Fprintf(g.out, "tf: %s not passed on: terraform already got an interrupt (%s) and is finishing what is in flight; a second one would make it exit at once, without saving the state or releasing the lock\n", signalName(s), g.sent)
			return
		}
		g.sent = signalName(s) + " received by tf"
	}
	_ = syscall.Kill(g.pid, s)
}

// interrupt sends terraform tf's own interrupt, unless it already got one;
// it reports whether it did.
func (g *interruptGate) interrupt(by string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sent != "" {
		return false
	}
	g.sent = by
	_ = syscall.Kill(g.pid, syscall.SIGINT)
	return true
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return s.String()
}

// withStop adds the stop watch to a sink of terraform's stdout.
func withStop(w io.Writer, s *stopInTime) io.Writer {
	if s == nil {
		return w
	}
	return io.MultiWriter(w, s)
}
