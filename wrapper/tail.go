package wrapper

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
