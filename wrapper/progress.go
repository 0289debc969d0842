package wrapper

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress tells a person what tf is waiting for. At a terminal it keeps
// one line up to date (what, and for how long, rewritten every second);
// elsewhere (CI, a log file) it writes one plain line per step and no
// control characters.
type progress struct {
	w    io.Writer
	live bool
	now  func() time.Time
	tick time.Duration

	mu      sync.Mutex
	msg     string
	started time.Time
	shown   bool          // live: a line is on screen
	stop    chan struct{} // live: stops the ticker
	stopped chan struct{}
}

// newProgress writes to w; live when w is a terminal a person watches.
func newProgress(w io.Writer, live bool, now func() time.Time) *progress {
	if now == nil {
		now = time.Now
	}
	return &progress{w: w, live: live, now: now, tick: time.Second}
}

// Step says what tf is doing now. A repeated message is not printed again
// in plain mode.
func (p *progress) Step(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if msg == p.msg {
		return
	}
	p.msg = msg
	p.started = p.now()
	if !p.live {
		fmt.Fprintf(p.w, "tf: %s\n", msg)
		return
	}
	p.draw()
	if p.stop == nil {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.ticker(p.stop, p.stopped)
	}
}

// Done ends the progress: the live line is cleared, and msg (if any) is
// printed as a line of its own.
func (p *progress) Done(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	stop, stopped := p.stop, p.stopped
	p.stop = nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
	if msg != "" {
		fmt.Fprintf(p.w, "tf: %s\n", msg)
	}
	p.msg = ""
}

func (p *progress) ticker(stop, stopped chan struct{}) {
	defer close(stopped)
	t := time.NewTicker(p.tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		case <-stop:
			return
		}
	}
}

// draw rewrites the live line; p.mu is held.
func (p *progress) draw() {
	line := "tf: " + p.msg
	if s := int(p.now().Sub(p.started).Seconds()); s >= 1 {
		line += fmt.Sprintf(" (%ds)", s)
	}
	fmt.Fprint(p.w, "\r\x1b[K"+strings.ReplaceAll(line, "\n", " "))
	p.shown = true
}
