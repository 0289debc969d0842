package recovery

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CommandOptions are the flags of `tf guard recover`.
type CommandOptions struct {
	// Yes skips the confirmation (CI); without it, tf asks when a person is
	// at a terminal and refuses otherwise.
	Yes bool
	// LockID names a lock the person declares abandoned. A held lock is only
	// ever removed when this equals the lock record's (or, for backends whose
	// record tf cannot read, terraform's) ID.
	LockID string
	// Show only shows what is there and what would be done.
	Show bool
}

// RecoverCommand backs `tf guard recover`: it finishes an interrupted
// recovery, or repairs a workspace broken earlier (by plain terraform): it
// shows errored.tfstate and the lock (who, when, operation), says what it
// will do, and does it after confirmation (or with Yes).
// The wrapper maps the outcome like Recover's; Intact means nothing to do.
func RecoverCommand(ctx context.Context, r Run, o CommandOptions) Outcome {
	r.setDefaults()
	if r.Flavor == "" {
		r.Flavor = "terraform"
	}
	if Pending(r.Dir) && !o.Show {
		return Resume(ctx, r)
	}
	p := func(format string, a ...any) { fmt.Fprintf(r.Out, "tf: "+format+"\n", a...) }
	b, err := LoadBackend(r.Dir, r.Env)
	if err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error(), Next: []string{r.Flavor + " init"}}
		report(r, &out)
		return out
	}
	p("backend: %s", b)

	errPath := filepath.Join(r.Dir, erroredFile)
	var errored *StateSummary
	if raw, err := os.ReadFile(errPath); err == nil {
		sum, perr := parseState(raw)
		if perr != nil {
			out := Outcome{Kind: NeedsPerson, Summary: fmt.Sprintf("%s is not a terraform state: %v", errPath, perr), Error: perr.Error()}
			report(r, &out)
			return out
		}
		errored = &sum
		p("errored.tfstate: %s", sum)
	} else {
		p("errored.tfstate: none")
	}

	var held Locks
	if b.IsS3() {
		rd, err := r.locks(ctx, b, r.Env)
		if err == nil {
			held, err = rd.ReadLocks(ctx)
		}
		if err != nil {
			out := Outcome{Kind: NeedsPerson, Summary: "cannot read the lock records: " + err.Error(), Error: err.Error(),
				Next: []string{renewHint(r, b), "tf guard recover"}}
			report(r, &out)
			return out
		}
		if !held.Held() {
			p("lock: none held on %s", b.LockPath())
		}
		for _, rec := range held.All() {
			p("lock: ID %s held by %s since %s for %s (terraform %s)", rec.ID, rec.Who, rec.Created, rec.Operation, rec.Version)
		}
	} else if o.LockID != "" {
		p("lock: %s (given; this backend's lock record is not read)", o.LockID)
	}

	lockHeld := held.Held() || (!b.IsS3() && o.LockID != "")
	if errored == nil && !lockHeld {
		out := Outcome{Kind: Intact, Summary: "nothing to recover: no errored.tfstate and no lock held", Backend: &b}
		report(r, &out)
		return out
	}
	if lockHeld {
		for _, rec := range held.All() {
			if o.LockID == "" || rec.ID != o.LockID {
				out := Outcome{Kind: NeedsPerson, Backend: &b, Holder: rec, Errored: errored,
					Summary: fmt.Sprintf("the state is locked by %s since %s (%s); tf removes a lock only when you name it and it matches", rec.Who, rec.Created, rec.Operation),
					Next:    []string{"# only if that run is certainly dead:", "tf guard recover --lock-id " + shellQuote(rec.ID)}}
				if o.LockID != "" {
					out.Summary = fmt.Sprintf("--lock-id %s does not match the lock held (ID %s by %s)", o.LockID, rec.ID, rec.Who)
				}
				report(r, &out)
				return out
			}
		}
	}

	var plan []string
	if errored != nil {
		if lockHeld {
			plan = append(plan, fmt.Sprintf("copy errored.tfstate to a backup, push it with -lock=false while lock %s fences the state (never -force)", o.LockID))
		} else {
			plan = append(plan, "copy errored.tfstate to a backup and push it, taking the lock (never -force)")
		}
	}
	if lockHeld {
		plan = append(plan, "release lock "+o.LockID)
	}
	plan = append(plan, "verify the backend's state and lock, then move errored.tfstate into the backup directory")
	p("will:")
	for _, s := range plan {
		fmt.Fprintf(r.Out, "    %s\n", s)
	}
	if o.Show {
		out := Outcome{Kind: NeedsPerson, Summary: "shown only (--show)", Backend: &b, Errored: errored, Next: []string{"tf guard recover"}}
		return out
	}
	if !o.Yes {
		if !r.Interactive || r.In == nil {
			out := Outcome{Kind: NeedsPerson, Summary: "not confirmed: no terminal to ask; re-run with --yes", Backend: &b, Errored: errored,
				Next: []string{"tf guard recover --yes" + lockFlag(o.LockID)}}
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

	j, err := newJournal(r.Dir, r.Now())
	if err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error()}
		report(r, &out)
		return out
	}
	j.Tool, j.Args, j.Backend = r.Flavor, []string{"guard", "recover"}, b
	j.Class = Classification{Tool: r.Flavor, PersistFailed: errored != nil, ReleaseFailed: lockHeld, LockID: o.LockID}
	if errored == nil {
		j.Steps = append(j.Steps, StepRecord{Step: StepSecure, Status: "skipped", At: r.Now().UTC(), Note: "no errored.tfstate"})
	}
	if err := j.save(); err != nil {
		out := Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error()}
		report(r, &out)
		return out
	}
	r.Args = []string{"plan"} // what to run next
	return sequence(ctx, r, j)
}

func lockFlag(id string) string {
	if id == "" {
		return ""
	}
	return " --lock-id " + shellQuote(id)
}
