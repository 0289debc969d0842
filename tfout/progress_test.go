package tfout

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readCapture is an apply's stdout followed by its stderr, as recorded.
func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	out := readTestdata(t, filepath.Join("progress", name+".stdout"))
	return append(out, readTestdata(t, filepath.Join("progress", name+".stderr"))...)
}

// TestReadProgressNoise: the same lines behind CI prefixes and colour codes.
func TestReadProgressNoise(t *testing.T) {
	clean := readCapture(t, "tf1.11.4_all")
	var noisy strings.Builder
	for _, l := range strings.Split(string(clean), "\n") {
		noisy.WriteString("2024-01-16T07:15:39.7033998Z \x1b[0m\x1b[1m" + l + "\x1b[0m\n")
	}
	if got, want := ReadProgress([]byte(noisy.String())), ReadProgress(clean); !reflect.DeepEqual(got, want) {
		t.Errorf("noisy %+v\nclean %+v", got, want)
	}
}

// TestKeepProgressLineLosesNothing: the wrapper keeps only the stdout lines
// KeepProgressLine accepts; ReadProgress must read the same from them as
// from the whole output, for every recorded apply.
func TestKeepProgressLineLosesNothing(t *testing.T) {
	for _, name := range []string{"tf1.11.4_all", "tf1.11.4_partial", "tf1.11.4_cut", "tf1.11.4_update",
		"tf1.11.4_destroy", "tf1.11.4_notstarted", "tf1.11.4_replace"} {
		stdout := readTestdata(t, filepath.Join("progress", name+".stdout"))
		stderr := readTestdata(t, filepath.Join("progress", name+".stderr"))
		var kept []byte
		dropped := 0
		for _, l := range bytes.SplitAfter(stdout, []byte("\n")) {
			if KeepProgressLine(l) {
				kept = append(kept, l...)
			} else {
				dropped++
			}
		}
		whole := ReadProgress(append(append([]byte{}, stdout...), stderr...))
		if got := ReadProgress(append(kept, stderr...)); !reflect.DeepEqual(got, whole) {
			t.Errorf("%s: from the kept lines %+v\nfrom all of stdout %+v", name, got, whole)
		}
		if dropped == 0 {
			t.Errorf("%s: the filter kept every line", name)
		}
	}
}

// TestChangedOutsideIsNotPlanned: the "changed outside of Terraform" list
// before the plan uses the same "# address ..." shape; only the list after
// "Terraform will perform the following actions:" is the plan.
func TestChangedOutsideIsNotPlanned(t *testing.T) {
	out := []byte(`
Note: Objects have changed outside of Terraform

Terraform detected the following changes made outside of Terraform since the
last "terraform apply" which may have affected this plan:

  # aws_instance.gone has been deleted
  - resource "aws_instance" "gone" {
    }

  # aws_s3_bucket.logs will be destroyed
  # (because aws_s3_bucket.logs is not in configuration)

Terraform will perform the following actions:

  # aws_instance.gone will be created
  + resource "aws_instance" "gone" {
    }

  # aws_iam_role.r is tainted, so must be replaced
-/+ resource "aws_iam_role" "r" {
    }

Plan: 2 to add, 0 to change, 1 to destroy.
aws_instance.gone: Creating...
`)
	p := ReadProgress(out)
	want := []Change{{"aws_instance.gone", "create"}, {"aws_iam_role.r", "destroy"}, {"aws_iam_role.r", "create"}}
	if !reflect.DeepEqual(p.Plan, want) || p.Planned != 3 {
		t.Fatalf("plan %+v (%d), want %+v", p.Plan, p.Planned, want)
	}
	if got := p.NotMade(); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("not made %+v, want %+v", got, want[1:])
	}
	if !reflect.DeepEqual(p.Cut, []Change{{"aws_instance.gone", "create"}}) {
		t.Errorf("cut %+v", p.Cut)
	}
}
