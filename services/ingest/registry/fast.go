package registry

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
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
// or unknown. An event is accepted on the fast path only when the answer is valid;
// anything else goes through the library. TestFastPathAgreesWithTheLibrary checks
// the two on the sample events and thousands of mutations of them.

type verdict uint8

const (
	unknown verdict = iota
	valid
	invalid
)

type fastNode struct {
	boolean       *bool // a true/false schema
	types         []string
	properties    map[string]*fastNode
	required      []string
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
	for k, v := range obj {
		if annotations[k] {
			continue
		}
		if !fc.keyword(n, base, k, v) {
			return nil
		}
	}
	return n
}

func (fc *fastCompiler) keyword(n *fastNode, base, k string, v any) bool {
	switch k {
	case "type":
		switch t := v.(type) {
		case string:
			n.types = []string{t}
		case []any:
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return false
				}
				n.types = append(n.types, s)
			}
		default:
			return false
		}
	case "properties":
		props, ok := v.(map[string]any)
		if !ok {
			return false
		}
		n.properties = map[string]*fastNode{}
		for name, sub := range props {
			if n.properties[name] = fc.compile(base, sub); n.properties[name] == nil {
				return false
			}
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

// check evaluates v (as decoded by jsonschema.UnmarshalJSON: json.Number for numbers).
func (n *fastNode) check(v any) verdict {
	if n.boolean != nil {
		if *n.boolean {
			return valid
		}
		return invalid
	}
	out := valid
	merge := func(r verdict) bool {
		if r == invalid {
			out = invalid
			return false
		}
		if r == unknown {
			out = unknown
		}
		return true
	}
	if n.types != nil && !merge(typeVerdict(n.types, v)) {
		return invalid
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range n.required {
			if _, ok := x[r]; !ok {
				return invalid
			}
		}
		for k, val := range x {
			if sub, ok := n.properties[k]; ok {
				if !merge(sub.check(val)) {
					return invalid
				}
			} else if n.additional != nil && !merge(n.additional.check(val)) {
				return invalid
			}
			if n.propertyNames != nil && !merge(n.propertyNames.check(k)) {
				return invalid
			}
		}
	case string:
		if n.minLength >= 0 || n.maxLength >= 0 {
			l := utf8.RuneCountInString(x)
			if (n.minLength >= 0 && l < n.minLength) || (n.maxLength >= 0 && l > n.maxLength) {
				return invalid
			}
		}
		if n.pattern != nil && !n.pattern.MatchString(x) {
			return invalid
		}
		if n.format != "" && !merge(formatVerdict(n.format, x)) {
			return invalid
		}
	case json.Number:
		if n.minimum != nil {
			i, err := strconv.ParseInt(x.String(), 10, 64)
			if err != nil {
				out = unknown
			} else if i < *n.minimum {
				return invalid
			}
		}
	}
	if n.hasEnum && !merge(enumVerdict(n.enum, v)) {
		return invalid
	}
	if n.constVal != nil {
		if s, ok := v.(string); !ok || s != *n.constVal {
			return invalid
		}
	}
	for _, r := range n.refs {
		if !merge(r.check(v)) {
			return invalid
		}
	}
	if n.ifN != nil {
		switch n.ifN.check(v) {
		case unknown:
			out = unknown
		case valid:
			if n.thenN != nil && !merge(n.thenN.check(v)) {
				return invalid
			}
		case invalid:
			if n.elseN != nil && !merge(n.elseN.check(v)) {
				return invalid
			}
		}
	}
	return out
}

func typeVerdict(types []string, v any) verdict {
	for _, t := range types {
		switch t {
		case "object":
			if _, ok := v.(map[string]any); ok {
				return valid
			}
		case "array":
			if _, ok := v.([]any); ok {
				return valid
			}
		case "string":
			if _, ok := v.(string); ok {
				return valid
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return valid
			}
		case "null":
			if v == nil {
				return valid
			}
		case "number":
			if _, ok := v.(json.Number); ok {
				return valid
			}
		case "integer":
			if num, ok := v.(json.Number); ok {
				if strings.ContainsAny(num.String(), ".eE") {
					return unknown // 1.0 is an integer to JSON Schema; leave it to the library
				}
				return valid
			}
		default:
			return unknown
		}
	}
	if num, ok := v.(json.Number); ok && strings.ContainsAny(num.String(), ".eE") {
		for _, t := range types {
			if t == "integer" {
				return unknown
			}
		}
	}
	return invalid
}

func enumVerdict(enum []string, v any) verdict {
	s, ok := v.(string)
	if !ok {
		return invalid // every member is a string
	}
	for _, e := range enum {
		if e == s {
			return valid
		}
	}
	return invalid
}

// formatVerdict is valid when a strict check passes, unknown otherwise.
func formatVerdict(format, s string) verdict {
	switch format {
	case "date":
		if len(s) == 10 && isDateLayout(s) {
			if _, err := time.Parse(time.DateOnly, s); err == nil {
				return valid
			}
		}
	case "date-time":
		if isDateTimeLayout(s) {
			if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return valid
			}
		}
	}
	return unknown
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
