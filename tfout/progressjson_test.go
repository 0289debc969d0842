package tfout

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

// kept is out as the wrapper keeps it: only the lines KeepProgressLine
// passes.
func kept(out []byte) []byte {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(out, []byte("\n")) {
		if KeepProgressLine(l) {
			b.Write(l)
		}
	}
	return b.Bytes()
}

// TestReadProgressFromTerraformJSONUI: `apply -json` (recorded from
// terraform 1.11.4) says what the run did in its UI messages; recovery's
// checks need it as they need the human lines, through the wrapper's
// filter. A replacement is a destroy and a create; an errored create is a
// failure, not a change made.
func TestReadProgressFromTerraformJSONUI(t *testing.T) {
	out, err := os.ReadFile("testdata/progress/tf1.11.4_json_apply_replace_update.stdout")
	if err != nil {
		t.Fatal(err)
	}
	p := ReadProgress(kept(out))
	want := []Change{{"terraform_data.b", "update"}, {"terraform_data.a", "destroy"}, {"terraform_data.a", "create"}}
	if !slices.Equal(p.Done, want) || !p.PlanSeen || p.Planned != 3 || !p.ApplyComplete || len(p.Cut) != 0 || len(p.Failed) != 0 {
		t.Errorf("replace+update: got %+v", p)
	}

	out, err = os.ReadFile("testdata/progress/tf1.11.4_json_apply_errored.stdout")
	if err != nil {
		t.Fatal(err)
	}
	p = ReadProgress(kept(out))
	if !slices.Contains(p.Failed, "terraform_data.d") || slices.ContainsFunc(p.Done, func(c Change) bool { return c.Address == "terraform_data.d" }) ||
		p.ApplyComplete || !p.PlanSeen || len(p.Cut) != 0 {
		t.Errorf("errored: got %+v", p)
	}
	if !slices.Contains(p.Done, Change{"terraform_data.b", "update"}) {
		t.Errorf("errored: the completed update is missing: %+v", p)
	}
}

// TestReadProgressGoneAndAdopted: moved blocks (with and without a change
// of their own) and a removed block with destroy = false take addresses out
// of the state and bring others in without any destroy or create line;
// recorded from terraform 1.11.4 (testdata/progress/moved_removed.tf.txt),
// human and JSON.
func TestReadProgressGoneAndAdopted(t *testing.T) {
	for _, f := range []string{"tf1.11.4_moved_removed.stdout", "tf1.11.4_json_moved_removed.stdout"} {
		out, err := os.ReadFile("testdata/progress/" + f)
		if err != nil {
			t.Fatal(err)
		}
		p := ReadProgress(kept(out))
		slices.Sort(p.Gone)
		slices.Sort(p.Adopted)
		if want := []string{"terraform_data.a", "terraform_data.m", "terraform_data.x"}; !slices.Equal(p.Gone, want) {
			t.Errorf("%s: gone %v, want %v", f, p.Gone, want)
		}
		if want := []string{"terraform_data.b", "terraform_data.m2"}; !slices.Equal(p.Adopted, want) {
			t.Errorf("%s: adopted %v, want %v", f, p.Adopted, want)
		}
		if want := []Change{{"terraform_data.m2", "update"}, {"terraform_data.new", "create"}}; !slices.Equal(p.Done, want) {
			t.Errorf("%s: done %v, want %v", f, p.Done, want)
		}
	}
}
