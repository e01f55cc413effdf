package csvmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Mapping is a parsed and validated CSV-to-event mapping. Create one with
// ParseMapping; it is immutable and safe for concurrent use by several
// Readers.
type Mapping struct {
	eventType     string
	schemaVersion int
	source        string
	delimiter     rune
	loc           *time.Location // nil: values without a UTC offset are row errors

	id         template
	subject    template
	occurredAt template
	// occurredAtFormat, if set, replaces the built-in occurred_at formats.
	occurredAtFormat string
	formatDateOnly   bool // occurredAtFormat has no time of day

	decimalSep byte   // '.' or ','
	thousands  string // "" or one character
	data       []dataField
}

type fieldType int

const (
	typeString fieldType = iota
	typeDecimal
	typeInteger
	typeBoolean
)

var fieldTypes = map[string]fieldType{
	"string":  typeString,
	"decimal": typeDecimal,
	"integer": typeInteger,
	"boolean": typeBoolean,
}

// dataField is one key of event.data.
type dataField struct {
	key      string
	value    template
	typ      fieldType
	optional bool // omit the key when the rendered value is blank
}

// mappingFile is the YAML document. Every key is decoded into a yaml.Node so
// that validation below can name the key in its errors; KnownFields rejects
// keys not listed here.
type mappingFile struct {
	Type             yaml.Node `yaml:"type"`
	SchemaVersion    yaml.Node `yaml:"schema_version"`
	Source           yaml.Node `yaml:"source"`
	Delimiter        yaml.Node `yaml:"delimiter"`
	Timezone         yaml.Node `yaml:"timezone"`
	ID               yaml.Node `yaml:"id"`
	Subject          yaml.Node `yaml:"subject"`
	OccurredAt       yaml.Node `yaml:"occurred_at"`
	OccurredAtFormat yaml.Node `yaml:"occurred_at_format"`
	DecimalComma     yaml.Node `yaml:"decimal_comma"`
	Thousands        yaml.Node `yaml:"thousands"`
	Data             yaml.Node `yaml:"data"`
}

const knownKeys = "type, schema_version, source, delimiter, timezone, id, subject, occurred_at, occurred_at_format, decimal_comma, thousands, data"

// ParseMapping parses and validates a YAML mapping (see the package
// documentation for the format). Every problem found is reported, one per
// line, each naming its key, e.g.
//
//	mapping: data.outstanding: unknown type "money"
func ParseMapping(yamlBytes []byte) (*Mapping, error) {
	dec := yaml.NewDecoder(bytes.NewReader(yamlBytes))
	dec.KnownFields(true)
	var f mappingFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("mapping: empty document")
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("mapping: more than one YAML document; a mapping file holds exactly one")
	}

	p := &parser{}
	m := &Mapping{
		eventType: p.requiredString("type", &f.Type),
		source:    p.requiredString("source", &f.Source),
		delimiter: ',',
	}
	m.schemaVersion = p.schemaVersion(&f.SchemaVersion)
	if s, ok := p.optionalString("delimiter", &f.Delimiter); ok {
		m.delimiter = p.delimiter(s)
	}
	if s, ok := p.optionalString("timezone", &f.Timezone); ok {
		m.loc = p.timezone(s)
	}
	m.id = p.template("id", &f.ID, true)
	if p.ok("id") && len(m.id.columns()) == 0 {
		p.errorf("id", "template %q refers to no column: every row would get the same id and all but the first would be duplicates", m.id.src)
	}
	m.subject = p.template("subject", &f.Subject, true)
	m.occurredAt = p.template("occurred_at", &f.OccurredAt, true)
	if s, ok := p.optionalString("occurred_at_format", &f.OccurredAtFormat); ok {
		m.occurredAtFormat, m.formatDateOnly = p.layout(s, !isZero(&f.Timezone))
	}
	decimalComma := p.boolean("decimal_comma", &f.DecimalComma)
	m.decimalSep, m.thousands = '.', ","
	if decimalComma {
		m.decimalSep, m.thousands = ',', "."
	}
	if !isZero(&f.Thousands) {
		if s, ok := p.scalarString("thousands", &f.Thousands, true); ok {
			m.thousands = p.thousands(s, m.decimalSep)
		}
	}
	m.data = p.data(&f.Data)

	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return m, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	duplicateKeyRE = regexp.MustCompile(`^line (\d+): mapping key "(.+)" already defined at line (\d+)$`)
)

// yamlError turns a decoding error into mapping errors that name the key:
// yaml's own wording mentions Go type names that mean nothing to the author
// of a mapping file.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("mapping: %w", err)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			errs = append(errs, fmt.Errorf("mapping: %s: unknown key (line %s); known keys: %s", m[2], m[1], knownKeys))
		} else if m := duplicateKeyRE.FindStringSubmatch(e); m != nil {
			errs = append(errs, fmt.Errorf("mapping: %s: duplicate key (line %s, first set at line %s)", m[2], m[1], m[3]))
		} else {
			errs = append(errs, fmt.Errorf("mapping: %s", e))
		}
	}
	return errors.Join(errs...)
}

// parser collects validation errors so that one run reports all of them.
type parser struct {
	errs   []error
	failed map[string]bool
}

func (p *parser) errorf(key, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("mapping: %s: %s", key, fmt.Sprintf(format, args...)))
	if p.failed == nil {
		p.failed = map[string]bool{}
	}
	p.failed[key] = true
}

func (p *parser) ok(key string) bool { return !p.failed[key] }

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isZero reports whether the key was absent or explicitly null.
func isZero(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// scalarString returns the literal text of a scalar. Non-string scalars
// (source: 2024) are taken as written.
func (p *parser) scalarString(key string, n *yaml.Node, allowEmpty bool) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(key, "want a string, got %s (line %d)", kindName(n), n.Line)
		return "", false
	}
	if n.Value == "" && !allowEmpty {
		p.errorf(key, "must not be empty")
		return "", false
	}
	return n.Value, true
}

func (p *parser) requiredString(key string, n *yaml.Node) string {
	if isZero(n) {
		p.errorf(key, "required")
		return ""
	}
	s, _ := p.scalarString(key, n, false)
	return s
}

func (p *parser) optionalString(key string, n *yaml.Node) (string, bool) {
	if isZero(n) {
		return "", false
	}
	return p.scalarString(key, n, false)
}

func (p *parser) schemaVersion(n *yaml.Node) int {
	const key = "schema_version"
	if isZero(n) {
		p.errorf(key, "required")
		return 0
	}
	n = resolve(n)
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < 1 {
		p.errorf(key, "want a positive integer, got %q (line %d)", n.Value, n.Line)
		return 0
	}
	return v
}

func (p *parser) boolean(key string, n *yaml.Node) bool {
	if isZero(n) {
		return false
	}
	n = resolve(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errorf(key, "want true or false, got %q (line %d)", n.Value, n.Line)
	}
	return b
}

func (p *parser) delimiter(s string) rune {
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case s == `\t`:
		p.errorf("delimiter", `got the two characters \t; write "\t" in double quotes for a tab`)
	case size != len(s) || r == utf8.RuneError:
		p.errorf("delimiter", "want exactly one character, got %q", s)
	case r == '"' || r == '\r' || r == '\n' || r == 0:
		p.errorf("delimiter", "%q cannot be a CSV delimiter", s)
	default:
		return r
	}
	return ','
}

// notIANA gives the right zone for names that look plausible but are not in
// the IANA database.
var notIANA = map[string]string{
	"Europe/Frankfurt": "Europe/Berlin",
}

func (p *parser) timezone(s string) *time.Location {
	if s == "Local" {
		// Local depends on the machine running the import; the same file
		// must give the same events everywhere.
		p.errorf("timezone", `"Local" is not allowed; name the zone, e.g. "Europe/Berlin" or "UTC"`)
		return nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		hint := `an IANA zone name such as "Europe/Berlin", "America/New_York" or "UTC"`
		if alt, ok := notIANA[s]; ok {
			hint = fmt.Sprintf("%q is not an IANA zone name; use %q", s, alt)
		}
		p.errorf("timezone", "unknown time zone %q: want %s", s, hint)
		return nil
	}
	return loc
}

// layoutProbe is formatted with an occurred_at_format layout and parsed back
// to find out what the layout contains. No field has the value Parse gives a
// field that is missing from the layout (year 0, January, day 1, 00:00:00).
var layoutProbe = time.Date(2031, time.December, 25, 13, 14, 15, 0, time.UTC)

// layout validates an occurred_at_format and reports whether it holds only
// a date (no time of day).
func (p *parser) layout(layout string, haveZone bool) (string, bool) {
	const key = "occurred_at_format"
	t, err := time.Parse(layout, layoutProbe.Format(layout))
	if err != nil || t.Year() != layoutProbe.Year() || t.Month() != layoutProbe.Month() || t.Day() != layoutProbe.Day() {
		p.errorf(key, "Go layout %q must contain a year, month and day, written as in the reference time \"2006-01-02T15:04:05Z07:00\"", layout)
		return "", false
	}
	if strings.Contains(layout, "MST") {
		// Go reads an abbreviation it does not know as UTC, silently, and
		// abbreviations are ambiguous anyway (CST: China, Central US, Cuba).
		p.errorf(key, "layout %q reads a zone abbreviation (MST); use a numeric offset (-0700 or Z07:00) or set timezone and leave the zone out", layout)
		return "", false
	}
	if !haveZone && !layoutHasOffset(layout) {
		p.errorf(key, "layout %q has no UTC offset, so timezone is required", layout)
	}
	h, mi, sec := t.Clock()
	return layout, h == 0 && mi == 0 && sec == 0
}

// layoutHasOffset reports whether values parsed with layout carry their own
// UTC offset: if they do, the location passed to ParseInLocation does not
// change the instant.
func layoutHasOffset(layout string) bool {
	s := layoutProbe.Format(layout)
	a, errA := time.ParseInLocation(layout, s, time.UTC)
	b, errB := time.ParseInLocation(layout, s, probeZone)
	return errA == nil && errB == nil && a.Equal(b)
}

// probeZone is an offset no real zone uses.
var probeZone = time.FixedZone("csvmap-probe", 5*3600+17*60)

func (p *parser) thousands(s string, decimalSep byte) string {
	if s == "" {
		return ""
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case size != len(s) || r == utf8.RuneError:
		p.errorf("thousands", "want one character or \"\", got %q", s)
	case unicode.IsDigit(r) || r == '-' || r == '+':
		p.errorf("thousands", "%q cannot be a thousands separator", s)
	case r == rune(decimalSep):
		p.errorf("thousands", "%q is also the decimal separator (see decimal_comma)", s)
	default:
		return s
	}
	return ""
}

func (p *parser) template(key string, n *yaml.Node, required bool) template {
	if isZero(n) {
		if required {
			p.errorf(key, "required")
		}
		return template{}
	}
	s, ok := p.scalarString(key, n, false)
	if !ok {
		return template{}
	}
	t, err := parseTemplate(s)
	if err != nil {
		p.errorf(key, "%v", err)
	}
	return t
}

func (p *parser) data(n *yaml.Node) []dataField {
	if isZero(n) {
		return nil
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf("data", "want a mapping of field names to templates, got %s (line %d)", kindName(n), n.Line)
		return nil
	}
	var fields []dataField
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || kn.Tag == "!!merge" || kn.Value == "" {
			p.errorf("data", "field names must be non-empty strings (line %d)", kn.Line)
			continue
		}
		key := "data." + kn.Value
		if line, dup := seen[kn.Value]; dup {
			p.errorf(key, "duplicate key (line %d, first set at line %d)", kn.Line, line)
			continue
		}
		seen[kn.Value] = kn.Line
		f := dataField{key: kn.Value}
		switch v := resolve(vn); {
		case isZero(v):
			p.errorf(key, "empty; want a template such as \"${column}\" or {value: \"${column}\", type: decimal}")
			continue
		case v.Kind == yaml.ScalarNode:
			f.value = p.template(key, v, true)
		case v.Kind == yaml.MappingNode:
			f = p.longField(key, f, v)
		default:
			p.errorf(key, "want a template or {value, type, optional}, got %s (line %d)", kindName(v), v.Line)
			continue
		}
		fields = append(fields, f)
	}
	return fields
}

// longField parses the {value, type, optional} form of a data field.
func (p *parser) longField(key string, f dataField, n *yaml.Node) dataField {
	var value, typ, optional *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		switch k.Value {
		case "value":
			value = v
		case "type":
			typ = v
		case "optional":
			optional = v
		default:
			p.errorf(key, "unknown key %q (line %d); known keys: value, type, optional", k.Value, k.Line)
		}
	}
	f.value = p.template(key+".value", value, true)
	if typ != nil && !isZero(typ) {
		if s, ok := p.scalarString(key+".type", typ, false); ok {
			t, known := fieldTypes[s]
			if !known {
				p.errorf(key, "unknown type %q", s)
			}
			f.typ = t
		}
	}
	if optional != nil {
		f.optional = p.boolean(key+".optional", optional)
	}
	return f
}
