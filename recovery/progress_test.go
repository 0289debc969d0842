package recovery

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// TestReadProgress runs over real terraform 1.11.4 output recorded from
// testdata/progress/main.tf.txt (terraform_data + local-exec, local
// backend): a full apply, one where b's provisioner fails, one interrupted
// while c slept, an in-place update and a destroy; and over real outputs
// from the corpus.
func TestReadProgress(t *testing.T) {
	a, b, c := "terraform_data.a", "terraform_data.b", "terraform_data.c"
	created := []tfout.Change{{Address: a, Action: "create"}, {Address: b, Action: "create"}, {Address: c, Action: "create"}}
	for _, tc := range []struct {
		name     string
		text     []byte
		want     tfout.Progress
		sentence string
	}{
		{"all", readCapture(t, "tf1.11.4_all"),
			tfout.Progress{Planned: 3, PlanSeen: true, ApplyComplete: true, Done: []tfout.Change{{Address: a, Action: "create"}, {Address: b, Action: "create"}, {Address: c, Action: "create"}}, Plan: created},
			"all 3 planned changes were made; the state now records them."},
		{"partial", readCapture(t, "tf1.11.4_partial"),
			tfout.Progress{Planned: 3, PlanSeen: true, Done: []tfout.Change{{Address: a, Action: "create"}, {Address: c, Action: "create"}}, Failed: []string{b}, Plan: created},
			"2 of 3 planned changes were made (the state now records them); terraform_data.b failed (see terraform's error); run terraform apply again for the rest."},
		{"interrupted", readCapture(t, "tf1.11.4_cut"),
			tfout.Progress{Planned: 3, PlanSeen: true, Done: []tfout.Change{{Address: a, Action: "create"}, {Address: b, Action: "create"}}, Failed: []string{c}, Plan: created},
			"2 of 3 planned changes were made (the state now records them); terraform_data.c failed (see terraform's error); run terraform apply again for the rest."},
		{"update", readCapture(t, "tf1.11.4_update"),
			tfout.Progress{Planned: 1, PlanSeen: true, ApplyComplete: true, Done: []tfout.Change{{Address: b, Action: "update"}}, Plan: []tfout.Change{{Address: b, Action: "update"}}},
			"the 1 planned change was made; the state now records it."},
		{"destroy", readCapture(t, "tf1.11.4_destroy"),
			tfout.Progress{Planned: 3, PlanSeen: true, Done: []tfout.Change{{Address: b, Action: "destroy"}, {Address: c, Action: "destroy"}, {Address: a, Action: "destroy"}}, Plan: []tfout.Change{{Address: a, Action: "destroy"}, {Address: b, Action: "destroy"}, {Address: c, Action: "destroy"}}},
			"all 3 planned changes were made; the state now records them."},
		// Recorded with colour: Ctrl-C while a and b ran; c never started.
		{"interrupted before c started", readCapture(t, "tf1.11.4_notstarted"),
			tfout.Progress{Planned: 3, PlanSeen: true, Failed: []string{a, b}, Plan: created},
			"0 of 3 planned changes were made; terraform_data.a, terraform_data.b failed (see terraform's error); not started: terraform_data.c create; run terraform apply again for the rest."},
		// -replace: a replacement is a destroy and a create, as the counts say.
		{"replace", readCapture(t, "tf1.11.4_replace"),
			tfout.Progress{Planned: 2, PlanSeen: true, ApplyComplete: true, Done: []tfout.Change{{Address: a, Action: "destroy"}, {Address: a, Action: "create"}}, Plan: []tfout.Change{{Address: a, Action: "destroy"}, {Address: a, Action: "create"}}},
			"both planned changes were made; the state now records them."},
		{"corpus: created, then the save failed", readTestdata(t, filepath.Join("realworld", "ods-quickstarters-665.txt")),
			tfout.Progress{Done: []tfout.Change{{Address: "aws_cloudformation_stack.cft-s3", Action: "create"}}},
			"1 change was reported complete (the state now records them); run terraform plan to see what is left."},
		{"corpus: 0.11 output cut off mid-creation", readTestdata(t, filepath.Join("realworld", "terraform-19622.txt")),
			tfout.Progress{},
			"terraform's output does not say which changes were made; run terraform plan to see what is left."},
		{"corpus: provider error while creating", readTestdata(t, filepath.Join("realworld", "terraform-provider-aws-37723.txt")),
			tfout.Progress{Failed: []string{"aws_acm_certificate.public_cert[0]"}},
			"terraform's output does not say which changes were made; aws_acm_certificate.public_cert[0] failed (see terraform's error); run terraform plan to see what is left."},
		{"stderr only, as tf keeps it today", readTestdata(t, filepath.Join("progress", "tf1.11.4_partial.stderr")),
			tfout.Progress{Failed: []string{b}},
			"terraform's output does not say which changes were made; terraform_data.b failed (see terraform's error); run terraform plan to see what is left."},
	} {
		got := tfout.ReadProgress(tc.text)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v\nwant %+v", tc.name, got, tc.want)
		}
		if s := progressSentence(got, "terraform", true); s != tc.sentence {
			t.Errorf("%s: sentence\n%q\nwant\n%q", tc.name, s, tc.sentence)
		}
	}
}

// TestProgressSentence covers what the captures cannot: a change cut off
// without an error, the state not yet back, OpenTofu, an empty plan.
func TestProgressSentence(t *testing.T) {
	for _, tc := range []struct {
		p         tfout.Progress
		tool      string
		stateBack bool
		want      string
	}{
		{tfout.Progress{Planned: 3, PlanSeen: true, Done: []tfout.Change{{Address: "x.a", Action: "create"}, {Address: "x.b", Action: "create"}, {Address: "x.c", Action: "create"}}},
			"terraform", false, "all 3 planned changes were made; errored.tfstate records them until it is pushed."},
		{tfout.Progress{Planned: 3, PlanSeen: true, Done: []tfout.Change{{Address: "x.a", Action: "create"}, {Address: "x.b", Action: "destroy"}}, Cut: []tfout.Change{{Address: "x.c", Action: "create"}}},
			"tofu", true, "2 of 3 planned changes were made (the state now records them); 1 was still in progress when the run ended (x.c create): check whether it exists before applying again; run tofu apply again for the rest."},
		{tfout.Progress{Planned: 0, PlanSeen: true}, "terraform", true, "the plan had no changes; nothing was made."},
		{tfout.Progress{ApplyComplete: true, Done: []tfout.Change{{Address: "x.a", Action: "create"}}}, "terraform", false,
			"all changes were made (1 reported complete); errored.tfstate records them until it is pushed."},
		{tfout.Progress{Planned: 2, PlanSeen: true, Done: []tfout.Change{{Address: "x.a", Action: "update"}}}, "terraform", true,
			"1 of 2 planned changes was made (the state now records them); run terraform apply again for the rest."},
	} {
		if got := progressSentence(tc.p, tc.tool, tc.stateBack); got != tc.want {
			t.Errorf("%+v:\n%q\nwant\n%q", tc.p, got, tc.want)
		}
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
		if tfout.KeepProgressLine(l) {
			kept = append(kept, l...)
		}
	}
	a, b, c := "terraform_data.a", "terraform_data.b", "terraform_data.c"
	want := tfout.Progress{Planned: 3, PlanSeen: true, Done: []tfout.Change{{Address: a, Action: "create"}}, Failed: []string{b},
		Plan: []tfout.Change{{Address: a, Action: "create"}, {Address: b, Action: "create"}, {Address: c, Action: "create"}}}
	sentence := "1 of 3 planned changes was made (the state now records them); terraform_data.b failed (see terraform's error); " +
		"not started: terraform_data.c create; run terraform apply again for the rest."
	// stdout and stderr one destination (2>&1): the wrapper keeps the
	// progress-like lines of both streams in one, and recovery reads them
	// followed by the tail, which holds both streams too.
	merged := append(append([]byte{}, stdout...), stderr...)
	var keptMerged []byte
	for _, l := range bytes.SplitAfter(merged, []byte("\n")) {
		if tfout.KeepProgressLine(l) {
			keptMerged = append(keptMerged, l...)
		}
	}
	for what, text := range map[string][]byte{
		"kept stdout and stderr":  append(kept, stderr...),
		"whole stdout and stderr": append(append([]byte{}, stdout...), stderr...),
		"merged, kept and tail":   append(keptMerged, merged...),
	} {
		got := tfout.ReadProgress(text)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v\nwant %+v", what, got, want)
		}
		if s := progressSentence(got, "terraform", true); s != sentence {
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
	p := tfout.Progress{Planned: 4, PlanSeen: true, ApplyComplete: true,
		Done: []tfout.Change{{Address: "x.a", Action: "create"}, {Address: "x.r", Action: "destroy"}, {Address: "x.r", Action: "create"}, {Address: "x.gone", Action: "destroy"}}}
	if u := p.UnrecordedIn(e.holds); len(u) != 0 {
		t.Fatalf("unrecorded %+v, want none", u)
	}
	p.Done = append(p.Done, tfout.Change{Address: "x.b", Action: "create"}, tfout.Change{Address: "x.stays", Action: "destroy"})
	p.Unrecorded = p.UnrecordedIn(e.holds)
	if want := []tfout.Change{{Address: "x.b", Action: "create"}, {Address: "x.stays", Action: "destroy"}}; !reflect.DeepEqual(p.Unrecorded, want) {
		t.Fatalf("unrecorded %+v, want %+v", p.Unrecorded, want)
	}
	want := "6 changes were reported complete, but the state does not show x.b create, x.stays destroy; run terraform plan to see where things stand."
	if got := progressSentence(p, "terraform", true); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A replacement whose create failed leaves the new object in the state,
// tainted: its destroy is not "unrecorded" (the recorded run in
// recovery_reports_planned_progress.txtar has this shape).
func TestReplacementWhoseCreateFailedIsNotUnrecorded(t *testing.T) {
	e := StateSummary{instances: map[string]string{"x.deploy": "{}"}}
	p := tfout.Progress{Planned: 2, PlanSeen: true, Plan: []tfout.Change{{Address: "x.deploy", Action: "destroy"}, {Address: "x.deploy", Action: "create"}},
		Done: []tfout.Change{{Address: "x.deploy", Action: "destroy"}}, Failed: []string{"x.deploy"}}
	if u := p.UnrecordedIn(e.holds); len(u) != 0 {
		t.Fatalf("unrecorded %+v, want none", u)
	}
}

func TestPlanInstead(t *testing.T) {
	got := planInstead([]string{"-chdir=infra", "apply", "-auto-approve", "-input=false", "-var-file=prod.tfvars", "-target=x.a"})
	want := []string{"-chdir=infra", "plan", "-input=false", "-var-file=prod.tfvars", "-target=x.a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if s := tfargs.Parse([]string{"-chdir=infra", "apply"}).Name(); s != "apply" {
		t.Errorf("subcommand %q", s)
	}
}
