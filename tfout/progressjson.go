package tfout

import (
	"encoding/json"
	"slices"
	"strings"
)

// terraform's machine-readable UI (`apply -json`): one JSON object per line.
// Only the messages that say what a run did are read: apply_start,
// apply_complete and apply_errored (a hook with the resource's address and
// the action), and change_summary (the plan's and the apply's counts).
type jsonUIMessage struct {
	Type string `json:"type"`
	Hook struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"hook"`
	// Change: planned_change and resource_drift messages.
	Change struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Previous struct {
			Addr string `json:"addr"`
		} `json:"previous_resource"`
		Action string `json:"action"`
	} `json:"change"`
	Changes struct {
		Add       int    `json:"add"`
		Change    int    `json:"change"`
		Remove    int    `json:"remove"`
		Operation string `json:"operation"`
	} `json:"changes"`
}

// jsonUIMarks are the words KeepProgressLine keeps a JSON UI line for,
// besides the human progress words its @message repeats.
var jsonUIMarks = [][]byte{[]byte(`"apply_errored"`), []byte(`"change_summary"`), []byte(`"resource_drift"`),
	[]byte(`"previous_resource"`), []byte(`"action":"remove"`), []byte(`"action":"import"`)}

// jsonActions maps the JSON UI's hook actions to Change actions; a
// replacement is reported as a delete and a create, each with its own hook.
var jsonActions = map[string]string{"create": "create", "update": "update", "delete": "destroy", "replace": "create"}

// jsonProgress is what ReadProgress gathers from JSON UI lines.
type jsonProgress struct {
	started, done []Change
	failed        []string
	gone, adopted []string
	planSeen      bool
	planned       int
	applyComplete bool
}

// readJSONLine reads one line that may be a JSON UI message; false when it
// is not one.
func (j *jsonProgress) readJSONLine(t string) bool {
	if !strings.HasPrefix(t, `{"@level"`) {
		return false
	}
	var m jsonUIMessage
	if json.Unmarshal([]byte(t), &m) != nil {
		return false
	}
	ch := Change{Address: m.Hook.Resource.Addr, Action: jsonActions[m.Hook.Action]}
	switch m.Type {
	case "apply_start":
		if ch.Address != "" && ch.Action != "" && !slices.Contains(j.started, ch) {
			j.started = append(j.started, ch)
		}
	case "apply_complete":
		if ch.Address != "" && ch.Action != "" && !slices.Contains(j.done, ch) {
			j.done = append(j.done, ch)
		}
	case "apply_errored":
		if ch.Address != "" && !slices.Contains(j.failed, ch.Address) {
			j.failed = append(j.failed, ch.Address)
		}
	case "planned_change":
		if p := m.Change.Previous.Addr; p != "" && p != m.Change.Resource.Addr {
			// moved, with or without a change of its own
			j.gone = appendNew(j.gone, p)
			j.adopted = appendNew(j.adopted, m.Change.Resource.Addr)
		}
		switch m.Change.Action {
		case "remove":
			j.gone = appendNew(j.gone, m.Change.Resource.Addr)
		case "import":
			j.adopted = appendNew(j.adopted, m.Change.Resource.Addr)
		}
	case "resource_drift":
		if m.Change.Action == "delete" {
			j.gone = appendNew(j.gone, m.Change.Resource.Addr)
		}
	case "change_summary":
		switch m.Changes.Operation {
		case "plan":
			j.planSeen, j.planned = true, m.Changes.Add+m.Changes.Change+m.Changes.Remove
		case "apply", "destroy":
			j.applyComplete = true
		}
	}
	return true
}

// appendNew appends a to l unless it is empty or already there.
func appendNew(l []string, a string) []string {
	if a == "" || slices.Contains(l, a) {
		return l
	}
	return append(l, a)
}
