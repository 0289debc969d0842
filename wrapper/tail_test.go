package wrapper

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestTailBufferKeepsLastBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, max := range []int{1, 7, 64, 1000} {
		tb := newTailBuffer(max)
		var all []byte
		for i := 0; i < 200; i++ {
			chunk := make([]byte, rng.Intn(3*max))
			rng.Read(chunk)
			tb.Write(chunk)
			all = append(all, chunk...)
			want := all
			if len(want) > max {
				want = want[len(want)-max:]
			}
			if got := tb.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("max %d after %d writes: got %d bytes, want %d (mismatch)", max, i, len(got), len(want))
			}
			if cap(tb.buf) > 2*max {
				t.Fatalf("buffer grew to %d for max %d", cap(tb.buf), max)
			}
		}
	}
}
