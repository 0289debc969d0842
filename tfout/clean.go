package tfout

// Undoing what stands between terraform's words and a pattern: colour
// codes, box drawing, hard wrapping, CI log prefixes; and splitting stderr
// into terraform's diagnostics.

import (
	"bufio"
	"bytes"
	"strings"
)

// Flatten removes colour codes and the diagnostic box drawing, then joins
// the hard-wrapped lines with single spaces, so that a sentence wrapped at
// any column reads as one line again.
func Flatten(text []byte) string {
	var b strings.Builder
	for _, line := range lines(text) {
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(line)
	}
	return b.String()
}

// lines returns the text's lines without colour codes, box-drawing prefixes
// or surrounding blanks (empty lines are kept as "").
func lines(text []byte) []string {
	pt := compiledPatterns()
	clean := pt.ansi.ReplaceAll(text, nil)
	clean = bytes.ReplaceAll(clean, []byte("\r\n"), []byte("\n"))
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(clean))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		for {
			s := strings.TrimSpace(stripBox(l))
			if s == l {
				break
			}
			l = s
		}
		out = append(out, l)
	}
	return out
}

// rawLines keeps leading indentation (the Lock Info block is indented) but
// drops the box prefix.
func rawLines(text []byte) []string {
	pt := compiledPatterns()
	clean := pt.ansi.ReplaceAll(text, nil)
	var out []string
	for _, l := range strings.Split(string(clean), "\n") {
		out = append(out, strings.TrimRight(stripBox(l), "\r \t"))
	}
	return out
}

func stripBox(l string) string {
	for _, p := range []string{"│ ", "│", "╷", "╵"} {
		if strings.HasPrefix(l, p) {
			return l[len(p):]
		}
	}
	return l
}

// line is one cleaned line of stderr; open and close mark the top and bottom
// of terraform's diagnostic box (╷ and ╵), gutter a line that had the box's
// left edge (│).
type line struct {
	text                string
	open, close, gutter bool
	// indent is the whitespace cleanLines took from the line's head (not
	// counting what a log prefix itself ends with): terraform prints its
	// progress at column 0 and the plan's "# address" at 2, while values,
	// heredocs and quoted output in the plan are indented further.
	indent int
}

// cleanLines undoes what logs do to terraform's text: JSON-escaped newlines,
// colour codes (also mangled), CI and logger prefixes, the box gutter.
func cleanLines(text []byte) []line {
	pt := compiledPatterns()
	s := string(text)
	if strings.Count(s, `\n`) > strings.Count(s, "\n") {
		s = pt.jsonEscaped.ReplaceAllStringFunc(s, func(m string) string {
			switch m {
			case `\n`:
				return "\n"
			case `\t`:
				return "\t"
			case `\r`:
				return ""
			}
			return `"`
		})
	}
	s = pt.ansiLoose.ReplaceAllString(s, "")
	var out []line
	for _, raw := range strings.Split(s, "\n") {
		l := strings.TrimRight(raw, "\r")
		var ln line
		// Each pass peels one layer (a timestamp, then ##[error], then the
		// gutter, ...); prefixes are short, so only a line's head is read.
		for pass := 0; pass < 16; pass++ {
			before := l
			trimmed := strings.TrimLeft(l, " \t")
			ln.indent += len(l) - len(trimmed)
			l = trimmed
			for _, re := range pt.noisePrefixes {
				if m := re.FindStringIndex(head(l)); m != nil {
					l = l[m[1]:]
				}
			}
			if m := pt.logrusPrefix.FindString(head(l)); m != "" {
				l = pt.logrusSuffix.ReplaceAllString(l[len(m):], "")
			}
			// A logger's own prefix in front of the box: cut it.
			if i := strings.IndexAny(head(l), "│╷╵"); i > 0 {
				l = l[i:]
			}
			switch {
			case strings.HasPrefix(l, "╷"):
				ln.open, l = true, l[len("╷"):]
			case strings.HasPrefix(l, "╵"):
				ln.close, l = true, l[len("╵"):]
			case strings.HasPrefix(l, "│"):
				ln.gutter, l = true, l[len("│"):]
			}
			if l == before {
				break
			}
		}
		ln.text = strings.TrimSpace(l)
		out = append(out, ln)
	}
	return out
}

// head is the part of a line where a log prefix can be.
func head(l string) string {
	if len(l) > 160 {
		return l[:160]
	}
	return l
}

// cleanFlat is the cleaned text as one line (hard wrapping undone).
func cleanFlat(text []byte) string {
	var parts []string
	for _, l := range cleanLines(text) {
		if l.text != "" {
			parts = append(parts, l.text)
		}
	}
	return strings.Join(parts, " ")
}

// diagnostic is one of terraform's diagnostics: its first line and the rest.
type diagnostic struct {
	head, text string
}

// diagnostics splits cleaned stderr into terraform's diagnostics. A box (╷
// to ╵) is one diagnostic even when its detail holds further "Error:" lines;
// a run of gutter lines whose top edge was lost in copying counts as a box
// too. A header line without the gutter ends a box whose bottom edge was
// lost. Outside a box, every header line starts a new one and other lines
// (apply progress, make's complaints) belong to the one before.
func diagnostics(lines []line) []diagnostic {
	pt := compiledPatterns()
	var out []diagnostic
	var head string
	var body []string
	boxed, open, implicit := false, false, false
	flush := func() {
		if open && head != "" {
			out = append(out, diagnostic{head: head, text: strings.Join(append([]string{head}, body...), " ")})
		}
		head, body, open, boxed, implicit = "", nil, false, false, false
	}
	for _, l := range lines {
		switch {
		case l.open:
			flush()
			open, boxed = true, true
		case l.close:
			flush()
		}
		if implicit && !l.gutter {
			implicit = false
		}
		if l.text == "" {
			continue
		}
		switch {
		case boxed && head == "":
			head = l.text
		case (boxed || implicit) && (l.gutter || !pt.header.MatchString(l.text)):
			body = append(body, l.text)
		case pt.header.MatchString(l.text):
			flush()
			open, head, implicit = true, l.text, l.gutter
		case open:
			body = append(body, l.text)
		}
	}
	flush()
	return out
}
