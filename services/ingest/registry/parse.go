package registry

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// decode parses an event into the tree the schema library validates: objects as
// map[string]any, numbers as json.Number. parseFast handles the common case (no
// escapes in strings, valid UTF-8) at a third of encoding/json's cost; everything
// else, every error included, goes through encoding/json, which also words the
// error. FuzzParseFast checks the two agree whenever parseFast answers.
func decode(raw []byte) (any, error) {
	if v, ok := parseFast(raw); ok {
		return v, nil
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

const maxFastDepth = 32

type fastParser struct {
	b   []byte
	i   int
	bad bool
}

func parseFast(b []byte) (any, bool) {
	p := fastParser{b: b}
	p.ws()
	v := p.value(0)
	p.ws()
	if p.bad || p.i != len(p.b) {
		return nil, false
	}
	return v, true
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) fail() any {
	p.bad = true
	return nil
}

func (p *fastParser) value(depth int) any {
	if p.i >= len(p.b) || depth > maxFastDepth {
		return p.fail()
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.str()
		if !ok {
			return p.fail()
		}
		return s
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	}
	return p.fail()
}

func (p *fastParser) literal(word string, v any) any {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return v
	}
	return p.fail()
}

func (p *fastParser) object(depth int) any {
	p.i++ // {
	m := make(map[string]any, 8)
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m
	}
	for !p.bad {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.fail()
		}
		k, ok := p.str()
		if !ok {
			return p.fail()
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.fail()
		}
		p.i++
		p.ws()
		v := p.value(depth + 1)
		if p.bad {
			return nil
		}
		m[k] = v // the last of duplicate keys wins, as in encoding/json
		p.ws()
		if p.i >= len(p.b) {
			return p.fail()
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m
		default:
			return p.fail()
		}
	}
	return nil
}

func (p *fastParser) array(depth int) any {
	p.i++ // [
	a := make([]any, 0, 4)
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a
	}
	for !p.bad {
		p.ws()
		v := p.value(depth + 1)
		if p.bad {
			return nil
		}
		a = append(a, v)
		p.ws()
		if p.i >= len(p.b) {
			return p.fail()
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a
		default:
			return p.fail()
		}
	}
	return nil
}

// str reads a string without escapes; ok is false for anything else.
func (p *fastParser) str() (string, bool) {
	start := p.i + 1
	high := false
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[start:j]
			if high && !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			high = true
		}
	}
	return "", false
}

// number reads a JSON number, kept as its text like json.Number.
func (p *fastParser) number() any {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return p.fail()
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return p.fail()
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return p.fail()
		}
	}
	n := json.Number(b[p.i:i])
	p.i = i
	return n
}
