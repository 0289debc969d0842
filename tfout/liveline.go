package tfout

import (
	"strings"
	"time"
)

// LiveLine is what one line of an apply's stdout says about an operation,
// read as it comes (stop in time): an operation started, or one completed
// and how long terraform says it took.
type LiveLine struct {
	Change Change
	// Started: "<address>: Creating..." (or Modifying/Destroying);
	// otherwise the line reported the change complete.
	Started bool
	// Took is the time terraform printed ("Creation complete after 12m3s");
	// zero when it could not be read.
	Took time.Duration
}

// ReadLiveLine reads one line of terraform's stdout with the patterns
// ReadProgress uses; ok is false for every other line. Lines inside
// diagnostics and plans are told apart by ReadProgress's rules (column 0,
// no box gutter).
func ReadLiveLine(text []byte) (LiveLine, bool) {
	pt := compiledPatterns()
	ls := cleanLines(text)
	if len(ls) == 0 {
		return LiveLine{}, false
	}
	l := ls[0]
	if l.gutter || l.open || l.close || l.indent > 0 {
		return LiveLine{}, false
	}
	if m := pt.completeLine.FindStringSubmatch(l.text); m != nil {
		ch := Change{Address: m[1], Action: map[string]string{"Creation": "create", "Modifications": "update", "Destruction": "destroy"}[m[2]]}
		var took time.Duration
		// "after 12m3s [id=...]": the first word after the pattern.
		if f := strings.Fields(l.text[len(m[0]):]); len(f) > 0 {
			if d, err := time.ParseDuration(f[0]); err == nil && d >= 0 {
				took = d
			}
		}
		return LiveLine{Change: ch, Took: took}, true
	}
	if m := pt.startLine.FindStringSubmatch(l.text); m != nil {
		ch := Change{Address: m[1], Action: map[string]string{"Creating": "create", "Modifying": "update", "Destroying": "destroy"}[m[2]]}
		return LiveLine{Change: ch, Started: true}, true
	}
	return LiveLine{}, false
}

// ResourceType is the resource type of a resource instance address
// ("module.db.aws_db_instance.main[0]" -> "aws_db_instance"); "" for a data
// source or an address it cannot read.
func ResourceType(address string) string {
	rest := address
	for strings.HasPrefix(rest, "module.") {
		// module.NAME[KEY]. : skip to the dot after the name and key
		i := len("module.")
		depth, inQuote := 0, false
		for ; i < len(rest); i++ {
			c := rest[i]
			switch {
			case inQuote && c == '\\':
				i++
			case c == '"':
				inQuote = !inQuote
			case !inQuote && c == '[':
				depth++
			case !inQuote && c == ']':
				depth--
			}
			if !inQuote && depth == 0 && c == '.' {
				break
			}
		}
		if i >= len(rest) {
			return ""
		}
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "data.") {
		return ""
	}
	typ, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return typ
}
