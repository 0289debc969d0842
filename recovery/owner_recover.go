package recovery

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// ownerLock is what `tf guard recover` does with a held lock when no
// recovery is pending and no --lock-id was given: it looks for the owner
// record of the run that took it (its lock ID recorded by that run's
// watch) and judges whether that run is alive. A run provably dead on this
// machine has its lock adopted as if a person had named it (o.LockID): the
// usual sequence then secures its errored.tfstate, if any, and releases the
// lock by ID after reading it again. stop is true when RecoverCommand must
// return out as it is. Records of dead runs whose lock is no longer held
// are removed.
func ownerLock(ctx context.Context, r Run, o *CommandOptions, b Backend, rd backendReader, held Locks, errored bool) (out Outcome, stop bool) {
	p := func(format string, a ...any) { fmt.Fprintf(r.Out, "tf: "+format+"\n", a...) }
	ids := map[string]bool{}
	var holder *tfout.LockInfo
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
		case v.State == OwnerDead && !o.Show:
			removeOwner(rec.path) // its run is over and its lock gone
		}
	}
	if o.LockID != "" || len(ids) != 1 {
		return Outcome{}, false
	}
	if mine == nil {
		p("lock owner: no tf owner record here names lock %s (a lock taken by plain terraform, from another directory or machine, or by a run whose tf never saw its lock): tf only describes it", holder.ID)
		// Evidence from the backend, never proof: a person decides. A
		// record from this machine (another directory) is only described:
		// its proof is in that directory.
		if brec := backendOwner(ctx, r, b, rd, holder, false); brec != nil && !errored && !sameMachine(r, brec) {
			out := Outcome{Kind: NeedsPerson, Holder: holder,
				Summary: fmt.Sprintf("lock %s belongs to a run of `%s %s` on host %s%s, last seen alive %s (evidence above); tf cannot see that machine's processes and never releases a lock by its age: a person decides",
					holder.ID, r.Flavor, brec.Command, brec.Host, ciOfRecord(brec.CI, brec.CIRunID, brec.CIAttempt), agoText(brec.LastSeen, time.Now())),
				Next: deadOwnerSteps(r.Flavor, holder.ID)}
			report(r, &out)
			return out, true
		}
		return Outcome{}, false
	}
	rec := *mine
	if !rec.Ended.IsZero() {
		// tf outlived that run and reported on it: not a dead run's lock.
		p("lock owner: tf's owner record %s: `%s %s` ended at %s (terraform exit %d) with tf running, which reported on it then; tf treats this lock as any other: it only describes it",
			rec.path, r.Flavor, rec.Command, rec.Ended.Format("2006-01-02 15:04:05 MST"), rec.ExitCode)
		return Outcome{}, false
	}
	v := JudgeOwner(rec, observeHere(rec))
	ci := ciOfRecord(rec.CI, rec.CIRunID, rec.CIAttempt)
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
		base.Summary = fmt.Sprintf("lock %s belongs to a run of `%s %s` that is still alive on this machine (tf PID %d): tf never touches a live run's lock; wait for it to finish", holder.ID, r.Flavor, rec.Command, rec.TfPID)
		report(r, &base)
		return base, true
	case OwnerElsewhere, OwnerUnknown:
		what := "ran on another machine or before this machine's last boot"
		if v.State == OwnerUnknown {
			what = "cannot be proven dead from here"
		}
		backendOwner(ctx, r, b, rd, holder, true) // when it was last seen alive
		p("lock owner: %s", v.State)
		sayCut(r, cut, "that run")
		base.Summary = fmt.Sprintf("lock %s belongs to a run of `%s %s` that %s (evidence above); tf never releases a lock by its age: a person decides", holder.ID, r.Flavor, rec.Command, what)
		base.Next = deadOwnerSteps(r.Flavor, holder.ID)
		report(r, &base)
		return base, true
	}
	p("lock owner: dead (proven on this machine)")
	sayCut(r, cut, "the dead run")
	if o.Show {
		base.Summary = fmt.Sprintf("shown only (--show): the run that holds lock %s is dead; `tf guard recover --yes` secures what it left and releases the lock", holder.ID)
		base.Next = guardRecoverSteps("--yes")
		report(r, &base)
		return base, true
	}
	if errored {
		// errored.tfstate: the usual sequence secures it, pushes it while
		// this lock fences the state, verifies, then releases the lock.
		p("the dead run left errored.tfstate: tf takes lock %s as that run's (its owner record names it), as `tf guard recover --lock-id %s` would: it secures errored.tfstate, pushes it while that lock fences the state, verifies, then releases the lock", holder.ID, holder.ID)
		o.LockID = holder.ID
		return Outcome{}, false
	}
	return freeDeadLock(ctx, r, *o, b, rd, held, rec), true
}

// freeDeadLock releases the lock of a run proven dead that left no
// errored.tfstate: after a person's yes (--yes without a terminal), with
// the recovery root's lock held, it reads the lock again and releases it
// by ID only if every record is still the one read before.
func freeDeadLock(ctx context.Context, r Run, o CommandOptions, b Backend, rd backendReader, held Locks, rec OwnerRecord) Outcome {
	id := held.All()[0].ID
	out := Outcome{Kind: NeedsPerson, Backend: &b, Holder: held.All()[0]}
	fail := func(summary string, flag string) Outcome {
		out.Summary, out.Next = summary, guardRecoverSteps(flag)
		report(r, &out)
		return out
	}
	fmt.Fprintf(r.Out, "tf: will:\n    release lock %s of the dead run (%s force-unlock with its ID, after reading the lock again)\n", id, r.Flavor)
	if !o.Yes {
		if !r.Interactive || r.In == nil {
			return fail("not confirmed: no terminal to ask; re-run with --yes", "--yes")
		}
		fmt.Fprint(r.Out, "tf: go ahead? Only 'yes' will be accepted: ")
		line, _ := bufio.NewReader(r.In).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return fail("not confirmed; nothing was changed", "")
		}
	}
	lk, err := lockRoot(ctx, RecoveryRoot(r.Dir, r.Env), r.Out)
	if err != nil {
		return fail(err.Error(), "")
	}
	defer lk.unlock()
	again, err := rd.ReadLocks(ctx)
	if err != nil {
		return fail(fmt.Sprintf("cannot read the lock records again: %v; nothing was released", err), "--yes")
	}
	for _, k := range []string{"dynamodb", "lockfile"} {
		before, now := held.Kind(k), again.Kind(k)
		if (before == nil) != (now == nil) || (before != nil && !before.Same(now)) {
			return fail(fmt.Sprintf("the lock changed since tf read it (%s record); nothing was released", k), "--show")
		}
	}
	_, errb, uerr := r.runner.Run(ctx, buildUnlock(r.Terraform, r.Dir, r.Env, id))
	after, err := rd.ReadLocks(ctx)
	if err != nil {
		return fail(fmt.Sprintf("%s force-unlock ran, but the lock records cannot be read to check: %v", r.Flavor, err), "--show")
	}
	for _, l := range after.All() {
		if l.ID == id {
			msg := fmt.Sprintf("lock %s is still held", id)
			if uerr != nil {
				msg += fmt.Sprintf(": %s force-unlock failed: %s", r.Flavor, lastLines(errb, 4))
			}
			return fail(msg, "--yes")
		}
	}
	removeOwner(rec.path)
	out.Kind, out.Holder = Recovered, nil
	out.Did = []string{fmt.Sprintf("released lock %s: its owner (tf PID %d, terraform PID %d, %s) is dead on this machine", id, rec.TfPID, rec.TerraformPID, rec.Command)}
	out.Summary = "the dead run's lock is released; the state is what that run last saved (terraform saves during an apply)"
	out.Next = afterDeadLockFreedSteps(r.Flavor)
	report(r, &out)
	return out
}

// sayCut names the changes a dead run started and never completed.
func sayCut(r Run, cut []tfout.Change, who string) {
	if len(cut) == 0 {
		fmt.Fprintf(r.Out, "tf: %s's recorded output shows no change started and left unfinished\n", who)
		return
	}
	fmt.Fprintf(r.Out, "tf: possibly orphaned: %s started these changes and its recorded output never showed them complete:\n", who)
	for _, ch := range cut {
		switch ch.Action {
		case "create":
			fmt.Fprintf(r.Out, "    %s (create): the object may exist without being in the state, and tf does not know its ID. Look for it in AWS by the name or tags its configuration sets (AWS console, or the aws CLI's list/describe call for its type); if it exists, adopt it with `%s import %s <ID>`, where <ID> is the import ID that resource type's documentation names; until then `%s plan` plans to create it again\n",
				ch.Address, r.Flavor, tfargs.Quote(ch.Address), r.Flavor)
		case "destroy":
			fmt.Fprintf(r.Out, "    %s (destroy): the object may be gone while the state still lists it, or still exist; `%s plan` shows what the state holds\n", ch.Address, r.Flavor)
		default:
			fmt.Fprintf(r.Out, "    %s (%s): the change may be half made; `%s plan` shows the difference\n", ch.Address, ch.Action, r.Flavor)
		}
	}
}

// ciOfRecord is ", <provider> run <ID> attempt <n>" ("" outside CI).
func ciOfRecord(provider, run, attempt string) string {
	if provider == "" {
		return ""
	}
	ci := fmt.Sprintf(", %s run %s", provider, run)
	if attempt != "" {
		ci += " attempt " + attempt
	}
	return ci
}

// backendOwner reads the owner record kept in the backend next to the
// state and says what it shows about holder's owner. It returns the record
// only when it names holder's lock: a record for another lock is stale and
// no evidence. Nothing here is proof; tf never acts on it. local: this
// directory holds the run's local record (already judged above).
func backendOwner(ctx context.Context, r Run, b Backend, rd backendReader, holder *tfout.LockInfo, local bool) *BackendOwner {
	p := func(format string, a ...any) { fmt.Fprintf(r.Out, "tf: "+format+"\n", a...) }
	st, ok := rd.(ownerStore)
	where := b.OwnerLocation()
	if !ok || where == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, awsCallTimeout)
	defer cancel()
	rec, err := st.GetOwner(ctx)
	switch {
	case err != nil:
		p("owner record in the backend (%s): cannot be read: %v", where, err)
		return nil
	case rec == nil:
		p("owner record in the backend (%s): none (a run by plain terraform, with owner_record = local, or whose write the backend's policy denied)", where)
		return nil
	case rec.LockID != holder.ID:
		p("owner record in the backend (%s): stale: it names lock %s, not the lock held (%s); not used as evidence", where, rec.LockID, holder.ID)
		return nil
	}
	now := time.Now()
	p("owner record in the backend (%s), written by tf for lock %s:", where, holder.ID)
	p("  `%s %s` started %s on host %s%s", r.Flavor, rec.Command, rec.Started.Format("2006-01-02 15:04:05 MST"), rec.Host, ciOfRecord(rec.CI, rec.CIRunID, rec.CIAttempt))
	if rec.CIJobURL != "" {
		p("  CI job: %s", rec.CIJobURL)
	}
	if rec.Dir != "" {
		p("  directory there: %s; tf PID %d (boot %s)", rec.Dir, rec.TfPID, rec.BootID)
	}
	p("  last seen alive %s (%s; a running tf rewrites this record every %s)", agoText(rec.LastSeen, now), rec.LastSeen.Format("2006-01-02 15:04:05 MST"), everyText(ownerHeartbeat))
	if !rec.Ended.IsZero() {
		p("  tf on that host saw terraform end at %s (exit %d) with this lock possibly left, and reported on it there; `tf guard recover` in that directory shows what it left", rec.Ended.Format("2006-01-02 15:04:05 MST"), rec.ExitCode)
	}
	if !local && sameMachine(r, rec) {
		p("  that is this machine (same host and boot): tf's proof is the record kept in that directory; run `tf guard recover` there")
		if rec.PidNS != "" && rec.PidNS == PidNamespace() && rec.TfStart != 0 {
			if start, running, err := ProcStart(rec.TfPID); err == nil && running && start == rec.TfStart {
				p("  that run's tf (PID %d) is running now (same start time): the run is alive", rec.TfPID)
			} else if err == nil {
				p("  no process PID %d with that run's tf start time is running now", rec.TfPID)
			}
		}
	}
	return rec
}

// sameMachine: the backend record was written on this machine since its
// last boot.
func sameMachine(r Run, rec *BackendOwner) bool {
	return rec.Host == ownerHost(r.Env) && rec.BootID != "" && rec.BootID == BootID()
}

// everyText is an interval for people ("5 min").
func everyText(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.String()
}

// agoText says how long before now t was, in whole seconds or minutes.
func agoText(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "just now (the clocks of that host and this one differ)"
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	}
	m := int(d / time.Minute)
	if m < 60 {
		return fmt.Sprintf("%d min ago", m)
	}
	return fmt.Sprintf("%dh%02dm ago", m/60, m%60)
}
