package recovery

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// What tf prints under "next:" is worked out here, and only here, from facts
// about the outcome and the journal (nextFacts); nothing in this file reads
// the world. A person pastes these lines, so each one is either a comment
// (starting "#") or a command that works as printed and does what its
// comment says. The rules:
//   - a command that changes infrastructure never carries -auto-approve: the
//     person sees terraform's plan and approves it, or runs a plan;
//   - a replacement the failed run asked for (-replace) is never asked for
//     again once terraform started it, nor when tf cannot tell whether it did;
//   - a plan never carries apply's own options (-auto-approve in every
//     spelling, -backup, -state-out, a saved plan file);
//   - tf's own command is `tf guard recover`; the failed command is never
//     tf's own (a journal started by `tf guard recover` has no run to repeat);
//   - force-unlock only for a lock proven this run's that tf did not see
//     gone; `state push -lock=false` only while that lock fences the state.

// nextFacts are what the next steps are computed from.
type nextFacts struct {
	// Tool is "terraform" or "tofu".
	Tool string
	// Args are the failed run's arguments (-var values redacted); empty when
	// no terraform run failed (a journal started by `tf guard recover`).
	Args     []string
	VarNames []string
	// Progress is what the failed run's output said it did (nil: not read).
	Progress *tfout.Progress
	// Superseded: tf verified the state in the backend earlier, and someone
	// wrote the state since.
	Superseded bool

	// Stopped: the recovery stopped at a step (else the state is back, or
	// nothing needed putting back).
	Stopped bool
	Pending bool
	Retry   retryOn
	// NoState: the run's changes are recorded in no state file.
	NoState bool
	// Holder is a lock tf cannot prove this run's; MayHoldLock says whether
	// a lock of this run's can exist at all, NotOurs why not.
	Holder      *tfout.LockInfo
	MayHoldLock bool
	NotOurs     string
	// Diff: the backend's state and errored.tfstate differ (drift stop).
	Diff *StateDiff
	// Saved lists where the state terraform could not save is, in order
	// (the working directory's errored.tfstate, tf's backup).
	Saved []string

	// ProvenID is the lock the prove step proved this run's ("" before it,
	// or when none is); Proven says the prove step is done. OwnID is the
	// lock the run's own evidence names (printed or observed).
	ProvenID string
	Proven   bool
	OwnID    string
	// LockGone: tf read the lock records last and that lock was not there.
	LockGone bool
	Errored  bool // a state to push was secured
	Pushed   bool // it is in the backend
	Unlocked bool // the unlock step is done
	// Renew is the command that renews the credentials in play.
	Renew string

	// NoRecord, when set, says why tf could not keep a journal of this
	// failure (nothing is pending).
	NoRecord string
}

// nextSteps is the one place that says what to run next.
func nextSteps(f nextFacts) []string {
	if f.Tool == "" {
		f.Tool = "terraform"
	}
	switch {
	case f.NoRecord != "":
		return noRecordSteps(f)
	case f.Stopped:
		return stopSteps(f)
	}
	return rerunSteps(f)
}

// withComment appends comments to a command line.
func withComment(cmd string, comments ...string) string {
	var cs []string
	for _, c := range comments {
		if c != "" {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return cmd
	}
	return cmd + "   # " + strings.Join(cs, "; ")
}

// varsComment asks for the -var values tf never keeps.
func varsComment(vars []string) string {
	if len(vars) == 0 {
		return ""
	}
	return "add your -var values for " + strings.Join(vars, ", ")
}

// rerunSteps: the state is back (or needed nothing); what is left of the
// failed command.
func rerunSteps(f nextFacts) []string {
	tool, args := f.Tool, f.Args
	sc := tfargs.Parse(args).Name()
	switch sc {
	case "", "guard":
		return []string{withComment(tool+" plan", "shows what the configuration would change now")}
	case "plan":
		return []string{withComment(tfargs.CommandLine(tool, args), varsComment(f.VarNames))}
	case "apply", "destroy":
	default:
		// import, taint, state rm/mv, refresh...: terraform saved what it
		// did (or tf pushed it); running it again would do it twice.
		pre := args[:indexOf(args, sc)]
		return []string{withComment(tfargs.CommandLine(tool, append(append(append([]string{}, pre...), "plan"), planOptions(args[indexOf(args, sc):])...)),
			varsComment(f.VarNames), "the state holds what "+tool+" "+sc+" did; this shows where things stand")}
	}
	kept, notes := dropReplacements(args, f.Progress)
	var out []string
	out = append(out, notes...)
	if plan := tfargs.Parse(args).SavedPlan(); plan != "" {
		return append(out, withComment(tfargs.CommandLine(tool, planArgs(kept)), varsComment(f.VarNames),
			"the saved plan "+plan+" cannot be applied again (terraform refuses a stale plan): this shows what is left; give it the variables the saved plan was made with"))
	}
	p := f.Progress
	switch {
	case f.Superseded:
		return append(out, withComment(tfargs.CommandLine(tool, planArgs(kept)), varsComment(f.VarNames),
			"someone wrote the state after tf put it back: this shows where things stand now"))
	case p != nil && p.PlanSeen && p.AllMade():
		return append(out, withComment(tfargs.CommandLine(tool, planArgs(kept)), varsComment(f.VarNames),
			"every planned change was made: this shows nothing is left"))
	}
	return append(out, withComment(tfargs.CommandLine(tool, approvedByPerson(kept)), varsComment(f.VarNames),
		"shows what is left and asks before it changes anything"))
}

// stopSteps: the recovery stopped at a step.
func stopSteps(f nextFacts) []string {
	tool := f.Tool
	var next []string
	switch {
	case f.NoState:
		next = append(next,
			"# tf holds no copy of the state this run left: its changes may be recorded in no state; reconcile them before anyone applies again",
			tool+" plan -lock=false   # shows what terraform would create again; the run's output above names what it made",
			tool+" import -lock=false ADDRESS ID   # for each resource the run created",
		)
		if id := f.OwnID; id != "" && !f.LockGone {
			next = append(next, "# only then release the run's lock:", unlockCommand(tool, id))
		}
	case f.Holder != nil:
		h := f.Holder
		next = append(next,
			"# the state is locked: "+h.Who+" since "+h.Created+" ("+h.Operation+", ID "+h.ID+"). tf never removes a lock it cannot prove is this run's.",
			"# wait for that run to finish, then:",
			"tf guard recover")
		switch own := f.OwnID; {
		case !f.MayHoldLock:
			next = append(next, "# it is not this run's lock: "+f.NotOurs+". If that run is certainly dead, whoever owns it releases it with "+tool+" force-unlock; tf will not")
		case own != "" && own != h.ID:
			next = append(next, "# it is not this run's lock: this run held "+own+", which someone released; the state may have moved on meanwhile")
		default:
			next = append(next, "# only if you know that lock belongs to the run that failed here (it is dead):",
				"tf guard recover --lock-id "+tfargs.Quote(h.ID))
		}
	case f.Diff != nil:
		next = append(next, "# the backend's state and errored.tfstate differ:")
		for _, l := range f.Diff.Lines() {
			next = append(next, "#   "+l)
		}
		next = append(next,
			"# decide which to keep; tf shows both sides and asks:",
			"tf guard recover")
		next = append(next, compareSteps(tool, lastOr(f.Saved, erroredFile))...)
	case f.Retry == retryCredentials:
		next = append(next, f.Renew, "tf guard recover")
		next = append(next, manualSteps(f)...)
	case f.Retry == retryInterrupted, f.Retry == retryBackend, f.Retry == retryDisk:
		next = append(next, "tf guard recover")
	case f.Retry == retryConfig:
		next = append(next, "tf guard recover   # once the configuration is fixed")
	default:
		next = append(next, manualSteps(f)...)
	}
	if f.Pending {
		next = append(next, "# to give up on this recovery instead (every backup is kept):", "tf guard recover --abandon")
	}
	return next
}

// compareSteps show the backend's state next to the one terraform could
// not save.
func compareSteps(tool, saved string) []string {
	return []string{"# or compare by hand:",
		tool + " state pull > remote.tfstate",
		"diff <(jq -S .resources remote.tfstate) <(jq -S .resources " + tfargs.Quote(saved) + ")"}
}

// manualSteps finish by hand, only with commands that are true now: a push
// only while the state is not in the backend, and with -lock=false only
// while this run's lock fences it; an unlock only of a lock proven this
// run's, not yet released and not seen gone.
func manualSteps(f nextFacts) []string {
	tool := f.Tool
	id := f.ProvenID
	if id == "" && !f.Proven {
		// Before the prove step: this run's own evidence names its lock;
		// the person checks it is still there (the comment says so).
		id = f.OwnID
	}
	if id != "" && f.LockGone {
		if !f.Errored || f.Pushed || len(f.Saved) == 0 {
			return []string{"# this run's lock " + id + " is gone already: there is nothing to unlock"}
		}
		out := []string{"# this run's lock " + id + " is gone: someone released it, so the backend may hold a newer state than errored.tfstate; tf shows both and asks:",
			"tf guard recover"}
		return append(out, compareSteps(tool, f.Saved[0])...)
	}
	var cmds []string
	push := false
	if f.Errored && !f.Pushed && len(f.Saved) > 0 {
		push = true
		if id != "" {
			cmds = append(cmds, "# only while lock "+id+" is still held (this run's): it fences the state",
				pushCommand(tool, f.Saved[0], true))
		} else {
			cmds = append(cmds, pushCommand(tool, f.Saved[0], false))
		}
	}
	if id != "" && !f.Unlocked {
		cmds = append(cmds, unlockCommand(tool, id))
	}
	if len(cmds) == 0 {
		return nil
	}
	head := "# or by hand, once the cause above is fixed:"
	if push && id != "" && !f.Unlocked {
		head = "# or by hand, once the cause above is fixed (push first, unlock last):"
	}
	return append([]string{head}, cmds...)
}

// noRecordSteps: tf could not keep a journal (its directory cannot be
// written): nothing is pending, so the next steps say everything there is.
func noRecordSteps(f nextFacts) []string {
	out := []string{"# tf keeps no record of this failure (" + f.NoRecord + "); once that is fixed:"}
	if f.OwnID != "" {
		out = append(out, withComment("tf guard recover --lock-id "+tfargs.Quote(f.OwnID), "this run's lock; tf shows what it will do and asks"))
	} else {
		out = append(out, withComment("tf guard recover", "shows errored.tfstate, the lock and the backend's state, and asks"))
	}
	if f.Errored || f.OwnID != "" {
		m := manualSteps(nextFacts{Tool: f.Tool, OwnID: f.OwnID, Errored: f.Errored, Saved: f.Saved})
		if len(m) > 0 {
			m[0] = "# or by hand, with working credentials (push first, unlock last):"
			if !f.Errored || len(f.Saved) == 0 {
				m[0] = "# or by hand, with working credentials:"
			}
		}
		out = append(out, m...)
	}
	return out
}

// loginSteps: terraform never locked or wrote the state; logging in is
// the fix.
func loginSteps(renew string) []string {
	return []string{renew, "# then run the command again: it neither locked nor changed anything"}
}

// otherPendingSteps: this run failed too, but a recovery of another state
// is pending in the same data directory.
func otherPendingSteps(elsewhere []string) []string {
	return append(append([]string{}, elsewhere...),
		"# then, for this run's state (errored.tfstate and its lock):", "tf guard recover")
}

// elsewhereSteps: a recovery is pending for a state the directory no
// longer points at.
func elsewhereSteps(workspace, dir string) []string {
	return []string{
		"# to finish it: point this directory at that state again (terraform init -reconfigure with its settings, or workspace select " + workspace + "), then",
		"tf guard recover",
		"# or give up on it (every backup stays in " + dir + "):",
		"tf guard recover --abandon",
	}
}

// unsecuredElsewhereSteps: a pending recovery of another state has not
// secured this directory's errored.tfstate yet, so no run starts here.
func unsecuredElsewhereSteps() []string {
	return []string{
		"tf guard recover   # secures that file once the cause above is fixed; then run your command again",
		"# or give up on that recovery (its errored.tfstate stays in the directory as it is):",
		"tf guard recover --abandon",
	}
}

// unreadableSteps: the pending journal cannot be read.
func unreadableSteps(root string) []string {
	return []string{"ls -l " + tfargs.Quote(root), "tf guard recover --abandon   # gives up on it; every backup stays in " + root}
}

// abandonSteps: a person gave up on a recovery; what is left of it.
func abandonSteps(tool, ownID string, verified, unlocked bool) []string {
	if ownID == "" || unlocked {
		return nil
	}
	why := "if it is still held and you are sure"
	if verified {
		why = "the backend already holds what tf pushed; if the lock is still held and you are sure"
	}
	return []string{"# this run's lock was " + ownID + "; " + why + ":", unlockCommand(tool, ownID)}
}

// Commands a person runs, in the tool's own words.
func pushCommand(tool, path string, lockFalse bool) string {
	if lockFalse {
		return tool + " state push -lock=false " + tfargs.Quote(path)
	}
	return tool + " state push " + tfargs.Quote(path)
}

// guardRecoverSteps is `tf guard recover` with flag (--yes, --show) to run
// again; none for "".
func guardRecoverSteps(flag string) []string {
	if flag == "" {
		return nil
	}
	return []string{"tf guard recover " + flag}
}

// afterDeadLockFreedSteps follow the release of a dead run's lock.
func afterDeadLockFreedSteps(tool string) []string {
	return []string{tool + " plan   # shows what the dead run left to do"}
}

// deadOwnerSteps are what a person runs on a lock whose owner tf cannot
// prove dead from here (another machine, or a record that cannot tell),
// once they know it is.
func deadOwnerSteps(tool, id string) []string {
	return []string{
		"# only if that run is certainly dead (check the host or CI run above):",
		unlockCommand(tool, id),
		"# what that run did after its last save (terraform saves the state every 20 s) may exist without being in the state: check its log for resources it created before applying again",
	}
}

func unlockCommand(tool, id string) string {
	return tool + " force-unlock -force " + tfargs.Quote(id)
}

// renewHint is the command that renews the credentials in play.
func renewHint(env []string, b Backend) string {
	profile := b.Profile
	if profile == "" {
		profile = envlist.Get(env, envProfile)
	}
	if profile != "" {
		return "aws sso login --profile " + tfargs.Quote(profile) + "   # or however profile " + profile + " gets fresh credentials"
	}
	if envlist.Get(env, envAccessKeyID) != "" {
		return "# export fresh AWS credentials (the ones in AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN expired)"
	}
	return "# get fresh AWS credentials the way this machine usually does (aws sso login, aws-vault, ...)"
}

// rerunCommand is the failed command to run again, as the person typed it
// but without -var values (tf never keeps them): their names are listed.
func rerunCommand(flavor string, args []string, vars ...string) string {
	return withComment(tfargs.CommandLine(flavor, args), varsComment(vars))
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return len(args)
}

// planArgs turns an apply's (or destroy's) arguments into the plan's: the
// subcommand becomes plan (plan -destroy), and apply's own options go
// (-auto-approve in any spelling, -backup, -state-out, the saved plan
// file); every other option stays.
func planArgs(args []string) []string {
	var out []string
	plan := tfargs.Parse(args).SavedPlan()
	for _, a := range tfargs.Parse(args).Args {
		switch {
		case a.Role == tfargs.Subcommand && (a.Value == "apply" || a.Value == "destroy"):
			out = append(out, "plan")
			if a.Value == "destroy" {
				out = append(out, "-destroy")
			}
		case a.Role == tfargs.Option && (a.Name == "auto-approve" || a.Name == "backup" || a.Name == "state-out"):
		case a.Role == tfargs.Positional && plan != "" && a.Value == plan:
		default:
			out = append(out, a.Raw...)
		}
	}
	return out
}

// planOptions are the options of another command (refresh, import, ...)
// that plan takes too and that shape what it shows: the variables (their
// values are never kept: tfargs.CommandLine drops -var), the targets,
// locking and input settings. Positional words and the command's own
// options go.
func planOptions(args []string) []string {
	var out []tfargs.Arg
	for _, a := range tfargs.Parse(args).Args {
		switch a.Name {
		case "var-file", "var", "target", "lock", "lock-timeout", "input", "no-color", "parallelism", "compact-warnings":
			if a.Role == tfargs.Option {
				out = append(out, a)
			}
		}
	}
	return tfargs.Words(out)
}

// planInstead is planArgs (kept for its callers).
func planInstead(args []string) []string { return planArgs(args) }

// approvedByPerson is an apply's arguments without -auto-approve (in any
// spelling), so that terraform shows its plan and asks; -json goes too,
// since terraform refuses it without -auto-approve.
func approvedByPerson(args []string) []string {
	var out []tfargs.Arg
	for _, a := range tfargs.Parse(args).Args {
		if a.Role == tfargs.Option && (a.Name == "auto-approve" || a.Name == "json") {
			continue
		}
		out = append(out, a)
	}
	return tfargs.Words(out)
}

// dropReplacements removes every -replace whose replacement the failed run
// started, and every one tf cannot judge (no terraform output read), with
// a comment for each; a replacement terraform never started stays asked
// for.
func dropReplacements(args []string, p *tfout.Progress) ([]string, []string) {
	var out []tfargs.Arg
	var notes []string
	for _, a := range tfargs.Parse(args).Args {
		if a.Role != tfargs.Option || a.Name != "replace" {
			out = append(out, a)
			continue
		}
		addr := a.Value
		flag := "-replace=" + addr
		switch st := replacementState(p, addr); st {
		case "untouched":
			out = append(out, a)
		case "done":
			notes = append(notes, "# "+tfargs.Quote(flag)+" is left out: the failed run replaced "+addr+" (terraform reported it complete)")
		case "started":
			notes = append(notes, "# "+tfargs.Quote(flag)+" is left out: the failed run started replacing "+addr+"; check "+addr+" before asking for its replacement again")
		default:
			notes = append(notes, "# "+tfargs.Quote(flag)+" is left out: the failed run may have replaced "+addr+" already (tf cannot tell from terraform's output); check "+addr+" before asking for its replacement again")
		}
	}
	return tfargs.Words(out), notes
}

// replacementState says what terraform's output shows of addr's
// replacement: "done" (its create completed), "started" (begun, failed or
// cut off), "untouched" (planned, never started) or "" (unknown).
func replacementState(p *tfout.Progress, addr string) string {
	if p == nil || !p.PlanSeen {
		return ""
	}
	touched, planned := false, false
	for _, c := range p.Done {
		if c.Address == addr {
			if c.Action == "create" {
				return "done"
			}
			touched = true
		}
	}
	for _, c := range p.Cut {
		touched = touched || c.Address == addr
	}
	touched = touched || slices.Contains(p.Failed, addr)
	for _, c := range p.Plan {
		planned = planned || c.Address == addr
	}
	switch {
	case touched:
		return "started"
	case planned:
		return "untouched"
	}
	return ""
}

func lastOr(l []string, def string) string {
	if len(l) > 0 {
		return l[len(l)-1]
	}
	return def
}

// facts gathers the next steps' facts from this pass over the steps (st is
// the stop, nil when the sequence finished).
func (s *pass) facts(st *stepStop, saved []string) nextFacts {
	j := s.j
	may, none := mayHoldLock(s.j)
	f := nextFacts{Tool: s.r.Flavor, Args: j.Args, VarNames: j.VarNames, Progress: j.Progress, Superseded: s.superseded != "",
		MayHoldLock: may, NotOurs: none, Saved: saved, ProvenID: j.LockID, Proven: j.done(StepProve), OwnID: knownOwnID(s.j),
		Errored: j.Errored != nil, Pushed: j.Pushed != nil, Unlocked: j.done(StepUnlock), Renew: renewHint(s.env, j.Backend)}
	if id := cmp.Or(f.ProvenID, f.OwnID); id != "" && s.seen != nil {
		f.LockGone = true
		for _, rec := range s.seen.All() {
			if rec.ID == id {
				f.LockGone = false
			}
		}
	}
	if st != nil {
		f.Stopped, f.Retry, f.NoState, f.Holder, f.Diff = true, st.retry, st.noState, st.holder, st.diff
		f.Pending = !st.final && st.retry != retryNone
	}
	return f
}

// loginSummary says that terraform failed at the backend before it changed
// anything, because of the credentials: nothing to recover.
func loginSummary(c tfout.Classification, tool string) string {
	why := "the AWS credentials have expired"
	switch {
	case c.Kind == tfout.KindSSOSessionExpired:
		why = "the IAM Identity Center (SSO) session has ended"
	case c.Cause == tfout.CauseVanished:
		why = "no AWS credential source answered"
	}
	if len(c.Shapes) > 0 && (len(c.Shapes) > 1 || c.Shapes[0] != c.Kind) {
		why += " (" + strings.Join(c.Shapes, ", ") + ")"
	}
	return tool + " failed at the backend before it changed anything: " + why + ". It reported no failed save and no lock left behind, so there is nothing to recover: log in again, then run the command again"
}

// movedDataDir handles a checkout that moved (mv, a CI runner with another
// build path, a container mounting it elsewhere) while a recovery was
// pending: the journal was found under the data directory of the directory
// now, so that is its data directory; side calls must use it, not the
// absolute path the journal recorded. The journal's notes name paths under
// the old one: they are rewritten to where those files are now. It returns
// what to tell the person ("" when nothing moved).
func movedDataDir(j *journal, cur Backend) string {
	old := j.Backend.DataDir
	if old == "" || cur.DataDir == "" || old == cur.DataDir {
		return ""
	}
	j.Backend.DataDir = cur.DataDir
	for i := range j.Steps {
		j.Steps[i].Note = strings.ReplaceAll(j.Steps[i].Note, old+string(filepath.Separator), cur.DataDir+string(filepath.Separator))
	}
	_ = j.save()
	return "this checkout moved since the run failed (its data directory was " + old + ", it is " + cur.DataDir + " now): the recovery goes on with the one here"
}

// abandonedWhat says what the abandoned recovery had done to the backend.
func abandonedWhat(j *journal, tool string) string {
	switch {
	case j.Pushed != nil && j.done(StepVerify):
		return "Before that it had pushed errored.tfstate (" + j.Pushed.String() + ") and verified it: the backend holds it, so do not push errored.tfstate again"
	case j.Pushed != nil:
		return "Before that it had pushed errored.tfstate (" + j.Pushed.String() + "), not yet verified: " + tool + " state pull shows what the backend holds"
	case j.done(StepPush) || j.LockID != "" && j.Evidence == EvidenceTaken || j.begun(StepPush):
		return "Before that it may have changed the backend (its journal says how far it got)"
	}
	return "It had not changed the backend"
}

// Next steps of `tf guard recover` when it stops before acting.

// initSteps: the backend configuration cannot be read.
func initSteps(tool string) []string { return []string{tool + " init"} }

// unreadableLocksSteps: tf cannot read this backend's lock records, so it
// does nothing. By hand: errored.tfstate goes back under the lock the
// person named as the failed run's (push first, unlock last), or, with no
// lock named, taking the lock as usual.
func unreadableLocksSteps(tool, errPath string, errored bool, lockID string) []string {
	if lockID == "" {
		if errored {
			return []string{withComment(pushCommand(tool, errPath, false), "takes the lock; terraform refuses while one is held")}
		}
		return nil
	}
	out := []string{"# only if lock " + lockID + " is the failed run's and that run is certainly dead (push first, unlock last):"}
	if errored {
		out = append(out, pushCommand(tool, errPath, true))
	}
	return append(out, unlockCommand(tool, lockID))
}

// retrySteps: renew the credentials, then try again.
func retrySteps(renew string) []string { return []string{renew, "tf guard recover"} }

// namedLockSteps: a lock is held that the person did not name.
func namedLockSteps(id string) []string {
	return []string{"# only if the run that took it is certainly dead:", "tf guard recover --lock-id " + tfargs.Quote(id)}
}

// chooseSteps: nothing proves the backend holds nothing newer than
// errored.tfstate; a person chooses. terraform's serial check is no
// protection here (failed persists raise errored.tfstate's serial), so
// the comment says what the push drops.
func chooseSteps() []string {
	return []string{"tf guard recover --use errored   # push errored.tfstate over the backend's state (takes the lock); what only the backend has, listed above, is dropped",
		"tf guard recover --use remote    # keep the backend's state; errored.tfstate is moved into a backup directory"}
}

// confirmSteps: tf showed what it will do; no terminal to ask.
func confirmSteps(lockID string) []string {
	return []string{withComment("tf guard recover --yes"+lockFlag(lockID), "does what is listed above under \"will\"")}
}

// againSteps: nothing is wrong that a person must fix first; tf's own
// command goes on (another tf was busy, or tf only showed what it would do).
func againSteps() []string { return []string{"tf guard recover"} }

// pendingFirstSteps: another tf's recovery became pending while this
// command looked and asked; it goes first.
func pendingFirstSteps() []string {
	return []string{"tf guard recover   # continues that recovery; then run this one again"}
}

// otherCheckoutSteps: the pending recovery belongs to another checkout
// sharing this data directory; it is finished there.
func otherCheckoutSteps(dir string) []string {
	return []string{"cd " + tfargs.Quote(dir) + " && tf guard recover"}
}

// takenLockSteps: tf could not release the lock it took for its own push.
func takenLockSteps(tool, id string) []string {
	return []string{"# release the lock tf took for its push once the cause above is fixed:", unlockCommand(tool, id)}
}

// otherDataDirSteps: a recovery pending in another data directory has not
// secured this directory's errored.tfstate; its own command continues it
// (explained: with the cause of its failure to secure the file).
func otherDataDirSteps(dataDir string, explained bool) []string {
	cmd := "TF_DATA_DIR=" + tfargs.Quote(dataDir) + " tf guard recover"
	if explained {
		cmd += "   # continues that recovery, securing the file first, once the cause above is fixed; then run your command again"
	}
	return []string{cmd}
}

func lockFlag(id string) string {
	if id == "" {
		return ""
	}
	return " --lock-id " + tfargs.Quote(id)
}
