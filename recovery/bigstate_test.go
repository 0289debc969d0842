package recovery

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// bigState is a terraform state of about size bytes.
func bigState(size int) ([]byte, int) {
	var b strings.Builder
	b.WriteString(`{"version":4,"terraform_version":"1.11.4","serial":7,"lineage":"l","outputs":{},"resources":[`)
	blob := strings.Repeat("x", 1000)
	n := 0
	for b.Len() < size {
		if n > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"mode":"managed","type":"terraform_data","name":"r%d","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[{"schema_version":0,"attributes":{"id":"%d","input":{"value":"%s","type":"string"},"output":{"value":"%s","type":"string"}},"sensitive_attributes":[]}]}`, n, n, blob, blob)
		n++
	}
	b.WriteString(`]}`)
	return []byte(b.String()), n
}

// A big state is read once per copy and compared by digests: comparing two
// copies allocates about 5 times the state's size, not the ~16 times that
// full JSON trees cost (review L4: 1.6 GB for two 100 MB states), and keeps
// next to nothing of it.
func TestBigStateComparedByDigests(t *testing.T) {
	raw, n := bigState(20 << 20)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	e, err := parseState(raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseState(raw)
	if err != nil {
		t.Fatal(err)
	}
	d := diffStates(r, e)
	same := sameContent(r, e)
	runtime.ReadMemStats(&m1)
	if !d.Empty() || !same || e.Resources != n {
		t.Fatalf("diff %+v same %v resources %d of %d", d, same, e.Resources, n)
	}
	alloc := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("state %d MB, %d resources: two parses, diff and comparison allocated %d MB", len(raw)>>20, n, alloc>>20)
	if alloc > 6*uint64(len(raw)) {
		t.Fatalf("two parses of a %d MB state allocated %d MB (more than 6 times its size)", len(raw)>>20, alloc>>20)
	}
	// Still told apart: one attribute changed.
	other := []byte(strings.Replace(string(raw), `"id":"5"`, `"id":"5b"`, 1))
	o, err := parseState(other)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffStates(r, o); len(d.Changed) != 1 || d.Changed[0] != "terraform_data.r5" || sameContent(r, o) {
		t.Fatalf("a changed attribute is not seen: %+v", d)
	}
}
