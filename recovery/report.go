package recovery

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfargs"
)

// report tells people (r.Out), machines (JSON at r.ReportPath and in the
// recovery directory) and GitHub Actions (annotations, step summary) what
// happened. Nothing here prints credentials: only IDs, paths and commands.
func report(r Run, o *Outcome) {
	writeHuman(r.Out, r, o)
	if b, err := json.MarshalIndent(o, "", "  "); err == nil {
		b = append(b, '\n')
		if o.RecoveryDir != "" {
			_ = writeFileSync(filepath.Join(o.RecoveryDir, reportName), b)
		}
		if r.ReportPath != "" {
			if err := writeFileSync(r.ReportPath, b); err != nil {
				fmt.Fprintf(r.Out, "tf: could not write the recovery report: %v\n", err)
			}
		}
	}
	if envlist.Get(r.Env, envGitHubActions) == "true" {
		writeGitHub(r, o)
	}
}

func writeHuman(w io.Writer, r Run, o *Outcome) {
	if o.Kind == NotCredentials {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, "tf: "+format+"\n", a...) }
	if a := o.Advice; a != nil && a.Summary != "" {
		p("%s failed to save the state or release its lock: %s", r.Flavor, a.Summary)
		if o.Kind == NeedsPerson && !a.LogIn {
			for _, st := range a.Steps {
				fmt.Fprintf(w, "    %s\n", st)
			}
		}
	} else if len(o.Class.Shapes) > 0 && o.Kind != Intact {
		p("%s failed because the AWS credentials expired (%s).", r.Flavor, strings.Join(o.Class.Shapes, ", "))
	}
	for _, d := range o.Did {
		p("%s", d)
	}
	switch o.Kind {
	case Intact, Elsewhere, Abandoned:
		p("%s", o.Summary)
	case Recovered:
		p("RECOVERED: %s.", strings.TrimPrefix(o.Summary, "recovered: "))
		p("backend: %s", backendName(o))
		if o.RecoveryDir != "" {
			p("the backup and journal are kept in %s", o.RecoveryDir)
		}
		switch {
		case o.superseded != "":
			p("since then someone else wrote the state (the backend now holds %s): %s plan shows where things stand.", o.superseded, r.Flavor)
		case o.Progress != nil && o.Progress.PlanSeen:
			// terraform's output says what was planned and done; the state
			// comparison says what is now recorded.
			p("by %s's output, %s", r.Flavor, progressSentence(*o.Progress, r.Flavor, true))
			if o.Made != nil {
				p("the push recorded what the backend did not have yet: %s.", o.Made.Recorded())
			}
		case o.Made != nil:
			p("%s.", o.Made.MadeSentence(r.Flavor, o.commandName(r.Flavor)))
		case o.Progress != nil:
			p("by %s's output, %s", r.Flavor, progressSentence(*o.Progress, r.Flavor, true))
		case o.Errored != nil && o.ran():
			p("the %s itself did not finish: run it again; its plan shows what is left.", o.commandName(r.Flavor))
		}
		if len(o.Dropped) > 0 {
			p("the push dropped from the backend's state what only it recorded: %s (terraform no longer tracks these objects; they were not destroyed).", strings.Join(o.Dropped, ", "))
		}
	case NeedsPerson:
		p("RECOVERY NEEDS YOU: %s", o.Summary)
		ci := ephemeralCI(r.Env)
		switch {
		case len(o.Saved) > 0 && ci != "":
			p("the state terraform could not save is in %s, on this runner only: %s", strings.Join(o.Saved, " and "), ciLoss(ci))
		case len(o.Saved) > 0:
			p("nothing is lost: the state terraform could not save is in %s", strings.Join(o.Saved, " and "))
		case o.Errored != nil && o.RecoveryDir != "":
			p("the state terraform could not save (%s) was secured in %s", o.Errored, o.RecoveryDir)
		}
		if o.LockID != "" && o.RecoveryDir == "" {
			p("this run's lock is %s (%s); tf keeps no record of it: note it", o.LockID, describeEvidence(o.Evidence))
		}
		if o.Progress != nil && o.Errored != nil {
			p("by %s's output, %s", r.Flavor, progressSentence(*o.Progress, r.Flavor, false))
		}
		switch {
		case o.Pending && o.otherDir != "":
			p("it stays pending until `tf guard recover` runs in %s; tf did nothing to it here", o.otherDir)
		case o.Pending && ci != "":
			p("this recovery stays pending in this job's working directory: a later step of this job, with working credentials, continues it (`tf guard recover`); a new job starts without it unless these files are restored into the working directory first")
		case o.Pending:
			p("this recovery stays pending: the next guarded command here, or `tf guard recover`, continues it")
		case o.RecoveryDir != "":
			what := "its journal stays"
			if o.Errored != nil {
				what = "its journal and backup stay"
			}
			p("tf has closed this recovery; %s in %s", what, o.RecoveryDir)
		}
		if keep := keepStep(ci, r, o); len(keep) > 0 {
			p("keep them with this %s:", keepWhat(ci))
			for _, l := range keep {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	if len(o.Next) > 0 {
		p("next:")
		for _, c := range o.Next {
			fmt.Fprintf(w, "    %s\n", c)
		}
	}
}

func backendName(o *Outcome) string {
	if o.Backend == nil {
		return "the backend"
	}
	return o.Backend.String()
}

// commandName names the failed command ("terraform apply").
func (o *Outcome) commandName(tool string) string {
	if c := tfargs.Parse(o.failedArgs).Name(); c != "" && o.ran() {
		return tool + " " + c
	}
	return "command"
}

// ran says whether a terraform command failed (a journal started by `tf
// guard recover` has none).
func (o *Outcome) ran() bool {
	c := tfargs.Parse(o.failedArgs).Name()
	return c != "" && c != "guard"
}

// ghEscape escapes a workflow command's message.
func ghEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func writeGitHub(r Run, o *Outcome) {
	level := "notice"
	if o.Kind == NeedsPerson {
		level = "error"
	}
	msg := o.Summary
	if len(o.Next) > 0 {
		msg += "\nNext:\n" + strings.Join(o.Next, "\n")
	}
	fmt.Fprintf(r.Out, "::%s title=tf recovery (%s)::%s\n", level, o.Kind, ghEscape(msg))
	path := envlist.Get(r.Env, envStepSummary)
	if path == "" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n### tf recovery: %s\n\n%s\n\n", o.Kind, o.Summary)
	for _, d := range o.Did {
		fmt.Fprintf(&b, "- %s\n", d)
	}
	if len(o.Next) > 0 {
		b.WriteString("\nNext:\n\n```sh\n" + strings.Join(o.Next, "\n") + "\n```\n")
	}
	if o.RecoveryDir != "" {
		fmt.Fprintf(&b, "\nBackup and journal: `%s`\n", o.RecoveryDir)
	}
	if keep := keepStep(ephemeralCI(r.Env), r, o); len(keep) > 0 {
		fmt.Fprintf(&b, "\nThe state terraform could not save is on this runner only and is gone when the job ends. Keep it with this step after the terraform step:\n\n```yaml\n%s\n```\n", strings.Join(keep, "\n"))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(r.Out, "tf: could not append to GITHUB_STEP_SUMMARY: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = f.WriteString(b.String())
}

// CI systems whose runner's files go with the job.
const (
	ciGitHub         = "github"
	ciGitLab         = "gitlab"
	envGitLabCI      = "GITLAB_CI"
	envGitLabProject = "CI_PROJECT_DIR"
)

// ephemeralCI names the CI whose working directory vanishes with the job
// (a hosted runner), "" elsewhere.
func ephemeralCI(env []string) string {
	switch {
	case envlist.Get(env, envGitHubActions) == "true":
		return ciGitHub
	case envlist.Get(env, envGitLabCI) == "true":
		return ciGitLab
	}
	return ""
}

func ciLoss(ci string) string {
	if ci == ciGitHub {
		return "a hosted runner's files are gone when the job ends, unless a later step of the job uploads them (below)"
	}
	return "the runner's files are gone when the job ends, unless the job keeps them as artifacts (below)"
}

func keepWhat(ci string) string {
	if ci == ciGitHub {
		return "step after the terraform step (it runs when the job fails; tf writes it to the step summary too)"
	}
	return "job setting (kept when the job fails)"
}

// gitlabKeepDir is where a GitLab job copies what it keeps from outside
// its project directory (relative to $CI_PROJECT_DIR).
const gitlabKeepDir = "tf-recovery-keep"

// keepStep is the CI configuration that keeps the files a person needs
// (errored.tfstate and tf's recovery directory) beyond the job, nil when
// there is nothing to keep or no ephemeral CI.
func keepStep(ci string, r Run, o *Outcome) []string {
	if ci == "" || o.Kind != NeedsPerson || len(o.Saved) == 0 {
		return nil
	}
	paths := append([]string{}, o.Saved...)
	if o.RecoveryDir != "" {
		// the whole recovery directory: journal, backup, PENDING marker.
		root := filepath.Dir(o.RecoveryDir)
		var keep []string
		for _, p := range paths {
			if !strings.HasPrefix(p, root+string(filepath.Separator)) {
				keep = append(keep, p)
			}
		}
		paths = append(keep, root+string(filepath.Separator))
	}
	switch ci {
	case ciGitHub:
		out := []string{"- if: failure()", "  uses: actions/upload-artifact@v4", "  with:", "    name: tf-recovery", "    include-hidden-files: true", "    path: |"}
		for _, p := range paths {
			out = append(out, "      "+p)
		}
		return out
	case ciGitLab:
		base := envlist.Get(r.Env, envGitLabProject)
		var inside, outside []string
		for _, p := range paths {
			if base != "" {
				rel, err := filepath.Rel(base, p)
				if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					outside = append(outside, strings.TrimSuffix(p, string(filepath.Separator)))
					continue
				}
				if strings.HasSuffix(p, string(filepath.Separator)) {
					rel += "/"
				}
				p = filepath.ToSlash(rel)
			}
			inside = append(inside, p)
		}
		var out []string
		if len(outside) > 0 {
			// GitLab uploads artifacts only from inside the project
			// directory: after_script (which runs when the job fails too,
			// before the artifacts are collected) copies the rest there.
			out = append(out, "# GitLab cannot keep "+strings.Join(outside, " and ")+" as artifacts: it keeps only files inside $CI_PROJECT_DIR; after_script copies them there",
				"after_script:", `  - mkdir -p "$CI_PROJECT_DIR/`+gitlabKeepDir+`"`)
			for _, p := range outside {
				out = append(out, "  - cp -r "+tfargs.Quote(p)+` "$CI_PROJECT_DIR/`+gitlabKeepDir+`/"`)
			}
			inside = append(inside, gitlabKeepDir+"/")
		}
		out = append(out, "artifacts:", "  when: on_failure", "  paths:")
		for _, p := range inside {
			out = append(out, "    - "+p)
		}
		return out
	}
	return nil
}
