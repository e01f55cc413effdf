package csvmap

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Row is the result of mapping one CSV record.
type Row struct {
	// Line is the 1-based line of the CSV file the record starts on; the
	// header is line 1.
	Line int
	// Event is the compact JSON envelope, nil when Err is set.
	Event json.RawMessage
	// Err describes everything wrong with this row, one problem per line,
	// each naming the line, the envelope or data field and the columns.
	Err error
}

// Reader maps the records of a CSV extract to events, one Row per record.
type Reader struct {
	m       *Mapping
	csv     *csv.Reader
	nfields int

	id, subject, occurredAt boundTemplate
	data                    []boundField

	err error // sticky: io.EOF or the error that stopped reading
}

type boundField struct {
	dataField
	value boundTemplate
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// NewReader reads the CSV header from r and checks that every column the
// mapping refers to is in it; the error names all missing columns.
func NewReader(m *Mapping, r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	// Excel and many Windows exports start the file with a byte order mark.
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.Comma = m.delimiter
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("csvmap: empty file: want a header line naming the columns")
	}
	if err != nil {
		return nil, fmt.Errorf("csvmap: read header: %w", err)
	}
	headerLine, _ := cr.FieldPos(0)

	index := make(map[string]int, len(header))
	dups := map[string]bool{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		header[i] = name
		if _, ok := index[name]; ok {
			dups[name] = true
			continue
		}
		index[name] = i
	}

	// Check every template, remembering which keys use each bad column.
	usedBy := map[string][]string{}
	check := func(key string, t template) {
		for _, c := range t.columns() {
			if _, ok := index[c]; !ok || dups[c] {
				usedBy[c] = append(usedBy[c], key)
			}
		}
	}
	check("id", m.id)
	check("subject", m.subject)
	check("occurred_at", m.occurredAt)
	for _, f := range m.data {
		check("data."+f.key, f.value)
	}
	if len(usedBy) > 0 {
		return nil, headerError(headerLine, header, usedBy, dups)
	}

	rd := &Reader{
		m:          m,
		csv:        cr,
		nfields:    len(header),
		id:         m.id.bind(index),
		subject:    m.subject.bind(index),
		occurredAt: m.occurredAt.bind(index),
	}
	for _, f := range m.data {
		rd.data = append(rd.data, boundField{dataField: f, value: f.value.bind(index)})
	}
	return rd, nil
}

func headerError(line int, header []string, usedBy map[string][]string, dups map[string]bool) error {
	names := make([]string, 0, len(usedBy))
	for c := range usedBy {
		names = append(names, c)
	}
	sort.Strings(names)
	var missing, ambiguous []string
	for _, c := range names {
		desc := fmt.Sprintf("%q (used by %s)", c, strings.Join(usedBy[c], ", "))
		if dups[c] {
			ambiguous = append(ambiguous, desc)
			continue
		}
		for _, h := range header {
			if strings.EqualFold(h, c) {
				desc += fmt.Sprintf(" - the header has %q; names are case-sensitive", h)
				break
			}
		}
		missing = append(missing, desc)
	}
	var errs []error
	if len(missing) > 0 {
		noun := "column"
		if len(missing) > 1 {
			noun = "columns"
		}
		errs = append(errs, fmt.Errorf("csvmap: header (line %d): missing %s %s; the header has %s",
			line, noun, strings.Join(missing, ", "), quoteAll(header)))
	}
	if len(ambiguous) > 0 {
		errs = append(errs, fmt.Errorf("csvmap: header (line %d): columns named more than once %s",
			line, strings.Join(ambiguous, ", ")))
	}
	return errors.Join(errs...)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Next maps the next record. It returns io.EOF after the last one. A
// problem with the record itself is reported in Row.Err and reading can go
// on; the error result is for I/O failures and CSV syntax errors (such as
// an unbalanced quote), after which the Reader keeps returning that error.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	record, err := r.csv.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(err, csv.ErrFieldCount) {
			// The record was read in full; the reader can go on.
			return Row{Line: pe.StartLine, Err: fmt.Errorf(
				"line %d: %d fields, but the header has %d (is a value containing the delimiter not quoted?)",
				pe.StartLine, len(record), r.nfields)}, nil
		}
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
		} else {
			r.err = fmt.Errorf("csvmap: %w", err)
		}
		return Row{}, r.err
	}
	line, _ := r.csv.FieldPos(0)
	event, err := r.event(record, line)
	return Row{Line: line, Event: event, Err: err}, nil
}

// envelope is the event envelope of DESIGN.md, in its documented key order.
type envelope struct {
	ID            string          `json:"id"`
	Source        string          `json:"source"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Subject       string          `json:"subject"`
	OccurredAt    string          `json:"occurred_at"`
	Data          json.RawMessage `json:"data"`
}

func (r *Reader) event(record []string, line int) (json.RawMessage, error) {
	var errs []error
	fail := func(field string, t boundTemplate, err error) {
		errs = append(errs, fmt.Errorf("line %d: %s%s: %w", line, field, t.describe(), err))
	}
	text := func(field string, t boundTemplate) string {
		v := t.render(record)
		if !utf8.ValidString(v) {
			fail(field, t, fmt.Errorf("%q is not valid UTF-8 (convert the file to UTF-8; Latin-1 and Windows-1252 are common culprits)", v))
		}
		return v
	}

	env := envelope{
		ID:            text("id", r.id),
		Source:        r.m.source,
		Type:          r.m.eventType,
		SchemaVersion: r.m.schemaVersion,
		Subject:       text("subject", r.subject),
	}
	if at, err := r.m.occurred(r.occurredAt.render(record)); err != nil {
		fail("occurred_at", r.occurredAt, err)
	} else {
		env.OccurredAt = at
	}

	var data bytes.Buffer
	data.WriteByte('{')
	for _, f := range r.data {
		field := "data." + f.key
		v := text(field, f.value)
		blank := strings.TrimSpace(v) == ""
		if blank && f.optional {
			continue
		}
		var (
			value []byte
			err   error
		)
		switch {
		case f.typ == typeString:
			value = jsonString(v)
		case blank:
			err = fmt.Errorf("empty value, want %s (set optional: true to omit the field when empty)", typeName(f.typ))
		case f.typ == typeDecimal:
			var d string
			if d, err = r.m.decimal(v); err == nil {
				value = jsonString(d) // a string, so that no reader turns it into a float
			}
		case f.typ == typeInteger:
			var n string
			if n, err = integer(v); err == nil {
				value = []byte(json.Number(n))
			}
		case f.typ == typeBoolean:
			var b string
			if b, err = boolean(v); err == nil {
				value = []byte(b)
			}
		}
		if err != nil {
			fail(field, f.value, err)
			continue
		}
		if data.Len() > 1 {
			data.WriteByte(',')
		}
		data.Write(jsonString(f.key))
		data.WriteByte(':')
		data.Write(value)
	}
	data.WriteByte('}')
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	env.Data = data.Bytes()

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // subjects may hold ">" and "&"; keep them readable
	if err := enc.Encode(env); err != nil {
		return nil, fmt.Errorf("line %d: encode event: %w", line, err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func typeName(t fieldType) string {
	switch t {
	case typeDecimal:
		return "a decimal"
	case typeInteger:
		return "an integer"
	case typeBoolean:
		return "a boolean"
	}
	return "a string"
}

// jsonString encodes s as a JSON string without HTML escaping.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
