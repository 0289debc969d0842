package tfout

// Reading what an apply did from its own output on stdout.

import (
	"bytes"
	"slices"
	"strings"
)

// progressMarks are the fixed words of every line ReadProgress reads from
// stdout, short enough that terraform's colour codes never split one; KeepProgressLine is the wrapper's cheap filter over terraform's
// stdout so that it keeps only these lines, never a whole plan's text.
var progressMarks = [][]byte{
	[]byte("Plan:"), []byte("complete! Resources:"), []byte("following actions:"),
	[]byte("Creating..."), []byte("Modifying..."), []byte("Destroying..."),
	[]byte(" complete after "),
	[]byte("will be created"), []byte("will be updated in-place"), []byte("will be destroyed"),
	[]byte("must be replaced"), []byte("will be replaced, as requested"),
	[]byte(" has moved to "), []byte("(moved from "), []byte("will not be destroyed"), []byte(" has been deleted"),
	[]byte(" will be imported"),
}

// errorHeadMark starts the first line of an unboxed (-no-color) error
// diagnostic: kept, so that ReadProgress knows that the lines after it quote
// other programs' output. It matters when stdout and stderr are one
// destination: then the kept lines are both streams'.
var errorHeadMark = []byte("Error: ")

// KeepProgressLine says whether ReadProgress could use this line of stdout.
func KeepProgressLine(l []byte) bool {
	if bytes.HasPrefix(l, errorHeadMark) {
		return true
	}
	for _, m := range progressMarks {
		if bytes.Contains(l, m) {
			return true
		}
	}
	for _, m := range jsonUIMarks {
		if bytes.Contains(l, m) {
			return true
		}
	}
	return false
}

// Change is one planned change as terraform printed it.
type Change struct {
	Address string `json:"address"`
	// Action is "create", "update" or "destroy".
	Action string `json:"action"`
}

// Progress is what terraform's own output says the failed run did.
type Progress struct {
	// Planned is add+change+destroy from the "Plan:" line; PlanSeen says
	// whether there was one (a saved plan's apply prints none).
	Planned  int  `json:"planned"`
	PlanSeen bool `json:"plan_seen"`
	// Done are the changes terraform reported complete, in order.
	Done []Change `json:"done,omitempty"`
	// Cut are changes that started and neither completed nor failed: the
	// run ended while they were in progress, so they may or may not exist.
	Cut []Change `json:"cut,omitempty"`
	// Failed are the resource addresses named in error diagnostics.
	Failed []string `json:"failed,omitempty"`
	// ApplyComplete: terraform printed "Apply complete!".
	ApplyComplete bool `json:"apply_complete"`
	// Plan lists the changes the plan printed (a replacement is a destroy
	// and a create), in its order; empty when no plan text was seen.
	Plan []Change `json:"plan,omitempty"`
	// Gone are addresses the run's plan takes out of the state without
	// destroying anything (the old address of a moved object, an object a
	// removed block forgets, one refresh found deleted outside terraform);
	// Adopted are addresses it brings in without a create (a moved
	// object's new address, an import).
	Gone    []string `json:"gone,omitempty"`
	Adopted []string `json:"adopted,omitempty"`
	// Unrecorded are changes terraform reported complete that the state tf
	// pushed does not show (an object created or updated that is not in
	// it, one destroyed that still is): set when tf checks, see UnrecordedIn.
	Unrecorded []Change `json:"unrecorded,omitempty"`
}

// UnrecordedIn lists the changes p.Done says were made that a state does
// not show; inState says whether that state holds a resource instance
// address. A destroy of an address that is also to be created (a
// replacement, whose new object may exist, or exist tainted after its
// create failed) cannot be judged by the address.
func (p Progress) UnrecordedIn(inState func(address string) bool) []Change {
	var out []Change
	for _, ch := range p.Done {
		present := inState(ch.Address)
		switch ch.Action {
		case "create", "update":
			if !present {
				out = append(out, ch)
			}
		case "destroy":
			recreated := slices.Contains(p.Done, Change{ch.Address, "create"}) ||
				slices.Contains(p.Plan, Change{ch.Address, "create"}) || slices.Contains(p.Failed, ch.Address)
			if present && !recreated {
				out = append(out, ch)
			}
		}
	}
	return out
}

// AllMade says whether terraform's output shows every planned change made,
// none cut off or failed, and (once checked) all of them in the state.
func (p Progress) AllMade() bool {
	return len(p.Cut) == 0 && len(p.Failed) == 0 && len(p.Unrecorded) == 0 &&
		(p.ApplyComplete || (p.PlanSeen && len(p.Done) >= p.Planned))
}

// NotMade are the planned changes that neither completed, nor were cut off,
// nor failed: terraform never started them.
func (p Progress) NotMade() []Change {
	var out []Change
	for _, ch := range p.Plan {
		if !slices.Contains(p.Done, ch) && !slices.Contains(p.Cut, ch) && !slices.Contains(p.Failed, ch.Address) {
			out = append(out, ch)
		}
	}
	return out
}

// ReadProgress reads an apply's output (stdout and stderr, in any order):
// the plan's counts, each "Creating..."/"Creation complete after" pair and
// the addresses of failed resources.
func ReadProgress(out []byte) Progress {
	pt := compiledPatterns()
	var p Progress
	action := map[string]string{
		"Creating": "create", "Modifying": "update", "Destroying": "destroy",
		"Creation": "create", "Modifications": "update", "Destruction": "destroy",
	}
	started := map[Change]bool{}
	var order []Change
	done := map[Change]bool{}
	inPlan, afterError := false, false
	var plan []Change
	var js jsonProgress
	lastPlanned := "" // the address of the last "# address will be ..." line
	for _, l := range cleanLines(out) {
		t := l.text
		if js.readJSONLine(t) {
			continue
		}
		if m := pt.errorLine.FindStringSubmatch(t); m != nil {
			if !strings.HasPrefix(m[1], "provider[") && !slices.Contains(p.Failed, m[1]) {
				p.Failed = append(p.Failed, m[1])
			}
			continue
		}
		if l.indent == 0 && !l.gutter && pt.errorHead.MatchString(t) {
			// terraform prints its error diagnostics after the run's last
			// progress line; what follows one (unboxed without colour) quotes
			// other programs' output, until a new plan starts.
			afterError = true
			continue
		}
		if afterError && !pt.actionsLine.MatchString(t) {
			continue
		}
		afterError = false
		if l.gutter || l.open || l.close || l.indent > 2 {
			// Inside a diagnostic, or indented like the plan's values and
			// heredocs: never terraform's own progress or plan line.
			continue
		}
		if l.indent > 0 { // only the plan's "  # address will be ..." is indented
			if m := pt.plannedLine.FindStringSubmatch(t); m != nil {
				lastPlanned = m[1]
				if inPlan {
					plan = appendPlanned(plan, m[1], m[2])
				}
			}
			p.readGoneOrAdopted(pt, t, lastPlanned)
			continue
		}
		if pt.actionsLine.MatchString(t) {
			inPlan, plan = true, nil // a second plan (apply after a prompt's refresh) replaces the first
			continue
		}
		if m := pt.planLine.FindStringSubmatch(t); m != nil {
			p.PlanSeen, p.Planned = true, atoi(m[1])+atoi(m[2])+atoi(m[3])
			if inPlan {
				p.Plan, inPlan = plan, false
			}
			continue
		}
		if inPlan {
			if m := pt.plannedLine.FindStringSubmatch(t); m != nil {
				plan = appendPlanned(plan, m[1], m[2])
				continue
			}
		}
		if pt.applyLine.MatchString(t) {
			p.ApplyComplete = true
			continue
		}
		if m := pt.completeLine.FindStringSubmatch(t); m != nil {
			ch := Change{Address: m[1], Action: action[m[2]]}
			if !done[ch] {
				done[ch] = true
				p.Done = append(p.Done, ch)
			}
			continue
		}
		if m := pt.startLine.FindStringSubmatch(t); m != nil {
			ch := Change{Address: m[1], Action: action[m[2]]}
			if !started[ch] {
				started[ch] = true
				order = append(order, ch)
			}
			continue
		}
	}
	// terraform -json: the same facts from its UI messages.
	for _, a := range js.gone {
		if !slices.Contains(p.Gone, a) {
			p.Gone = append(p.Gone, a)
		}
	}
	for _, a := range js.adopted {
		if !slices.Contains(p.Adopted, a) {
			p.Adopted = append(p.Adopted, a)
		}
	}
	if js.planSeen {
		p.PlanSeen, p.Planned = true, js.planned
	}
	p.ApplyComplete = p.ApplyComplete || js.applyComplete
	for _, a := range js.failed {
		if !slices.Contains(p.Failed, a) {
			p.Failed = append(p.Failed, a)
		}
	}
	for _, ch := range js.done {
		if !done[ch] {
			done[ch] = true
			p.Done = append(p.Done, ch)
		}
	}
	for _, ch := range js.started {
		if !started[ch] {
			started[ch] = true
			order = append(order, ch)
		}
	}
	for _, ch := range order {
		if !done[ch] && !slices.Contains(p.Failed, ch.Address) {
			p.Cut = append(p.Cut, ch)
		}
	}
	return p
}

// readGoneOrAdopted reads one "# address ..." line of a plan or of its
// "changed outside of Terraform" section for Gone and Adopted; last is the
// address a "# (moved from ...)" line below it belongs to.
func (p *Progress) readGoneOrAdopted(pt *textPatterns, t, last string) {
	add := func(l *[]string, a string) {
		if !slices.Contains(*l, a) {
			*l = append(*l, a)
		}
	}
	if m := pt.movedLine.FindStringSubmatch(t); m != nil {
		add(&p.Gone, m[1])
		add(&p.Adopted, m[2])
	} else if m := pt.movedFromLine.FindStringSubmatch(t); m != nil {
		add(&p.Gone, m[1])
		if last != "" {
			add(&p.Adopted, last)
		}
	} else if m := pt.forgetLine.FindStringSubmatch(t); m != nil {
		add(&p.Gone, m[1])
	} else if m := pt.deletedLine.FindStringSubmatch(t); m != nil {
		add(&p.Gone, m[1])
	} else if m := pt.importLine.FindStringSubmatch(t); m != nil {
		add(&p.Adopted, m[1])
	}
}

// appendPlanned adds one "# address <what>" line of the plan's list.
func appendPlanned(plan []Change, address, what string) []Change {
	switch what {
	case "will be created":
		return append(plan, Change{address, "create"})
	case "will be updated in-place":
		return append(plan, Change{address, "update"})
	case "will be destroyed":
		return append(plan, Change{address, "destroy"})
	default: // a replacement
		return append(plan, Change{address, "destroy"}, Change{address, "create"})
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' || n > 1<<20 {
			return n
		}
		n = n*10 + int(r-'0')
	}
	return n
}
