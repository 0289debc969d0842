package recovery

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// StateSummary is what recovery compares between two states.
type StateSummary struct {
	Serial    uint64 `json:"serial"`
	Lineage   string `json:"lineage"`
	Resources int    `json:"resources"`
	SHA256    string `json:"sha256,omitempty"`
	// Empty: the backend holds no state at all.
	Empty bool `json:"empty,omitempty"`

	content stateContent
}

type stateContent struct {
	Resources any `json:"resources"`
	Outputs   any `json:"outputs"`
}

// parseState reads a state file's JSON. Empty input is an empty backend.
func parseState(b []byte) (StateSummary, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return StateSummary{Empty: true}, nil
	}
	var s struct {
		Serial    uint64 `json:"serial"`
		Lineage   string `json:"lineage"`
		Resources []any  `json:"resources"`
		Outputs   any    `json:"outputs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return StateSummary{}, fmt.Errorf("parse state: %w", err)
	}
	if s.Lineage == "" {
		return StateSummary{}, errors.New("parse state: no lineage: not a terraform state file")
	}
	sum := sha256.Sum256(b)
	res := s.Resources
	if res == nil {
		res = []any{}
	}
	out := s.Outputs
	if m, ok := out.(map[string]any); out == nil || (ok && len(m) == 0) {
		out = map[string]any{}
	}
	return StateSummary{
		Serial: s.Serial, Lineage: s.Lineage, Resources: len(s.Resources), SHA256: hex.EncodeToString(sum[:]),
		content: stateContent{Resources: res, Outputs: out},
	}, nil
}

// sameContent says whether two states hold the same resources and outputs
// (terraform re-serialises on push, so bytes and serial may differ).
func sameContent(a, b StateSummary) bool {
	return a.Lineage == b.Lineage && reflect.DeepEqual(a.content, b.content)
}

func (s StateSummary) String() string {
	if s.Empty {
		return "no state"
	}
	return fmt.Sprintf("serial %d, lineage %s, %d resources", s.Serial, s.Lineage, s.Resources)
}
