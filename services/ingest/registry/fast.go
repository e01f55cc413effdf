package registry

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast path.
//
// The JSON Schema library is the authority: it decides every rejection and writes
// every error message. But validating ~20 fields through it costs ~13 µs per event,
// most of an ingest's CPU budget. So each schema is also compiled, when it uses only
// the keywords below, into a small tree that answers valid, invalid or unknown for a
// value. Every keyword is evaluated exactly as the specification (and the library)
// does, or answers unknown: formats only ever answer valid (a strict check passed)
// or unknown.
//
// The tree checks the fast path's own JSON values (fval, see parse.go: objects as
// member slices, strings pointing into the raw event), not the library's
// map[string]any, so a valid event is parsed once, into buffers that are reused,
// and never converted. Check (registry.go) accepts an event on the fast path only
// when the parser answered and both the envelope's and the data's verdicts are
// valid; otherwise the library validates (the data alone once the envelope is
// known to be valid) and describes the problem.
//
// TestFastPathAgreesWithTheLibrary checks the verdicts against the library on the
// sample events and tens of thousands of mutations of them, parsed from JSON by the
// fast path's parser; TestCheckAgreesWithTheFullPath and FuzzCheck check whole
// Check results (event, problem, message) against the library-only path.

type verdict uint8

const (
	unknown verdict = iota
	valid
	invalid
)

type fastNode struct {
	boolean *bool // a true/false schema
	// type: typeMask has bit 1<<k for each kind k it accepts outright; integer
	// accepts numbers written without fraction or exponent.
	hasType  bool
	typeMask uint8
	integer  bool
	// properties, and propSlots to find them (see prop).
	props     []fastProp
	propSlots []uint16
	// members: whether objects' members need looking at (properties,
	// additionalProperties or propertyNames).
	members bool
	// required: bit i of requiredMask for props[i] (the first 64), requiredOther
	// for the rest.
	required      []string // as written; compile turns it into the two below
	requiredMask  uint64
	requiredOther []string
	additional    *fastNode
	propertyNames *fastNode
	pattern       matcher
	enum          []string
	hasEnum       bool
	constVal      *string
	format        string
	minLength     int
	maxLength     int
	minimum       *int64
	refs          []*fastNode
	ifN           *fastNode
	thenN         *fastNode
	elseN         *fastNode
}

type fastProp struct {
	name string
	node *fastNode
}

// annotations are keywords that do not affect validation.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "definitions": true, "$comment": true,
	"title": true, "description": true, "examples": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true,
}

// fastCompiler compiles schema documents, resolving $ref against docs by URL.
type fastCompiler struct {
	docs  map[string]any // document URL (no fragment) → document
	depth int
}

// compile returns nil when the schema uses anything the fast path does not do.
func (fc *fastCompiler) compile(base string, s any) *fastNode {
	fc.depth++
	defer func() { fc.depth-- }()
	if fc.depth > 32 {
		return nil
	}
	if b, ok := s.(bool); ok {
		return &fastNode{boolean: &b, minLength: -1, maxLength: -1}
	}
	obj, ok := s.(map[string]any)
	if !ok {
		return nil
	}
	if id, ok := obj["$id"].(string); ok {
		base = strings.SplitN(id, "#", 2)[0]
	}
	n := &fastNode{minLength: -1, maxLength: -1}
	keywords := 0
	for k, v := range obj {
		if annotations[k] {
			continue
		}
		if !fc.keyword(n, base, k, v) {
			return nil
		}
		keywords++
	}
	if len(n.props) > 1<<16-1 {
		return nil // propSlots hold uint16 indices
	}
	if keywords == 1 && len(n.refs) == 1 {
		return n.refs[0] // {"$ref": x} is x: spare check a level
	}
	sort.Slice(n.props, func(i, j int) bool { return n.props[i].name < n.props[j].name })
	n.indexProps()
	n.members = len(n.props) > 0 || n.additional != nil || n.propertyNames != nil
	for _, r := range n.required {
		if i := n.prop(r); i >= 0 && i < 64 {
			n.requiredMask |= 1 << i
		} else {
			n.requiredOther = append(n.requiredOther, r)
		}
	}
	return n
}

func (fc *fastCompiler) keyword(n *fastNode, base, k string, v any) bool {
	switch k {
	case "type":
		var names []any
		switch t := v.(type) {
		case string:
			names = []any{t}
		case []any:
			names = t
		default:
			return false
		}
		if len(names) == 0 {
			return false
		}
		n.hasType = true
		for _, e := range names {
			switch e {
			case "object":
				n.typeMask |= 1 << jObject
			case "array":
				n.typeMask |= 1 << jArray
			case "string":
				n.typeMask |= 1 << jString
			case "boolean":
				n.typeMask |= 1<<jTrue | 1<<jFalse
			case "null":
				n.typeMask |= 1 << jNull
			case "number":
				n.typeMask |= 1 << jNumber
			case "integer":
				n.integer = true
			default:
				return false
			}
		}
	case "properties":
		props, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for name, sub := range props {
			node := fc.compile(base, sub)
			if node == nil {
				return false
			}
			n.props = append(n.props, fastProp{name, node})
		}
	case "required":
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return false
			}
			n.required = append(n.required, s)
		}
	case "additionalProperties":
		n.additional = fc.compile(base, v)
		return n.additional != nil
	case "propertyNames":
		n.propertyNames = fc.compile(base, v)
		return n.propertyNames != nil
	case "pattern":
		s, ok := v.(string)
		if !ok {
			return false
		}
		re, err := compilePattern(s) // Go's regexp, the library's engine, or an equivalent hand matcher
		if err != nil {
			return false
		}
		n.pattern = re
	case "enum":
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return false
			}
			n.enum = append(n.enum, s)
		}
		n.hasEnum = true
	case "const":
		s, ok := v.(string)
		if !ok {
			return false
		}
		n.constVal = &s
	case "format":
		s, ok := v.(string)
		if !ok || (s != "date" && s != "date-time") {
			return false
		}
		n.format = s
	case "minLength", "maxLength":
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		i, err := strconv.Atoi(num.String())
		if err != nil || i < 0 {
			return false
		}
		if k == "minLength" {
			n.minLength = i
		} else {
			n.maxLength = i
		}
	case "minimum":
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		i, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			return false
		}
		n.minimum = &i
	case "$ref":
		ref, ok := v.(string)
		if !ok {
			return false
		}
		target, tbase, ok := fc.resolve(base, ref)
		if !ok {
			return false
		}
		sub := fc.compile(tbase, target)
		if sub == nil {
			return false
		}
		n.refs = append(n.refs, sub)
	case "if", "then", "else":
		sub := fc.compile(base, v)
		if sub == nil {
			return false
		}
		switch k {
		case "if":
			n.ifN = sub
		case "then":
			n.thenN = sub
		default:
			n.elseN = sub
		}
	default:
		return false
	}
	return true
}

// resolve finds the schema a $ref points at: an absolute URL with an optional JSON
// pointer fragment, or a fragment in the current document.
func (fc *fastCompiler) resolve(base, ref string) (any, string, bool) {
	url, frag, _ := strings.Cut(ref, "#")
	if url == "" {
		url = base
	}
	doc, ok := fc.docs[url]
	if !ok {
		return nil, "", false
	}
	cur := doc
	if frag != "" {
		if !strings.HasPrefix(frag, "/") {
			return nil, "", false
		}
		for _, tok := range strings.Split(frag[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, "", false
			}
			if cur, ok = m[tok]; !ok {
				return nil, "", false
			}
		}
	}
	return cur, url, true
}

// check evaluates v. The verdict is invalid as soon as one keyword fails for
// certain, unknown when none fails but one could not be decided, else valid.
func (n *fastNode) check(v *fval) verdict {
	if n.boolean != nil {
		if *n.boolean {
			return valid
		}
		return invalid
	}
	out := valid
	if n.hasType {
		switch n.typeVerdict(v) {
		case invalid:
			return invalid
		case unknown:
			out = unknown
		}
	}
	switch v.kind {
	case jObject:
		switch n.checkObject(v) {
		case invalid:
			return invalid
		case unknown:
			out = unknown
		}
	case jString:
		x := v.s
		if n.minLength >= 0 || n.maxLength >= 0 {
			l := utf8.RuneCountInString(x)
			if (n.minLength >= 0 && l < n.minLength) || (n.maxLength >= 0 && l > n.maxLength) {
				return invalid
			}
		}
		if n.pattern != nil && !n.pattern.MatchString(x) {
			return invalid
		}
		if n.format != "" && formatVerdict(n.format, x) != valid {
			out = unknown
		}
	case jNumber:
		if n.minimum != nil {
			i, err := strconv.ParseInt(v.s, 10, 64)
			if err != nil {
				out = unknown
			} else if i < *n.minimum {
				return invalid
			}
		}
	}
	if n.hasEnum && !enumHas(n.enum, v) {
		return invalid
	}
	if n.constVal != nil && (v.kind != jString || v.s != *n.constVal) {
		return invalid
	}
	for _, r := range n.refs {
		switch r.check(v) {
		case invalid:
			return invalid
		case unknown:
			out = unknown
		}
	}
	if n.ifN != nil {
		var r verdict
		switch n.ifN.check(v) {
		case unknown:
			r = unknown
		case valid:
			r = valid
			if n.thenN != nil {
				r = n.thenN.check(v)
			}
		case invalid:
			r = valid
			if n.elseN != nil {
				r = n.elseN.check(v)
			}
		}
		switch r {
		case invalid:
			return invalid
		case unknown:
			out = unknown
		}
	}
	return out
}

// checkObject evaluates properties, required, additionalProperties and
// propertyNames on an object (whose keys the parser guarantees are distinct).
func (n *fastNode) checkObject(v *fval) verdict {
	out := valid
	var seen uint64 // bit i: props[i] is present
	for i := range v.elems {
		if !n.members {
			break
		}
		m := &v.elems[i]
		var sub *fastNode
		if j := n.prop(m.key); j >= 0 {
			if j < 64 {
				seen |= 1 << j
			}
			sub = n.props[j].node
		} else {
			sub = n.additional
		}
		if sub != nil {
			switch sub.check(&m.val) {
			case invalid:
				return invalid
			case unknown:
				out = unknown
			}
		}
		if n.propertyNames != nil {
			name := fval{kind: jString, s: m.key}
			switch n.propertyNames.check(&name) {
			case invalid:
				return invalid
			case unknown:
				out = unknown
			}
		}
	}
	if seen&n.requiredMask != n.requiredMask {
		return invalid
	}
	for _, r := range n.requiredOther {
		if v.member(r) == nil {
			return invalid
		}
	}
	return out
}

// prop is the index in props of the property named key, or -1. Every event
// field is looked up, so this is a small open-addressing hash table (propSlots,
// indices+1, 0 empty) on a hash of the length and the first and last bytes: one
// probe and one string comparison, where a scan compared a dozen names.
func (n *fastNode) prop(key string) int {
	if len(n.props) == 0 {
		return -1
	}
	mask := uint32(len(n.propSlots) - 1)
	for h := propHash(key) & mask; ; h = (h + 1) & mask {
		i := int(n.propSlots[h]) - 1
		if i < 0 {
			return -1
		}
		if n.props[i].name == key {
			return i
		}
	}
}

func propHash(key string) uint32 {
	h := uint32(len(key)) * 0x9e3779b1
	if len(key) > 0 {
		h ^= uint32(key[0])<<8 | uint32(key[len(key)-1])
		h *= 0x85ebca6b
		h ^= h >> 16
	}
	return h
}

// indexProps builds propSlots: at least twice as many slots as properties, so
// a probe for an absent name soon meets an empty slot.
func (n *fastNode) indexProps() {
	if len(n.props) == 0 {
		return
	}
	size := 4
	for size < 2*len(n.props) {
		size *= 2
	}
	n.propSlots = make([]uint16, size)
	mask := uint32(size - 1)
	for i, pr := range n.props {
		h := propHash(pr.name) & mask
		for n.propSlots[h] != 0 {
			h = (h + 1) & mask
		}
		n.propSlots[h] = uint16(i + 1)
	}
}

func (n *fastNode) typeVerdict(v *fval) verdict {
	if n.typeMask&(1<<v.kind) != 0 {
		return valid
	}
	if v.kind == jNumber && n.integer {
		if strings.ContainsAny(v.s, ".eE") {
			return unknown // 1.0 is an integer to JSON Schema; leave it to the library
		}
		return valid
	}
	return invalid
}

// enumHas: every member of a fast enum is a string.
func enumHas(enum []string, v *fval) bool {
	if v.kind != jString {
		return false
	}
	for _, e := range enum {
		if e == v.s {
			return true
		}
	}
	return false
}

// formatVerdict is valid when a strict check passes, unknown otherwise. The checks
// accept exactly what time.Parse accepts in the layouts below (TestFormatChecks),
// which the library's format checks all accept too, without time.Parse's cost.
func formatVerdict(format, s string) verdict {
	switch format {
	case "date":
		if len(s) == 10 && isDateLayout(s) && isDate(s) {
			return valid
		}
	case "date-time":
		if isDateTimeLayout(s) && isDate(s[:10]) && isTime(s[11:]) {
			return valid
		}
	}
	return unknown
}

// isDate: a dddd-dd-dd date that exists in the proleptic Gregorian calendar.
func isDate(s string) bool {
	y := num(s[0:4])
	m := num(s[5:7])
	d := num(s[8:10])
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// isTime: hh:mm:ss..., then Z or ±hh:mm, within range (no leap second), in a
// string with isDateTimeLayout's layout.
func isTime(s string) bool {
	if num(s[0:2]) > 23 || num(s[3:5]) > 59 || num(s[6:8]) > 59 {
		return false
	}
	if z := s[len(s)-6:]; z[0] == '+' || z[0] == '-' {
		return num(z[1:3]) <= 23 && num(z[4:6]) <= 59
	}
	return true
}

// num is the value of a string of ASCII digits.
func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// isDateLayout: dddd-dd-dd.
func isDateLayout(s string) bool {
	for i := 0; i < 10; i++ {
		c := s[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isDateTimeLayout: dddd-dd-ddTdd:dd:dd, optional .d{1,9}, then Z or ±dd:dd.
func isDateTimeLayout(s string) bool {
	if len(s) < 20 || !isDateLayout(s[:10]) || s[10] != 'T' {
		return false
	}
	for i := 11; i < 19; i++ {
		if (i == 13 || i == 16) != (s[i] == ':') || (i != 13 && i != 16 && (s[i] < '0' || s[i] > '9')) {
			return false
		}
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := digits(rest[1:])
		if n < 1 || n > 9 {
			return false
		}
		rest = rest[1+n:]
	}
	if rest == "Z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && digits(rest[1:3]) == 2 && rest[3] == ':' && digits(rest[4:]) == 2
}

// compileFast compiles doc (at url) for the fast path; nil when it cannot.
func compileFast(docs map[string]any, url string, doc any) *fastNode {
	fc := &fastCompiler{docs: make(map[string]any, len(docs)+1)}
	for k, v := range docs {
		fc.docs[k] = v
	}
	fc.docs[url] = doc
	return fc.compile(url, doc)
}

// String describes a verdict (tests).
func (v verdict) String() string {
	return [...]string{"unknown", "valid", "invalid"}[v]
}

var _ fmt.Stringer = verdict(0)
