package celenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/shopspring/decimal"
)

// sampleEvents reads the demo bank's events.
func sampleEvents(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "schemas", "examples", "bank-2026-10.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewEventSamples checks every demo event against encoding/json: same
// envelope fields, same data (numbers compared as exact decimals).
func TestNewEventSamples(t *testing.T) {
	events := sampleEvents(t)
	if len(events) < 40 {
		t.Fatalf("only %d sample events", len(events))
	}
	for _, raw := range events {
		var want struct {
			ID, Source, Type, Subject, Supersedes string
			SchemaVersion                         int64     `json:"schema_version"`
			OccurredAt                            time.Time `json:"occurred_at"`
			Data                                  json.RawMessage
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		ev, err := NewEvent(raw)
		if err != nil {
			t.Fatalf("%s: %v", want.ID, err)
		}
		if ev.ID() != want.ID || ev.Type() != want.Type || ev.Subject() != want.Subject ||
			ev.Supersedes() != want.Supersedes || !ev.OccurredAt().Equal(want.OccurredAt) {
			t.Errorf("%s: envelope differs", want.ID)
		}
		env := (*envelope)(ev)
		if v, _ := env.field("source"); v != types.String(want.Source) {
			t.Errorf("%s: source = %v", want.ID, v)
		}
		if v, _ := env.field("schema_version"); v != types.Int(want.SchemaVersion) {
			t.Errorf("%s: schema_version = %v", want.ID, v)
		}
		wantData := map[string]any{}
		if len(want.Data) > 0 {
			wantData = decodeStd(t, want.Data).(map[string]any)
		}
		if got := plain(ev.data); !reflect.DeepEqual(got, wantData) {
			t.Errorf("%s: data\n got %#v\nwant %#v", want.ID, got, wantData)
		}
	}
}

func TestNewEventData(t *testing.T) {
	raw := `{"id":"e\u00e9","type":"t","subject":"LN 2001.A-Zürich","occurred_at":"2026-10-31T19:00:00+01:00",
	  "data": {"s":"a\"b\\c\/d\n\u00fc\ud83d\ude00", "t":true, "f":false, "z":null, "i":-42, "d":-0.5, "e":1.5e3,
	           "big": 99999999999999999999, "o":{"k":{"deep":[1,"x",{"y":2}]}}, "l":[], "m":{}},
	  "extra": {"ignored": [1, 2, 3]}, "supersedes": "e0"}`
	ev, err := NewEvent([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID() != "eé" || ev.Subject() != "LN 2001.A-Zürich" || ev.Supersedes() != "e0" {
		t.Errorf("envelope: %q %q %q", ev.ID(), ev.Subject(), ev.Supersedes())
	}
	if !ev.OccurredAt().Equal(time.Date(2026, 10, 31, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("occurred_at = %v", ev.OccurredAt())
	}
	d := ev.data
	checks := []struct {
		key  string
		want ref.Val
	}{
		{"s", types.String("a\"b\\c/d\nü😀")},
		{"t", types.True},
		{"f", types.False},
		{"z", types.NullValue},
		{"i", types.Int(-42)},
		{"d", decimalVal{decimal.RequireFromString("-0.5")}},
		{"e", decimalVal{decimal.RequireFromString("1500")}},
		{"big", decimalVal{decimal.RequireFromString("99999999999999999999")}},
	}
	for _, c := range checks {
		got, ok := d[c.key].(ref.Val)
		if !ok || got.Type() != c.want.Type() || got.Equal(c.want) != types.True {
			t.Errorf("data.%s = %#v, want %#v", c.key, d[c.key], c.want)
		}
	}
	// No double anywhere: every number is an int or a decimal.
	for k, v := range d {
		if _, isDouble := v.(types.Double); isDouble {
			t.Errorf("data.%s is a double", k)
		}
	}
	deep := d["o"].(map[string]any)["k"].(map[string]any)["deep"].(traits.Lister)
	if deep.Size() != types.Int(3) || deep.Get(types.Int(1)) != types.String("x") {
		t.Errorf("deep list = %v", deep)
	}

	// The same through CEL.
	env := mustEnv(t)
	for expr, want := range map[string]bool{
		`event.data.o.k.deep[2].y == 2`:                      true,
		`decimal(event.data.e) == decimal("1500")`:           true,
		`event.data.z == null`:                               true,
		`size(event.data.l) == 0 && size(event.data.m) == 0`: true,
		`event.data.s.endsWith("😀")`:                         true,
		`!has(event.data.extra) && !has(event.extra)`:        false, // event.extra is a compile error
	} {
		p, err := env.Compile(expr, KindBool, false)
		if strings.Contains(expr, "event.extra") {
			if err == nil {
				t.Errorf("%s compiled", expr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if got, err := p.Bool(ev); err != nil || got != want {
			t.Errorf("%s = %v, %v", expr, got, err)
		}
	}
}

func TestNewEventVoid(t *testing.T) {
	ev, err := NewEvent([]byte(`{"id":"v1","source":"payments-hub","type":"void","subject":"P1","occurred_at":"2026-10-16T07:45:00Z","supersedes":"p1"}`))
	if err != nil {
		t.Fatal(err)
	}
	env := mustEnv(t)
	p, _ := env.Compile(`event.type == "void" && !has(event.data.amount) && event.schema_version == 0 && size(event.data) == 0`, KindBool, false)
	if ok, err := p.Bool(ev); err != nil || !ok {
		t.Errorf("void = %v, %v", ok, err)
	}
}

func TestNewEventErrors(t *testing.T) {
	const ok = `"id":"x","type":"t","subject":"s","occurred_at":"2026-01-01T00:00:00Z"`
	tests := []struct{ raw, err string }{
		{``, "event envelope: offset 0: want an object"},
		{`[]`, "event envelope: offset 0: want an object"},
		{`{`, "event envelope: offset 1: want a string"},
		{`{"id":"x"`, "event envelope: offset 9: want ',' or '}' in object"},
		{`{` + ok + `} x`, "event envelope: offset 73: unexpected 'x' after the envelope"},
		{`{"type":"t","subject":"s","occurred_at":"2026-01-01T00:00:00Z"}`, "event envelope: id is missing"},
		{`{"id":"x","subject":"s","occurred_at":"2026-01-01T00:00:00Z"}`, "event envelope: type is missing"},
		{`{"id":"x","type":"t","occurred_at":"2026-01-01T00:00:00Z"}`, "event envelope: subject is missing"},
		{`{"id":"x","type":"t","subject":"s"}`, "event envelope: occurred_at is missing"},
		{`{"id":"x","type":"t","subject":"s","occurred_at":"yesterday"}`, `event envelope: occurred_at "yesterday" is not an RFC 3339 timestamp`},
		{`{"id":1,"type":"t"}`, "event envelope: id: offset 6: want a string"},
		{`{` + ok + `,"schema_version":"1"}`, "event envelope: schema_version: want an integer"},
		{`{` + ok + `,"data":[1]}`, "event envelope: data: offset 79: want an object"},
		{`{` + ok + `,"data":{"a":01}}`, "event envelope: data: offset 85: want ',' or '}' in object"},
		{`{` + ok + `,"data":{"a":1.}}`, "event envelope: data: offset 86: invalid number"},
		{`{` + ok + `,"data":{"a":-}}`, "event envelope: data: offset 85: invalid number"},
		{`{` + ok + `,"data":{"a":1e99999}}`, "event envelope: data: offset 84: number 1e99999 out of range"},
		{`{` + ok + `,"data":{"a":"\x"}}`, `event envelope: data: offset 85: invalid escape '\x'`},
		{`{` + ok + `,"data":{"a":"\u12"}}`, `event envelope: data: offset 85: invalid \u escape`},
		{`{` + ok + `,"data":{"a":"` + "\n" + `"}}`, "event envelope: data: offset 85: control character in string"},
		{`{` + ok + `,"data":{"a":"abc}}`, "event envelope: data: offset 90: unterminated string"},
		{`{` + ok + `,"data":{"a":tru}}`, "event envelope: data: offset 84: invalid literal"},
		{`{` + ok + `,"data":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`, "event envelope: data: nested deeper than 64 levels"},
	}
	for _, tt := range tests {
		_, err := NewEvent([]byte(tt.raw))
		if err == nil || err.Error() != tt.err {
			t.Errorf("NewEvent(%.60s)\n error %v\n want  %s", tt.raw, err, tt.err)
		}
	}
}

func TestNewEventLowerCaseTimestamp(t *testing.T) {
	ev, err := NewEvent([]byte(`{"id":"x","type":"t","subject":"s","occurred_at":"2026-10-31t18:00:00.5z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 10, 31, 18, 0, 0, 5e8, time.UTC); !ev.OccurredAt().Equal(want) {
		t.Errorf("occurred_at = %v, want %v", ev.OccurredAt(), want)
	}
}

func TestNewEventRepairsInvalidUTF8(t *testing.T) {
	ev, err := NewEvent([]byte("{\"id\":\"x\",\"type\":\"t\",\"subject\":\"a\xffb\",\"occurred_at\":\"2026-01-01T00:00:00Z\"}"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Subject() != "a\uFFFDb" {
		t.Errorf("subject = %q", ev.Subject())
	}
}

// FuzzReader checks the JSON reader against encoding/json: it accepts what
// encoding/json accepts (within its depth and number limits), rejects the rest,
// and reads the same values.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"a":"b"}`, `[1,2.5,-0,1e3,true,false,null]`, `"\u00e9\ud83d\ude00\ud800"`, `{"a":{"b":[{}]}}`,
		`123456789012345678901234567890`, `-0.0000001`, `{"a":1,"a":2}`, `"\/\b\f\n\r\t"`, ` [ ] `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := reader{s: string(b)}
		v, err := r.value(0)
		if err == nil {
			err = r.end()
		}
		valid := json.Valid(b)
		if err != nil {
			msg := err.Error()
			if valid && !errors.Is(err, errDepth) && !strings.Contains(msg, "out of range") {
				t.Fatalf("rejected valid JSON %q: %v", b, err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if !utf8.Valid(b) {
			return // NewEvent repairs invalid UTF-8 before reading; encoding/json per byte
		}
		want := decodeStd(t, b)
		if got := plain(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
		}
	})
}

// decodeStd decodes with encoding/json, numbers as canonical decimal strings.
func decodeStd(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return normalize(v)
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		return decimal.RequireFromString(string(x)).String()
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}

// plain turns the reader's values into what normalize produces.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case types.String:
		return string(x)
	case types.Bool:
		return bool(x)
	case types.Null:
		return nil
	case types.Int:
		return decimal.NewFromInt(int64(x)).String()
	case decimalVal:
		return x.d.String()
	case traits.Lister:
		out := []any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			e := it.Next()
			if m, ok := e.Value().(map[string]any); ok {
				out = append(out, plain(m))
			} else {
				out = append(out, plain(e))
			}
		}
		return out
	case traits.Mapper:
		return plain(x.Value())
	}
	panic("unexpected value " + reflect.TypeOf(v).String())
}
