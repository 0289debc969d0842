package tfout

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyTfoutReadsText: terraform's text is read in this package only.
// recovery's code (and tfargs') must not import regexp: a pattern over
// terraform's words belongs here, next to its recorded captures.
func TestOnlyTfoutReadsText(t *testing.T) {
	for _, dir := range []string{"../recovery", "../tfargs"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == "regexp" {
					t.Errorf("%s imports regexp: read terraform's text in package tfout", f)
				}
			}
		}
	}
}
