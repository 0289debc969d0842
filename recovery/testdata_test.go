package recovery

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The recorded terraform output lives with the package that reads it
// (tfout); recovery's tests read the same files to check what recovery does
// with the classifications and progress read from them.
var tfoutTestdata = filepath.Join("..", "tfout", "testdata")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tfoutTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readCapture is an apply's stdout followed by its stderr, as recorded.
func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	out := readTestdata(t, filepath.Join("progress", name+".stdout"))
	return append(out, readTestdata(t, filepath.Join("progress", name+".stderr"))...)
}

// corpusCase is one line of the real-world corpus's index.tsv.
type corpusCase struct {
	file, source, version, label, reason string
}

func readCorpusIndex(t testing.TB) []corpusCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tfoutTestdata, "realworld", "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusCase
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		col := strings.Split(l, "\t")
		if len(col) != 5 {
			t.Fatalf("index.tsv line %d: %d columns, want 5", n, len(col))
		}
		out = append(out, corpusCase{col[0], col[1], col[2], col[3], col[4]})
	}
	return out
}
