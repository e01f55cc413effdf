package csvmap

import (
	"fmt"
	"strconv"
	"strings"
)

// template is a parsed mapping template: literal text and ${column}
// references, in order.
type template struct {
	src   string
	parts []part
}

// part is either literal text (col == "") or a reference to a column.
type part struct {
	lit string
	col string
}

// parseTemplate parses src. A "$" must start "${column}" or be doubled as
// "$$": a lone "$" is far more often a typo ("$loan_id") than an intended
// literal, and a typo in an id template would silently merge or split events.
func parseTemplate(src string) (template, error) {
	t := template{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		switch {
		case strings.HasPrefix(src[i:], "$$"):
			lit.WriteByte('$')
			i += 2
		case strings.HasPrefix(src[i:], "${"):
			end := strings.IndexByte(src[i+2:], '}')
			if end < 0 {
				return template{}, fmt.Errorf("template %q: unterminated \"${\" at byte %d", src, i)
			}
			name := strings.TrimSpace(src[i+2 : i+2+end])
			if name == "" {
				return template{}, fmt.Errorf("template %q: empty column reference \"${}\" at byte %d", src, i)
			}
			flush()
			t.parts = append(t.parts, part{col: name})
			i += 2 + end + 1
		default:
			return template{}, fmt.Errorf("template %q: lone \"$\" at byte %d: write \"${column}\" for a column or \"$$\" for a literal \"$\"", src, i)
		}
	}
	flush()
	return t, nil
}

// columns returns the distinct column names the template refers to, in order
// of first use.
func (t template) columns() []string {
	var cols []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.col != "" && !seen[p.col] {
			seen[p.col] = true
			cols = append(cols, p.col)
		}
	}
	return cols
}

// boundTemplate is a template whose column references are resolved to field
// indexes of a CSV header.
type boundTemplate struct {
	parts []boundPart
	cols  []string // referenced columns, for error messages
}

type boundPart struct {
	lit string
	idx int // -1 for literal text
}

func (t template) bind(index map[string]int) boundTemplate {
	b := boundTemplate{cols: t.columns()}
	for _, p := range t.parts {
		if p.col == "" {
			b.parts = append(b.parts, boundPart{lit: p.lit, idx: -1})
		} else {
			b.parts = append(b.parts, boundPart{idx: index[p.col]})
		}
	}
	return b
}

func (b boundTemplate) render(record []string) string {
	if len(b.parts) == 1 {
		if p := b.parts[0]; p.idx >= 0 {
			return record[p.idx]
		}
		return b.parts[0].lit
	}
	var s strings.Builder
	for _, p := range b.parts {
		if p.idx >= 0 {
			s.WriteString(record[p.idx])
		} else {
			s.WriteString(p.lit)
		}
	}
	return s.String()
}

// describe names the columns behind a rendered value for error messages:
// ` (column "x")`, ` (columns "x", "y")` or "" for a constant.
func (b boundTemplate) describe() string {
	switch len(b.cols) {
	case 0:
		return ""
	case 1:
		return " (column " + strconv.Quote(b.cols[0]) + ")"
	}
	q := make([]string, len(b.cols))
	for i, c := range b.cols {
		q[i] = strconv.Quote(c)
	}
	return " (columns " + strings.Join(q, ", ") + ")"
}
