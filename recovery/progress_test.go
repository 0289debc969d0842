package recovery

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

// TestReadProgress runs over real terraform 1.11.4 output recorded from
// testdata/progress/main.tf.txt (terraform_data + local-exec, local
// backend): a full apply, one where b's provisioner fails, one interrupted
// while c slept, an in-place update and a destroy; and over real outputs
// from the corpus.
func TestReadProgress(t *testing.T) {
	a, b, c := "terraform_data.a", "terraform_data.b", "terraform_data.c"
	created := []Change{{a, "create"}, {b, "create"}, {c, "create"}}
	for _, tc := range []struct {
		name     string
		text     []byte
		want     Progress
		sentence string
	}{
		{"all", readCapture(t, "tf1.11.4_all"),
			Progress{Planned: 3, PlanSeen: true, ApplyComplete: true, Done: []Change{{a, "create"}, {b, "create"}, {c, "create"}}, Plan: created},
			"all 3 planned changes were made; the state now records them."},
		{"partial", readCapture(t, "tf1.11.4_partial"),
			Progress{Planned: 3, PlanSeen: true, Done: []Change{{a, "create"}, {c, "create"}}, Failed: []string{b}, Plan: created},
			"2 of 3 planned changes were made (the state now records them); terraform_data.b failed (see terraform's error); run terraform apply again for the rest."},
		{"interrupted", readCapture(t, "tf1.11.4_cut"),
			Progress{Planned: 3, PlanSeen: true, Done: []Change{{a, "create"}, {b, "create"}}, Failed: []string{c}, Plan: created},
			"2 of 3 planned changes were made (the state now records them); terraform_data.c failed (see terraform's error); run terraform apply again for the rest."},
		{"update", readCapture(t, "tf1.11.4_update"),
			Progress{Planned: 1, PlanSeen: true, ApplyComplete: true, Done: []Change{{b, "update"}}, Plan: []Change{{b, "update"}}},
			"the 1 planned change was made; the state now records it."},
		{"destroy", readCapture(t, "tf1.11.4_destroy"),
			Progress{Planned: 3, PlanSeen: true, Done: []Change{{b, "destroy"}, {c, "destroy"}, {a, "destroy"}}, Plan: []Change{{a, "destroy"}, {b, "destroy"}, {c, "destroy"}}},
			"all 3 planned changes were made; the state now records them."},
		// Recorded with colour: Ctrl-C while a and b ran; c never started.
		{"interrupted before c started", readCapture(t, "tf1.11.4_notstarted"),
			Progress{Planned: 3, PlanSeen: true, Failed: []string{a, b}, Plan: created},
			"0 of 3 planned changes were made; terraform_data.a, terraform_data.b failed (see terraform's error); not started: terraform_data.c create; run terraform apply again for the rest."},
		// -replace: a replacement is a destroy and a create, as the counts say.
		{"replace", readCapture(t, "tf1.11.4_replace"),
			Progress{Planned: 2, PlanSeen: true, ApplyComplete: true, Done: []Change{{a, "destroy"}, {a, "create"}}, Plan: []Change{{a, "destroy"}, {a, "create"}}},
			"both planned changes were made; the state now records them."},
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

// TestReadProgressIgnoresLookalikeText: an apply's output holds text that is
// not terraform's own: the plan prints attribute values (a string, a
// heredoc), a provisioner's output is echoed with its resource's prefix, and
// the error diagnostic quotes that output again. Recorded from real
// terraform 1.11.4 (testdata/progress/lookalike.tf.txt, colour on): a is
// made, b's provisioner fails after printing progress-like lines for c, c
// never starts. Only terraform's own progress lines count: the report must
// never say more was made than was.
func TestReadProgressIgnoresLookalikeText(t *testing.T) {
	// Without colour the diagnostic has no box: the provisioner's output it
	// quotes starts at column 0, after the "Error:" that ends the progress.
	for _, capture := range []string{"tf1.11.4_lookalike", "tf1.11.4_lookalike_nocolor"} {
		t.Run(capture, func(t *testing.T) { readLookalike(t, capture) })
	}
}

func readLookalike(t *testing.T, capture string) {
	stdout := readTestdata(t, filepath.Join("progress", capture+".stdout"))
	stderr := readTestdata(t, filepath.Join("progress", capture+".stderr"))
	var kept []byte // what the wrapper keeps of stdout
	for _, l := range bytes.SplitAfter(stdout, []byte("\n")) {
		if KeepProgressLine(l) {
			kept = append(kept, l...)
		}
	}
	a, b, c := "terraform_data.a", "terraform_data.b", "terraform_data.c"
	want := Progress{Planned: 3, PlanSeen: true, Done: []Change{{a, "create"}}, Failed: []string{b},
		Plan: []Change{{a, "create"}, {b, "create"}, {c, "create"}}}
	sentence := "1 of 3 planned changes was made (the state now records them); terraform_data.b failed (see terraform's error); " +
		"not started: terraform_data.c create; run terraform apply again for the rest."
	// stdout and stderr one destination (2>&1): the wrapper keeps the
	// progress-like lines of both streams in one, and recovery reads them
	// followed by the tail, which holds both streams too.
	merged := append(append([]byte{}, stdout...), stderr...)
	var keptMerged []byte
	for _, l := range bytes.SplitAfter(merged, []byte("\n")) {
		if KeepProgressLine(l) {
			keptMerged = append(keptMerged, l...)
		}
	}
	for what, text := range map[string][]byte{
		"kept stdout and stderr":  append(kept, stderr...),
		"whole stdout and stderr": append(append([]byte{}, stdout...), stderr...),
		"merged, kept and tail":   append(keptMerged, merged...),
	} {
		got := ReadProgress(text)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v\nwant %+v", what, got, want)
		}
		if s := got.Sentence("terraform", true); s != sentence {
			t.Errorf("%s: sentence\n%q\nwant\n%q", what, s, sentence)
		}
	}
}

// What terraform's output says was made is checked against the state tf
// pushes: a change it reported that the state does not show makes the
// report say so and claim nothing; a replacement's destroy is judged by its
// create.
func TestProgressCheckedAgainstTheState(t *testing.T) {
	e := StateSummary{instances: map[string]string{"x.a": "{}", "x.r": "{}", "x.stays": "{}"}}
	p := Progress{Planned: 4, PlanSeen: true, ApplyComplete: true,
		Done: []Change{{"x.a", "create"}, {"x.r", "destroy"}, {"x.r", "create"}, {"x.gone", "destroy"}}}
	if u := p.unrecordedIn(e); len(u) != 0 {
		t.Fatalf("unrecorded %+v, want none", u)
	}
	p.Done = append(p.Done, Change{"x.b", "create"}, Change{"x.stays", "destroy"})
	p.Unrecorded = p.unrecordedIn(e)
	if want := []Change{{"x.b", "create"}, {"x.stays", "destroy"}}; !reflect.DeepEqual(p.Unrecorded, want) {
		t.Fatalf("unrecorded %+v, want %+v", p.Unrecorded, want)
	}
	want := "6 changes were reported complete, but the state does not show x.b create, x.stays destroy; run terraform plan to see where things stand."
	if got := p.Sentence("terraform", true); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A replacement whose create failed leaves the new object in the state,
// tainted: its destroy is not "unrecorded" (the recorded run in
// recovery_reports_planned_progress.txtar has this shape).
func TestReplacementWhoseCreateFailedIsNotUnrecorded(t *testing.T) {
	e := StateSummary{instances: map[string]string{"x.deploy": "{}"}}
	p := Progress{Planned: 2, PlanSeen: true, Plan: []Change{{"x.deploy", "destroy"}, {"x.deploy", "create"}},
		Done: []Change{{"x.deploy", "destroy"}}, Failed: []string{"x.deploy"}}
	if u := p.unrecordedIn(e); len(u) != 0 {
		t.Fatalf("unrecorded %+v, want none", u)
	}
}

func TestPlanInstead(t *testing.T) {
	got := planInstead([]string{"-chdir=infra", "apply", "-auto-approve", "-input=false", "-var-file=prod.tfvars", "-target=x.a"})
	want := []string{"-chdir=infra", "plan", "-input=false", "-var-file=prod.tfvars", "-target=x.a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if s := subcommand([]string{"-chdir=infra", "apply"}); s != "apply" {
		t.Errorf("subcommand %q", s)
	}
}
