// Package registry holds the JSON Schemas events are checked against: the envelope,
// the built-in event types shipped in schemas/, and types registered at run time
// (kept in PostgreSQL by the store and fetched through a Lookup on first use).
//
// Check turns one raw event into a validated envelope.Event or a Problem whose
// message names the field and the rule it broke, e.g.
//
//	data.outstanding: money and quantities are JSON strings holding an exact decimal (e.g. "1234.56"), got the number 1234.5
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/schemas"
)

// Problem codes: why an event was rejected.
const (
	CodeMalformedJSON    = "malformed_json"
	CodeNotObject        = "not_an_object"
	CodeEnvelope         = "invalid_envelope"
	CodeUnknownType      = "unknown_type"
	CodeUnknownVersion   = "unknown_schema_version"
	CodeData             = "invalid_data"
	CodeTooLarge         = "event_too_large"
	CodeUnknownSupersede = "unknown_supersedes"
	CodeBadSupersede     = "invalid_supersedes"
)

// Problem is why one event is rejected.
type Problem struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Fields lists every failing field when there are several.
	Fields []FieldError `json:"fields,omitempty"`
}

// FieldError is one failing field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Message }

// Key names a data schema.
type Key struct {
	Type    string
	Version int
}

func (k Key) String() string { return fmt.Sprintf("%s v%d", k.Type, k.Version) }

// URL is the schema's canonical location.
func (k Key) URL() string { return fmt.Sprintf("%s%s/v%d.json", schemas.BaseURL, k.Type, k.Version) }

// Lookup finds a run-time registered schema document (nil, nil when there is none)
// and the versions that exist for the type.
type Lookup func(ctx context.Context, k Key) (doc []byte, versions []int, err error)

// Schema is a compiled data schema: the library's, and the fast path when the
// schema allows one (see fast.go).
type Schema struct {
	lib  *jsonschema.Schema
	fast *fastNode
}

// Fast reports whether the schema is checked on the fast path.
func (s *Schema) Fast() bool { return s.fast != nil }

// validate checks the fast path's value v: on the fast path when it says valid,
// else by the library, whose error describes the problem. A nil v is an absent
// value (validated as null, as the library's tree gives for a missing key).
func (s *Schema) validate(v *fval) error {
	if v == nil {
		return s.lib.Validate(nil)
	}
	if s.fast != nil && s.fast.check(v) == valid {
		return nil
	}
	return s.lib.Validate(v.toAny())
}

// Registry compiles and caches schemas; safe for concurrent use.
type Registry struct {
	lookup   Lookup
	envelope *Schema
	defs     any

	mu       sync.RWMutex
	compiled map[Key]*Schema
	builtin  map[Key][]byte
	misses   map[Key]miss
}

type miss struct {
	versions []int
	until    time.Time
}

// TypePattern is what an event type looks like.
var TypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// New loads the envelope, the shared definitions and the built-in schemas from fsys
// (laid out like schemas/), compiling them all so a broken file fails at start.
func New(fsys fs.FS, lookup Lookup) (*Registry, error) {
	r := &Registry{lookup: lookup, compiled: map[Key]*Schema{}, builtin: map[Key][]byte{}, misses: map[Key]miss{}}
	defs, err := readDoc(fsys, "defs.schema.json")
	if err != nil {
		return nil, err
	}
	r.defs = defs
	env, err := readDoc(fsys, "envelope.schema.json")
	if err != nil {
		return nil, err
	}
	c := r.compiler()
	if err := c.AddResource(schemas.BaseURL+"envelope.schema.json", env); err != nil {
		return nil, err
	}
	lib, err := c.Compile(schemas.BaseURL + "envelope.schema.json")
	if err != nil {
		return nil, fmt.Errorf("compile envelope schema: %w", err)
	}
	r.envelope = &Schema{lib: lib, fast: compileFast(r.defsDocs(), schemas.BaseURL+"envelope.schema.json", env)}
	files, err := fs.Glob(fsys, "*/v*.json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		typ := path.Dir(f)
		v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path.Base(f), "v"), ".json"))
		if err != nil || !TypePattern.MatchString(typ) {
			return nil, fmt.Errorf("schema file %s: want <type>/v<N>.json", f)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		k := Key{typ, v}
		sch, err := r.Compile(k, b)
		if err != nil {
			return nil, fmt.Errorf("schema file %s: %w", f, err)
		}
		r.compiled[k], r.builtin[k] = sch, b
	}
	return r, nil
}

func (r *Registry) defsDocs() map[string]any {
	return map[string]any{schemas.BaseURL + "defs.schema.json": r.defs}
}

func readDoc(fsys fs.FS, name string) (any, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	return doc, nil
}

func (r *Registry) compiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// Schemas may only refer to each other and to the shared definitions: never
	// fetch anything from the network or the file system.
	c.UseLoader(noLoader{})
	_ = c.AddResource(schemas.BaseURL+"defs.schema.json", r.defs)
	return c
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema reference %s is not available: only %sdefs.schema.json may be referenced", url, schemas.BaseURL)
}

// Compile checks a data schema document for k and compiles it. Besides being a
// valid JSON Schema, it must describe an object and must not allow floating point
// numbers anywhere: money and quantities are decimal strings.
func (r *Registry) Compile(k Key, doc []byte) (*Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema is not valid JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("schema must be a JSON object")
	}
	if t, _ := obj["type"].(string); t != "object" {
		return nil, errors.New(`schema must have "type": "object" (it describes the event's data object)`)
	}
	if where := findNumberType(v, ""); where != "" {
		return nil, fmt.Errorf(`schema allows "type": "number" at %s: floats are not allowed; use a decimal string `+
			`({"$ref": "%sdefs.schema.json#/$defs/decimal"}) for money and quantities, or "integer" for counts`, where, schemas.BaseURL)
	}
	c := r.compiler()
	if err := c.AddResource(k.URL(), v); err != nil {
		return nil, err
	}
	lib, err := c.Compile(k.URL())
	if err != nil {
		return nil, fmt.Errorf("schema does not compile: %w", err)
	}
	return &Schema{lib: lib, fast: compileFast(r.defsDocs(), k.URL(), v)}, nil
}

func findNumberType(v any, at string) string {
	switch x := v.(type) {
	case map[string]any:
		switch t := x["type"].(type) {
		case string:
			if t == "number" {
				return "/" + strings.TrimPrefix(at, "/")
			}
		case []any:
			for _, e := range t {
				if e == "number" {
					return "/" + strings.TrimPrefix(at, "/")
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if w := findNumberType(x[k], at+"/"+k); w != "" {
				return w
			}
		}
	case []any:
		for i, e := range x {
			if w := findNumberType(e, at+"/"+strconv.Itoa(i)); w != "" {
				return w
			}
		}
	}
	return ""
}

// Builtin reports whether k ships with Ledgerline, and its document.
func (r *Registry) Builtin(k Key) ([]byte, bool) {
	b, ok := r.builtin[k]
	return b, ok
}

// BuiltinKeys lists the built-in schemas.
func (r *Registry) BuiltinKeys() []Key {
	keys := make([]Key, 0, len(r.builtin))
	for k := range r.builtin {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Type != keys[j].Type {
			return keys[i].Type < keys[j].Type
		}
		return keys[i].Version < keys[j].Version
	})
	return keys
}

// Add makes a compiled run-time schema available at once (after registration).
func (r *Registry) Add(k Key, sch *Schema) {
	r.mu.Lock()
	r.compiled[k] = sch
	delete(r.misses, k)
	r.mu.Unlock()
}

// schema finds the compiled schema for k, asking the lookup on a miss. A miss is
// remembered for a second so a flood of events of an unknown type costs one query.
func (r *Registry) schema(ctx context.Context, k Key) (*Schema, []int, error) {
	r.mu.RLock()
	sch, ok := r.compiled[k]
	var m miss
	var missed bool
	if !ok {
		m, missed = r.misses[k]
	}
	r.mu.RUnlock()
	if ok {
		return sch, nil, nil
	}
	if missed && time.Now().Before(m.until) {
		return nil, m.versions, nil
	}
	var (
		doc      []byte
		versions []int
		err      error
	)
	if r.lookup != nil {
		doc, versions, err = r.lookup(ctx, k)
		if err != nil {
			return nil, nil, fmt.Errorf("look up schema %s: %w", k, err)
		}
	}
	r.mu.RLock()
	for bk := range r.builtin {
		if bk.Type == k.Type && !containsInt(versions, bk.Version) {
			versions = append(versions, bk.Version)
		}
	}
	r.mu.RUnlock()
	sort.Ints(versions)
	if doc == nil {
		r.mu.Lock()
		r.misses[k] = miss{versions: versions, until: time.Now().Add(time.Second)}
		r.mu.Unlock()
		return nil, versions, nil
	}
	sch, err = r.Compile(k, doc)
	if err != nil {
		return nil, nil, fmt.Errorf("stored schema %s: %w", k, err)
	}
	r.Add(k, sch)
	return sch, nil, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Check validates one raw event. A non-nil error is an infrastructure failure (the
// schema store could not be asked), not a property of the event.
//
// raw is only read, and only during the call: nothing returned points into it.
func (r *Registry) Check(ctx context.Context, raw []byte) (envelope.Event, *Problem, error) {
	p := getParser()
	defer p.release()
	root, ok := p.parse(raw)
	if !ok {
		return r.checkFull(ctx, raw)
	}
	if root.kind != jObject || r.envelope.fast == nil || r.envelope.fast.check(&root) != valid {
		// Not certainly a valid envelope: the library decides and words why.
		return r.checkTree(ctx, root.toAny())
	}
	var ev envelope.Event
	var id, source, typ, subject, supersedes, ts string
	var data *fval
	for i := range root.elems {
		m := &root.elems[i]
		v := &m.val
		switch m.key {
		case "id":
			id = v.str()
		case "source":
			source = v.str()
		case "type":
			typ = v.str()
		case "subject":
			subject = v.str()
		case "supersedes":
			supersedes = v.str()
		case "occurred_at":
			ts = v.str()
		case "schema_version":
			if v.kind == jNumber {
				ev.SchemaVersion, _ = strconv.Atoi(v.s)
			}
		case "data":
			data = v
		}
	}
	// The strings point into raw: copy them, all into one allocation.
	var sb strings.Builder
	sb.Grow(len(id) + len(source) + len(typ) + len(subject) + len(supersedes))
	for _, s := range [...]string{id, source, typ, subject, supersedes} {
		sb.WriteString(s)
	}
	all := sb.String()
	next := func(n int) string {
		s := all[:n]
		all = all[n:]
		return s
	}
	ev.ID, ev.Source, ev.Type, ev.Subject, ev.Supersedes = next(len(id)), next(len(source)), next(len(typ)), next(len(subject)), next(len(supersedes))
	return r.checkRest(ctx, ev, ts, data, nil)
}

// str is a string's text, "" for anything else (like a failed .(string)).
func (v *fval) str() string {
	if v.kind == jString {
		return v.s
	}
	return ""
}

// checkFull is Check on the library's tree alone: the path for events the fast
// parser does not take, and the reference TestCheckAgreesWithTheFullPath compares
// Check against.
func (r *Registry) checkFull(ctx context.Context, raw []byte) (envelope.Event, *Problem, error) {
	inst, err := decode(raw)
	if err != nil {
		return envelope.Event{}, &Problem{Code: CodeMalformedJSON, Message: "malformed JSON: " + jsonErrorText(err, raw)}, nil
	}
	return r.checkTree(ctx, inst)
}

// checkTree checks an event parsed into the library's tree, by the library.
func (r *Registry) checkTree(ctx context.Context, inst any) (envelope.Event, *Problem, error) {
	var ev envelope.Event
	obj, ok := inst.(map[string]any)
	if !ok {
		return ev, &Problem{Code: CodeNotObject, Message: fmt.Sprintf("an event must be a JSON object, got %s", jsonKind(inst))}, nil
	}
	ev.ID, _ = obj["id"].(string)
	if verr := r.envelope.lib.Validate(obj); verr != nil {
		// Whatever is readable of the id and type is kept, so the answer and the
		// quarantine entry say which event was refused.
		ev.Type, _ = obj["type"].(string)
		return ev, describe(CodeEnvelope, "", verr), nil
	}
	ev.Source, _ = obj["source"].(string)
	ev.Type, _ = obj["type"].(string)
	ev.Subject, _ = obj["subject"].(string)
	ev.Supersedes, _ = obj["supersedes"].(string)
	if n, ok := obj["schema_version"].(json.Number); ok {
		v, _ := strconv.Atoi(n.String())
		ev.SchemaVersion = v
	}
	ts, _ := obj["occurred_at"].(string)
	return r.checkRest(ctx, ev, ts, nil, obj)
}

// checkRest finishes the check of an event whose envelope is valid and whose
// fields are in ev: occurred_at (ts), the type's schema and the data, which is
// the fast path's data (nil when absent) or, when obj is not nil, obj["data"].
func (r *Registry) checkRest(ctx context.Context, ev envelope.Event, ts string, data *fval, obj map[string]any) (envelope.Event, *Problem, error) {
	var err error
	if ev.OccurredAt, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return ev, &Problem{Code: CodeEnvelope, Field: "occurred_at",
			Message: fmt.Sprintf("occurred_at: %q is not an RFC 3339 date-time with offset, e.g. \"2026-10-31T18:00:00Z\"", ts)}, nil
	}
	if ev.Type == envelope.TypeVoid {
		return ev, nil, nil
	}
	k := Key{ev.Type, ev.SchemaVersion}
	sch, versions, err := r.schema(ctx, k)
	if err != nil {
		return ev, nil, err
	}
	if sch == nil {
		if len(versions) == 0 {
			return ev, &Problem{Code: CodeUnknownType, Field: "type",
				Message: fmt.Sprintf("type: unknown event type %q: no schema is registered for it (POST /v1/schemas)", ev.Type)}, nil
		}
		vs := make([]string, len(versions))
		for i, v := range versions {
			vs[i] = strconv.Itoa(v)
		}
		return ev, &Problem{Code: CodeUnknownVersion, Field: "schema_version",
			Message: fmt.Sprintf("schema_version: %s has no schema version %d (known: %s)", ev.Type, ev.SchemaVersion, strings.Join(vs, ", "))}, nil
	}
	var verr error
	if obj != nil {
		verr = sch.lib.Validate(obj["data"])
	} else {
		verr = sch.validate(data)
	}
	if verr != nil {
		return ev, describe(CodeData, "data", verr), nil
	}
	return ev, nil, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func jsonErrorText(err error, raw []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(raw, se.Offset)
		return fmt.Sprintf("%s at line %d, column %d (byte %d)", se.Error(), line, col, se.Offset)
	}
	if errors.Is(err, errUnexpectedEOF) || err.Error() == "unexpected EOF" {
		return "unexpected end of input: the JSON is truncated"
	}
	return err.Error()
}

var errUnexpectedEOF = errors.New("unexpected EOF")

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
