package recovery

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// CommandOptions are the flags of `tf guard recover`.
type CommandOptions struct {
	// Yes skips the confirmation (CI); without it, tf asks when a person is
	// at a terminal and refuses otherwise.
	Yes bool
	// LockID names a lock the person declares to be the failed run's own
	// (evidence "given"): tf checks it is the lock on this state, and that
	// the run's own evidence does not name another.
	LockID string
	// Show only shows what is there and what would be done.
	Show bool
	// Abandon closes a pending recovery without doing anything more; every
	// backup is kept and its place printed.
	Abandon bool
	// Use is a person's choice when tf cannot prove a push is safe:
	// "errored" pushes errored.tfstate (taking the lock; terraform's own
	// lineage and serial checks apply, never -force), "remote" keeps the
	// backend's state and moves errored.tfstate into a backup directory.
	Use string
}

// Choices for CommandOptions.Use.
const (
	UseErrored = "errored"
	UseRemote  = "remote"
)

// RecoverCommand backs `tf guard recover`: it finishes, or gives up on, a
// pending recovery, and repairs a workspace broken earlier (also by plain
// terraform) as far as a person's word and tf's checks allow.
func RecoverCommand(ctx context.Context, r Run, o CommandOptions) Outcome {
	r.setDefaults()
	if r.Flavor == "" {
		r.Flavor = "terraform"
	}
	if o.Use != "" && o.Use != UseErrored && o.Use != UseRemote {
		out := Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("--use %q: say --use errored (push errored.tfstate) or --use remote (keep the backend's state)", o.Use)}
		writeHuman(r.Out, r, &out)
		return out
	}
	p := func(format string, a ...any) { fmt.Fprintf(r.Out, "tf: "+format+"\n", a...) }
	root := RecoveryRoot(r.Dir, r.Env)
	if o.Abandon {
		return abandon(ctx, r, root)
	}
	if Pending(r.Dir, r.Env) && !o.Show {
		if o.LockID != "" {
			if err := giveLockID(root, r.Dir, o.LockID); err != nil {
				out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error(), Pending: true}
				report(r, &out)
				return out
			}
		}
		return Resume(ctx, r)
	}
	b, err := LoadBackend(r.Dir, r.Env)
	if err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error(), Next: initSteps(r.Flavor)}
		report(r, &out)
		return out
	}
	p("backend: %s", b)
	if Pending(r.Dir, r.Env) {
		p("a recovery is pending in %s", root)
	}

	errPath := filepath.Join(r.Dir, erroredFile)
	var errored *StateSummary
	if raw, err := os.ReadFile(errPath); err == nil {
		sum, perr := parseState(raw)
		if perr != nil {
			out := Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("%s is not a terraform state: %v; tf leaves it alone", errPath, perr), Error: perr.Error()}
			report(r, &out)
			return out
		}
		errored = &sum
		p("errored.tfstate: %s", sum)
	} else {
		p("errored.tfstate: none")
	}
	if !b.IsS3() {
		out := Outcome{Kind: Intact, Backend: &b, Summary: fmt.Sprintf("tf cannot read the lock records of the %s backend; it changes nothing here", b.Type)}
		if errored != nil {
			out.Kind = NeedsPerson
		}
		out.Next = unreadableLocksSteps(r.Flavor, errPath, errored != nil, o.LockID)
		report(r, &out)
		return out
	}
	rd, err := r.backend(ctx, b, r.Env)
	var held Locks
	if err == nil {
		held, err = rd.ReadLocks(ctx)
	}
	if err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("cannot read the lock records with %s: %v", credentialSource(b, r.Env), err), Error: err.Error(),
			Next: retrySteps(renewHint(r.Env, b))}
		report(r, &out)
		return out
	}
	if !held.Held() {
		p("lock: none held on %s", b.LockPath())
	}
	for _, rec := range held.All() {
		p("lock: ID %s held by %s since %s for %s (terraform %s)", rec.ID, rec.Who, rec.Created, rec.Operation, rec.Version)
	}
	if out, stop := ownerLock(ctx, r, &o, b, rd, held, errored != nil); stop { // owner record: dead, alive or elsewhere (owner_recover.go)
		return out
	}
	if errored == nil && !held.Held() {
		out := Outcome{Kind: Intact, Summary: "nothing to recover: no errored.tfstate and no lock held", Backend: &b}
		report(r, &out)
		return out
	}
	for _, rec := range held.All() {
		if o.LockID == "" || rec.ID != o.LockID {
			out := Outcome{Kind: NeedsPerson, Backend: &b, Holder: rec, Errored: errored, Saved: savedIf(errored, errPath),
				Summary: fmt.Sprintf("the state is locked by %s since %s (%s, ID %s); tf removes a lock only when you name it and it matches", rec.Who, rec.Created, rec.Operation, rec.ID),
				Next:    namedLockSteps(rec.ID)}
			if o.LockID != "" {
				out.Summary = fmt.Sprintf("--lock-id %s does not match the lock held (ID %s by %s); nothing changed", o.LockID, rec.ID, rec.Who)
			}
			report(r, &out)
			return out
		}
	}
	// Every record present is the one the person named. It fences
	// errored.tfstate only if that file was written while the lock existed:
	// an older file (an earlier incident) may predate changes others made.
	fenced := held.Held()
	if fenced && errored != nil {
		st := stampFile(errPath)
		for _, rec := range held.All() {
			created, err := time.Parse(time.RFC3339Nano, rec.Created)
			if err != nil || st == nil || st.ModTime.Before(created.Add(-time.Second)) {
				fenced = false
				p("errored.tfstate was written before lock %s was taken (%s): that lock does not fence it", rec.ID, rec.Created)
			}
		}
	}
	var remote *StateSummary
	var diff StateDiff
	var looked *StateMark
	if errored != nil {
		if so, err := rd.StateObject(ctx); err == nil {
			// What the person is shown is this object: a push they choose
			// may go over it, and over nothing written after.
			looked = &StateMark{Why: knownLooked, Object: so}
		}
		out, _, err := r.runner.Run(ctx, buildPull(r.Terraform, r.Dir, r.Env))
		if err == nil {
			if rem, perr := parseState(out); perr == nil {
				remote = &rem
				diff = diffStates(rem, *errored)
				p("backend's state: %s", rem)
				for _, l := range diff.Lines() {
					p("  %s", l)
				}
			}
		}
		if remote == nil {
			out := Outcome{Kind: NeedsPerson, Backend: &b, Errored: errored, Summary: "cannot read the backend's state (state pull failed)", Next: retrySteps(renewHint(r.Env, b))}
			report(r, &out)
			return out
		}
	}
	use := o.Use
	if errored != nil && !fenced && use == "" {
		// Nothing proves the backend has not moved on: a person chooses.
		if o.Show || !r.Interactive || r.In == nil {
			out := Outcome{Kind: NeedsPerson, Backend: &b, Errored: errored, Remote: remote, Diff: &diff, Saved: []string{errPath},
				Summary: "no lock fences the state, so tf cannot prove the backend holds nothing newer than errored.tfstate: choose which to keep",
				Next:    chooseSteps()}
			report(r, &out)
			return out
		}
		fmt.Fprint(r.Out, "tf: keep which? 'errored' pushes errored.tfstate, 'remote' keeps the backend's state, anything else changes nothing: ")
		line, _ := bufio.NewReader(r.In).ReadString('\n')
		use = strings.TrimSpace(line)
		if use != UseErrored && use != UseRemote {
			out := Outcome{Kind: NeedsPerson, Summary: "no choice made; nothing was changed", Backend: &b, Errored: errored, Saved: []string{errPath}}
			report(r, &out)
			return out
		}
	}

	var plan []string
	switch {
	case errored != nil && use == UseRemote:
		plan = append(plan, "keep the backend's state; move errored.tfstate into a backup directory")
	case errored != nil && fenced:
		plan = append(plan, fmt.Sprintf("copy errored.tfstate to a backup, push it with -lock=false while lock %s fences the state (never -force)", o.LockID))
	case errored != nil:
		plan = append(plan, "copy errored.tfstate to a backup and push it, taking the lock (never -force)")
	}
	if fenced {
		plan = append(plan, "verify the backend's state, then release lock "+o.LockID)
	}
	p("will:")
	for _, s := range plan {
		fmt.Fprintf(r.Out, "    %s\n", s)
	}
	if o.Show {
		return Outcome{Kind: NeedsPerson, Summary: "shown only (--show)", Backend: &b, Errored: errored, Next: againSteps()}
	}
	if !o.Yes && use == "" {
		if !r.Interactive || r.In == nil {
			out := Outcome{Kind: NeedsPerson, Summary: "not confirmed: no terminal to ask; re-run with --yes", Backend: &b, Errored: errored,
				Next: confirmSteps(o.LockID)}
			report(r, &out)
			return out
		}
		fmt.Fprint(r.Out, "tf: go ahead? Only 'yes' will be accepted: ")
		line, _ := bufio.NewReader(r.In).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			out := Outcome{Kind: NeedsPerson, Summary: "not confirmed; nothing was changed", Backend: &b, Errored: errored}
			report(r, &out)
			return out
		}
	}

	lk, err := lockRoot(ctx, root, r.Out)
	if err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error()}
		report(r, &out)
		return out
	}
	defer lk.unlock()
	if Pending(r.Dir, r.Env) {
		// Another tf's run failed here while this one looked and asked: its
		// recovery (with its run's evidence) comes first and is never
		// overwritten.
		out := Outcome{Kind: NeedsPerson, Pending: true, Backend: &b, Errored: errored,
			Summary: "another tf left a pending recovery in " + root + " meanwhile; it comes first, so nothing was changed",
			Next:    []string{"tf guard recover   # continues that recovery; then run this one again"}}
		report(r, &out)
		return out
	}
	j, err := newJournal(root, r.Dir, r.Now())
	if err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error()}
		report(r, &out)
		return out
	}
	if looked != nil && remote != nil {
		looked.Lineage, looked.Serial, looked.SHA256 = remote.Lineage, remote.Serial, remote.SHA256
		j.Known = append(j.Known, *looked)
	}
	if errored != nil {
		j.ErroredSeen = markFile(errPath)
	}
	j.Tool, j.Args, j.Backend, j.GivenLockID, j.Who = r.Flavor, []string{"guard", "recover"}, b, o.LockID, whoAmI()
	j.Class = tfout.Classification{Tool: r.Flavor, PersistFailed: errored != nil, ReleaseFailed: fenced}
	if errored == nil {
		j.Steps = append(j.Steps, StepRecord{Step: StepSecure, Status: "skipped", At: r.Now().UTC(), Note: "no errored.tfstate"})
	}
	if err := j.open(); err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error()}
		report(r, &out)
		return out
	}
	st := newSeqState(r, j)
	if use == UseRemote {
		return st.keepRemote(ctx)
	}
	if errored != nil && !held.Held() {
		j.Route = RouteChosen
	}
	return st.sequence(ctx)
}

func lockFlag(id string) string {
	if id == "" {
		return ""
	}
	return " --lock-id " + tfargs.Quote(id)
}

// savedIf is errored.tfstate's place when there is one.
func savedIf(errored *StateSummary, path string) []string {
	if errored == nil {
		return nil
	}
	return []string{path}
}
