package recovery

import (
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

// TestReadProgress runs over real terraform 1.11.4 output recorded from
// testdata/progress/main.tf.txt (terraform_data + local-exec, local
// backend): a full apply, one where b's provisioner fails, one interrupted
// while c slept, an in-place update and a destroy; and over real outputs
// from the corpus.
func TestReadProgress(t *testing.T) {
	a, b, c := "terraform_data.a", "terraform_data.b", "terraform_data.c"
	for _, tc := range []struct {
		name     string
		text     []byte
		want     Progress
		sentence string
	}{
		{"all", readCapture(t, "tf1.11.4_all"),
			Progress{Planned: 3, PlanSeen: true, ApplyComplete: true, Done: []Change{{a, "create"}, {b, "create"}, {c, "create"}}},
			"all 3 planned changes were made; the state now records them."},
		{"partial", readCapture(t, "tf1.11.4_partial"),
			Progress{Planned: 3, PlanSeen: true, Done: []Change{{a, "create"}, {c, "create"}}, Failed: []string{b}},
			"2 of 3 planned changes were made (the state now records them); terraform_data.b failed (see terraform's error); run terraform apply again for the rest."},
		{"interrupted", readCapture(t, "tf1.11.4_cut"),
			Progress{Planned: 3, PlanSeen: true, Done: []Change{{a, "create"}, {b, "create"}}, Failed: []string{c}},
			"2 of 3 planned changes were made (the state now records them); terraform_data.c failed (see terraform's error); run terraform apply again for the rest."},
		{"update", readCapture(t, "tf1.11.4_update"),
			Progress{Planned: 1, PlanSeen: true, ApplyComplete: true, Done: []Change{{b, "update"}}},
			"the 1 planned change was made; the state now records it."},
		{"destroy", readCapture(t, "tf1.11.4_destroy"),
			Progress{Planned: 3, PlanSeen: true, Done: []Change{{b, "destroy"}, {c, "destroy"}, {a, "destroy"}}},
			"all 3 planned changes were made; the state now records them."},
		{"corpus: created, then the save failed", readTestdata(t, filepath.Join("realworld", "ods-quickstarters-665.txt")),
			Progress{Done: []Change{{"aws_cloudformation_stack.cft-s3", "create"}}},
			"1 change was reported complete (the state now records them); run terraform plan to see what is left."},
		{"corpus: 0.11 output cut off mid-creation", readTestdata(t, filepath.Join("realworld", "terraform-19622.txt")),
			Progress{},
			"terraform's output does not say which changes were made; run terraform plan to see what is left."},
		{"corpus: provider error while creating", readTestdata(t, filepath.Join("realworld", "terraform-provider-aws-37723.txt")),
			Progress{Failed: []string{"aws_acm_certificate.public_cert[0]"}},
			"terraform's output does not say which changes were made; aws_acm_certificate.public_cert[0] failed (see terraform's error); run terraform plan to see what is left."},
		{"stderr only, as tf keeps it today", readTestdata(t, filepath.Join("progress", "tf1.11.4_partial.stderr")),
			Progress{Failed: []string{b}},
			"terraform's output does not say which changes were made; terraform_data.b failed (see terraform's error); run terraform plan to see what is left."},
	} {
		got := ReadProgress(tc.text)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v\nwant %+v", tc.name, got, tc.want)
		}
		if s := got.Sentence("terraform", true); s != tc.sentence {
			t.Errorf("%s: sentence\n%q\nwant\n%q", tc.name, s, tc.sentence)
		}
	}
}

// TestProgressSentence covers what the captures cannot: a change cut off
// without an error, the state not yet back, OpenTofu, an empty plan.
func TestProgressSentence(t *testing.T) {
	for _, tc := range []struct {
		p         Progress
		tool      string
		stateBack bool
		want      string
	}{
		{Progress{Planned: 3, PlanSeen: true, Done: []Change{{"x.a", "create"}, {"x.b", "create"}, {"x.c", "create"}}},
			"terraform", false, "all 3 planned changes were made; errored.tfstate records them until it is pushed."},
		{Progress{Planned: 3, PlanSeen: true, Done: []Change{{"x.a", "create"}, {"x.b", "destroy"}}, Cut: []Change{{"x.c", "create"}}},
			"tofu", true, "2 of 3 planned changes were made (the state now records them); 1 was still in progress when the run ended (x.c create): check whether it exists before applying again; run tofu apply again for the rest."},
		{Progress{Planned: 0, PlanSeen: true}, "terraform", true, "the plan had no changes; nothing was made."},
		{Progress{ApplyComplete: true, Done: []Change{{"x.a", "create"}}}, "terraform", false,
			"all changes were made (1 reported complete); errored.tfstate records them until it is pushed."},
		{Progress{Planned: 2, PlanSeen: true, Done: []Change{{"x.a", "update"}}}, "terraform", true,
			"1 of 2 planned changes was made (the state now records them); run terraform apply again for the rest."},
	} {
		if got := tc.p.Sentence(tc.tool, tc.stateBack); got != tc.want {
			t.Errorf("%+v:\n%q\nwant\n%q", tc.p, got, tc.want)
		}
	}
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
