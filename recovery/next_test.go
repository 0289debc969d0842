package recovery

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

func joinNext(l []string) string { return strings.Join(l, "\n") }

// A replacement the failed run made is never asked for again, in either
// spelling of -replace, and the rest of the apply is not run unseen.
func TestNextNeverRepeatsACompletedReplacement(t *testing.T) {
	p := &tfout.Progress{PlanSeen: true, Planned: 3,
		Plan:   []tfout.Change{{Address: "x.base", Action: "destroy"}, {Address: "x.base", Action: "create"}, {Address: "x.deploy", Action: "create"}},
		Done:   []tfout.Change{{Address: "x.base", Action: "destroy"}, {Address: "x.base", Action: "create"}},
		Failed: []string{"x.deploy"}}
	for _, args := range [][]string{
		{"apply", "-auto-approve", "-input=false", "-no-color", "-replace=x.base"},
		{"apply", "-auto-approve", "-input=false", "-no-color", "-replace", "x.base"},
		{"apply", "--auto-approve=true", "-input=false", "-no-color", "--replace=x.base"},
	} {
		got := nextSteps(nextFacts{Tool: "terraform", Args: args, Progress: p})
		want := []string{
			"# -replace=x.base is left out: the failed run replaced x.base (terraform reported it complete)",
			"terraform apply -input=false -no-color   # shows what is left and asks before it changes anything",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\ngot  %q\nwant %q", args, got, want)
		}
	}
}

// A replacement terraform never started is still what the person asked
// for; one it started (failed, cut off) is left to a person to judge.
func TestNextKeepsAReplacementNeverStarted(t *testing.T) {
	p := &tfout.Progress{PlanSeen: true, Planned: 4,
		Plan: []tfout.Change{{Address: "x.a", Action: "destroy"}, {Address: "x.a", Action: "create"}, {Address: "x.b", Action: "destroy"}, {Address: "x.b", Action: "create"}},
		Done: []tfout.Change{{Address: "x.a", Action: "destroy"}}, Cut: []tfout.Change{{Address: "x.a", Action: "create"}}}
	got := joinNext(nextSteps(nextFacts{Tool: "terraform", Args: []string{"apply", "-replace=x.a", "-replace=x.b"}, Progress: p}))
	want := "# -replace=x.a is left out: the failed run started replacing x.a; check x.a before asking for its replacement again\n" +
		"terraform apply -replace=x.b   # shows what is left and asks before it changes anything"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Without terraform's output (read_stdout off, a saved plan, Windows) tf
// cannot tell whether a replacement happened: it is never repeated blindly.
func TestNextWithoutOutputNeverRepeatsReplace(t *testing.T) {
	got := nextSteps(nextFacts{Tool: "terraform", Args: []string{"apply", "-auto-approve", "-input=false", "-no-color", "-replace=terraform_data.long"}})
	want := []string{
		"# -replace=terraform_data.long is left out: the failed run may have replaced terraform_data.long already (tf cannot tell from terraform's output); check terraform_data.long before asking for its replacement again",
		"terraform apply -input=false -no-color   # shows what is left and asks before it changes anything",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// Every planned change made: a plan, with none of apply's own options.
func TestNextPlanHasNoApplyOnlyOptions(t *testing.T) {
	all := &tfout.Progress{PlanSeen: true, Planned: 2, Plan: []tfout.Change{{Address: "x.l", Action: "destroy"}, {Address: "x.l", Action: "create"}}, Done: []tfout.Change{{Address: "x.l", Action: "destroy"}, {Address: "x.l", Action: "create"}}}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "-auto-approve=true", "-input=false", "-no-color"}, "terraform plan -input=false -no-color"},
		{[]string{"apply", "--auto-approve", "-backup=b.tfstate", "-state-out", "o.tfstate", "-input=false"}, "terraform plan -input=false"},
		{[]string{"-chdir=infra", "apply", "-auto-approve", "-replace=x.l", "-var-file=prod.tfvars", "-target=x.l"}, "terraform -chdir=infra plan -var-file=prod.tfvars -target=x.l"},
		{[]string{"destroy", "-auto-approve", "-input=false"}, "terraform plan -destroy -input=false"},
	} {
		got := nextSteps(nextFacts{Tool: "terraform", Args: c.args, Progress: all})
		last := got[len(got)-1]
		if last != c.want+"   # every planned change was made: this shows nothing is left" {
			t.Errorf("%q: got %q, want %q", c.args, last, c.want)
		}
	}
	if got := planArgs([]string{"apply", "-auto-approve=false", "-backup", "b", "-input=false", "tfplan"}); !reflect.DeepEqual(got, []string{"plan", "-input=false"}) {
		t.Errorf("planArgs: %q", got)
	}
}

// A saved plan cannot be applied again; the next step is a plan, without
// the plan file.
func TestNextAfterSavedPlan(t *testing.T) {
	got := joinNext(nextSteps(nextFacts{Tool: "terraform", Args: []string{"apply", "-input=false", "tfplan"}}))
	if !strings.HasPrefix(got, "terraform plan -input=false   # ") || strings.Contains(got, "terraform plan -input=false tfplan") {
		t.Errorf("got %q", got)
	}
}

// `tf guard recover` started the journal: there is no run to repeat, and
// tf's own command is never printed as terraform's.
func TestNextAfterGuardRecoverIsAPlan(t *testing.T) {
	got := nextSteps(nextFacts{Tool: "terraform", Args: []string{"guard", "recover"}})
	if !reflect.DeepEqual(got, []string{"terraform plan   # shows what the configuration would change now"}) {
		t.Errorf("got %q", got)
	}
	if got := nextSteps(nextFacts{Tool: "terraform"}); strings.Contains(joinNext(got), "guard") {
		t.Errorf("got %q", got)
	}
}

// A command other than plan/apply/destroy is not repeated: its work is in
// the state.
func TestNextAfterStateCommandIsAPlan(t *testing.T) {
	got := nextSteps(nextFacts{Tool: "terraform", Args: []string{"-chdir=x", "taint", "terraform_data.base"}})
	want := []string{"terraform -chdir=x plan   # the state holds what terraform taint did; this shows where things stand"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

// No combination prints -auto-approve, a plan with apply's options, or
// `terraform guard`.
func TestNextNeverAutoApproves(t *testing.T) {
	progresses := []*tfout.Progress{nil,
		{PlanSeen: true, Planned: 1, Plan: []tfout.Change{{Address: "x.a", Action: "create"}}, Done: []tfout.Change{{Address: "x.a", Action: "create"}}},
		{PlanSeen: true, Planned: 2, Plan: []tfout.Change{{Address: "x.a", Action: "create"}, {Address: "x.b", Action: "create"}}, Done: []tfout.Change{{Address: "x.a", Action: "create"}}}}
	for _, args := range [][]string{
		{"apply", "-auto-approve"}, {"apply", "-auto-approve=true", "-json"}, {"destroy", "--auto-approve"},
		{"apply", "-auto-approve", "-replace", "x.a", "-backup=b"}, {"guard", "recover"}, {"plan", "-out=p"},
	} {
		for _, p := range progresses {
			for _, sup := range []bool{false, true} {
				got := joinNext(nextSteps(nextFacts{Tool: "terraform", Args: args, Progress: p, Superseded: sup}))
				if strings.Contains(got, "auto-approve") || strings.Contains(got, "terraform guard") {
					t.Errorf("%q %+v: %s", args, p, got)
				}
				for _, l := range strings.Split(got, "\n") {
					if strings.HasPrefix(l, "terraform plan") && strings.Contains(l, "-backup") || strings.HasPrefix(l, "terraform apply") && strings.Contains(l, "-json") {
						t.Errorf("%q: %s", args, l)
					}
				}
			}
		}
	}
}

// A lock tf read last and did not find is never printed for force-unlock,
// and a push with -lock=false is never offered without its fence.
func TestNextNeverUnlocksALockSeenGone(t *testing.T) {
	base := nextFacts{Tool: "terraform", Stopped: true, Pending: false, OwnID: "abc-1", ProvenID: "abc-1", Proven: true,
		Errored: true, Saved: []string{"/w/errored.tfstate"}, MayHoldLock: true}
	got := joinNext(nextSteps(base))
	if !strings.Contains(got, "terraform force-unlock -force abc-1") || !strings.Contains(got, "state push -lock=false /w/errored.tfstate") {
		t.Fatalf("lock present: %s", got)
	}
	base.LockGone = true
	got = joinNext(nextSteps(base))
	if strings.Contains(got, "force-unlock") || strings.Contains(got, "-lock=false") || !strings.Contains(got, "gone") {
		t.Errorf("lock gone: %s", got)
	}
	base.Pushed = true
	got = joinNext(nextSteps(base))
	if strings.Contains(got, "force-unlock") || strings.Contains(got, "state push") {
		t.Errorf("pushed, lock gone: %s", got)
	}
	// Only the unlock is left: no "push first".
	base.LockGone = false
	got = joinNext(nextSteps(base))
	if strings.Contains(got, "push first") || !strings.Contains(got, "force-unlock -force abc-1") {
		t.Errorf("pushed, lock there: %s", got)
	}
}

// Without a journal nothing is pending: the next steps carry the lock ID,
// and never offer to give up a recovery that does not exist.
func TestNextWithoutRecordNamesTheLock(t *testing.T) {
	got := joinNext(nextSteps(nextFacts{Tool: "terraform", NoRecord: "create recovery directory: not a directory", OwnID: "abc-2",
		Errored: true, Saved: []string{"/w/errored.tfstate"}}))
	for _, want := range []string{"tf guard recover --lock-id abc-2", "terraform state push -lock=false /w/errored.tfstate", "terraform force-unlock -force abc-2"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "--abandon") {
		t.Errorf("abandon without a recovery:\n%s", got)
	}
}

// TestNextPlanAfterRefreshOrImportKeepsVariablesAndTargets: the plan
// printed after a refresh or an import carries the command's -var-file
// and -target (a plan without them would show another picture) and asks
// for the -var values tf never keeps.
func TestNextPlanAfterRefreshOrImportKeepsVariablesAndTargets(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"refresh", "-var-file=prod.tfvars", "-target=aws_instance.a", "-var", "x=1"},
			"terraform plan -var-file=prod.tfvars -target=aws_instance.a   # add your -var values for x; the state holds what terraform refresh did; this shows where things stand"},
		{[]string{"-chdir=infra", "import", "-var-file=prod.tfvars", "-config=mod", "aws_instance.a", "i-123"},
			"terraform -chdir=infra plan -var-file=prod.tfvars   # the state holds what terraform import did; this shows where things stand"},
	} {
		f := nextFacts{Tool: "terraform", Args: c.args, VarNames: tfargs.Parse(c.args).VarNames()}
		if got := nextSteps(f); len(got) != 1 || got[0] != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.args, got, c.want)
		}
	}
}

// TestGitLabKeepsOutsideProjectDirByCopy: GitLab refuses artifact paths
// outside $CI_PROJECT_DIR, so such a path is copied into the project
// directory in after_script and the copy is kept.
func TestGitLabKeepsOutsideProjectDirByCopy(t *testing.T) {
	r := Run{Env: []string{"GITLAB_CI=true", "CI_PROJECT_DIR=/builds/g/p"}}
	o := &Outcome{Kind: NeedsPerson, Saved: []string{"/builds/g/p/infra/errored.tfstate"}, RecoveryDir: "/cache/tfdata/tf-recovery/20261202T000000Z"}
	got := strings.Join(keepStep(ciGitLab, r, o), "\n")
	want := strings.Join([]string{
		"# GitLab cannot keep /cache/tfdata/tf-recovery as artifacts: it keeps only files inside $CI_PROJECT_DIR; after_script copies them there",
		"after_script:",
		`  - mkdir -p "$CI_PROJECT_DIR/tf-recovery-keep"`,
		`  - cp -r /cache/tfdata/tf-recovery "$CI_PROJECT_DIR/tf-recovery-keep/"`,
		"artifacts:", "  when: on_failure", "  paths:",
		"    - infra/errored.tfstate",
		"    - tf-recovery-keep/",
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// Inside the project directory nothing is copied.
	o.RecoveryDir = "/builds/g/p/infra/.terraform/tf-recovery/20261202T000000Z"
	if got := strings.Join(keepStep(ciGitLab, r, o), "\n"); strings.Contains(got, "after_script") || !strings.Contains(got, "    - infra/.terraform/tf-recovery/") {
		t.Errorf("inside the project directory:\n%s", got)
	}
}

// The next steps that used to be written where they were printed: now in
// next.go, with the same words, and every path quoted for the shell.
func TestNextForOtherPlaces(t *testing.T) {
	for _, c := range []struct {
		got  []string
		want []string
	}{
		{otherCheckoutSteps("/home/me/my infra"), []string{"cd '/home/me/my infra' && tf guard recover"}},
		{otherDataDirSteps("/d/.tf data", false), []string{"TF_DATA_DIR='/d/.tf data' tf guard recover"}},
		{otherDataDirSteps("/d/data", true), []string{"TF_DATA_DIR=/d/data tf guard recover   # continues that recovery, securing the file first, once the cause above is fixed; then run your command again"}},
		{takenLockSteps("tofu", "abc-1"), []string{"# release the lock tf took for its push once the cause above is fixed:", "tofu force-unlock -force abc-1"}},
		{pendingFirstSteps(), []string{"tf guard recover   # continues that recovery; then run this one again"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
}
