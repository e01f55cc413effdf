package registry

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// decode parses an event into the tree the schema library validates: objects as
// map[string]any, numbers as json.Number. It is the full path's parser; encoding/json
// words every error.
func decode(raw []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// The fast path's JSON values.
//
// Building map[string]any trees (a map per object, an interface and a string copy
// per value) was most of the cost of a valid event, and the fast path only ever
// walks them. So it has its own representation: an object is its members in order
// (a slice: events have a dozen fields, a linear scan beats hashing), strings and
// numbers are substrings of the raw event, not copies (a string with escapes is
// decoded into a new one). The parser is narrow: it gives up (ok false) on anything
// unusual — duplicate keys, invalid UTF-8, lone surrogate escapes, nesting deeper
// than 32, any syntax error — and the caller then takes the full path (decode), so
// encoding/json's semantics and error messages apply there.
// Whenever it answers, toAny of its value is exactly what decode returns:
// TestParseFastAgreesWithEncodingJSON and FuzzParseFast check that.
//
// Zero-copy strings: an fval's strings point into the raw bytes (unsafe.String), so
// they are only valid while the raw event is, and the raw event must not be changed
// while they are in use. Nothing holding them outlives a Check: anything kept (the
// envelope.Event fields, the library's tree from toAny) is copied first.

type jkind uint8

const (
	jNull jkind = iota
	jFalse
	jTrue
	jNumber
	jString
	jObject
	jArray
)

// fval is one JSON value.
type fval struct {
	kind jkind
	// s is a string's decoded text or a number's literal as written (json.Number).
	s string
	// elems are an object's members in document order (no key twice) or an
	// array's elements (key "").
	elems []fmember
}

type fmember struct {
	key string
	val fval
}

// member finds an object's member by key.
func (v *fval) member(key string) *fval {
	for i := range v.elems {
		if v.elems[i].key == key {
			return &v.elems[i].val
		}
	}
	return nil
}

// toAny converts v to the library's tree (what decode returns), copying every
// string so nothing in it points into the raw event.
func (v *fval) toAny() any {
	switch v.kind {
	case jFalse:
		return false
	case jTrue:
		return true
	case jNumber:
		return json.Number(strings.Clone(v.s))
	case jString:
		return strings.Clone(v.s)
	case jObject:
		m := make(map[string]any, len(v.elems))
		for i := range v.elems {
			m[strings.Clone(v.elems[i].key)] = v.elems[i].val.toAny()
		}
		return m
	case jArray:
		a := make([]any, len(v.elems))
		for i := range v.elems {
			a[i] = v.elems[i].val.toAny()
		}
		return a
	}
	return nil
}

const maxFastDepth = 32

// parser reads one event. Parsers are pooled: their two buffers are all the
// memory a parse needs, so a parse allocates nothing unless a string has escapes.
type parser struct {
	b   []byte
	i   int
	bad bool
	// stack holds the members of the objects and arrays still being read; when
	// one ends, its members move to arena, where each object's are contiguous.
	stack []fmember
	arena []fmember
}

var parsers = sync.Pool{New: func() any {
	return &parser{stack: make([]fmember, 0, 32), arena: make([]fmember, 0, 64)}
}}

func getParser() *parser { return parsers.Get().(*parser) }

// release returns p to the pool once nothing uses the values it returned. It
// clears what was used so a pooled parser does not keep request bodies alive, and
// drops buffers grown by an unusually large event.
func (p *parser) release() {
	clear(p.stack[:cap(p.stack)])
	clear(p.arena[:len(p.arena)])
	if cap(p.stack) > 1024 || cap(p.arena) > 4096 {
		return
	}
	p.b, p.stack, p.arena = nil, p.stack[:0], p.arena[:0]
	parsers.Put(p)
}

// parse reads b, which must stay unchanged while the returned value is used.
// The value is valid until p is released or parses again.
func (p *parser) parse(b []byte) (fval, bool) {
	p.b, p.i, p.bad = b, 0, false
	p.stack, p.arena = append(p.stack[:0], fmember{}), p.arena[:0]
	p.ws()
	p.value(0, 0)
	p.ws()
	if p.bad || p.i != len(p.b) {
		return fval{}, false
	}
	return p.stack[0].val, true
}

// parseFast parses b with a fresh parser (tests).
func parseFast(b []byte) (fval, bool) {
	p := &parser{}
	return p.parse(b)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value reads a value into p.stack[at].val. It is written in place, not
// returned: values are copied often enough as it is.
func (p *parser) value(at, depth int) {
	if p.i >= len(p.b) || depth > maxFastDepth {
		p.bad = true
		return
	}
	v := &p.stack[at].val // valid until the stack grows: not across object and array
	switch c := p.b[p.i]; {
	case c == '{':
		p.object(at, depth)
	case c == '[':
		p.array(at, depth)
	case c == '"':
		v.kind = jString
		v.s, p.bad = p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		v.kind = jNumber
		v.s = p.number()
	case c == 't':
		v.kind = jTrue
		p.literal("true")
	case c == 'f':
		v.kind = jFalse
		p.literal("false")
	case c == 'n':
		v.kind = jNull
		p.literal("null")
	default:
		p.bad = true
	}
}

func (p *parser) literal(word string) {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return
	}
	p.bad = true
}

// done moves the members from stack[mark:] to the arena and returns them.
func (p *parser) done(mark int) []fmember {
	start := len(p.arena)
	p.arena = append(p.arena, p.stack[mark:]...)
	p.stack = p.stack[:mark]
	// Full slice expression: nothing appended later can write into these members.
	return p.arena[start:len(p.arena):len(p.arena)]
}

// object reads an object into p.stack[at].val; its members are read onto the
// stack above at, then moved to the arena.
func (p *parser) object(at, depth int) {
	p.i++ // {
	p.stack[at].val.kind = jObject
	mark := len(p.stack)
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			p.bad = true
			return
		}
		k, bad := p.str()
		if bad {
			p.bad = true
			return
		}
		// encoding/json lets the last of duplicate keys win; rather than
		// reproduce that, leave such events to it.
		for j := mark; j < len(p.stack); j++ {
			if p.stack[j].key == k {
				p.bad = true
				return
			}
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			p.bad = true
			return
		}
		p.i++
		p.ws()
		p.stack = append(p.stack, fmember{key: k})
		p.value(len(p.stack)-1, depth+1)
		if p.bad {
			return
		}
		p.ws()
		if p.i >= len(p.b) {
			p.bad = true
			return
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.stack[at].val.elems = p.done(mark)
			return
		default:
			p.bad = true
			return
		}
	}
}

func (p *parser) array(at, depth int) {
	p.i++ // [
	p.stack[at].val.kind = jArray
	mark := len(p.stack)
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return
	}
	for {
		p.ws()
		p.stack = append(p.stack, fmember{})
		p.value(len(p.stack)-1, depth+1)
		if p.bad {
			return
		}
		p.ws()
		if p.i >= len(p.b) {
			p.bad = true
			return
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.stack[at].val.elems = p.done(mark)
			return
		default:
			p.bad = true
			return
		}
	}
}

// plain marks the bytes a string can hold as they are: not a quote, a backslash, a control
// character or the start of a multi-byte UTF-8 sequence.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string; bad is true when it cannot. Without escapes (the common
// case) the result points into p.b; with escapes it is decoded into a new buffer.
// It gives up on invalid UTF-8, escapes encoding/json would turn into U+FFFD
// (lone surrogates) and syntax errors.
func (p *parser) str() (s string, bad bool) {
	b := p.b
	start := p.i + 1
	j := start
	for j < len(b) && plain[b[j]] {
		j++
	}
	high := false
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[start:j]
			if high && !utf8.Valid(s) {
				return "", true
			}
			p.i = j + 1
			if len(s) == 0 {
				return "", false
			}
			return unsafe.String(&s[0], len(s)), false
		case c == '\\':
			return p.escaped(start, j)
		case c < 0x20:
			return "", true
		case c >= 0x80:
			high = true
		}
	}
	return "", true
}

// escaped decodes a string that has an escape at j.
func (p *parser) escaped(start, j int) (s string, bad bool) {
	b := p.b
	out := make([]byte, 0, j-start+16)
	out = append(out, b[start:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			if !utf8.Valid(out) { // escapes only add valid UTF-8: this checks the raw bytes
				return "", true
			}
			p.i = j + 1
			return unsafe.String(unsafe.SliceData(out), len(out)), false // out is never written again
		case c < 0x20:
			return "", true
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			return "", true
		}
		switch b[j+1] {
		case '"', '\\', '/':
			out = append(out, b[j+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(b[j+2:])
			if r < 0 {
				return "", true
			}
			j += 6
			if utf16.IsSurrogate(r) {
				// Only a valid pair; encoding/json turns anything else into U+FFFD.
				if len(b)-j < 2 || b[j] != '\\' || b[j+1] != 'u' {
					return "", true
				}
				r2 := hex4(b[j+2:])
				dec := utf16.DecodeRune(r, r2)
				if r2 < 0 || dec == utf8.RuneError {
					return "", true
				}
				r = dec
				j += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", true
		}
		j += 2
	}
	return "", true
}

// hex4 reads four hex digits; -1 if there are not.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number reads a JSON number, kept as its text like json.Number.
func (p *parser) number() string {
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
		p.bad = true
		return ""
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			p.bad = true
			return ""
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
			p.bad = true
			return ""
		}
	}
	s := unsafe.String(&b[p.i], i-p.i)
	p.i = i
	return s
}
