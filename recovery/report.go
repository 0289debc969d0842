package recovery

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	if envLookup(r.Env, envGitHubActions) == "true" {
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
	} else if len(o.Class.Shapes) > 0 {
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
		case o.Progress != nil && o.Progress.PlanSeen:
			// terraform's output says what was planned and done; the state
			// comparison says what is now recorded.
			p("by %s's output, %s", r.Flavor, o.Progress.Sentence(r.Flavor, true))
			if o.Made != nil {
				p("the push recorded what the backend did not have yet: %s.", o.Made.Recorded())
			}
		case o.Made != nil:
			p("%s.", o.Made.MadeSentence(r.Flavor, commandName(r)))
		case o.Progress != nil:
			p("by %s's output, %s", r.Flavor, o.Progress.Sentence(r.Flavor, true))
		case o.Errored != nil:
			p("the %s itself did not finish: run it again; its plan shows what is left.", commandName(r))
		}
		if len(o.Dropped) > 0 {
			p("the push dropped from the backend's state what only it recorded: %s (terraform no longer tracks these objects; they were not destroyed).", strings.Join(o.Dropped, ", "))
		}
	case NeedsPerson:
		p("RECOVERY NEEDS YOU: %s", o.Summary)
		switch {
		case len(o.Saved) > 0:
			p("nothing is lost: the state terraform could not save is in %s", strings.Join(o.Saved, " and "))
		case o.Errored != nil:
			p("the state terraform could not save (%s) was secured in %s", o.Errored, o.RecoveryDir)
		}
		if o.Progress != nil && o.Errored != nil {
			p("by %s's output, %s", r.Flavor, o.Progress.Sentence(r.Flavor, false))
		}
		if o.Pending {
			p("this recovery stays pending: the next guarded command here, or `tf guard recover`, continues it")
		} else if o.RecoveryDir != "" {
			what := "its journal stays"
			if o.Errored != nil {
				what = "its journal and backup stay"
			}
			p("tf has closed this recovery; %s in %s", what, o.RecoveryDir)
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

func commandName(r Run) string {
	if c := subcommand(r.Args); c != "" {
		return r.Flavor + " " + c
	}
	return "command"
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
	path := envLookup(r.Env, envStepSummary)
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
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(r.Out, "tf: could not append to GITHUB_STEP_SUMMARY: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = f.WriteString(b.String())
}
