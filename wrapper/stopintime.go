package wrapper

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// Stop in time (docs/stop-in-time.md): when the credentials terraform uses
// cannot be renewed past a known moment, or the configured deadline comes,
// tf sends terraform one interrupt (SIGINT, as Ctrl-C would) early enough
// for it to finish what is in flight, save the state and release the lock
// while the credentials still work.

// stopSaveAllowance is the part of the margin for terraform's own stop:
// stopping the provider, persisting the state, releasing the lock.
const stopSaveAllowance = 10 * time.Second

// stopCheckEvery is how often tf compares the margin with the time left.
const stopCheckEvery = time.Second

// interruptedMark is the line terraform prints on stdout when it takes an
// interrupt ("Interrupt received." then "Please wait for Terraform to
// exit..."): a Ctrl-C typed at the terminal reaches terraform, not tf, and
// this is how tf learns of it.
var interruptedMark = []byte("Interrupt received.")

// parseDeadline reads the deadline setting: "" (none), an RFC 3339 time,
// or a positive duration counted from start.
func parseDeadline(v string, start time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return start.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("bad value %q: must be an RFC 3339 time such as 2026-12-02T15:04:05Z, or a positive duration such as 55m counted from tf's start", v)
}

// stopInTime watches one guarded run: the operations in flight (from
// terraform's stdout) and the time left before the run's end.
type stopInTime struct {
	now    func() time.Time
	end    time.Time // the earlier of the credentials' renewal end and the deadline
	endWhy string    // what ends then, for people
	expect func(resourceType string) (time.Duration, string)
	// parentGone, in CI, says that tf's parent process ended (a cancelled
	// step's shell killed by the runner); nil elsewhere.
	parentGone func() bool

	mu       sync.Mutex
	ticker   *time.Ticker
	line     []byte // the stdout line being assembled
	long     bool
	inflight map[tfout.Change]time.Time
	took     map[string][]time.Duration // by resource type, as terraform printed them
	blind    bool                       // terraform already got an interrupt: tf sends none
	// unseen: terraform owns the terminal and tf does not read its stdout,
	// so a Ctrl-C typed there would be invisible to tf; when its interrupt
	// comes due, tf only warns here instead.
	unseen io.Writer
	// What tf did: set once, when it interrupted terraform.
	fired   bool
	firedAt time.Time
	why     string
	guess   bool // the margin rests on a guessed operation time
}

// newStopInTime returns the watch for a run whose credentials end at
// credEnd (zero: renewed, no end), with the deadline setting; a run with
// neither is only watched to learn its operation times (and, in CI, for its
// parent's end).
func newStopInTime(cfg Config, start time.Time, credEnd time.Time, credWho string, times credguard.OperationTimes, ci bool) *stopInTime {
	s := &stopInTime{now: time.Now, expect: times.Expect, inflight: map[tfout.Change]time.Time{}, took: map[string][]time.Duration{}}
	if !credEnd.IsZero() {
		s.end = credEnd
		s.endWhy = credWho + " cannot be renewed past " + clock(credEnd)
	}
	if dl, err := parseDeadline(cfg.Deadline, start); err == nil && !dl.IsZero() && (s.end.IsZero() || dl.Before(s.end)) {
		s.end = dl
		s.endWhy = "the deadline (" + cfg.Sources["deadline"].String() + ") is " + clock(dl)
	}
	if ci {
		ppid := os.Getppid()
		s.parentGone = func() bool { return os.Getppid() != ppid }
	}
	return s
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05 UTC") }

// Write reads terraform's stdout as it passes: operations that start and
// complete, and terraform's own note of an interrupt. Never fails.
func (s *stopInTime) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !s.long && len(s.line)+len(p) <= maxKeptLine {
				s.line = append(s.line, p...)
			} else {
				s.long, s.line = true, s.line[:0]
			}
			break
		}
		l := p[:i+1]
		p = p[i+1:]
		if len(s.line) > 0 || s.long {
			if !s.long && len(s.line)+len(l) <= maxKeptLine {
				l = append(s.line, l...)
			} else {
				l = nil
			}
			s.line, s.long = s.line[:0], false
		}
		if l != nil {
			s.readLine(l)
		}
	}
	return n, nil
}

func (s *stopInTime) readLine(l []byte) {
	if bytes.Contains(l, interruptedMark) && !s.fired {
		// A Ctrl-C (or a signal sent to terraform itself) got there
		// first: tf must not send another.
		s.blind = true
		return
	}
	if !tfout.KeepProgressLine(l) {
		return
	}
	ll, ok := tfout.ReadLiveLine(l)
	if !ok {
		return
	}
	if ll.Started {
		if _, seen := s.inflight[ll.Change]; !seen {
			s.inflight[ll.Change] = s.now()
		}
		return
	}
	delete(s.inflight, ll.Change)
	if typ := tfout.ResourceType(ll.Change.Address); typ != "" && (ll.Took > 0 || strings.Contains(string(l), " after 0s")) {
		s.took[typ] = append(s.took[typ], ll.Took)
	}
}

// margin is how long before the end tf must interrupt terraform, now: the
// save allowance plus what is left of the longest operation in flight.
func (s *stopInTime) margin(now time.Time) (time.Duration, string, bool) {
	var worst time.Duration
	var what string
	guess := false
	chs := make([]tfout.Change, 0, len(s.inflight))
	for ch := range s.inflight {
		chs = append(chs, ch)
	}
	sort.Slice(chs, func(i, j int) bool { return chs[i].Address < chs[j].Address })
	for _, ch := range chs {
		typ := tfout.ResourceType(ch.Address)
		exp, src := s.expect(typ)
		ran := now.Sub(s.inflight[ch])
		// What is left of it; one that overran its time may still need
		// some, never less than a quarter of that time.
		left := max(exp-ran, exp/4)
		if left <= worst {
			continue
		}
		worst = left
		var from string
		switch src {
		case credguard.OpTimeLearned:
			from = "the longest seen here x1.25"
		case credguard.OpTimeTable:
			from = "tf's table of slow resource types"
		default:
			from = "a guess: no " + typ + " operation was seen complete here before"
		}
		what = fmt.Sprintf("%s for %s (%s, running for %s; expected %s: %s)", span(left), ch.Address, ch.Action, span(ran), span(exp), from)
		guess = src == credguard.OpTimeGuess
	}
	why := span(stopSaveAllowance) + " for terraform to stop, save the state and release the lock"
	if what != "" {
		why += " + " + what
	}
	return stopSaveAllowance + worst, why, guess
}

// due says whether tf must interrupt terraform now, and why; it is true
// once at most.
func (s *stopInTime) due() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fired || s.blind {
		return "", false
	}
	now := s.now()
	if s.parentGone != nil && s.parentGone() {
		s.fired, s.firedAt = true, now
		s.why = "tf's parent process ended (in CI: the step was cancelled or timed out and its shell was killed)"
		return s.why, true
	}
	if s.end.IsZero() {
		return "", false
	}
	m, why, guess := s.margin(now)
	if now.Add(m).Before(s.end) {
		return "", false
	}
	if s.unseen != nil {
		s.blind = true
		fmt.Fprintf(s.unseen, "tf: warning: %s, and tf does not interrupt terraform to stop in time: it cannot see a Ctrl-C typed here (it does not read this command's output, or read_stdout is off), so its interrupt could be terraform's second\n", s.endWhy)
		return "", false
	}
	s.fired, s.firedAt, s.guess = true, now, guess
	s.why = s.endWhy + "; margin " + span(m) + ": " + why
	return s.why, true
}

// learned are the operation times terraform printed in this run.
func (s *stopInTime) learned() map[string][]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Duration{}
	for k, v := range s.took {
		out[k] = append([]time.Duration(nil), v...)
	}
	return out
}

// interruptNote is what tf prints when it interrupts terraform.
func interruptNote(why string) string {
	return "tf: interrupting terraform once (as Ctrl-C would), so that it finishes what is in flight, saves the state and releases the lock in time: " + why +
		". Do not interrupt it again: a second interrupt makes terraform exit at once, without saving the state\n"
}

// stoppedReport is what tf says after a run it interrupted, and its exit
// code: ExitStoppedInTime when terraform stopped with an error of its own
// (as an interrupted apply does) and reported no failure to save the
// state or release the lock; terraform's code otherwise (it finished
// anyway, or was killed, or recovery had to act).
func stoppedReport(s *stopInTime, inv *Invocation, res *Result, code int) (string, int) {
	s.mu.Lock()
	fired, why, at, guess := s.fired, s.why, s.firedAt, s.guess
	s.mu.Unlock()
	if !fired {
		return "", code
	}
	var b strings.Builder
	name := inv.Config.Flavor
	if name == "" {
		name = FlavorTerraform
	}
	fmt.Fprintf(&b, "tf: stopped in time: tf interrupted terraform at %s because %s.\n", clock(at), why)
	if guess {
		fmt.Fprintf(&b, "tf: the margin was a guess: no operation time for that resource type was known here (they are learned from the times terraform prints).\n")
	}
	c := tfout.Classify(res.StderrTail)
	switch {
	case res.Signal != nil:
		fmt.Fprintf(&b, "tf: terraform was then killed by %s; it may not have saved the state.\n", res.Signal)
		return b.String(), code
	case c.Expired:
		fmt.Fprintf(&b, "tf: the credentials still ended before terraform was done (see above).\n")
		return b.String(), code
	case c.SaveFailed || c.PersistFailed || c.ReleaseFailed:
		fmt.Fprintf(&b, "tf: terraform reported a failure to save the state or release the lock (see above).\n")
		return b.String(), code
	case res.ExitCode == 0:
		fmt.Fprintf(&b, "tf: terraform finished anyway (exit code 0).\n")
		return b.String(), code
	}
	if w := inv.Command.Words; len(w) > 0 && (w[0] == "apply" || w[0] == "destroy") {
		if res.Stdout == nil {
			fmt.Fprintf(&b, "tf: which planned changes were made is not known (tf did not read terraform's output).\n")
		} else {
			// stdout then stderr, as recovery reads them: the errors name
			// the operations the interrupt ended.
			p := tfout.ReadProgress(append(append([]byte{}, res.Stdout...), res.StderrTail...))
			b.WriteString(progressText(p))
		}
	}
	chdir := ""
	if inv.Command.Chdir != "" {
		chdir = " -chdir=" + tfargs.Quote(inv.Command.Chdir)
	}
	fmt.Fprintf(&b, "tf: terraform reported no error saving the state or releasing the lock. With credentials that last, `%s%s plan` shows what is left to do.\n", name, chdir)
	if code != res.ExitCode {
		return b.String(), code // recovery's own code (a person must act) stays
	}
	return b.String(), ExitStoppedInTime
}

// progressText says k of n from terraform's output.
func progressText(p tfout.Progress) string {
	var b strings.Builder
	switch {
	case p.PlanSeen:
		fmt.Fprintf(&b, "tf: terraform reported %d of the %d planned changes complete", len(p.Done), p.Planned)
	default:
		fmt.Fprintf(&b, "tf: terraform reported %d changes complete (the plan's count was not printed)", len(p.Done))
	}
	if len(p.Done) > 0 {
		fmt.Fprintf(&b, ": %s", changeList(p.Done))
	}
	b.WriteString(".\n")
	if len(p.Cut) > 0 {
		fmt.Fprintf(&b, "tf: in progress when terraform stopped, neither reported complete nor failed: %s.\n", changeList(p.Cut))
	}
	if len(p.Failed) > 0 {
		fmt.Fprintf(&b, "tf: ended with an error (an interrupted operation reports one): %s.\n", strings.Join(p.Failed, ", "))
	}
	if nm := p.NotMade(); len(nm) > 0 {
		fmt.Fprintf(&b, "tf: not started: %s.\n", changeList(nm))
	}
	return b.String()
}

func changeList(chs []tfout.Change) string {
	parts := make([]string, len(chs))
	for i, c := range chs {
		parts[i] = c.Address + " (" + c.Action + ")"
	}
	return strings.Join(parts, ", ")
}

// span formats a duration for people: 1h5m, 12m30s, 12m, 40s.
func span(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d >= time.Hour {
		d = d.Round(time.Minute)
		if m := d % time.Hour / time.Minute; m != 0 {
			return fmt.Sprintf("%dh%dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	d = d.Round(time.Second)
	if d >= time.Minute {
		if sec := d % time.Minute / time.Second; sec != 0 {
			return fmt.Sprintf("%dm%ds", d/time.Minute, sec)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// ticks starts the clock of the stop watch (nil: none, a channel that
// never fires). blind: terraform owns the terminal and tf does not see its
// stdout (see unseen).
func (s *stopInTime) ticks(w io.Writer, blind bool) <-chan time.Time {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if blind {
		s.unseen = w
	}
	s.ticker = time.NewTicker(stopCheckEvery)
	return s.ticker.C
}

func (s *stopInTime) stopTicks() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ticker != nil {
		s.ticker.Stop()
	}
}

// stopState is what the guard keeps for stop in time between Before and
// After.
type stopState struct {
	started time.Time
	report  *credguard.Report // the preflight's, nil without one
}

// watch is the run's stop watch.
// In GitHub OIDC mode and for credentials tf or the SDK renew the report
// gives no end; the deadline setting still counts.
func (st *stopState) watch(inv *Invocation) *stopInTime {
	var end time.Time
	var who string
	if st.report != nil {
		end, who, _ = st.report.RenewalEnd()
	}
	return newStopInTime(inv.Config, st.started, end, who, credguard.LoadOperationTimes(credOptions(inv)), inv.CI)
}

// after learns the operation times terraform printed and, when tf
// interrupted terraform, reports and picks the exit code.
func (st *stopState) after(inv *Invocation, res *Result, code int) int {
	s := inv.stop
	if s == nil {
		return code
	}
	if err := credguard.RecordOperationTimes(credOptions(inv), s.learned()); err != nil {
		fmt.Fprintf(inv.Stderr, "tf: warning: could not record how long terraform's operations took: %v\n", err)
	}
	text, code := stoppedReport(s, inv, res, code)
	if text != "" {
		fmt.Fprint(inv.Stderr, text)
	}
	return code
}
