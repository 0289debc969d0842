package wrapper

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tfguard/tf/envlist"
)

// GitHub Actions' variables read for a refusal's annotation.
const (
	envGitHubActions = "GITHUB_ACTIONS"
	envStepSummary   = "GITHUB_STEP_SUMMARY"
)

// annotateRefusal makes a refused guarded command (exit 75) visible where a
// GitHub Actions user looks: an `::error` workflow command (the runner reads
// them on stderr too) that puts the reason on the run's page, and a section
// appended to the step summary. Elsewhere it does nothing; the refusal
// itself is printed by the caller, as always.
func annotateRefusal(inv *Invocation, err error) {
	if err == nil || exitCodeOf(withExitCode(err, ExitPreflight)) != ExitPreflight {
		return
	}
	if v, _ := envlist.Lookup(inv.Env, envGitHubActions); v != "true" || inv.Stderr == nil {
		return
	}
	writeRefusalAnnotation(inv.Stderr, inv, err)
	if path, _ := envlist.Lookup(inv.Env, envStepSummary); path != "" {
		if werr := appendStepSummary(path, inv, err); werr != nil {
			fmt.Fprintf(inv.Stderr, "tf: could not append to %s: %v\n", envStepSummary, werr)
		}
	}
}

func refusedCommand(inv *Invocation) string {
	return strings.Join(inv.Command.Words, " ")
}

// writeRefusalAnnotation writes one `::error` workflow command.
func writeRefusalAnnotation(w io.Writer, inv *Invocation, err error) {
	msg := "tf: " + err.Error() + "\nterraform did not start: nothing was locked or changed (exit 75)."
	fmt.Fprintf(w, "::error title=tf refused %s (exit 75)::%s\n", ghEscapeProperty(refusedCommand(inv)), ghEscapeData(msg))
}

func appendStepSummary(path string, inv *Invocation, err error) error {
	f, ferr := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if ferr != nil {
		return ferr
	}
	defer f.Close()
	_, werr := fmt.Fprintf(f, "\n### tf refused `%s` (exit 75)\n\n%s\n\nterraform did not start: nothing was locked or changed.\n",
		refusedCommand(inv), err.Error())
	return werr
}

// ghEscapeData escapes a workflow command's message.
func ghEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghEscapeProperty escapes a workflow command's property value.
func ghEscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
