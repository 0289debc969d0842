//go:build unix

package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/tfguard/tf/tfout"
)

// forwardedSignals are the signals tf passes on to terraform, once per
// receipt. Ctrl-C at a terminal never reaches tf: terraform is the
// foreground process group, so the terminal delivers it to terraform only.
func forwardedSignals() []os.Signal {
	return []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
}

const (
	drainIdle      = 2 * time.Second        // after terraform exits, stop relaying after this much silence
	winsizeRefresh = 250 * time.Millisecond // tf gets no SIGWINCH while terraform owns the terminal
)

// runGuarded runs a guarded command: Before, terraform as a child, After.
func runGuarded(ctx context.Context, p Process, hooks Hooks, inv *Invocation) int {
	sigs := make(chan os.Signal, 32)
	var caught []os.Signal
	for _, s := range forwardedSignals() {
		if !signal.Ignored(s) { // nohup'd: keep it ignored, for terraform too
			caught = append(caught, s)
		}
	}
	signal.Notify(sigs, append(caught, syscall.SIGWINCH)...)
	defer signal.Stop(sigs)

	beforeCtx, cancel := context.WithCancel(ctx)
	var stoppedBy atomic.Value
	beforeDone := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case s := <-sigs:
				if s != syscall.SIGWINCH {
					stoppedBy.Store(s)
					cancel()
				}
			case <-beforeDone:
				return
			}
		}
	}()
	err := hooks.Guard.Before(beforeCtx, inv)
	close(beforeDone)
	// Wait for the watcher: a signal it took in the same instant must stop
	// tf here, not vanish (the child would never get it).
	<-watched
	cancel()
	if s, ok := stoppedBy.Load().(syscall.Signal); ok {
		abort(hooks)
		if err != nil {
			fail(p.Stderr, err)
		}
		return 128 + int(s)
	}
	if err != nil {
		return fail(p.Stderr, withExitCode(err, ExitPreflight))
	}

	res, err := runChild(p, inv, sigs)
	if err != nil {
		abort(hooks)
		return fail(p.Stderr, err)
	}
	// From here on a signal never kills tf: it cancels After's context, and
	// After (recovery) finishes the step it is in and stops there.
	afterCtx, stopAfter := context.WithCancel(ctx)
	defer stopAfter()
	afterDone := make(chan struct{})
	defer close(afterDone)
	go func() {
		for {
			select {
			case s := <-sigs:
				if s != syscall.SIGWINCH {
					stopAfter()
				}
			case <-afterDone:
				return
			}
		}
	}()
	return hooks.Guard.After(afterCtx, inv, res)
}

// outputRelay is one of terraform's output streams passing through tf: tf
// reads what terraform writes to childEnd from relay and writes it to dst
// as it comes.
type outputRelay struct {
	dst      *os.File // the real stream
	relay    *os.File // tf's end: pty master or pipe (non-blocking); nil with a spool
	spool    *spool   // the spool, when dst is not a terminal (Linux)
	childEnd *os.File // terraform's end, closed in tf once terraform started
	isPTY    bool
	done     chan struct{}
}

// openRelay gives terraform a new pty in place of dst when dst is a
// terminal (so it still sees a terminal of the same size), else a spool
// file, or a pipe where there is no spool.
func openRelay(dst *os.File) (*outputRelay, error) {
	o := &outputRelay{dst: dst, done: make(chan struct{})}
	if !term.IsTerminal(int(fdOf(dst))) {
		if s, err := openSpool(""); err == nil {
			o.spool, o.childEnd = s, s.w
			return o, nil
		}
	}
	relay, childEnd, isPTY, err := openOutput(dst)
	if err != nil {
		return nil, err
	}
	o.relay, o.childEnd, o.isPTY = relay, childEnd, isPTY
	return o, nil
}

// start relays until terraform and everything that inherited the stream
// closed it, or until drainAll (see there).
func (o *outputRelay) start(sink io.Writer, exited *atomic.Bool) {
	go func() {
		defer close(o.done)
		if o.spool != nil {
			o.spool.run(o.dst, sink)
			return
		}
		relayStream(o.relay, o.dst, sink, exited)
	}()
}

// close releases tf's end.
func (o *outputRelay) close() {
	if o == nil {
		return
	}
	if o.spool != nil {
		o.spool.close()
		return
	}
	o.relay.Close()
}

// drainAll waits for everything terraform wrote to reach the real streams:
// a spool up to its end as terraform left it; a pty or pipe until it has
// been silent for drainIdle (a background process may hold it open), the
// idle periods running at the same time.
func drainAll(relays ...*outputRelay) {
	for _, o := range relays {
		switch {
		case o == nil:
		case o.spool != nil:
			o.spool.exited()
		default:
			_ = o.relay.SetReadDeadline(time.Now().Add(drainIdle))
		}
	}
	for _, o := range relays {
		if o != nil {
			<-o.done
		}
	}
}

func (o *outputRelay) refreshWinsize() {
	if o != nil && o.isPTY {
		copyWinsize(o.dst, o.relay)
	}
}

func openOutput(dst *os.File) (*os.File, *os.File, bool, error) {
	if term.IsTerminal(int(fdOf(dst))) {
		master, slave, err := pty.Open()
		if err != nil {
			return nil, nil, false, err
		}
		// Raw: no \n -> \r\n rewriting, no echo, no signals from this pty.
		if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
			master.Close()
			slave.Close()
			return nil, nil, false, err
		}
		copyWinsize(dst, master)
		m, err := pollable(master)
		if err != nil {
			slave.Close()
			return nil, nil, false, err
		}
		return m, slave, true, nil
	}
	r, w, err := os.Pipe()
	return r, w, false, err
}

// pollable returns a non-blocking duplicate of f (closing f) so that read
// deadlines work; creack/pty hands out blocking files.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func winsize(f *os.File) (*unix.Winsize, error) {
	var ws *unix.Winsize
	var ierr error
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := sc.Control(func(fd uintptr) { ws, ierr = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) }); err != nil {
		return nil, err
	}
	return ws, ierr
}

func setWinsize(f *os.File, ws *unix.Winsize) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := sc.Control(func(fd uintptr) { ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	return ierr
}

// copyWinsize sets dst's window size to src's; reports whether it changed.
func copyWinsize(src, dst *os.File) bool {
	ws, err := winsize(src)
	if err != nil {
		return false
	}
	old, err := winsize(dst)
	if err == nil && *old == *ws {
		return false
	}
	return setWinsize(dst, ws) == nil
}

// jobTerminal is the controlling terminal tf shares with its shell, when it
// has one, and what tf needs to hand it to terraform and back.
type jobTerminal struct {
	fd   int
	pgrp int // tf's own process group
}

// controllingTerminal returns the first of stdin, stdout, stderr that is
// tf's controlling terminal, or nil (CI, pipes, cron).
func controllingTerminal(files ...*os.File) *jobTerminal {
	for _, f := range files {
		if f == nil {
			continue
		}
		fd := int(fdOf(f))
		if !term.IsTerminal(fd) {
			continue
		}
		if _, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err != nil {
			continue // a terminal, but not our controlling one
		}
		return &jobTerminal{fd: fd, pgrp: unix.Getpgrp()}
	}
	return nil
}

func (t *jobTerminal) foreground() int {
	pg, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	if err != nil {
		return -1
	}
	return pg
}

// give makes pgrp the terminal's foreground group. The caller has SIGTTOU
// ignored (tf may be in the background when it does it).
func (t *jobTerminal) give(pgrp int) {
	_ = unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp)
}

// sameDestination says whether a and b are one destination: the same open
// file, terminal, pipe or socket (by device and inode). For a regular file
// opened twice (`>log 2>log`) this merges what terraform alone would let
// clobber itself; a terminal reached through two descriptions is still one
// screen.
func sameDestination(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	var sa, sb unix.Stat_t
	if unix.Fstat(int(fdOf(a)), &sa) != nil || unix.Fstat(int(fdOf(b)), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// readsStdout says whether tf reads terraform's stdout on its way: only for
// the commands whose failure recovery reports on (what the plan was, which
// changes completed), unless read_stdout is off. Every other command's
// stdout goes straight to the real one.
func readsStdout(inv *Invocation) bool {
	w := inv.Command.Words
	return !inv.Config.DirectStdout && len(w) > 0 && (w[0] == "apply" || w[0] == "destroy")
}

// runChild starts terraform in its own process group and waits for it,
// relaying its stderr (and an apply's stdout), forwarding signals and doing
// a shell's job control.
func runChild(p Process, inv *Invocation, sigs <-chan os.Signal) (*Result, error) {
	errRelay, err := openRelay(p.Stderr)
	if err != nil {
		return nil, &ExecError{Path: inv.Terraform.Path, Err: err}
	}
	defer errRelay.close()
	stdout := fdOf(p.Stdout)
	// One destination for both (2>&1, one terminal): terraform gets one
	// relay for both, as it gets one file without tf, so that its writes
	// reach the destination in the order it made them. Two relays read by
	// two goroutines would reorder them.
	merged := !inv.Config.DirectStdout && sameDestination(p.Stdout, p.Stderr)
	if merged {
		stdout = errRelay.childEnd.Fd()
	}
	var outRelay *outputRelay
	if readsStdout(inv) && !merged {
		if outRelay, err = openRelay(p.Stdout); err != nil {
			errRelay.childEnd.Close()
			return nil, &ExecError{Path: inv.Terraform.Path, Err: err}
		}
		defer outRelay.close()
		stdout = outRelay.childEnd.Fd()
	}

	tty := controllingTerminal(p.Stdin, p.Stdout, p.Stderr)
	attr := &syscall.SysProcAttr{Setpgid: true}
	if tty != nil && tty.foreground() == tty.pgrp {
		// Like a shell: terraform's group becomes the foreground group, so
		// Ctrl-C, Ctrl-\ and Ctrl-Z from the terminal reach terraform only.
		attr.Foreground = true
		attr.Ctty = tty.fd
	}
	argv := append([]string{inv.Terraform.Path}, inv.Args...)
	res := &Result{Start: p.now()}
	pid, err := syscall.ForkExec(inv.Terraform.Path, argv, &syscall.ProcAttr{
		Env:   inv.Env,
		Files: []uintptr{fdOf(p.Stdin), stdout, errRelay.childEnd.Fd()},
		Sys:   attr,
	})
	errRelay.childEnd.Close()
	if outRelay != nil {
		outRelay.childEnd.Close()
	}
	if tty != nil {
		// Only now, with terraform already exec'd (an ignored signal would be
		// inherited): tf, in the background while terraform runs, may write
		// to the terminal (stty tostop) and hands the terminal back and forth.
		signal.Ignore(syscall.SIGTTOU)
		defer signal.Reset(syscall.SIGTTOU)
	}
	if err != nil {
		if attr.Foreground && tty.foreground() != tty.pgrp {
			tty.give(tty.pgrp)
		}
		return nil, &ExecError{Path: inv.Terraform.Path, Err: err}
	}

	inv.owner.TerraformStarted(pid)
	tail := newTailBuffer(DefaultTailSize)
	var exited atomic.Bool
	var kept *lineKeeper
	if readsStdout(inv) {
		kept = newLineKeeper(tfout.KeepProgressLine, DefaultKeptSize)
	}
	switch {
	case outRelay != nil:
		errRelay.start(tail, &exited)
		outRelay.start(withStop(withOwner(kept, inv.owner), inv.stop), &exited)
	case merged && kept != nil:
		// Both streams in one: the tail holds stdout too (recovery reads
		// combined output as it reads a CI log), the keeper stderr too.
		errRelay.start(withStop(withOwner(io.MultiWriter(tail, kept), inv.owner), inv.stop), &exited)
	case merged:
		errRelay.start(withStop(tail, inv.stop), &exited)
	default:
		errRelay.start(tail, &exited)
	}
	gate := &interruptGate{pid: pid, out: p.Stderr}
	stopTick := inv.stop.ticks(p.Stderr, attr.Foreground && outRelay == nil && !merged)

	stopAux := make(chan struct{})
	var aux sync.WaitGroup
	aux.Add(1)
	go func() {
		defer aux.Done()
		var tick <-chan time.Time
		if errRelay.isPTY || (outRelay != nil && outRelay.isPTY) {
			t := time.NewTicker(winsizeRefresh)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGWINCH {
					errRelay.refreshWinsize()
					outRelay.refreshWinsize()
					continue
				}
				// Each signal tf receives goes to terraform once, and only
				// the first interrupt; the terminal's own Ctrl-C never comes here.
				gate.forward(s.(syscall.Signal))
			case <-stopTick:
				if why, due := inv.stop.due(); due && gate.interrupt("sent by tf to stop in time") {
					fmt.Fprint(p.Stderr, interruptNote(why))
				}
			case <-tick:
				errRelay.refreshWinsize()
				outRelay.refreshWinsize()
			case <-stopAux:
				return
			}
		}
	}()

	ws, werr := waitChild(pid, tty)
	res.End = p.now()
	close(stopAux)
	inv.stop.stopTicks()
	aux.Wait()
	if tty != nil && tty.foreground() == pid {
		tty.give(tty.pgrp)
	}

	// Everything terraform wrote is relayed before tf goes on.
	exited.Store(true)
	drainAll(errRelay, outRelay)
	if kept != nil {
		res.Stdout = kept.Bytes()
	}
	res.StderrTail = tail.Bytes()
	switch {
	case werr != nil:
		fmt.Fprintf(p.Stderr, "tf: lost track of terraform (pid %d): %v; its exit code is unknown\n", pid, werr)
		res.ExitCode = 1
	case ws.Signaled():
		res.Signal = ws.Signal()
		res.ExitCode = 128 + int(ws.Signal())
	default:
		res.ExitCode = ws.ExitStatus()
	}
	return res, nil
}

// waitChild waits for terraform to end. When it is stopped (Ctrl-Z),
// tf takes the terminal back and stops itself like any job; when continued
// (`fg`), it hands the terminal back to terraform and continues it.
func waitChild(pid int, tty *jobTerminal) (syscall.WaitStatus, error) {
	opts := 0
	var cont chan os.Signal
	if tty != nil {
		opts = syscall.WUNTRACED
		cont = make(chan os.Signal, 1)
		signal.Notify(cont, syscall.SIGCONT)
		defer signal.Stop(cont)
	}
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, opts, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil { // ECHILD: someone else reaped it; its status is lost
			return ws, err
		}
		if !ws.Stopped() {
			return ws, nil
		}
		if tty.foreground() == pid {
			tty.give(tty.pgrp)
		}
		stopSelf(cont)
		if tty.foreground() == tty.pgrp {
			tty.give(pid) // `fg`: terraform gets the terminal again
		}
		_ = syscall.Kill(-pid, syscall.SIGCONT)
	}
}

// stopSelf stops tf's job the way Ctrl-Z stops any job and returns once it
// is continued. In an orphaned process group (no shell that could continue
// it) the kernel would discard the stop, so tf does not stop either.
func stopSelf(cont chan os.Signal) {
	if orphanedProcessGroup() {
		return
	}
	select { // forget a SIGCONT from before
	case <-cont:
	default:
	}
	sig := syscall.SIGTSTP
	if signal.Ignored(sig) {
		sig = syscall.SIGSTOP
	}
	_ = syscall.Kill(0, sig)
	<-cont // the stop takes effect asynchronously: wait for the continue
}

// orphanedProcessGroup follows POSIX: tf's process group is orphaned (the
// kernel discards Ctrl-Z stops, nobody could `fg` it) unless an ancestor
// inside the group has its parent in another group of the same session,
// such as a job-control shell running `make` running tf. Ancestors beyond
// tf's parent are read from /proc where there is one.
func orphanedProcessGroup() bool {
	pgrp := unix.Getpgrp()
	sid, err := unix.Getsid(0)
	if err != nil {
		return true
	}
	ppid := unix.Getppid()
	for i := 0; i < 64 && ppid > 1; i++ {
		ppg, err1 := unix.Getpgid(ppid)
		psid, err2 := unix.Getsid(ppid)
		if err1 != nil || err2 != nil || psid != sid {
			return true
		}
		if ppg != pgrp {
			return false
		}
		ppid = parentOf(ppid)
	}
	return true
}

// parentOf reads pid's parent from /proc/<pid>/stat; -1 if unknown.
func parentOf(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:]) // state ppid ...
	if len(f) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}

// relayStream copies one of terraform's output streams to the real one as it
// comes, and to sink. It ends at EOF/EIO (terraform and everything that
// inherited the stream closed it) or, once terraform has exited, after
// drainIdle of silence.
func relayStream(src *os.File, dst, sink io.Writer, exited *atomic.Bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			_, _ = dst.Write(buf[:n])
			_, _ = sink.Write(buf[:n])
			if exited.Load() {
				_ = src.SetReadDeadline(time.Now().Add(drainIdle))
			}
		}
		if err != nil {
			return // io.EOF (pipe), EIO (pty, normal end), or the drain deadline
		}
	}
}
