package recovery

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStepNamesComeFromOneTable: the names the wrapper shows and the test
// hook accepts are the sequencer's own steps, in its order.
func TestStepNamesComeFromOneTable(t *testing.T) {
	var table []string
	for _, st := range stepTable() {
		if st.run == nil {
			t.Fatalf("step %q has no function", st.name)
		}
		table = append(table, st.name)
	}
	want := []string{StepSecure, StepCredentials, StepProve, StepPush, StepVerify, StepUnlock, StepClose}
	if !slices.Equal(table, want) {
		t.Fatalf("step table %v, want the documented order %v", table, want)
	}
	if got := StepNames(); !slices.Equal(got, table) {
		t.Fatalf("StepNames %v, the table %v", got, table)
	}
}

// TestNoSecondStepList: no file but steps.go lists the steps (a second
// list is how the names and the sequencer drifted apart before).
func TestNoSecondStepList(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "steps.go" {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			steps := 0
			ast.Inspect(lit, func(m ast.Node) bool {
				if id, ok := m.(*ast.Ident); ok && strings.HasPrefix(id.Name, "Step") && slices.Contains(StepNames(), strings.ToLower(strings.TrimPrefix(id.Name, "Step"))) {
					steps++
				}
				return true
			})
			if steps >= 3 {
				t.Errorf("%s: a list of steps outside steps.go: %s", f, fset.Position(lit.Pos()))
				return false
			}
			return true
		})
	}
}
