package ruleset

import (
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// A locator maps a position inside an expression (CEL's 1-based line and
// column, in characters) to the position in the YAML file, for the ways an
// expression is usually written: a plain or quoted scalar on one line, or a
// literal (|) or folded (>) block. Where the file's text cannot be matched to
// the expression (escapes, unusual folding) it answers the scalar's own
// position.
type locator struct {
	node *yaml.Node
	// segments map runs of the expression's characters onto the file.
	segments []segment
	// lineStarts are the character offsets at which the expression's lines
	// start.
	lineStarts []int
}

// segment says that the expression's characters [start, start+n) are in the
// file on line, starting at column col.
type segment struct {
	start, n, line, col int
}

func newLocator(n *yaml.Node, lines []string) *locator {
	l := &locator{node: n, lineStarts: []int{0}}
	value := n.Value
	off := 0
	for _, r := range value {
		off++
		if r == '\n' {
			l.lineStarts = append(l.lineStarts, off)
		}
	}
	switch n.Style {
	case 0, yaml.TaggedStyle:
		l.inline(lines, value, 0)
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		l.inline(lines, value, 1)
	case yaml.LiteralStyle:
		l.block(lines, value, "\n")
	case yaml.FoldedStyle:
		l.block(lines, value, " ")
	}
	return l
}

// inline maps a scalar written on one line at the node's position, skip
// characters (the opening quote) after it.
func (l *locator) inline(lines []string, value string, skip int) {
	if strings.Contains(value, "\n") || l.node.Line < 1 || l.node.Line > len(lines) {
		return
	}
	text := []rune(lines[l.node.Line-1])
	from := l.node.Column - 1 + skip
	if from < 0 || from > len(text) || !strings.HasPrefix(string(text[from:]), value) {
		return
	}
	l.segments = []segment{{start: 0, n: utf8.RuneCountInString(value), line: l.node.Line, col: from + 1}}
}

// block maps a block scalar whose content lines follow the indicator line and
// are joined by sep: "\n" for a literal block, " " for a folded one (simple
// folding only: no blank or more-indented lines).
func (l *locator) block(lines []string, value, sep string) {
	want := strings.TrimRight(value, "\n")
	var segs []segment
	var joined strings.Builder
	indent := -1
	off := 0
	for ln := l.node.Line + 1; ln <= len(lines) && joined.Len() < len(want); ln++ {
		text := strings.TrimRight(lines[ln-1], "\r")
		if len(segs) > 0 {
			joined.WriteString(sep)
			off += utf8.RuneCountInString(sep)
		}
		if strings.TrimSpace(text) == "" {
			if sep == " " {
				return
			}
			segs = append(segs, segment{start: off, line: ln, col: 1})
			continue
		}
		lead := len(text) - len(strings.TrimLeft(text, " "))
		if indent < 0 {
			indent = lead
		}
		if lead < indent {
			return // the block ended before the expression did
		}
		content := text[indent:]
		n := utf8.RuneCountInString(content)
		segs = append(segs, segment{start: off, n: n, line: ln, col: indent + 1})
		joined.WriteString(content)
		off += n
	}
	if joined.String() == want {
		l.segments = segs
	}
}

// at maps an expression position to a file position.
func (l *locator) at(line, col int) (int, int) {
	if line < 1 || line > len(l.lineStarts) {
		return l.node.Line, l.node.Column
	}
	off := l.lineStarts[line-1] + col - 1
	for _, s := range l.segments {
		if off >= s.start && off <= s.start+s.n {
			return s.line, s.col + off - s.start
		}
	}
	return l.node.Line, l.node.Column
}

// findLiteral finds a string literal holding name ("name" or 'name') in an
// expression and returns its 1-based line and column.
func findLiteral(expr, name string) (int, int, bool) {
	best := -1
	for _, q := range []string{`"`, `'`} {
		if i := strings.Index(expr, q+name+q); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	before := expr[:best]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return line, col, true
}
