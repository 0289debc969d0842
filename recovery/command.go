package recovery

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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
//
// It reads top to bottom: check the options; abandon or resume a pending
// recovery; survey the workspace (backend, errored.tfstate, locks, the
// backend's state: every read, once); let the person choose when nothing
// proves a push safe; show the plan; confirm; then run the same steps as
// Recover under a new journal.
func RecoverCommand(ctx context.Context, r Run, o CommandOptions) Outcome {
	r.setDefaults()
	if r.Flavor == "" {
		r.Flavor = "terraform"
	}
	if o.Use != "" && o.Use != UseErrored && o.Use != UseRemote {
		return sayOnly(r, Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("--use %q: say --use errored (push errored.tfstate) or --use remote (keep the backend's state)", o.Use)})
	}
	root := RecoveryRoot(r.Dir, r.Env)
	if o.Abandon {
		return abandon(ctx, r, root)
	}
	if Pending(r.Dir, r.Env) && !o.Show {
		if o.LockID != "" {
			if err := giveLockID(root, r.Dir, o.LockID); err != nil {
				out := failed(r, err)
				out.Pending = true
				return reported(r, out)
			}
		}
		return Resume(ctx, r)
	}
	sv, out, ok := surveyWorkspace(ctx, r, &o, root)
	if !ok {
		return out
	}
	use, out, ok := chooseState(r, o, sv)
	if !ok {
		return out
	}
	say(r, "will:")
	for _, s := range commandPlan(sv, use, o.LockID) {
		fmt.Fprintf(r.Out, "    %s\n", s)
	}
	if o.Show {
		// The survey and the plan are printed; nothing else is.
		return Outcome{Kind: NeedsPerson, Summary: "shown only (--show)", Backend: &sv.backend, Errored: sv.errored, Next: againSteps()}
	}
	if out, ok := confirm(r, o, use, sv); !ok {
		return out
	}
	return startCommand(ctx, r, o, root, sv, use)
}

// say prints one line of tf's own.
func say(r Run, format string, a ...any) { fmt.Fprintf(r.Out, "tf: "+format+"\n", a...) }

// workspaceSurvey is what `tf guard recover` read before it decides:
// every read of the backend it makes, made once.
type workspaceSurvey struct {
	backend Backend
	errPath string
	errored *StateSummary // nil: no errored.tfstate
	held    Locks
	// fenced: every lock held is the one the person named, and it was taken
	// before errored.tfstate was written.
	fenced bool
	remote *StateSummary // the backend's state (read only with errored.tfstate)
	diff   StateDiff
	looked *StateMark // the state object the person is shown
}

// surveyWorkspace reads the backend config, errored.tfstate, the lock
// records and (with errored.tfstate) the backend's state, printing what it
// finds. A false ok is the outcome to return: nothing to do, or a stop.
func surveyWorkspace(ctx context.Context, r Run, o *CommandOptions, root string) (sv workspaceSurvey, out Outcome, ok bool) {
	b, err := LoadBackend(r.Dir, r.Env)
	if err != nil {
		out := failed(r, err)
		out.Next = initSteps(r.Flavor)
		return sv, reported(r, out), false
	}
	sv.backend = b
	say(r, "backend: %s", b)
	if Pending(r.Dir, r.Env) {
		say(r, "a recovery is pending in %s", root)
	}
	sv.errPath = filepath.Join(r.Dir, erroredFile)
	if raw, err := os.ReadFile(sv.errPath); err == nil {
		sum, perr := parseState(raw)
		if perr != nil {
			return sv, reported(r, Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("%s is not a terraform state: %v; tf leaves it alone", sv.errPath, perr), Error: perr.Error()}), false
		}
		sv.errored = &sum
		say(r, "errored.tfstate: %s", sum)
	} else {
		say(r, "errored.tfstate: none")
	}
	if !b.IsS3() {
		out := Outcome{Kind: Intact, Backend: &b, Summary: fmt.Sprintf("tf cannot read the lock records of the %s backend; it changes nothing here", b.Type)}
		if sv.errored != nil {
			out.Kind = NeedsPerson
		}
		out.Next = unreadableLocksSteps(r.Flavor, sv.errPath, sv.errored != nil, o.LockID)
		return sv, reported(r, out), false
	}
	rd, err := r.backend(ctx, b, r.Env)
	if err == nil {
		sv.held, err = rd.ReadLocks(ctx)
	}
	if err != nil {
		return sv, reported(r, Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("cannot read the lock records with %s: %v", credentialSource(b, r.Env), err), Error: err.Error(),
			Next: retrySteps(renewHint(r.Env, b))}), false
	}
	if !sv.held.Held() {
		say(r, "lock: none held on %s", b.LockPath())
	}
	for _, rec := range sv.held.All() {
		say(r, "lock: ID %s held by %s since %s for %s (terraform %s)", rec.ID, rec.Who, rec.Created, rec.Operation, rec.Version)
	}
	if out, stop := ownerLock(ctx, r, o, b, rd, sv.held, sv.errored != nil); stop { // owner record: dead, alive or elsewhere (owner_recover.go)
		return sv, out, false
	}
	if sv.errored == nil && !sv.held.Held() {
		return sv, reported(r, Outcome{Kind: Intact, Summary: "nothing to recover: no errored.tfstate and no lock held", Backend: &b}), false
	}
	if rec := unnamedLock(sv.held, o.LockID); rec != nil {
		out := Outcome{Kind: NeedsPerson, Backend: &b, Holder: rec, Errored: sv.errored, Saved: savedIf(sv.errored, sv.errPath),
			Summary: fmt.Sprintf("the state is locked by %s since %s (%s, ID %s); tf removes a lock only when you name it and it matches", rec.Who, rec.Created, rec.Operation, rec.ID),
			Next:    namedLockSteps(rec.ID)}
		if o.LockID != "" {
			out.Summary = fmt.Sprintf("--lock-id %s does not match the lock held (ID %s by %s); nothing changed", o.LockID, rec.ID, rec.Who)
		}
		return sv, reported(r, out), false
	}
	// Every record present is the one the person named. It fences
	// errored.tfstate only if that file was written while the lock existed:
	// an older file (an earlier incident) may predate changes others made.
	sv.fenced = sv.held.Held()
	if sv.fenced && sv.errored != nil {
		st := stampFile(sv.errPath)
		for _, rec := range sv.held.All() {
			if !writtenUnder(st, rec) {
				sv.fenced = false
				say(r, "errored.tfstate was written before lock %s was taken (%s): that lock does not fence it", rec.ID, rec.Created)
			}
		}
	}
	if sv.errored == nil {
		return sv, Outcome{}, true
	}
	if so, err := rd.StateObject(ctx); err == nil {
		// What the person is shown is this object: a push they choose may go
		// over it, and over nothing written after.
		sv.looked = &StateMark{Why: knownLooked, Object: so}
	}
	if rem, _, err := pullState(ctx, r, r.Env); err == nil {
		sv.remote = &rem
		sv.diff = diffStates(rem, *sv.errored)
		say(r, "backend's state: %s", rem)
		for _, l := range sv.diff.Lines() {
			say(r, "  %s", l)
		}
	}
	if sv.remote == nil {
		return sv, reported(r, Outcome{Kind: NeedsPerson, Backend: &b, Errored: sv.errored, Summary: "cannot read the backend's state (state pull failed)", Next: retrySteps(renewHint(r.Env, b))}), false
	}
	return sv, Outcome{}, true
}

// unnamedLock is the first lock record held that is not the one the person
// named (nil: every record held is that one).
func unnamedLock(held Locks, named string) *tfout.LockInfo {
	for _, rec := range held.All() {
		if named == "" || rec.ID != named {
			return rec
		}
	}
	return nil
}

// writtenUnder says whether the file stamped st was written while the lock
// rec existed (a second's slack for the clocks of the file system and the
// lock's writer); a missing file or an unreadable time is not.
func writtenUnder(st *FileStamp, rec *tfout.LockInfo) bool {
	created, err := time.Parse(time.RFC3339Nano, rec.Created)
	return err == nil && st != nil && !st.ModTime.Before(created.Add(-time.Second))
}

// chooseState is the person's choice between errored.tfstate and the
// backend's state, asked only when nothing proves the backend has not moved
// on since errored.tfstate was written.
func chooseState(r Run, o CommandOptions, sv workspaceSurvey) (use string, out Outcome, ok bool) {
	use = o.Use
	if sv.errored == nil || sv.fenced || use != "" {
		return use, Outcome{}, true
	}
	if o.Show || !r.Interactive || r.In == nil {
		return "", reported(r, Outcome{Kind: NeedsPerson, Backend: &sv.backend, Errored: sv.errored, Remote: sv.remote, Diff: &sv.diff, Saved: []string{sv.errPath},
			Summary: "no lock fences the state, so tf cannot prove the backend holds nothing newer than errored.tfstate: choose which to keep",
			Next:    chooseSteps()}), false
	}
	fmt.Fprint(r.Out, "tf: keep which? 'errored' pushes errored.tfstate, 'remote' keeps the backend's state, anything else changes nothing: ")
	line, _ := bufio.NewReader(r.In).ReadString('\n')
	use = strings.TrimSpace(line)
	if use != UseErrored && use != UseRemote {
		return "", reported(r, Outcome{Kind: NeedsPerson, Summary: "no choice made; nothing was changed", Backend: &sv.backend, Errored: sv.errored, Saved: []string{sv.errPath}}), false
	}
	return use, Outcome{}, true
}

// commandPlan is what `tf guard recover` will do, as shown before it asks.
func commandPlan(sv workspaceSurvey, use, lockID string) []string {
	var plan []string
	switch {
	case sv.errored != nil && use == UseRemote:
		plan = append(plan, "keep the backend's state; move errored.tfstate into a backup directory")
	case sv.errored != nil && sv.fenced:
		plan = append(plan, fmt.Sprintf("copy errored.tfstate to a backup, push it with -lock=false while lock %s fences the state (never -force)", lockID))
	case sv.errored != nil:
		plan = append(plan, "copy errored.tfstate to a backup and push it, taking the lock (never -force)")
	}
	if sv.fenced {
		plan = append(plan, "verify the backend's state, then release lock "+lockID)
	}
	return plan
}

// confirm asks for "yes" unless --yes was given or the person already chose
// with --use or at the prompt.
func confirm(r Run, o CommandOptions, use string, sv workspaceSurvey) (Outcome, bool) {
	if o.Yes || use != "" {
		return Outcome{}, true
	}
	if !r.Interactive || r.In == nil {
		return reported(r, Outcome{Kind: NeedsPerson, Summary: "not confirmed: no terminal to ask; re-run with --yes", Backend: &sv.backend, Errored: sv.errored,
			Next: confirmSteps(o.LockID)}), false
	}
	fmt.Fprint(r.Out, "tf: go ahead? Only 'yes' will be accepted: ")
	line, _ := bufio.NewReader(r.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return reported(r, Outcome{Kind: NeedsPerson, Summary: "not confirmed; nothing was changed", Backend: &sv.backend, Errored: sv.errored}), false
	}
	return Outcome{}, true
}

// startCommand opens the journal of a recovery a person started, under the
// recovery directory's lock, and runs it: keep the backend's state, or the
// steps Recover runs.
func startCommand(ctx context.Context, r Run, o CommandOptions, root string, sv workspaceSurvey, use string) Outcome {
	lk, err := lockRoot(ctx, root, r.Out)
	if err != nil {
		return reported(r, failed(r, err))
	}
	defer lk.unlock()
	if Pending(r.Dir, r.Env) {
		// Another tf's run failed here while this one looked and asked: its
		// recovery (with its run's evidence) comes first and is never
		// overwritten.
		return reported(r, Outcome{Kind: NeedsPerson, Pending: true, Backend: &sv.backend, Errored: sv.errored,
			Summary: "another tf left a pending recovery in " + root + " meanwhile; it comes first, so nothing was changed",
			Next:    pendingFirstSteps()})
	}
	j, err := newJournal(root, r.Dir, r.Now())
	if err != nil {
		return reported(r, failed(r, err))
	}
	if sv.looked != nil && sv.remote != nil {
		looked := *sv.looked
		looked.Lineage, looked.Serial, looked.SHA256 = sv.remote.Lineage, sv.remote.Serial, sv.remote.SHA256
		j.addKnown(looked)
	}
	if sv.errored != nil {
		j.ErroredSeen = markFile(sv.errPath)
	}
	j.Tool, j.Args, j.Backend, j.GivenLockID, j.Who = r.Flavor, []string{"guard", "recover"}, sv.backend, o.LockID, whoAmI()
	j.Class = tfout.Classification{Tool: r.Flavor, PersistFailed: sv.errored != nil, ReleaseFailed: sv.fenced}
	if sv.errored == nil {
		j.Steps = append(j.Steps, StepRecord{Step: StepSecure, Status: "skipped", At: r.Now().UTC(), Note: "no errored.tfstate"})
	}
	if err := j.open(); err != nil {
		return reported(r, failed(r, err))
	}
	st := newPass(r, j)
	if use == UseRemote {
		return st.keepRemote(ctx)
	}
	if sv.errored != nil && !sv.held.Held() {
		j.setRoute(RouteChosen)
	}
	return st.sequence(ctx)
}

// savedIf is errored.tfstate's place when there is one.
func savedIf(errored *StateSummary, path string) []string {
	if errored == nil {
		return nil
	}
	return []string{path}
}
