package recovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfout"
)

// The whole of what some terraform versions print when the credentials
// vanished at the save: two lines.
const saveVanishedShort = "Error: Failed to save state\nError saving state: failed to upload state: NoCredentialProviders: no valid providers in chain.\n"

func TestShortSaveFailureIsReadLikeItsLongerForms(t *testing.T) {
	long := tfout.Classify(readTestdata(t, filepath.Join("realworld", "terraform-15688.txt")))
	c := tfout.Classify([]byte(saveVanishedShort))
	if c.Cause != long.Cause || c.Kind != long.Kind || !c.Expired || c.From != "save" || !c.SaveFailed || !c.Wreck() {
		t.Fatalf("short form %+v\nlonger form %+v", c, long)
	}
}

// Recovery treats the short form as a failed save: with the run's
// errored.tfstate it secures it (and, the backend's object being the one the
// run started from, pushes it); without one it never says terraform saved
// the state, and says nothing of a lock no release failure left.
func TestShortSaveFailureIsAWreck(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 1, "base"))
	x.errored(stateJSONFor("L", 3, "base", "long"))
	o := Recover(context.Background(), x.run(saveVanishedShort))
	if (o.Kind != NeedsPerson && o.Kind != Recovered) || o.Errored == nil || !strings.Contains(x.out.String(), "copied errored.tfstate") {
		t.Fatalf("with errored.tfstate: %s %s\n%s", o.Kind, o.Summary, x.out)
	}

	y := newWS(t, `"dynamodb_table":"t"`)
	y.w.write(stateJSONFor("L", 1, "base"))
	o = Recover(context.Background(), y.run(saveVanishedShort))
	out := y.out.String()
	if o.Kind != NeedsPerson || strings.Contains(out, "terraform saved the state") || strings.Contains(out, "lock is kept") || !strings.Contains(out, "recorded in no state") {
		t.Fatalf("without errored.tfstate: %s %s\n%s", o.Kind, o.Summary, out)
	}
}

// newcomer H4: an SSO session that ended before `plan` started. terraform
// locked nothing and saved nothing: no recovery text, no report, no rerun of
// the command that just failed; the advice is to log in.
func TestNoRecoveryTextWhenTerraformNeverLocked(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	r := x.run("Error: No valid credential sources found\n\nPlease see https://developer.hashicorp.com/terraform/language/backend/s3\nfor more information about providing credentials.\n\n" +
		"Error: failed to refresh cached credentials, operation error SSO:\nGetRoleCredentials, https response error StatusCode: 401, RequestID: x,\nUnauthorizedException: Session token not found or invalid\n")
	r.Args = []string{"plan", "-input=false", "-no-color"}
	r.Env = []string{"AWS_PROFILE=sso", "GITHUB_ACTIONS=true"}
	r.ReportPath = filepath.Join(x.dir, "report.json")
	o := Recover(context.Background(), r)
	out := x.out.String()
	for _, bad := range []string{"failed to save", "RECOVER", "credentials expired", "saved the state", "terraform plan", "::notice", "::error"} {
		if strings.Contains(out, bad) {
			t.Errorf("%q in:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "aws sso login --profile sso") || !strings.Contains(out, "log in again") {
		t.Errorf("no login advice:\n%s", out)
	}
	if _, err := os.Stat(r.ReportPath); err == nil || o.Pending || Pending(x.dir, nil) {
		t.Errorf("a report or a pending recovery for a run that never locked: %+v", o)
	}
}

// On a runner whose files go with the job, "nothing is lost" is not true:
// tf says where the files are, that they are on this runner only, and the
// exact configuration that keeps them.
func TestCIRunnerKeepStep(t *testing.T) {
	o := &Outcome{Kind: NeedsPerson, Pending: true, Summary: "stopped",
		Saved:       []string{"/builds/g/p/infra/errored.tfstate", "/builds/g/p/infra/.terraform/tf-recovery/20261202T1/errored.tfstate"},
		RecoveryDir: "/builds/g/p/infra/.terraform/tf-recovery/20261202T1"}
	for _, c := range []struct {
		env  []string
		want []string
	}{
		{[]string{"GITLAB_CI=true", "CI_PROJECT_DIR=/builds/g/p"}, []string{"artifacts:", "  when: on_failure", "  paths:",
			"    - infra/errored.tfstate", "    - infra/.terraform/tf-recovery/"}},
		{[]string{"GITHUB_ACTIONS=true"}, []string{"- if: failure()", "  uses: actions/upload-artifact@v4", "  with:", "    name: tf-recovery",
			"    include-hidden-files: true", "    path: |", "      /builds/g/p/infra/errored.tfstate", "      /builds/g/p/infra/.terraform/tf-recovery/"}},
		{nil, nil},
	} {
		r := Run{Env: c.env, Flavor: "terraform"}
		if got := keepStep(ephemeralCI(c.env), r, o); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%v:\ngot  %q\nwant %q", c.env, got, c.want)
		}
		var b strings.Builder
		writeHuman(&b, r, o)
		lost := strings.Contains(b.String(), "nothing is lost")
		if lost != (c.env == nil) {
			t.Errorf("%v: 'nothing is lost' said %v:\n%s", c.env, lost, b.String())
		}
	}
}

// "secured in" only names a place that exists; "stays pending" only with a
// journal.
func TestReportNamesOnlyPlacesThatExist(t *testing.T) {
	var b strings.Builder
	writeHuman(&b, Run{Flavor: "terraform"}, &Outcome{Kind: NeedsPerson, Summary: "locked", Errored: &StateSummary{Serial: 2}})
	if strings.Contains(b.String(), "secured in") || strings.Contains(b.String(), "pending") {
		t.Errorf("%s", b.String())
	}
}

// A failed save whose cause tf does not know, with no errored.tfstate and no
// failed release, is terraform's error alone: tf leaves it as plain terraform
// does and opens no recovery that would hold up the next command.
func TestUnexplainedSaveFailureOpensNoRecovery(t *testing.T) {
	x := newWS(t, `"dynamodb_table":"t"`)
	x.w.write(stateJSONFor("L", 1, "base"))
	o := Recover(context.Background(), x.run("Error: Failed to save state\n"))
	if o.Kind != NotCredentials || o.Pending {
		t.Fatalf("got %s (pending %v): %s\n%s", o.Kind, o.Pending, o.Summary, x.out)
	}
	if Pending(x.dir, nil) {
		t.Fatalf("a recovery is pending after an unexplained save failure:\n%s", x.out)
	}
	if x.out.Len() != 0 {
		t.Fatalf("tf printed:\n%s", x.out)
	}
}

// A denied DeleteItem at the release: terraform's diagnostic carries the Lock
// Info it read and found equal to the lock it released, so its ID is this
// run's (printed evidence). With "does not match", the Lock Info is another
// holder's and never evidence.
func TestReleaseDiagnosticLockInfoIsTheRunsLock(t *testing.T) {
	const id = "53899d36-2ca0-24a3-3cb7-5b169c398f9c"
	denied := "Error: Error releasing the state lock\n\nError message: operation error DynamoDB: DeleteItem, https response error\nStatusCode: 400, RequestID: , api error AccessDeniedException: User:\narn:aws:sts::111122223333:assumed-role/RigAdmin/rig is not authorized to\nperform: dynamodb:DeleteItem on resource:\narn:aws:dynamodb:us-east-1:111122223333:table/tf-locks\nLock Info:\n  ID:        " + id + "\n  Path:      tf-state/incident/terraform.tfstate\n  Operation: taint\n"
	if c := tfout.Classify([]byte(denied)); !c.ReleaseFailed || c.LockID != id {
		t.Fatalf("denied release: %+v", c)
	}
	other := "Error: Error releasing the state lock\n\nError message: lock id \"aaaaaaaa-2ca0-24a3-3cb7-5b169c398f9c\" does not match existing lock\nLock Info:\n  ID:        " + id + "\n"
	if c := tfout.Classify([]byte(other)); c.LockID == id {
		t.Fatalf("another holder's Lock Info taken as the run's: %+v", c)
	}
}
