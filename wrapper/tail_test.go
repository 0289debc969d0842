package wrapper

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfout"
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

func TestLineKeeper(t *testing.T) {
	keep := func(l []byte) bool { return bytes.Contains(l, []byte("K")) }
	k := newLineKeeper(keep, 100)
	for _, w := range []string{"K one\nskip\nK t", "wo\n", strings.Repeat("K", maxKeptLine+5) + "\n", "K three"} {
		k.Write([]byte(w))
	}
	if got, want := string(k.Bytes()), "K one\nK two\nK three"; got != want {
		t.Errorf("kept %q, want %q (a line past maxKeptLine is dropped whole)", got, want)
	}
	k.Write([]byte("\n" + strings.Repeat("K", 90) + "\n"))
	if got := k.Bytes(); got != nil {
		t.Errorf("past the bound kept %d bytes, want nil", len(got))
	}
	k.Write([]byte("K again\n"))
	if got := k.Bytes(); got != nil {
		t.Errorf("after an overflow kept %q, want nil", got)
	}
}

// Lines kept across many blocks come back whole and in order.
func TestLineKeeperAcrossBlocks(t *testing.T) {
	k := newLineKeeper(func([]byte) bool { return true }, DefaultKeptSize)
	var want bytes.Buffer
	for i := 0; want.Len() < 3*keptBlock; i++ {
		l := strings.Repeat("x", i%977) + "\n"
		want.WriteString(l)
		k.Write([]byte(l))
	}
	if got := k.Bytes(); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("kept %d bytes, want the %d written", len(got), want.Len())
	}
	if len(k.blocks) < 3 {
		t.Fatalf("%d blocks for %d bytes", len(k.blocks), want.Len())
	}
}

// BenchmarkLineKeeper: plan-sized output, almost none of it kept, in the
// relay's 32 KiB reads.
func BenchmarkLineKeeper(b *testing.B) {
	var out bytes.Buffer
	for out.Len() < 4<<20 {
		out.WriteString(`      + tags = { "Name" = "web-server-with-a-long-name" }` + "\n")
		out.WriteString("aws_instance.web[3]: Still creating... [10s elapsed]\n")
	}
	data := out.Bytes()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		k := newLineKeeper(tfout.KeepProgressLine, DefaultKeptSize)
		for p := data; len(p) > 0; {
			n := min(len(p), 32<<10)
			k.Write(p[:n])
			p = p[n:]
		}
	}
}
