package recovery

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// The owner record: who a run that lets terraform take the state lock is,
// kept beside the recovery root while it runs, so that a later tf meeting
// the lock that run left (tf and terraform SIGKILLed, a CI runner gone) can
// tell whether its owner is provably dead on this machine. It also streams
// the run's "X: Creating..." and "complete" lines to a file: a killed tf
// has nothing in memory, and the changes started and never completed are
// the resources that may exist outside the state.

// OwnerRecord is one run's owner record (owner-<tf pid>.json).
type OwnerRecord struct {
	Host   string `json:"host"`
	BootID string `json:"boot_id"`
	// PidNS is tf's PID namespace (/proc/self/ns/pid): containers on one
	// machine share the boot ID, not their PIDs.
	PidNS string `json:"pid_ns"`
	// TfPID and TfStart: tf's process ID and start time (clock ticks since
	// boot, field 22 of /proc/<pid>/stat); TerraformPID/TerraformStart the
	// same for terraform (0: not started yet, or not known).
	TfPID          int    `json:"tf_pid"`
	TfStart        uint64 `json:"tf_start"`
	TerraformPID   int    `json:"terraform_pid,omitempty"`
	TerraformStart uint64 `json:"terraform_start,omitempty"`
	// CI provider, run ID and attempt when tf ran in CI.
	CI        string    `json:"ci,omitempty"`
	CIRunID   string    `json:"ci_run_id,omitempty"`
	CIAttempt string    `json:"ci_attempt,omitempty"`
	Dir       string    `json:"dir"`
	State     string    `json:"state"`
	Command   string    `json:"command"`
	Started   time.Time `json:"started"`
	// LockID is the lock the watch saw this run's terraform take (only a
	// record created after the run started, the first one); "" until then.
	LockID string `json:"lock_id,omitempty"`
	// Ended is when tf saw terraform end (zero while it runs, or when tf
	// died first) and ExitCode terraform's exit code then: tf itself
	// reported on that run, so its lock is not a dead run's.
	Ended    time.Time `json:"ended,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`

	path string
}

const (
	ownerPrefix   = "owner-"
	ownerProgress = ".progress"
	bootIDPath    = "/proc/sys/kernel/random/boot_id"
)

// ProcStart is a process's start time (field 22 of /proc/<pid>/stat, clock
// ticks since boot). ok is false when there is no such process; err is set
// when tf could not tell.
func ProcStart(pid int) (start uint64, ok bool, err error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if os.IsNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	// comm (field 2) may hold spaces and parentheses: count after the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("/proc/%d/stat: unreadable", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state): field 22 is f[19].
	if len(f) < 20 {
		return 0, false, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, false, nil // exited, not yet reaped: not running
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return start, true, nil
}

// PidNamespace is this process's PID namespace ("" when unknown).
func PidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}

// BootID is this machine's boot ID ("" when it cannot be read).
func BootID() string {
	raw, err := os.ReadFile(bootIDPath)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

func ciOf(env []string) (provider, run, attempt string) {
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	switch {
	case get("GITHUB_RUN_ID") != "":
		return "github-actions", get("GITHUB_RUN_ID"), get("GITHUB_RUN_ATTEMPT")
	case get("CI_JOB_ID") != "":
		return "gitlab", get("CI_JOB_ID"), ""
	}
	return "", "", ""
}

// OwnerWriter keeps one run's owner record up to date; every method is
// safe on a nil *OwnerWriter (no record kept). It is also the io.Writer
// terraform's stdout passes through.
type OwnerWriter struct {
	mu    sync.Mutex
	rec   OwnerRecord
	prog  *os.File
	line  []byte
	watch *Watch
	stop  chan struct{}
	done  chan struct{}
	// madeRoot: the recovery root did not exist before this record, so a
	// run that leaves nothing behind removes it again (if still empty).
	madeRoot string
	// The backend copy (owner_backend.go): kept when inBackend, started
	// once the lock is known; openStore reaches the backend.
	inBackend bool
	openStore func(ctx context.Context) (ownerStore, error)
	ciURL     string
	heart     *backendHeart
}

// StartOwner writes the owner record of the run about to start in dir,
// when its command takes the lock on an S3 backend (nil otherwise, or when
// the record cannot be written: the run goes on without one). inBackend:
// also keep a copy next to the state in the backend once the run's lock is
// known (owner_backend.go).
func StartOwner(dir string, env, args []string, w *Watch, inBackend bool) *OwnerWriter {
	if c := tfargs.Parse(args); !c.TakesLock() || c.LockWaits() {
		return nil
	}
	b, err := LoadBackend(dir, env)
	if err != nil || !b.IsS3() {
		return nil
	}
	root := RecoveryRoot(dir, env)
	madeRoot := ""
	if _, err := os.Stat(root); err != nil {
		madeRoot = root
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil
	}
	host := ownerHost(env)
	start, _, _ := ProcStart(os.Getpid())
	rec := OwnerRecord{Host: host, BootID: BootID(), PidNS: PidNamespace(), TfPID: os.Getpid(), TfStart: start,
		Dir: dir, State: b.String(), Command: tfargs.Parse(args).Name(), Started: time.Now().UTC()}
	rec.CI, rec.CIRunID, rec.CIAttempt = ciOf(env)
	rec.path = filepath.Join(root, fmt.Sprintf("%s%d.json", ownerPrefix, rec.TfPID))
	o := &OwnerWriter{rec: rec, watch: w, stop: make(chan struct{}), done: make(chan struct{}), madeRoot: madeRoot,
		inBackend: inBackend && b.OwnerLocation() != "" && !testNoObserve(env), ciURL: ciJobURL(env),
		openStore: func(ctx context.Context) (ownerStore, error) { return newAWSBackend(ctx, b, env) }}
	if err := o.save(); err != nil {
		return nil
	}
	o.prog, _ = os.OpenFile(strings.TrimSuffix(rec.path, ".json")+ownerProgress, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	go o.follow()
	return o
}

func (o *OwnerWriter) save() error {
	raw, err := json.MarshalIndent(o.rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := o.rec.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, o.rec.path)
}

// TerraformStarted records terraform's PID and start time.
func (o *OwnerWriter) TerraformStarted(pid int) {
	if o == nil {
		return
	}
	start, _, _ := ProcStart(pid)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rec.TerraformPID, o.rec.TerraformStart = pid, start
	_ = o.save()
}

// follow records the lock ID once the watch has seen this run's lock.
func (o *OwnerWriter) follow() {
	defer close(o.done)
	for {
		if id := o.watch.lockTaken(o.rec.Started); id != "" {
			o.mu.Lock()
			o.rec.LockID = id
			_ = o.save()
			// The backend copy only for a lock whose Who is this user on
			// this host (terraform writes user@host): another machine's run
			// that took the state meanwhile keeps its own record.
			if o.inBackend && o.watch.lockWho(id) == whoAmI() {
				o.heart = startBackendHeart(o.openStore, o.backendRecord(), ownerHeartbeat)
			}
			o.mu.Unlock()
			return
		}
		select {
		case <-o.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lockWho is the Who of the lock record with ID id the watch saw ("" if
// none).
func (w *Watch) lockWho(id string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, kw := range w.obs.Locks {
		for _, s := range kw.Sightings {
			if s.Lock.Info.ID == id {
				return s.Lock.Info.Who
			}
		}
	}
	return ""
}

// backendRecord is the backend copy of the record (o.mu held).
func (o *OwnerWriter) backendRecord() BackendOwner {
	r := o.rec
	return BackendOwner{Tool: "tf", Run: newRunNonce(), LockID: r.LockID, Host: r.Host, Command: r.Command, Dir: r.Dir,
		CI: r.CI, CIRunID: r.CIRunID, CIAttempt: r.CIAttempt, CIJobURL: o.ciURL,
		TfPID: r.TfPID, TfStart: r.TfStart, BootID: r.BootID, PidNS: r.PidNS, Started: r.Started}
}

// ownerHost is this machine's name as owner records give it.
func ownerHost(env []string) string {
	if h := testHost(env); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// lockTaken is the ID of the first lock record the watch saw that was
// created after the run started, when every kind's first such sighting
// names the same ID; "" otherwise.
func (w *Watch) lockTaken(started time.Time) string {
	if w == nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	id := ""
	for _, kw := range w.obs.Locks {
		for _, s := range kw.Sightings {
			created, err := time.Parse(time.RFC3339Nano, s.Lock.Info.Created)
			if err != nil || created.Before(started.Add(-time.Second)) {
				return "" // a record older than the run: not this run's
			}
			if id != "" && id != s.Lock.Info.ID {
				return ""
			}
			id = s.Lock.Info.ID
			break
		}
	}
	return id
}

// Write streams terraform's progress lines (started, complete) to the
// progress file, one line each: "start create ADDRESS", "done create ADDRESS".
func (o *OwnerWriter) Write(p []byte) (int, error) {
	if o == nil {
		return len(p), nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(o.line)+len(p) <= 4096 {
				o.line = append(o.line, p...)
			}
			break
		}
		l := append(o.line, p[:i+1]...)
		o.line, p = o.line[:0], p[i+1:]
		if ll, ok := tfout.ReadLiveLine(l); ok && o.prog != nil {
			what := "done"
			if ll.Started {
				what = "start"
			}
			fmt.Fprintf(o.prog, "%s %s %s\n", what, ll.Change.Action, ll.Change.Address)
		}
	}
	return n, nil
}

// End finishes the record: removed when keep is false (the run ended and
// released its lock, or never recorded one); otherwise kept with the end
// and exit code marked, as evidence for `tf guard recover --show`.
func (o *OwnerWriter) End(keep bool, exitCode int) {
	if o == nil {
		return
	}
	close(o.stop)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	o.heart.end(!keep, exitCode)
	if o.prog != nil {
		o.prog.Close()
	}
	if keep && o.rec.LockID != "" {
		o.rec.Ended, o.rec.ExitCode = time.Now().UTC(), exitCode
		if o.save() == nil {
			return
		}
	}
	removeOwner(o.rec.path)
	if o.madeRoot != "" {
		os.Remove(o.madeRoot) // only if empty: a journal or another run's record keeps it
	}
}

func removeOwner(path string) {
	os.Remove(path)
	os.Remove(strings.TrimSuffix(path, ".json") + ownerProgress)
}

// LoadOwners reads the owner records kept in dir's recovery root.
func LoadOwners(dir string, env []string) []OwnerRecord {
	paths, _ := filepath.Glob(filepath.Join(RecoveryRoot(dir, env), ownerPrefix+"*.json"))
	var out []OwnerRecord
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r OwnerRecord
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		r.path = p
		out = append(out, r)
	}
	return out
}

// CutChanges are the changes the record's progress file shows started and
// never completed: they may exist outside the state.
func (r OwnerRecord) CutChanges() []tfout.Change {
	f, err := os.Open(strings.TrimSuffix(r.path, ".json") + ownerProgress)
	if err != nil {
		return nil
	}
	defer f.Close()
	var order []tfout.Change
	open := map[tfout.Change]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		ch := tfout.Change{Address: fs[2], Action: fs[1]}
		switch fs[0] {
		case "start":
			if !open[ch] {
				order = append(order, ch)
			}
			open[ch] = true
		case "done":
			open[ch] = false
		}
	}
	var out []tfout.Change
	for _, ch := range order {
		if open[ch] {
			out = append(out, ch)
		}
	}
	return out
}

// Liveness verdicts.
const (
	OwnerDead      = "dead"
	OwnerAlive     = "alive"
	OwnerUnknown   = "unknown"
	OwnerElsewhere = "elsewhere"
)

// ProcSeen is what tf saw of one process ID on this machine now.
type ProcSeen struct {
	Running bool
	Start   uint64
	Err     error
}

// Here is what tf observes on this machine now.
type Here struct {
	Host, BootID, PidNS string
	Procs               map[int]ProcSeen
}

// Verdict is the liveness decision on an owner record, with its evidence.
type Verdict struct {
	State    string
	Evidence []string
}

// JudgeOwner decides from the record and this machine's process table
// whether the run that wrote it is provably dead here: same boot ID, and
// tf's and terraform's PIDs each gone or reused by a process with another
// start time. Anything less is alive, unknown or elsewhere.
func JudgeOwner(r OwnerRecord, h Here) Verdict {
	var v Verdict
	say := func(f string, a ...any) { v.Evidence = append(v.Evidence, fmt.Sprintf(f, a...)) }
	if r.Host != h.Host || r.BootID == "" || h.BootID == "" || r.BootID != h.BootID {
		if r.BootID == "" || h.BootID == "" {
			say("the boot ID is unknown (record %q, here %q)", r.BootID, h.BootID)
			v.State = OwnerUnknown
			if r.Host != h.Host {
				v.State = OwnerElsewhere
			}
			return v
		}
		say("the run was on host %s, boot %s; this is host %s, boot %s", r.Host, r.BootID, h.Host, h.BootID)
		v.State = OwnerElsewhere
		return v
	}
	if r.PidNS == "" || r.PidNS != h.PidNS {
		say("same host and boot, but the run's PID namespace (%q) is not this one (%q): its processes cannot be seen from here (another container?)", r.PidNS, h.PidNS)
		v.State = OwnerElsewhere
		if r.PidNS == "" || h.PidNS == "" {
			v.State = OwnerUnknown
		}
		return v
	}
	say("same host %s, boot ID %s and PID namespace", h.Host, h.BootID)
	state := OwnerDead
	check := func(name string, pid int, start uint64) {
		if pid <= 0 {
			say("%s's PID was never recorded", name)
			state = worse(state, OwnerUnknown)
			return
		}
		p, ok := h.Procs[pid]
		switch {
		case !ok || p.Err != nil:
			say("%s PID %d could not be checked: %v", name, pid, p.Err)
			state = worse(state, OwnerUnknown)
		case !p.Running:
			say("%s PID %d is gone", name, pid)
		case start == 0:
			say("%s PID %d is running and its start time was not recorded", name, pid)
			state = worse(state, OwnerUnknown)
		case p.Start == start:
			say("%s PID %d is running (same start time %d)", name, pid, start)
			state = worse(state, OwnerAlive)
		default:
			say("%s PID %d is now another process (started at %d, the run's at %d)", name, pid, p.Start, start)
		}
	}
	check("tf", r.TfPID, r.TfStart)
	check("terraform", r.TerraformPID, r.TerraformStart)
	v.State = state
	return v
}

// worse orders verdicts: alive outranks unknown outranks dead.
func worse(a, b string) string {
	rank := map[string]int{OwnerDead: 0, OwnerUnknown: 1, OwnerAlive: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// observeHere reads this machine's facts for r.
func observeHere(r OwnerRecord) Here {
	host, _ := os.Hostname()
	h := Here{Host: host, BootID: BootID(), PidNS: PidNamespace(), Procs: map[int]ProcSeen{}}
	for _, pid := range []int{r.TfPID, r.TerraformPID} {
		if pid > 0 {
			s, ok, err := ProcStart(pid)
			h.Procs[pid] = ProcSeen{Running: ok, Start: s, Err: err}
		}
	}
	return h
}
