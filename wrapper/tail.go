package wrapper

import "bytes"

// DefaultTailSize is how much of terraform's stderr tf keeps for recovery.
const DefaultTailSize = 1 << 20

// tailBuffer keeps the last max bytes written to it, in fixed memory.
type tailBuffer struct {
	buf   []byte
	start int  // index of the oldest byte once full
	full  bool // buf has wrapped at least once
	max   int
}

func newTailBuffer(max int) *tailBuffer {
	return &tailBuffer{max: max}
}

// Write never fails and never keeps more than max bytes.
func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if t.max <= 0 {
		return n, nil
	}
	if t.buf == nil {
		t.buf = make([]byte, 0, t.max) // allocated once, never grows
	}
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		t.start, t.full = 0, true
		return n, nil
	}
	if !t.full {
		room := t.max - len(t.buf)
		if len(p) <= room {
			t.buf = append(t.buf, p...)
			return n, nil
		}
		t.buf = append(t.buf, p[:room]...)
		p = p[room:]
		t.full = true
		t.start = 0
	}
	for len(p) > 0 {
		c := copy(t.buf[t.start:], p)
		p = p[c:]
		t.start = (t.start + c) % t.max
	}
	return n, nil
}

// Bytes returns a copy of the kept bytes, oldest first.
func (t *tailBuffer) Bytes() []byte {
	if !t.full {
		return append([]byte(nil), t.buf...)
	}
	out := make([]byte, 0, len(t.buf))
	out = append(out, t.buf[t.start:]...)
	return append(out, t.buf[:t.start]...)
}

// DefaultKeptSize bounds the stdout lines tf keeps for recovery's report.
const DefaultKeptSize = 4 << 20

// maxKeptLine is the longest line lineKeeper looks at; the lines it keeps
// are a resource address and a few words.
const maxKeptLine = 16 << 10

// keptBlock is the size of the blocks lineKeeper stores lines in: filled
// and never reallocated, so memory stays near what is kept.
const keptBlock = 64 << 10

// lineKeeper keeps, of everything written to it, the whole lines keep
// accepts, up to max bytes. Past max it keeps nothing and Bytes returns nil:
// a partial record would make recovery's report wrong, not just short.
type lineKeeper struct {
	keep     func([]byte) bool
	max      int
	line     []byte // the line being assembled, at most maxKeptLine
	long     bool   // the line being assembled went past maxKeptLine
	blocks   [][]byte
	size     int // bytes kept
	overflow bool
}

func newLineKeeper(keep func([]byte) bool, max int) *lineKeeper {
	return &lineKeeper{keep: keep, max: max}
}

// Write never fails.
func (k *lineKeeper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !k.overflow {
		i := bytes.IndexByte(p, '\n')
		if i < 0 { // a line whose end comes in a later write
			if !k.long && len(k.line)+len(p) <= maxKeptLine {
				k.line = append(k.line, p...)
			} else {
				k.long, k.line = true, k.line[:0]
			}
			break
		}
		line := p[:i+1]
		p = p[i+1:]
		if len(k.line) > 0 || k.long {
			// The end of a line begun earlier: judge it whole. Most lines
			// come whole in one write and are judged where they are.
			if !k.long && len(k.line)+len(line) <= maxKeptLine {
				line = append(k.line, line...)
			} else {
				line = nil
			}
			k.line, k.long = k.line[:0], false
		} else if len(line) > maxKeptLine {
			line = nil
		}
		if line == nil || !k.keep(line) {
			continue
		}
		if k.size+len(line) > k.max {
			k.overflow, k.blocks, k.line = true, nil, nil
			break
		}
		k.store(line)
	}
	return n, nil
}

func (k *lineKeeper) store(l []byte) {
	k.size += len(l)
	if n := len(k.blocks); n > 0 && cap(k.blocks[n-1])-len(k.blocks[n-1]) >= len(l) {
		k.blocks[n-1] = append(k.blocks[n-1], l...)
		return
	}
	b := make([]byte, 0, max(keptBlock, len(l)))
	k.blocks = append(k.blocks, append(b, l...))
}

// Bytes returns the kept lines (and an unfinished last line, if keep
// accepts it), or nil after an overflow.
func (k *lineKeeper) Bytes() []byte {
	if k.overflow {
		return nil
	}
	out := make([]byte, 0, k.size+len(k.line))
	for _, b := range k.blocks {
		out = append(out, b...)
	}
	if len(k.line) > 0 && !k.long && k.keep(k.line) {
		out = append(out, k.line...)
	}
	return out
}
