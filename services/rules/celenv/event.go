package celenv

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"github.com/shopspring/decimal"
)

// envelopeFields are the keys of the CEL map `event`, in the order of the
// envelope schema.
var envelopeFields = []string{"id", "source", "type", "schema_version", "subject", "occurred_at", "data", "supersedes"}

// Event is one event prepared for evaluation: the envelope parsed once into CEL
// values, shared read-only by every program evaluated on it. An Event is safe for
// concurrent use.
type Event struct {
	// The envelope fields, boxed once so that reading them in a rule allocates
	// nothing.
	id, source, typ, subject, supersedes ref.Val
	schemaVersion                        ref.Val
	occurredAt                           ref.Val
	// data is the event's data object; nested objects are map[string]any and
	// every leaf is already a ref.Val.
	data map[string]any

	occurredTime time.Time
}

// dataKeys is how many keys the last event's data had: the size to make the
// next one's map (events of a stream mostly look alike), so that it is not
// grown and rehashed while it is filled.
var dataKeys atomic.Int32

// emptyData is the data of a void event, so that has(event.data.x) is false
// rather than an error.
var emptyData = map[string]any{}

// NewEvent prepares a raw envelope, as stored in the event stream, for
// evaluation. The envelope must be a JSON object with at least id, type, subject
// and occurred_at (RFC 3339); source, schema_version, data and supersedes are
// optional, unknown keys are ignored. In data, JSON strings become CEL strings,
// booleans bools, integers ints, other numbers decimals (never doubles), objects
// maps and arrays lists.
//
// It is a small hand-written JSON reader rather than encoding/json: it runs
// for every event, and reading straight into CEL values with one copy of the
// input (strings without escapes are slices of that copy) takes about a third
// of the time encoding/json needs to decode the same envelope into maps, before
// any conversion (BenchmarkNewEventEncodingJSON). FuzzReader checks it against
// encoding/json.
func NewEvent(raw []byte) (*Event, error) {
	s := string(raw) // the one copy; strings in data are slices of it
	if !utf8.ValidString(s) {
		// Sources send UTF-8; repair rather than hand CEL invalid strings.
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	p := reader{s: s}
	ev := &Event{data: emptyData}
	var occurred string
	var seen uint8
	err := p.object(func(key string) error {
		switch key {
		case "id", "source", "type", "subject", "supersedes", "occurred_at":
			v, err := p.str()
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			switch key {
			case "id":
				ev.id, seen = types.String(v), seen|1
			case "source":
				ev.source = types.String(v)
			case "type":
				ev.typ, seen = types.String(v), seen|2
			case "subject":
				ev.subject, seen = types.String(v), seen|4
			case "supersedes":
				ev.supersedes = types.String(v)
			case "occurred_at":
				occurred, seen = v, seen|8
			}
		case "schema_version":
			v, err := p.value(0)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			n, ok := v.(types.Int)
			if !ok {
				return fmt.Errorf("schema_version: want an integer")
			}
			ev.schemaVersion = n
		case "data":
			if p.peek() == 'n' { // "data": null, as some writers put it for void
				_, err := p.value(0)
				return err
			}
			m, err := p.objectMap(1, int(dataKeys.Load()))
			if err != nil {
				return fmt.Errorf("data: %w", err)
			}
			dataKeys.Store(int32(len(m)))
			ev.data = m
		default:
			_, err := p.value(0)
			return err
		}
		return nil
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, fmt.Errorf("event envelope: %w", err)
	}
	for i, name := range []string{"id", "type", "subject", "occurred_at"} {
		if seen&(1<<i) == 0 {
			return nil, fmt.Errorf("event envelope: %s is missing", name)
		}
	}
	t, err := time.Parse(time.RFC3339Nano, occurred)
	if err != nil {
		// RFC 3339 allows a lower-case "t" and "z"; Go's parser does not.
		t, err = time.Parse(time.RFC3339Nano, strings.ToUpper(occurred))
	}
	if err != nil {
		return nil, fmt.Errorf("event envelope: occurred_at %q is not an RFC 3339 timestamp", occurred)
	}
	ev.occurredTime = t
	ev.occurredAt = types.Timestamp{Time: t}
	if ev.source == nil {
		ev.source = types.String("")
	}
	if ev.supersedes == nil {
		ev.supersedes = types.String("")
	}
	if ev.schemaVersion == nil {
		ev.schemaVersion = types.IntZero
	}
	return ev, nil
}

// ID is the event's id.
func (ev *Event) ID() string { return string(ev.id.(types.String)) }

// Type is the event's type.
func (ev *Event) Type() string { return string(ev.typ.(types.String)) }

// Subject is the event's business subject.
func (ev *Event) Subject() string { return string(ev.subject.(types.String)) }

// Supersedes is the id of the event this one replaces, "" when none.
func (ev *Event) Supersedes() string { return string(ev.supersedes.(types.String)) }

// OccurredAt is the event's business time.
func (ev *Event) OccurredAt() time.Time { return ev.occurredTime }

// ResolveName implements the CEL activation: the only variable is `event`.
func (ev *Event) ResolveName(name string) (any, bool) {
	if name == "event" {
		return (*envelope)(ev), true
	}
	return nil, false
}

// Parent implements the CEL activation.
func (ev *Event) Parent() interpreter.Activation { return nil }

// envelope is the CEL value of `event`: a map from the envelope field names to
// their values. It is a struct rather than a Go map so that preparing an event
// builds no map for the envelope and reading a field is a switch.
type envelope Event

var (
	_ traits.Mapper = (*envelope)(nil)
	_ ref.Val       = (*envelope)(nil)
)

func (e *envelope) field(key string) (ref.Val, bool) {
	switch key {
	case "id":
		return e.id, true
	case "source":
		return e.source, true
	case "type":
		return e.typ, true
	case "schema_version":
		return e.schemaVersion, true
	case "subject":
		return e.subject, true
	case "occurred_at":
		return e.occurredAt, true
	case "data":
		return types.DefaultTypeAdapter.NativeToValue(e.data), true
	case "supersedes":
		return e.supersedes, true
	}
	return nil, false
}

// FindStringKey is the fast path the CEL interpreter takes for event.<field>.
func (e *envelope) FindStringKey(key string) (any, bool) {
	if key == "data" {
		return e.data, true // qualified further without being wrapped
	}
	return e.field(key)
}

// Find implements traits.Mapper.
func (e *envelope) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), true
	}
	return e.field(string(k))
}

// Get implements traits.Indexer.
func (e *envelope) Get(key ref.Val) ref.Val {
	v, found := e.Find(key)
	if !found {
		return types.NewErr("no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container.
func (e *envelope) Contains(key ref.Val) ref.Val {
	_, found := e.Find(key)
	return types.Bool(found)
}

// Size implements traits.Sizer.
func (e *envelope) Size() ref.Val { return types.Int(len(envelopeFields)) }

// Iterator implements traits.Iterable over the field names.
func (e *envelope) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, envelopeFields).(traits.Lister).Iterator()
}

// ConvertToNative implements ref.Val; only map[string]any is supported.
func (e *envelope) ConvertToNative(t reflect.Type) (any, error) {
	m := e.asMap()
	return m.ConvertToNative(t)
}

func (e *envelope) asMap() traits.Mapper {
	m := make(map[string]any, len(envelopeFields))
	for _, k := range envelopeFields {
		v, _ := e.field(k)
		m[k] = v
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

// ConvertToType implements ref.Val.
func (e *envelope) ConvertToType(t ref.Type) ref.Val {
	switch t.TypeName() {
	case types.MapType.TypeName():
		return e
	case types.TypeType.TypeName():
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t.TypeName())
}

// Equal implements ref.Val by comparing as maps.
func (e *envelope) Equal(other ref.Val) ref.Val { return e.asMap().Equal(other) }

// Type implements ref.Val.
func (e *envelope) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (e *envelope) Value() any { return e }

// reader is a JSON reader over one string that produces CEL values.
type reader struct {
	s string
	i int
}

// maxDepth bounds nesting in data; event schemas are a few levels deep.
const maxDepth = 64

// maxExponent bounds the exponent of a JSON number read as a decimal.
const maxExponent = 1000

var errDepth = errors.New("nested deeper than 64 levels")

func (p *reader) errorf(format string, args ...any) error {
	return p.errorAt(p.i, format, args...)
}

func (p *reader) errorAt(offset int, format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{offset}, args...)...)
}

func (p *reader) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *reader) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *reader) end() error {
	p.ws()
	if p.i != len(p.s) {
		return p.errorf("unexpected %q after the envelope", p.s[p.i])
	}
	return nil
}

// object reads an object and calls member with each key, positioned at its value,
// which member must consume.
func (p *reader) object(member func(key string) error) error {
	p.ws()
	if p.peek() != '{' {
		return p.errorf("want an object")
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.peek() != ':' {
			return p.errorf("want ':' after key %q", key)
		}
		p.i++
		p.ws()
		if err := member(key); err != nil {
			return err
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or '}' in object")
		}
	}
}

func (p *reader) objectMap(depth, hint int) (map[string]any, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	m := make(map[string]any, max(hint, 8))
	err := p.object(func(key string) error {
		v, err := p.value(depth)
		if err != nil {
			return err
		}
		m[key] = v
		return nil
	})
	return m, err
}

// value reads any JSON value: a ref.Val, or a map[string]any of them for an
// object (kept as a Go map so the interpreter indexes it directly).
func (p *reader) value(depth int) (any, error) {
	p.ws()
	switch c := p.peek(); {
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return types.String(s), nil
	case c == '{':
		return p.objectMap(depth+1, 0)
	case c == '[':
		return p.list(depth + 1)
	case c == 't':
		return types.True, p.literal("true")
	case c == 'f':
		return types.False, p.literal("false")
	case c == 'n':
		return types.NullValue, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 0:
		return nil, p.errorf("unexpected end of input")
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *reader) literal(word string) error {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return p.errorf("invalid literal")
	}
	p.i += len(word)
	return nil
}

func (p *reader) list(depth int) (ref.Val, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	p.i++ // '['
	var vals []ref.Val
	p.ws()
	if p.peek() == ']' {
		p.i++
		return types.NewRefValList(types.DefaultTypeAdapter, vals), nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		vals = append(vals, types.DefaultTypeAdapter.NativeToValue(v))
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return types.NewRefValList(types.DefaultTypeAdapter, vals), nil
		default:
			return nil, p.errorf("want ',' or ']' in array")
		}
	}
}

// number reads a JSON number: an int when it is an integer that fits in int64,
// otherwise an exact decimal. Never a double.
func (p *reader) number() (ref.Val, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
	default:
		return nil, p.errorf("invalid number")
	}
	integer := true
	if p.peek() == '.' {
		integer = false
		p.i++
		if !p.digits() {
			return nil, p.errorf("invalid number")
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		integer = false
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		es := p.i
		if !p.digits() {
			return nil, p.errorf("invalid number")
		}
		if exp, err := strconv.Atoi(p.s[es:p.i]); err != nil || exp > maxExponent {
			return nil, p.errorAt(start, "number %s out of range", truncate(p.s[start:p.i], 40))
		}
	}
	text := p.s[start:p.i]
	if integer {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return types.Int(n), nil
		}
	}
	if len(text) > maxDigits {
		return nil, p.errorAt(start, "number %s out of range", truncate(text, 40))
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return nil, p.errorAt(start, "invalid number %s", truncate(text, 40))
	}
	return decimalVal{d}, nil
}

func (p *reader) digits() bool {
	s := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > s
}

// str reads a JSON string. Without escapes it is a slice of the input.
func (p *reader) str() (string, error) {
	if p.peek() != '"' {
		return "", p.errorf("want a string")
	}
	p.i++
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			return s, nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", p.errorf("control character in string")
		default:
			p.i++
		}
	}
	return "", p.errorf("unterminated string")
}

// escaped finishes a string that holds escapes, from its start.
func (p *reader) escaped(start int) (string, error) {
	var b strings.Builder
	b.Grow(p.i - start + 16)
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		esc := p.i
		p.i++ // '\\'
		if p.i >= len(p.s) {
			break
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorAt(esc, "invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is one rune;
				// anything else is replaced, as encoding/json does.
				r2 := rune(-1)
				if strings.HasPrefix(p.s[p.i:], `\u`) {
					save := p.i
					p.i += 2
					var ok bool
					if r2, ok = p.hex4(); !ok {
						return "", p.errorAt(save, "invalid \\u escape")
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b.WriteRune(dec)
						continue
					}
					p.i = save // the second escape stands on its own
				}
				b.WriteRune(utf8.RuneError)
				continue
			}
			b.WriteRune(r)
		default:
			return "", p.errorAt(esc, "invalid escape '\\%c'", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *reader) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}
