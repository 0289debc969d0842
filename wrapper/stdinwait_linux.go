package wrapper

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// readSyscall is the number of read(2) in /proc/PID/task/TID/syscall.
func readSyscall() string {
	switch runtime.GOARCH {
	case "amd64":
		return "0"
	case "arm64", "riscv64", "loong64":
		return "63"
	case "386", "arm":
		return "3"
	}
	return ""
}

// stdinWatch measures how long terraform sits blocked reading its standard
// input, which is where it waits at "Enter a value:" (the approval of an
// apply, a variable it asks for): the run-length history learns only from
// the time terraform worked. It looks, every 250 ms, at what each thread
// of tf's children is blocked in (/proc/PID/task/TID/syscall: read on
// descriptor 0), so nothing of terraform's stdin, stdout or terminal is
// touched. Where /proc cannot tell (another OS, no permission, a
// non-blocking stdin served by Go's poller), ok is false.
type stdinWatch struct {
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	waited time.Duration
	seen   bool // a child's syscall file could be read
}

const stdinWatchEvery = 250 * time.Millisecond

func startStdinWatch() *stdinWatch {
	w := &stdinWatch{stop: make(chan struct{}), done: make(chan struct{})}
	nr := readSyscall()
	if nr == "" {
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(stdinWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			waiting, readable := childrenReadStdin(nr)
			w.mu.Lock()
			w.seen = w.seen || readable
			if waiting {
				w.waited += stdinWatchEvery
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// Stop ends the watch and returns the time terraform waited for input;
// ok is false when it could not be observed.
func (w *stdinWatch) Stop() (time.Duration, bool) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waited, w.seen
}

// childrenReadStdin reports whether a thread of one of tf's children is
// blocked in read(0, ...); readable says whether any could be looked at.
func childrenReadStdin(nr string) (waiting, readable bool) {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, tf := range tasks {
		b, err := os.ReadFile(tf)
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(b)) {
			threads, _ := filepath.Glob("/proc/" + pid + "/task/*/syscall")
			for _, th := range threads {
				s, err := os.ReadFile(th)
				if err != nil {
					continue
				}
				readable = true
				f := strings.Fields(string(s))
				if len(f) >= 2 && f[0] == nr && (f[1] == "0x0" || f[1] == "0") {
					waiting = true
				}
			}
		}
	}
	return waiting, readable
}
