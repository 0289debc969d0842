package recovery

import "fmt"

// ownerLock is what `tf guard recover` does with a held lock when no
// recovery is pending and no --lock-id was given: it looks for the owner
// record of the run that took it (its lock ID recorded by that run's
// watch) and judges whether that run is alive. A run provably dead on this
// machine has its lock adopted as if a person had named it (o.LockID): the
// usual sequence then secures its errored.tfstate, if any, and releases the
// lock by ID after reading it again. stop is true when RecoverCommand must
// return out as it is. Records of dead runs whose lock is no longer held
// are removed.
func ownerLock(r Run, o *CommandOptions, held Locks) (out Outcome, stop bool) {
	p := func(format string, a ...any) { fmt.Fprintf(r.Out, "tf: "+format+"\n", a...) }
	ids := map[string]bool{}
	var holder *LockInfo
	for _, rec := range held.All() {
		ids[rec.ID] = true
		holder = rec
	}
	var mine *OwnerRecord
	recs := LoadOwners(r.Dir, r.Env)
	for i := range recs {
		rec := recs[i]
		v := JudgeOwner(rec, observeHere(rec))
		switch {
		case rec.LockID != "" && ids[rec.LockID]:
			mine = &recs[i]
		case v.State == OwnerDead:
			removeOwner(rec.path) // its run is over and its lock gone
		}
	}
	if o.LockID != "" || len(ids) != 1 {
		return Outcome{}, false
	}
	if mine == nil {
		p("lock owner: no tf owner record here names lock %s (a lock taken by plain terraform, from another directory or machine, or by a run whose tf never saw its lock): tf only describes it", holder.ID)
		return Outcome{}, false
	}
	rec := *mine
	v := JudgeOwner(rec, observeHere(rec))
	ci := ""
	if rec.CI != "" {
		ci = fmt.Sprintf(", %s run %s", rec.CI, rec.CIRunID)
		if rec.CIAttempt != "" {
			ci += " attempt " + rec.CIAttempt
		}
	}
	p("lock owner: tf's owner record %s: `%s %s` started %s on host %s (boot %s), tf PID %d, terraform PID %d%s",
		rec.path, r.Flavor, rec.Command, rec.Started.Format("2006-01-02 15:04:05 MST"), rec.Host, rec.BootID, rec.TfPID, rec.TerraformPID, ci)
	for _, e := range v.Evidence {
		p("  %s", e)
	}
	cut := rec.CutChanges()
	base := Outcome{Kind: NeedsPerson, Holder: holder}
	switch v.State {
	case OwnerAlive:
		p("lock owner: alive")
		base.Summary = fmt.Sprintf("lock %s belongs to a %s run that is still alive on this machine (tf PID %d): tf never touches a live run's lock; wait for it to finish", holder.ID, rec.Command, rec.TfPID)
		report(r, &base)
		return base, true
	case OwnerElsewhere, OwnerUnknown:
		what := "ran on another machine or before this machine's last boot"
		if v.State == OwnerUnknown {
			what = "cannot be proven dead from here"
		}
		p("lock owner: %s", v.State)
		base.Summary = fmt.Sprintf("lock %s belongs to a %s run that %s (evidence above); tf never releases a lock by its age: a person decides", holder.ID, rec.Command, what)
		base.Next = []string{"# only if that run is certainly dead (check the host or CI run above):", unlockCommand(r.Flavor, holder.ID)}
		report(r, &base)
		return base, true
	}
	p("lock owner: dead (proven on this machine)")
	sayCut(r, cut)
	if o.Show {
		base.Summary = fmt.Sprintf("shown only (--show): the run that holds lock %s is dead; `tf guard recover --yes` secures what it left and releases the lock", holder.ID)
		base.Next = []string{"tf guard recover --yes"}
		report(r, &base)
		return base, true
	}
	o.LockID = holder.ID
	return Outcome{}, false
}

// sayCut names the changes a dead run started and never completed.
func sayCut(r Run, cut []Change) {
	if len(cut) == 0 {
		fmt.Fprintf(r.Out, "tf: the dead run's recorded output shows no change started and left unfinished\n")
		return
	}
	fmt.Fprintf(r.Out, "tf: possibly orphaned: the dead run started these changes and its output never showed them complete:\n")
	for _, ch := range cut {
		switch ch.Action {
		case "create":
			fmt.Fprintf(r.Out, "    %s (create): the object may exist without being in the state. Look for it in AWS by the name or tags its configuration sets (AWS console or `aws ... list/describe`); if it exists, adopt it with `%s import %s <ID>`, where <ID> is the import ID that resource type's documentation names; `%s plan` shows it as to be created until then\n",
				ch.Address, r.Flavor, shellQuote(ch.Address), r.Flavor)
		case "destroy":
			fmt.Fprintf(r.Out, "    %s (destroy): the object may be gone while the state still lists it, or still exist; `%s plan` shows what the state holds\n", ch.Address, r.Flavor)
		default:
			fmt.Fprintf(r.Out, "    %s (%s): the change may be half made; `%s plan` shows the difference\n", ch.Address, ch.Action, r.Flavor)
		}
	}
}
