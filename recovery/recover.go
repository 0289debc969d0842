package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// Kind is what recovery concluded.
type Kind string

// Outcomes. The wrapper maps them to exit codes: NotCredentials, Intact and
// Recovered keep terraform's own code; NeedsPerson is ExitRecoveryIncomplete.
const (
	// NotCredentials: the run did not die of expired credentials; nothing
	// was touched.
	NotCredentials Kind = "not-credentials"
	// Intact: credentials expired but terraform left no errored.tfstate and
	// no stuck lock; nothing to repair.
	Intact Kind = "intact"
	// Recovered: the state is in the backend, our lock is gone, verified.
	Recovered Kind = "recovered"
	// NeedsPerson: the state is secured in the recovery directory and the
	// exact commands that finish the job were printed.
	NeedsPerson Kind = "needs-person"
)

// Run is one guarded terraform run that exited, as the wrapper saw it.
type Run struct {
	// Dir is terraform's working directory; Terraform the resolved binary
	// (side calls use it); Flavor "terraform" or "tofu" for printed commands
	// ("" = guessed from the output).
	Dir, Terraform, Flavor string
	// Env is the environment terraform ran with (KEY=VALUE).
	Env []string
	// Args are terraform's arguments (without the binary).
	Args     []string
	ExitCode int
	// Stderr is a bounded tail of terraform's stderr (a few hundred KiB is
	// plenty: the diagnostics come last).
	Stderr         []byte
	Started, Ended time.Time
	// Interactive: a person is at a terminal. CI: running in CI.
	Interactive, CI bool
	// ReportPath, when set, receives the JSON report.
	ReportPath string
	// Out is tf's stderr (people and CI annotations); In is unused by
	// Recover (RecoverCommand reads the confirmation from it).
	Out io.Writer
	In  io.Reader
	// Renew, when set, renews credentials (credguard) and returns the
	// environment to use from now on (the same one when nothing changed).
	// nil: whatever the SDK's default chain gives a new process.
	Renew func(ctx context.Context, env []string) ([]string, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// run side calls and read lock records; nil = the real ones.
	runner runner
	locks  func(ctx context.Context, b Backend, env []string) (lockReader, error)
}

// Outcome is the result, also written as the JSON report.
type Outcome struct {
	Kind    Kind           `json:"outcome"`
	Summary string         `json:"summary"`
	Class   Classification `json:"classification"`
	Backend *Backend       `json:"backend,omitempty"`
	// RecoveryDir holds journal.json, the errored.tfstate backup and report.
	RecoveryDir string        `json:"recovery_dir,omitempty"`
	LockID      string        `json:"lock_id,omitempty"`
	Holder      *LockInfo     `json:"foreign_lock,omitempty"`
	Errored     *StateSummary `json:"errored_state,omitempty"`
	Remote      *StateSummary `json:"remote_state,omitempty"`
	// Did lists what tf did, in order; Next the exact commands to run next.
	Did   []string     `json:"did,omitempty"`
	Next  []string     `json:"next,omitempty"`
	Steps []StepRecord `json:"steps,omitempty"`
	Error string       `json:"error,omitempty"`
}

const erroredFile = "errored.tfstate"

func (r *Run) setDefaults() {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
	if r.Terraform == "" {
		r.Terraform = "terraform"
	}
	if r.runner == nil {
		r.runner = execRunner{timeout: 5 * time.Minute}
	}
	if r.locks == nil {
		r.locks = func(ctx context.Context, b Backend, env []string) (lockReader, error) {
			return newAWSLocks(ctx, b, env)
		}
	}
}

// Recover is called after a guarded command exited non-zero. It decides
// whether the run died of expired credentials and, if so, repairs the
// workspace before returning. An unfinished earlier recovery in the same
// directory is finished first.
func Recover(ctx context.Context, r Run) Outcome {
	r.setDefaults()
	c := Classify(r.Stderr)
	if r.Flavor == "" {
		r.Flavor = c.Tool
	}
	if !c.Expired {
		return Outcome{Kind: NotCredentials, Class: c, Summary: "the failure is not about expired credentials; left as terraform left it"}
	}
	// The command line goes into the journal, the report and CI summaries:
	// -var values (passwords, tokens) must not.
	r.Args = redactVars(r.Args)
	if Pending(r.Dir) {
		if o := Resume(ctx, r); o.Kind == NeedsPerson {
			return o
		}
	}
	errPath := filepath.Join(r.Dir, erroredFile)
	fresh := false
	if fi, err := os.Stat(errPath); err == nil {
		fresh = c.PersistFailed || (!r.Started.IsZero() && !fi.ModTime().Before(r.Started.Add(-time.Second)))
	}
	if !fresh && !c.ReleaseFailed {
		o := Outcome{Kind: Intact, Class: c, Summary: "credentials expired, but terraform saved the state and released its lock: nothing to repair"}
		o.Next = []string{renewHint(r, Backend{}), r.Flavor + " " + strings.Join(r.Args, " ")}
		report(r, &o)
		return o
	}
	b, berr := LoadBackend(r.Dir, r.Env)
	j, err := newJournal(r.Dir, r.Now())
	if err != nil {
		o := Outcome{Kind: NeedsPerson, Class: c, Summary: "could not create the recovery directory: " + err.Error(), Error: err.Error()}
		o.Next = manualCommands(r, c.LockID, errPath, true)
		report(r, &o)
		return o
	}
	j.Tool, j.Args, j.ExitCode, j.Started, j.Ended, j.Class, j.Backend = r.Flavor, r.Args, r.ExitCode, r.Started, r.Ended, c, b
	j.Who, j.Operation = whoAmI(), operationFor(r.Args)
	if !fresh {
		j.Steps = append(j.Steps, StepRecord{Step: StepSecure, Status: "skipped", At: r.Now().UTC(), Note: "terraform wrote no errored.tfstate"})
	}
	if err := j.save(); err != nil {
		o := Outcome{Kind: NeedsPerson, Class: c, Summary: err.Error(), Error: err.Error()}
		report(r, &o)
		return o
	}
	if berr != nil {
		return stop(r, j, StepSecure, berr, true, false, nil)
	}
	return sequence(ctx, r, j)
}

// Resume finishes or explains the unfinished recovery journal in r.Dir. The
// wrapper calls it before running anything else when Pending(r.Dir).
func Resume(ctx context.Context, r Run) Outcome {
	r.setDefaults()
	j, err := loadPending(r.Dir)
	if err != nil {
		o := Outcome{Kind: NeedsPerson, Summary: "an interrupted recovery cannot be read: " + err.Error(), Error: err.Error(),
			Next: []string{"ls -l " + shellQuote(recoveryRoot(r.Dir))}}
		report(r, &o)
		return o
	}
	if j.Tool == "" {
		j.Tool = "terraform"
	}
	if r.Flavor == "" {
		r.Flavor = j.Tool
	}
	if len(j.Args) > 0 {
		// The report speaks of the run that failed, not of the command
		// that happened to start tf now.
		r.Args = j.Args
	}
	fmt.Fprintf(r.Out, "tf: finishing the recovery interrupted in %s (%s)\n", r.Dir, j.Name)
	if j.Backend.Type == "" {
		b, err := LoadBackend(r.Dir, r.Env)
		if err != nil {
			return stop(r, j, StepSecure, err, true, false, nil)
		}
		j.Backend = b
	}
	return sequence(ctx, r, j)
}

// stopError carries why a step stopped and whether a later tf may retry.
type stepStop struct {
	step      string
	err       error
	retryable bool
	holder    *LockInfo
	// drift: the backend holds a different or newer state than ours.
	drift bool
}

// sequence runs every step; each re-checks the world, so running it again
// after a kill converges.
func sequence(ctx context.Context, r Run, j *journal) Outcome {
	st := &seqState{r: r, j: j, env: r.Env}
	if ws := j.Backend.Workspace; ws != "" {
		// Side calls act on the workspace that failed, whatever is selected
		// now (a resumed journal may meet another `workspace select`).
		st.env = append(append([]string(nil), r.Env...), "TF_WORKSPACE="+ws)
	}
	for _, step := range []struct {
		name string
		fn   func(context.Context) *stepStop
	}{
		{StepSecure, st.secure},
		{StepCredentials, st.credentials},
		{StepLock, st.lock},
		{StepPush, st.push},
		{StepUnlock, st.unlock},
		{StepVerify, st.verify},
		{StepArchive, st.archive},
	} {
		if err := j.record(step.name, "begun", "", r.Now()); err != nil {
			return stop(r, j, step.name, err, true, false, nil)
		}
		if envLookup(r.Env, EnvTestKillAt) == step.name {
			killSelf()
		}
		if s := step.fn(ctx); s != nil {
			return stop(r, j, s.step, s.err, s.retryable, s.drift, s.holder)
		}
		if err := j.record(step.name, "done", st.note, r.Now()); err != nil {
			return stop(r, j, step.name, err, true, false, nil)
		}
		st.note = ""
	}
	if err := j.finish(Recovered); err != nil {
		return stop(r, j, StepArchive, err, true, false, nil)
	}
	o := st.outcome(Recovered)
	o.Summary = "recovered: the state terraform could not save is in the backend and the stale lock is released"
	o.Next = []string{r.Flavor + " " + strings.Join(nonEmpty(r.Args, j.Args), " ")}
	report(r, &o)
	return o
}

// stop ends the sequence at step. A retryable stop keeps the journal
// pending, so the next tf (or `tf guard recover`) tries again; otherwise the
// journal is closed with the explanation.
func stop(r Run, j *journal, step string, err error, retryable, drift bool, holder *LockInfo) Outcome {
	_ = j.record(step, "stopped", err.Error(), r.Now())
	if !retryable {
		_ = j.finish(NeedsPerson)
	}
	st := &seqState{r: r, j: j}
	o := st.outcome(NeedsPerson)
	o.Summary = fmt.Sprintf("recovery stopped at %q: %v", step, err)
	o.Error = err.Error()
	o.Holder = holder
	errPath := filepath.Join(r.Dir, erroredFile)
	if _, serr := os.Stat(errPath); serr != nil && j.Errored != nil {
		errPath = filepath.Join(j.dir(), backupName)
	}
	switch {
	case holder != nil:
		o.Next = []string{
			fmt.Sprintf("# the state is locked by %s since %s (%s, ID %s): wait for that run to finish", holder.Who, holder.Created, holder.Operation, holder.ID),
			"tf guard recover",
		}
	case drift:
		o.Next = []string{
			"# the backend moved on or is a different state: compare before deciding which to keep",
			r.Flavor + " state pull > remote.tfstate",
			"diff <(jq .resources remote.tfstate) <(jq .resources " + shellQuote(errPath) + ")",
		}
	case !retryable:
		o.Next = append([]string{"# tf could not finish; by hand, once the cause above is fixed:"}, manualCommands(r, nonEmptyS(j.LockID, j.Class.LockID), errPath, j.Errored != nil)...)
	default:
		o.Next = append([]string{renewHint(r, j.Backend), "tf guard recover", "# or by hand:"}, manualCommands(r, nonEmptyS(j.LockID, j.Class.LockID), errPath, j.Errored != nil)...)
	}
	report(r, &o)
	return o
}

// seqState is the working memory of one pass over the steps.
type seqState struct {
	r      Run
	j      *journal
	env    []string
	remote *StateSummary
	held   Locks
	note   string
	did    []string
}

func (s *seqState) outcome(k Kind) Outcome {
	b := s.j.Backend
	o := Outcome{Kind: k, Class: s.j.Class, Backend: &b, RecoveryDir: s.j.dir(), LockID: s.j.LockID,
		Errored: s.j.Errored, Remote: s.remote, Steps: s.j.Steps}
	for _, st := range s.j.Steps {
		if st.Status == "done" && st.Note != "" {
			o.Did = append(o.Did, st.Note)
		}
	}
	return o
}

// secure copies errored.tfstate, fsync'd, into the recovery directory.
func (s *seqState) secure(ctx context.Context) *stepStop {
	if s.j.done(StepSecure) && s.j.Errored == nil {
		return nil // skipped: the run wrote no errored.tfstate
	}
	src := filepath.Join(s.r.Dir, erroredFile)
	dst := filepath.Join(s.j.dir(), backupName)
	if raw, err := os.ReadFile(dst); err == nil && s.j.Errored != nil {
		sum, perr := parseState(raw)
		if perr == nil && sum.SHA256 == s.j.Errored.SHA256 {
			s.j.Errored = &sum
			return nil
		}
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return &stepStop{step: StepSecure, err: fmt.Errorf("read %s: %w", src, err), retryable: true}
	}
	sum, err := parseState(raw)
	if err != nil {
		return &stepStop{step: StepSecure, err: fmt.Errorf("%s: %w", src, err), retryable: false}
	}
	if err := copyFileSync(src, dst); err != nil {
		return &stepStop{step: StepSecure, err: err, retryable: true}
	}
	s.j.Errored = &sum
	s.note = fmt.Sprintf("copied errored.tfstate (%s) to %s", sum, dst)
	return nil
}

// credentials renews (when the wrapper can) and proves the credentials
// work by pulling the remote state with terraform itself.
func (s *seqState) credentials(ctx context.Context) *stepStop {
	if s.r.Renew != nil {
		env, err := s.r.Renew(ctx, s.env)
		if err != nil {
			return &stepStop{step: StepCredentials, err: fmt.Errorf("credentials could not be renewed: %w", err), retryable: true}
		}
		if env != nil {
			s.env = env
		}
	}
	remote, err := s.pull(ctx)
	if err != nil {
		return &stepStop{step: StepCredentials, err: err, retryable: true}
	}
	s.remote = &remote
	s.note = "credentials work: pulled the remote state (" + remote.String() + ")"
	return nil
}

func (s *seqState) pull(ctx context.Context) (StateSummary, error) {
	out, errb, err := s.r.runner.Run(ctx, buildPull(s.r.Terraform, s.r.Dir, s.env))
	if err != nil {
		c := Classify(errb)
		if c.Expired {
			return StateSummary{}, fmt.Errorf("the credentials are still expired (%s): %s state pull failed", strings.Join(c.Shapes, ", "), s.r.Flavor)
		}
		return StateSummary{}, fmt.Errorf("%s state pull failed: %w: %s", s.r.Flavor, err, lastLines(errb, 6))
	}
	sum, err := parseState(out)
	if err != nil {
		return StateSummary{}, fmt.Errorf("remote state: %w", err)
	}
	return sum, nil
}

// lock proves the stale lock is this run's own, or that no lock is held.
// A lock held by anyone else is never touched.
func (s *seqState) lock(ctx context.Context) *stepStop {
	j := s.j
	ours := nonEmptyS(j.LockID, j.Class.LockID)
	if !j.Backend.IsS3() {
		// Generic backends: the ID from terraform's own output is the proof.
		if ours == "" && j.Class.ReleaseFailed {
			return &stepStop{step: StepLock, err: errors.New("terraform could not release its lock and did not print its ID; this backend's lock record cannot be read"), retryable: false}
		}
		j.LockID = ours
		if ours != "" {
			s.note = "lock " + ours + " is this run's own (named in terraform's output)"
		}
		return nil
	}
	rd, err := s.r.locks(ctx, j.Backend, s.env)
	if err == nil {
		s.held, err = rd.ReadLocks(ctx)
	}
	if err != nil {
		return &stepStop{step: StepLock, err: fmt.Errorf("cannot read the lock records: %w", err), retryable: true}
	}
	if !s.held.Held() {
		j.LockID = ""
		s.note = "no lock is held on " + j.Backend.LockPath()
		return nil
	}
	for _, rec := range s.held.All() {
		if !s.isOurs(rec, ours) {
			return &stepStop{step: StepLock, err: fmt.Errorf("the state is locked by someone else: %s since %s (%s, ID %s); tf never removes a lock it cannot prove is its own",
				rec.Who, rec.Created, rec.Operation, rec.ID), retryable: true, holder: rec}
		}
		ours = rec.ID
	}
	j.LockID = ours
	s.note = fmt.Sprintf("lock %s is this run's own (%s, %s, %s)", ours, s.held.All()[0].Who, s.held.All()[0].Operation, s.held.All()[0].Created)
	return nil
}

// isOurs: the record's ID was in this run's output, or it was created
// during this run, by this user@host, for this operation.
func (s *seqState) isOurs(rec *LockInfo, idFromOutput string) bool {
	if idFromOutput != "" {
		return rec.ID == idFromOutput
	}
	if rec.Who != s.j.Who || (s.j.Operation != "" && rec.Operation != s.j.Operation) {
		return false
	}
	created, err := time.Parse(time.RFC3339Nano, rec.Created)
	if err != nil || s.j.Started.IsZero() {
		return false
	}
	return !created.Before(s.j.Started.Add(-2*time.Second)) && !created.After(s.j.Ended.Add(2*time.Second))
}

// push puts errored.tfstate back while our stale lock still fences the
// state (-lock=false), refusing a different lineage or a remote that moved
// on. Never -force.
func (s *seqState) push(ctx context.Context) *stepStop {
	e := s.j.Errored
	if e == nil {
		s.note = "nothing to push: terraform saved the state"
		return nil
	}
	rem := s.remote
	switch {
	case rem == nil:
		return &stepStop{step: StepPush, err: errors.New("remote state unknown"), retryable: true}
	case !rem.Empty && rem.Lineage != e.Lineage:
		return &stepStop{step: StepPush, err: fmt.Errorf("the backend holds a different state (lineage %s) than errored.tfstate (lineage %s); tf never pushes with -force", rem.Lineage, e.Lineage), drift: true}
	case !rem.Empty && sameContent(*rem, *e) && rem.Serial >= e.Serial:
		s.note = "the backend already holds errored.tfstate's content (" + rem.String() + ")"
		s.j.Pushed = e
		return nil
	case !rem.Empty && rem.Serial >= e.Serial:
		return &stepStop{step: StepPush, err: fmt.Errorf("someone else wrote the state since: remote %s, errored.tfstate %s; tf never pushes with -force", rem, e), drift: true}
	}
	lockFalse := s.j.LockID != ""
	path := filepath.Join(s.j.dir(), backupName)
	_, errb, err := s.r.runner.Run(ctx, buildPush(s.r.Terraform, s.r.Dir, s.env, path, lockFalse))
	if err != nil {
		c := Classify(errb)
		return &stepStop{step: StepPush, err: fmt.Errorf("%s state push failed: %w: %s", s.r.Flavor, err, lastLines(errb, 6)), retryable: c.Expired || c.AcquireFailed}
	}
	s.j.Pushed = e
	if lockFalse {
		s.note = fmt.Sprintf("pushed errored.tfstate (%s) with -lock=false while lock %s still fenced the state", e, s.j.LockID)
	} else {
		s.note = fmt.Sprintf("pushed errored.tfstate (%s), taking the lock as usual", e)
	}
	return nil
}

// unlock releases our lock by its ID only, after re-reading the record.
func (s *seqState) unlock(ctx context.Context) *stepStop {
	id := s.j.LockID
	if id == "" {
		return nil
	}
	if s.j.Backend.IsS3() {
		held, stop := s.rereadLocks(ctx, StepUnlock)
		if stop != nil {
			return stop
		}
		if !held.Held() {
			s.note = "lock " + id + " is already gone"
			return nil
		}
		for _, rec := range held.All() {
			if rec.ID != id {
				return &stepStop{step: StepUnlock, err: fmt.Errorf("the lock changed hands: %s holds it since %s (ID %s)", rec.Who, rec.Created, rec.ID), retryable: true, holder: rec}
			}
		}
	}
	_, errb, err := s.r.runner.Run(ctx, buildUnlock(s.r.Terraform, s.r.Dir, s.env, id))
	if err != nil {
		return &stepStop{step: StepUnlock, err: fmt.Errorf("%s force-unlock %s failed: %w: %s", s.r.Flavor, id, err, lastLines(errb, 6)), retryable: true}
	}
	s.note = "released lock " + id
	return nil
}

// verify pulls the state again: serial, lineage and resources must equal
// what was pushed (terraform may count one serial up), and no lock is left.
func (s *seqState) verify(ctx context.Context) *stepStop {
	rem, err := s.pull(ctx)
	if err != nil {
		return &stepStop{step: StepVerify, err: err, retryable: true}
	}
	s.remote = &rem
	if e := s.j.Errored; e != nil {
		if rem.Empty || !sameContent(rem, *e) || rem.Serial < e.Serial {
			return &stepStop{step: StepVerify, err: fmt.Errorf("the backend does not hold what was pushed: remote %s, pushed %s", rem, e), drift: true}
		}
	}
	if s.j.Backend.IsS3() {
		held, stop := s.rereadLocks(ctx, StepVerify)
		if stop != nil {
			return stop
		}
		for _, rec := range held.All() {
			if rec.ID == s.j.LockID && s.j.LockID != "" {
				return &stepStop{step: StepVerify, err: fmt.Errorf("lock %s is still held after force-unlock", rec.ID), retryable: true}
			}
		}
	}
	s.note = "verified: the backend holds " + rem.String() + ", no lock of ours left"
	return nil
}

// archive moves errored.tfstate out of the working directory, into the
// recovery directory, once the backend is proven to hold it.
func (s *seqState) archive(ctx context.Context) *stepStop {
	src := filepath.Join(s.r.Dir, erroredFile)
	raw, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) || s.j.Errored == nil {
		return nil
	}
	if err != nil {
		return &stepStop{step: StepArchive, err: err, retryable: true}
	}
	sum, err := parseState(raw)
	if err != nil || sum.SHA256 != s.j.Errored.SHA256 {
		s.note = "left " + src + ": it is not the file this recovery pushed"
		return nil
	}
	dst := filepath.Join(s.j.dir(), movedName)
	if err := os.Rename(src, dst); err != nil {
		return &stepStop{step: StepArchive, err: fmt.Errorf("move errored.tfstate: %w", err), retryable: true}
	}
	if err := syncDir(s.r.Dir); err != nil {
		return &stepStop{step: StepArchive, err: err, retryable: true}
	}
	s.note = "moved errored.tfstate to " + dst
	return nil
}

func manualCommands(r Run, lockID, errPath string, havePush bool) []string {
	var cmds []string
	if havePush {
		cmds = append(cmds, pushCommand(r.Flavor, errPath, lockID != ""))
	}
	if lockID != "" {
		cmds = append(cmds, unlockCommand(r.Flavor, lockID))
	} else {
		cmds = append(cmds, "# if a lock is still held, its ID is in the Lock Info of: "+r.Flavor+" plan -lock-timeout=0s")
	}
	return cmds
}

// renewHint is the command that renews the credentials in play.
func renewHint(r Run, b Backend) string {
	profile := b.Profile
	if profile == "" {
		profile = envLookup(r.Env, envProfile)
	}
	if profile != "" {
		return "aws sso login --profile " + shellQuote(profile) + "   # or however profile " + profile + " gets fresh credentials"
	}
	if envLookup(r.Env, envAccessKeyID) != "" {
		return "# export fresh AWS credentials (the ones in AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN expired)"
	}
	return "aws sso login   # or however this machine gets fresh AWS credentials"
}

func whoAmI() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// operationFor is the Operation terraform records in its lock for args.
func operationFor(args []string) string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		switch a {
		case "apply", "destroy":
			return "OperationTypeApply"
		case "plan":
			return "OperationTypePlan"
		case "refresh":
			return "OperationTypeRefresh"
		}
		return ""
	}
	return ""
}

func killSelf() {
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = p.Kill()
	}
	select {}
}

func lastLines(b []byte, n int) string {
	ls := strings.Split(strings.TrimSpace(Flatten(b)), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	s := strings.Join(ls, " ")
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return s
}

func nonEmpty(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

func nonEmptyS(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// redactVars replaces the values of -var arguments (`-var k=v`,
// `-var=k=v`) with "..." and keeps everything else.
func redactVars(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		switch {
		case a == "-var" || a == "--var":
			if i+1 < len(out) {
				if k, _, ok := strings.Cut(out[i+1], "="); ok {
					out[i+1] = k + "=..."
				}
			}
		case strings.HasPrefix(a, "-var=") || strings.HasPrefix(a, "--var="):
			flag, kv, _ := strings.Cut(a, "=")
			if k, _, ok := strings.Cut(kv, "="); ok {
				out[i] = flag + "=" + k + "=..."
			}
		}
	}
	return out
}

// rereadLocks reads the backend's lock records again (before unlocking and
// when verifying); a failure is a retryable stop at step.
func (s *seqState) rereadLocks(ctx context.Context, step string) (Locks, *stepStop) {
	rd, err := s.r.locks(ctx, s.j.Backend, s.env)
	var held Locks
	if err == nil {
		held, err = rd.ReadLocks(ctx)
	}
	if err != nil {
		return Locks{}, &stepStop{step: step, err: fmt.Errorf("cannot re-read the lock records: %w", err), retryable: true}
	}
	return held, nil
}
