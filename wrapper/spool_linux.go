//go:build linux

package wrapper

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// spool is how terraform's output reaches tf when the real stream is not a
// terminal: an unlinked temporary file that terraform appends to and tf
// reads behind it. Unlike a pipe, nothing happens to terraform when tf is
// gone: with a pipe, tf killed (or crashed) mid-apply means SIGPIPE at
// terraform's next progress line and a state never saved; with the spool,
// terraform finishes its run and saves its state, and only the rest of its
// output goes unseen. A pty needs no spool: a write to a pty whose master
// is gone fails with EIO and no signal.
type spool struct {
	r      *os.File // tf's own description: reads at its own offset, punches holes behind it
	w      *os.File // terraform's: O_WRONLY|O_APPEND, so fd 1 and 2 sharing it keep their order
	notify int      // inotify instance watching the file; -1: none (then tf polls)
	wakeR  *os.File // readable once terraform has exited
	wakeW  *os.File
}

const (
	spoolPunchEvery = 1 << 20 // give back the disk space of what tf has read, every MiB
	// spoolReserve is the room kept allocated ahead of what tf has read: a
	// write into it cannot fail with ENOSPC, so terraform's output survives
	// a full TMPDIR unless terraform runs this far ahead of tf.
	spoolReserve    = 4 << 20
	spoolWaitNotify = 250 // ms between looks when inotify wakes tf on each write anyway
	spoolWaitPoll   = 20  // ms between looks without inotify
)

// openSpool creates the spool in dir (os.TempDir() when empty).
func openSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "tf-output-*")
	if err != nil {
		return nil, err
	}
	name := f.Name()
	defer os.Remove(name) // only the open descriptions keep it
	// A write to a full file system fails and its bytes are lost, where a
	// pipe would have passed them on: no room, no spool (a pipe instead).
	// A file system without fallocate gets no reservation (there is no way
	// to make one) and is used as it is.
	if err := reserve(int(f.Fd()), 0); err != nil {
		f.Close()
		return nil, err
	}
	w, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		f.Close()
		return nil, err
	}
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		f.Close()
		w.Close()
		return nil, err
	}
	s := &spool{r: f, w: w, notify: -1, wakeR: wakeR, wakeW: wakeW}
	// An inotify watch on the inode outlives the unlink. Without one (the
	// per-user limit on instances reached), tf looks every 20 ms instead.
	if fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err == nil {
		if _, err := unix.InotifyAddWatch(fd, name, unix.IN_MODIFY); err == nil {
			s.notify = fd
		} else {
			unix.Close(fd)
		}
	}
	return s, nil
}

// run relays what terraform appends to dst and sink, as it comes, until
// exited() was called and everything written by then has been relayed. A
// background process that kept terraform's output open cannot hold tf:
// what it writes afterwards is not relayed.
func (s *spool) run(dst, sink io.Writer) {
	buf := make([]byte, 32<<10)
	var off, punched int64
	reserved := int64(spoolReserve) // openSpool reserved the first stretch
	canPunch := true
	exiting := false
	wait := spoolWaitPoll
	fds := []unix.PollFd{{Fd: int32(s.wakeR.Fd()), Events: unix.POLLIN}}
	if s.notify >= 0 {
		wait = spoolWaitNotify
		fds = append(fds, unix.PollFd{Fd: int32(s.notify), Events: unix.POLLIN})
	}
	rfd := int(s.r.Fd())
	events := make([]byte, 4096)
	for {
		n, err := unix.Pread(rfd, buf, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			_, _ = dst.Write(buf[:n])
			_, _ = sink.Write(buf[:n])
			off += int64(n)
			if off+spoolReserve/2 > reserved {
				_ = reserve(rfd, off) // best effort: keep the room ahead
				reserved = off + spoolReserve
			}
			if canPunch && off-punched >= spoolPunchEvery {
				end := off &^ 4095
				if unix.Fallocate(rfd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, end) != nil {
					canPunch = false // a file system without holes: the file just grows
				}
				punched = end
			}
			continue
		}
		if err != nil || exiting {
			return // at the end of what terraform wrote before it exited
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		if _, err := unix.Poll(fds, wait); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if fds[0].Revents != 0 {
			exiting = true // read to the end once more, then stop
		}
		if s.notify >= 0 && fds[1].Revents != 0 {
			for { // the events only wake tf; the file says what changed
				if k, err := unix.Read(s.notify, events); k <= 0 || err != nil {
					break
				}
			}
		}
	}
}

// reserve allocates the spool's blocks from off to off+spoolReserve without
// changing its size, so that terraform's appends there find room. Only
// ENOSPC (or EDQUOT) is an error: a file system that cannot preallocate is
// left as it is.
func reserve(fd int, off int64) error {
	err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, off, spoolReserve)
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("no room for terraform's output in the temporary directory: %w", err)
	}
	return nil
}

// exited tells run that terraform has exited.
func (s *spool) exited() { _ = s.wakeW.Close() }

// close releases tf's descriptions (terraform's is closed once it started).
func (s *spool) close() {
	s.r.Close()
	s.wakeR.Close()
	_ = s.wakeW.Close()
	if s.notify >= 0 {
		unix.Close(s.notify)
	}
}
