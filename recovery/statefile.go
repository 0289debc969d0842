package recovery

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// StateSummary is what recovery compares between two states.
type StateSummary struct {
	Serial    uint64 `json:"serial"`
	Lineage   string `json:"lineage"`
	Resources int    `json:"resources"`
	SHA256    string `json:"sha256,omitempty"`
	// Empty: the backend holds no state at all (`state pull` prints nothing,
	// or the empty-lineage, resource-less JSON of an absent object).
	Empty bool `json:"empty,omitempty"`
	// First: a state that never reached the backend (terraform writes
	// errored.tfstate with an empty lineage and serial 0 when the first
	// apply of a new state cannot save it).
	First bool `json:"first,omitempty"`

	// content is a digest of the resources and outputs as terraform wrote
	// them (whitespace aside); instances maps each resource instance's
	// address to a digest of its attributes. Digests, not trees: a state
	// may be hundreds of megabytes.
	content   string
	instances map[string]string
}

type stateJSON struct {
	Version   int               `json:"version"`
	Serial    uint64            `json:"serial"`
	Lineage   string            `json:"lineage"`
	Resources []json.RawMessage `json:"resources"`
	Outputs   json.RawMessage   `json:"outputs"`
}

type stateResource struct {
	Module    string `json:"module"`
	Mode      string `json:"mode"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Instances []struct {
		IndexKey   any             `json:"index_key"`
		Attributes json.RawMessage `json:"attributes"`
	} `json:"instances"`
}

// digester hashes JSON values as terraform wrote them, without their
// whitespace (terraform re-indents a state it re-serialises; its key order
// is fixed), reusing one buffer.
type digester struct{ buf bytes.Buffer }

func (d *digester) sum(raw []byte) [32]byte {
	d.buf.Reset()
	if json.Compact(&d.buf, raw) != nil {
		return sha256.Sum256(raw)
	}
	return sha256.Sum256(d.buf.Bytes())
}

// parseState reads a state file's JSON (once). Empty input is an empty
// backend.
func parseState(b []byte) (StateSummary, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return StateSummary{Empty: true}, nil
	}
	var s stateJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return StateSummary{}, fmt.Errorf("parse state: %w", err)
	}
	if s.Version == 0 && s.Lineage == "" && len(s.Resources) == 0 {
		return StateSummary{}, errors.New("parse state: not a terraform state file (no version, lineage or resources)")
	}
	sum := sha256.Sum256(b)
	st := StateSummary{Serial: s.Serial, Lineage: s.Lineage, Resources: len(s.Resources), SHA256: hex.EncodeToString(sum[:]), instances: map[string]string{}}
	if s.Lineage == "" {
		// terraform's empty state: an absent remote, or the first state of
		// a new lineage that never reached the backend.
		st.Empty = len(s.Resources) == 0
		st.First = !st.Empty
	}
	var d digester
	content := sha256.New()
	out := bytes.TrimSpace(s.Outputs)
	if len(out) == 0 || bytes.Equal(out, []byte("null")) {
		out = []byte("{}")
	}
	if o := d.sum(out); true {
		content.Write(o[:])
	}
	for i, raw := range s.Resources {
		rs := d.sum(raw)
		content.Write(rs[:])
		var r stateResource
		if err := json.Unmarshal(raw, &r); err != nil {
			return StateSummary{}, fmt.Errorf("parse state: resource %d: %w", i, err)
		}
		s.Resources[i] = nil // what is read is not kept
		base := r.Type + "." + r.Name
		if r.Mode == "data" {
			base = "data." + base
		}
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, in := range r.Instances {
			addr := base
			switch k := in.IndexKey.(type) {
			case string:
				addr += fmt.Sprintf("[%q]", k)
			case float64:
				addr += fmt.Sprintf("[%d]", int64(k))
			}
			a := d.sum(in.Attributes)
			st.instances[addr] = string(a[:])
		}
	}
	st.content = string(content.Sum(nil))
	return st, nil
}

// sameContent says whether two states hold the same resources and outputs
// (terraform re-serialises on push, so bytes and serial may differ). A
// first state takes the lineage terraform gives it when pushed.
func sameContent(a, b StateSummary) bool {
	if a.Lineage != b.Lineage && !a.First && !b.First {
		return false
	}
	return a.content == b.content
}

// holds says whether the state has the resource instance address.
func (s StateSummary) holds(address string) bool {
	_, ok := s.instances[address]
	return ok
}

func (s StateSummary) String() string {
	switch {
	case s.Empty:
		return "no state"
	case s.First:
		return fmt.Sprintf("a first state (no lineage yet), %d resources", s.Resources)
	}
	return fmt.Sprintf("serial %d, lineage %s, %d resources", s.Serial, s.Lineage, s.Resources)
}

// StateDiff says, in words, how two states differ by resource instance.
type StateDiff struct {
	// OnlyRemote: recorded in the backend's state, not in errored.tfstate
	// (pushing errored.tfstate would drop them from the state).
	OnlyRemote []string `json:"only_in_remote,omitempty"`
	// OnlyErrored: recorded only in errored.tfstate (the failed run made
	// them; keeping the remote would forget them).
	OnlyErrored []string `json:"only_in_errored,omitempty"`
	// Changed: in both, with different attributes.
	Changed []string `json:"changed,omitempty"`
}

// Empty says whether the two states hold the same instances.
func (d StateDiff) Empty() bool {
	return len(d.OnlyRemote) == 0 && len(d.OnlyErrored) == 0 && len(d.Changed) == 0
}

// diffStates compares the backend's state with errored.tfstate.
func diffStates(remote, errored StateSummary) StateDiff {
	var d StateDiff
	for addr, attrs := range remote.instances {
		e, ok := errored.instances[addr]
		switch {
		case !ok:
			d.OnlyRemote = append(d.OnlyRemote, addr)
		case e != attrs:
			d.Changed = append(d.Changed, addr)
		}
	}
	for addr := range errored.instances {
		if _, ok := remote.instances[addr]; !ok {
			d.OnlyErrored = append(d.OnlyErrored, addr)
		}
	}
	sort.Strings(d.OnlyRemote)
	sort.Strings(d.OnlyErrored)
	sort.Strings(d.Changed)
	return d
}

// MadeSentence says what a failed run had done, from the difference between
// the state it started from (remote) and errored.tfstate.
func (d StateDiff) MadeSentence(tool, command string) string {
	n := len(d.OnlyErrored) + len(d.Changed) + len(d.OnlyRemote)
	if n == 0 {
		return "the failed run had changed no resource before it stopped; the state is as it was; run " + command + " again"
	}
	return fmt.Sprintf("before it stopped, the failed run had made %d %s, now recorded in the state: %s; run %s again for what is left (its plan shows it)",
		n, plural(n, "change", "changes"), d.Recorded(), command)
}

// Recorded lists the instances created, changed and destroyed.
func (d StateDiff) Recorded() string {
	var parts []string
	list := func(verb string, l []string) {
		if len(l) == 0 {
			return
		}
		s := strings.Join(l, ", ")
		if len(l) > 6 {
			s = strings.Join(l[:6], ", ") + fmt.Sprintf(" and %d more", len(l)-6)
		}
		parts = append(parts, verb+" "+s)
	}
	list("created", d.OnlyErrored)
	list("changed or replaced", d.Changed)
	list("destroyed", d.OnlyRemote)
	if len(parts) == 0 {
		return "no resource changed"
	}
	return strings.Join(parts, "; ")
}

// Lines describes the difference for people, one line per kind.
func (d StateDiff) Lines() []string {
	list := func(l []string) string {
		if len(l) > 8 {
			return strings.Join(l[:8], ", ") + fmt.Sprintf(" and %d more", len(l)-8)
		}
		return strings.Join(l, ", ")
	}
	var out []string
	if len(d.OnlyRemote) > 0 {
		out = append(out, fmt.Sprintf("only in the backend's state (someone else recorded them; pushing errored.tfstate would drop them): %s", list(d.OnlyRemote)))
	}
	if len(d.OnlyErrored) > 0 {
		out = append(out, fmt.Sprintf("only in errored.tfstate (the failed run recorded them; keeping the backend's state forgets them): %s", list(d.OnlyErrored)))
	}
	if len(d.Changed) > 0 {
		out = append(out, fmt.Sprintf("in both, with different attributes: %s", list(d.Changed)))
	}
	if len(out) == 0 {
		out = append(out, "both hold the same resource instances")
	}
	return out
}
