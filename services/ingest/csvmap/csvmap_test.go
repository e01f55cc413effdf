package csvmap

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zone rules on every machine that runs the tests
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// baseMapping is a minimal valid mapping; tests append keys to it.
const baseMapping = `
type: test.event
schema_version: 1
source: test
id: "ev-${k}"
subject: "${k}"
occurred_at: "2026-10-31T18:00:00Z"
`

func mustParse(t *testing.T, yml string) *Mapping {
	t.Helper()
	m, err := ParseMapping([]byte(yml))
	if err != nil {
		t.Fatalf("ParseMapping:\n%s\nerror: %v", yml, err)
	}
	return m
}

// csvText writes records as CSV, so that tests need not quote by hand.
func csvText(records ...[]string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.WriteAll(records)
	return b.String()
}

// readAll maps every record of input and fails the test on a stopping error.
func readAll(t *testing.T, m *Mapping, input string) []Row {
	t.Helper()
	r, err := NewReader(m, strings.NewReader(input))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var rows []Row
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
}

// mapOne maps a single-record file and returns its row.
func mapOne(t *testing.T, yml string, header, record []string) Row {
	t.Helper()
	rows := readAll(t, mustParse(t, yml), csvText(header, record))
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	return rows[0]
}

// eventField returns one top-level key of an event as raw JSON.
func eventField(t *testing.T, event json.RawMessage, key string) string {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(event, &env); err != nil {
		t.Fatalf("event is not a JSON object: %v\n%s", err, event)
	}
	return string(env[key])
}

func TestTemplates(t *testing.T) {
	header := []string{"a", "b", "c d"}
	record := []string{"A", "B", " spaced "}
	tests := []struct {
		src     string
		want    string
		wantErr string
	}{
		{src: "${a}", want: "A"},
		{src: "x-${a}-${b}", want: "x-A-B"},
		{src: "${a}${b}${a}", want: "ABA"},
		{src: "${ a }", want: "A"},
		{src: "${c d}", want: " spaced "},
		{src: "$$${a}", want: "$A"},
		{src: "cost $$5 ${a}", want: "cost $5 A"},
		{src: "{a} and } are literal ${a}", want: "{a} and } are literal A"},
		{src: "ünïcödé-${a}", want: "ünïcödé-A"},
		{src: "${a", wantErr: `unterminated "${" at byte 0`},
		{src: "x${}", wantErr: `empty column reference "${}" at byte 1`},
		{src: "$a", wantErr: `lone "$" at byte 0`},
		{src: "${a}$", wantErr: `lone "$" at byte 4`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			tmpl, err := parseTemplate(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseTemplate(%q) error = %v, want it to contain %q", tt.src, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTemplate(%q): %v", tt.src, err)
			}
			index := map[string]int{}
			for i, h := range header {
				index[h] = i
			}
			if got := tmpl.bind(index).render(record); got != tt.want {
				t.Errorf("render = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTemplatesEndToEnd checks templates in the envelope fields through the
// public API, including that column values are used untrimmed.
func TestTemplatesEndToEnd(t *testing.T) {
	yml := `
type: loan.balance
schema_version: 2
source: "core $$ banking"
id: "cb-${date}-${loan}"
subject: "${loan}"
occurred_at: "${date}T18:00:00Z"
`
	row := mapOne(t, yml, []string{"date", "loan"}, []string{"2026-10-31", "LN 1.*>&"})
	if row.Err != nil {
		t.Fatal(row.Err)
	}
	// "$$" is only special in templates; source is copied as written.
	want := `{"id":"cb-2026-10-31-LN 1.*>&","source":"core $$ banking","type":"loan.balance","schema_version":2,"subject":"LN 1.*>&","occurred_at":"2026-10-31T18:00:00Z","data":{}}`
	if string(row.Event) != want {
		t.Errorf("event\n got %s\nwant %s", row.Event, want)
	}
}

func TestDataTypes(t *testing.T) {
	tests := []struct {
		name     string
		field    string // the YAML of data.v
		raw      string // the CSV value of column v
		wantData string // event.data, when no error is expected
		wantErr  string
	}{
		{name: "short form string", field: `"${v}"`, raw: "abc", wantData: `{"v":"abc"}`},
		{name: "string keeps spaces", field: `"${v}"`, raw: " a b ", wantData: `{"v":" a b "}`},
		{name: "string empty", field: `"${v}"`, raw: "", wantData: `{"v":""}`},
		{name: "string no html escaping", field: `"<${v}>"`, raw: "a&b", wantData: `{"v":"<a&b>"}`},
		{name: "string quotes and newline", field: `"${v}"`, raw: "say \"hi\"\nbye", wantData: `{"v":"say \"hi\"\nbye"}`},
		{name: "long form string", field: `{value: "${v}", type: string}`, raw: "x", wantData: `{"v":"x"}`},
		{name: "long form default type", field: `{value: "${v}"}`, raw: "x", wantData: `{"v":"x"}`},
		{name: "optional string empty", field: `{value: "${v}", optional: true}`, raw: "", wantData: `{}`},
		{name: "string invalid utf-8", field: `"${v}"`, raw: "M\xfcller", wantErr: `line 2: data.v (column "v"): "M\xfcller" is not valid UTF-8`},

		{name: "decimal", field: `{value: "${v}", type: decimal}`, raw: "1234.56", wantData: `{"v":"1234.56"}`},
		{name: "decimal integer", field: `{value: "${v}", type: decimal}`, raw: "12", wantData: `{"v":"12"}`},
		{name: "decimal negative", field: `{value: "${v}", type: decimal}`, raw: "-0.5", wantData: `{"v":"-0.5"}`},
		{name: "decimal trimmed", field: `{value: "${v}", type: decimal}`, raw: "  7.25\t", wantData: `{"v":"7.25"}`},
		{name: "decimal thousands", field: `{value: "${v}", type: decimal}`, raw: "-1,234,567.89", wantData: `{"v":"-1234567.89"}`},
		{name: "decimal keeps every digit", field: `{value: "${v}", type: decimal}`, raw: "12345678901234567890.123456789012345678", wantData: `{"v":"12345678901234567890.123456789012345678"}`},
		{name: "decimal keeps trailing zeros", field: `{value: "${v}", type: decimal}`, raw: "100.10", wantData: `{"v":"100.10"}`},
		{name: "decimal comma in point file", field: `{value: "${v}", type: decimal}`, raw: "1234,56", wantErr: `line 2: data.v (column "v"): invalid decimal "1234,56": thousands separator "," must separate groups of three digits (if the file writes 1.234,56 set decimal_comma: true)`},
		{name: "decimal misplaced separator", field: `{value: "${v}", type: decimal}`, raw: "12,34.5", wantErr: `invalid decimal "12,34.5"`},
		{name: "decimal two points", field: `{value: "${v}", type: decimal}`, raw: "1.2.3", wantErr: `invalid decimal "1.2.3"`},
		{name: "decimal exponent", field: `{value: "${v}", type: decimal}`, raw: "1e5", wantErr: `invalid decimal "1e5"`},
		{name: "decimal plus sign", field: `{value: "${v}", type: decimal}`, raw: "+5", wantErr: `invalid decimal "+5"`},
		{name: "decimal leading point", field: `{value: "${v}", type: decimal}`, raw: ".5", wantErr: `invalid decimal ".5"`},
		{name: "decimal trailing point", field: `{value: "${v}", type: decimal}`, raw: "5.", wantErr: `invalid decimal "5."`},
		{name: "decimal text", field: `{value: "${v}", type: decimal}`, raw: "n/a", wantErr: `invalid decimal "n/a"`},
		{name: "decimal currency sign", field: `{value: "${v}", type: decimal}`, raw: "€5", wantErr: `invalid decimal "€5"`},
		{name: "decimal empty", field: `{value: "${v}", type: decimal}`, raw: "", wantErr: `line 2: data.v (column "v"): empty value, want a decimal (set optional: true to omit the field when empty)`},
		{name: "decimal optional empty", field: `{value: "${v}", type: decimal, optional: true}`, raw: "", wantData: `{}`},
		{name: "decimal optional blank", field: `{value: "${v}", type: decimal, optional: true}`, raw: "   ", wantData: `{}`},
		{name: "decimal optional present", field: `{value: "${v}", type: decimal, optional: true}`, raw: "3.5", wantData: `{"v":"3.5"}`},
		{name: "decimal optional false", field: `{value: "${v}", type: decimal, optional: false}`, raw: "", wantErr: "empty value, want a decimal"},

		{name: "integer", field: `{value: "${v}", type: integer}`, raw: "42", wantData: `{"v":42}`},
		{name: "integer negative trimmed", field: `{value: "${v}", type: integer}`, raw: " -7 ", wantData: `{"v":-7}`},
		{name: "integer leading zeros", field: `{value: "${v}", type: integer}`, raw: "007", wantData: `{"v":7}`},
		{name: "integer max", field: `{value: "${v}", type: integer}`, raw: "9223372036854775807", wantData: `{"v":9223372036854775807}`},
		{name: "integer overflow", field: `{value: "${v}", type: integer}`, raw: "9223372036854775808", wantErr: `integer "9223372036854775808" out of range`},
		{name: "integer fraction", field: `{value: "${v}", type: integer}`, raw: "1.0", wantErr: `line 2: data.v (column "v"): invalid integer "1.0"`},
		{name: "integer thousands", field: `{value: "${v}", type: integer}`, raw: "1,000", wantErr: `invalid integer "1,000"`},
		{name: "integer empty", field: `{value: "${v}", type: integer}`, raw: "", wantErr: "empty value, want an integer"},
		{name: "integer optional empty", field: `{value: "${v}", type: integer, optional: true}`, raw: "", wantData: `{}`},

		{name: "boolean true", field: `{value: "${v}", type: boolean}`, raw: "true", wantData: `{"v":true}`},
		{name: "boolean TRUE", field: `{value: "${v}", type: boolean}`, raw: "TRUE", wantData: `{"v":true}`},
		{name: "boolean yes", field: `{value: "${v}", type: boolean}`, raw: "Yes", wantData: `{"v":true}`},
		{name: "boolean y", field: `{value: "${v}", type: boolean}`, raw: "y", wantData: `{"v":true}`},
		{name: "boolean 1", field: `{value: "${v}", type: boolean}`, raw: " 1 ", wantData: `{"v":true}`},
		{name: "boolean false", field: `{value: "${v}", type: boolean}`, raw: "False", wantData: `{"v":false}`},
		{name: "boolean no", field: `{value: "${v}", type: boolean}`, raw: "NO", wantData: `{"v":false}`},
		{name: "boolean n", field: `{value: "${v}", type: boolean}`, raw: "N", wantData: `{"v":false}`},
		{name: "boolean 0", field: `{value: "${v}", type: boolean}`, raw: "0", wantData: `{"v":false}`},
		{name: "boolean other", field: `{value: "${v}", type: boolean}`, raw: "maybe", wantErr: `line 2: data.v (column "v"): invalid boolean "maybe": want true/false, yes/no, y/n or 1/0`},
		{name: "boolean empty", field: `{value: "${v}", type: boolean}`, raw: "", wantErr: "empty value, want a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := mapOne(t, baseMapping+"data:\n  v: "+tt.field+"\n", []string{"k", "v"}, []string{"K1", tt.raw})
			if row.Line != 2 {
				t.Errorf("Line = %d, want 2", row.Line)
			}
			if tt.wantErr != "" {
				if row.Err == nil || !strings.Contains(row.Err.Error(), tt.wantErr) {
					t.Fatalf("Err = %v, want it to contain %q", row.Err, tt.wantErr)
				}
				if row.Event != nil {
					t.Errorf("Event = %s, want nil with an error", row.Event)
				}
				return
			}
			if row.Err != nil {
				t.Fatal(row.Err)
			}
			if got := eventField(t, row.Event, "data"); got != tt.wantData {
				t.Errorf("data = %s, want %s", got, tt.wantData)
			}
		})
	}
}

func TestDecimalSeparators(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		raw      string
		want     string
		wantErr  string
	}{
		{name: "comma decimal", settings: "decimal_comma: true", raw: "1234,56", want: "1234.56"},
		{name: "comma decimal with thousands", settings: "decimal_comma: true", raw: "-1.234.567,8", want: "-1234567.8"},
		{name: "comma decimal integer", settings: "decimal_comma: true", raw: "1.000", want: "1000"},
		{name: "point in comma file", settings: "decimal_comma: true", raw: "1234.56", wantErr: `thousands separator "." must separate groups of three digits (decimal_comma is true: the decimal separator is ",")`},
		{name: "point after comma", settings: "decimal_comma: true", raw: "1,234.56", wantErr: `invalid decimal "1,234.56"`},
		{name: "swiss apostrophe", settings: `thousands: "'"`, raw: "1'234'567.05", want: "1234567.05"},
		{name: "space thousands with comma", settings: "decimal_comma: true\nthousands: \" \"", raw: "1 234,5", want: "1234.5"},
		{name: "no thousands separator", settings: `thousands: ""`, raw: "1234.5", want: "1234.5"},
		{name: "no thousands separator rejects one", settings: `thousands: ""`, raw: "1,234.5", wantErr: `invalid decimal "1,234.5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := baseMapping + tt.settings + "\ndata:\n  v: {value: \"${v}\", type: decimal}\n"
			row := mapOne(t, yml, []string{"k", "v"}, []string{"K1", tt.raw})
			if tt.wantErr != "" {
				if row.Err == nil || !strings.Contains(row.Err.Error(), tt.wantErr) {
					t.Fatalf("Err = %v, want it to contain %q", row.Err, tt.wantErr)
				}
				return
			}
			if row.Err != nil {
				t.Fatal(row.Err)
			}
			if got, want := eventField(t, row.Event, "data"), `{"v":"`+tt.want+`"}`; got != want {
				t.Errorf("data = %s, want %s", got, want)
			}
		})
	}
}

func TestOccurredAt(t *testing.T) {
	tests := []struct {
		name     string
		timezone string // "" for none
		format   string // occurred_at_format, "" for none
		raw      string
		want     string
		wantErr  string
	}{
		{name: "RFC 3339 UTC", raw: "2026-10-31T18:00:00Z", want: "2026-10-31T18:00:00Z"},
		{name: "RFC 3339 offset", raw: "2026-10-31T18:00:00+01:00", want: "2026-10-31T17:00:00Z"},
		{name: "RFC 3339 offset wins over timezone", timezone: "America/New_York", raw: "2026-10-31T18:00:00+01:00", want: "2026-10-31T17:00:00Z"},
		{name: "RFC 3339 fraction", raw: "2026-10-31T18:00:00.250+01:00", want: "2026-10-31T17:00:00.25Z"},
		{name: "RFC 3339 trimmed", raw: " 2026-10-31T18:00:00Z ", want: "2026-10-31T18:00:00Z"},
		{name: "local without timezone", raw: "2026-10-31T18:00:00", wantErr: `time "2026-10-31T18:00:00" has no UTC offset and the mapping sets no timezone`},
		{name: "date without timezone", raw: "2026-10-31", wantErr: "has no UTC offset"},
		{name: "local in UTC", timezone: "UTC", raw: "2026-10-31T18:00:00", want: "2026-10-31T18:00:00Z"},

		// Frankfurt keeps Central European Time; its IANA zone is Europe/Berlin.
		{name: "Frankfurt winter time", timezone: "Europe/Berlin", raw: "2026-10-31T18:00:00", want: "2026-10-31T17:00:00Z"},
		{name: "Frankfurt summer time", timezone: "Europe/Berlin", raw: "2026-06-30T18:00:00", want: "2026-06-30T16:00:00Z"},
		{name: "Frankfurt day before clocks go back", timezone: "Europe/Berlin", raw: "2026-10-24T18:00:00", want: "2026-10-24T16:00:00Z"},
		{name: "Frankfurt day clocks go back", timezone: "Europe/Berlin", raw: "2026-10-25T18:00:00", want: "2026-10-25T17:00:00Z"},
		{name: "Frankfurt day clocks go forward", timezone: "Europe/Berlin", raw: "2026-03-29T18:00:00", want: "2026-03-29T16:00:00Z"},
		{name: "Frankfurt just after the gap", timezone: "Europe/Berlin", raw: "2026-03-29T03:00:00", want: "2026-03-29T01:00:00Z"},
		{name: "Frankfurt time in the gap", timezone: "Europe/Berlin", raw: "2026-03-29T02:30:00", wantErr: `time "2026-03-29T02:30:00": local time does not exist in Europe/Berlin (clocks go forward)`},
		{name: "Frankfurt repeated hour", timezone: "Europe/Berlin", raw: "2026-10-25T02:30:00", wantErr: `time "2026-10-25T02:30:00": local time occurs twice in Europe/Berlin (clocks go back)`},
		{name: "Frankfurt fraction", timezone: "Europe/Berlin", raw: "2026-10-31T18:00:00.5", want: "2026-10-31T17:00:00.5Z"},
		{name: "Frankfurt date is start of day", timezone: "Europe/Berlin", raw: "2026-06-30", want: "2026-06-29T22:00:00Z"},
		{name: "New York summer", timezone: "America/New_York", raw: "2026-07-01T17:00:00", want: "2026-07-01T21:00:00Z"},

		// Zones whose clocks change at midnight: a date is the first instant of the day.
		{name: "date whose midnight is skipped", timezone: "Asia/Beirut", raw: "2026-03-29", want: "2026-03-28T22:00:00Z"},
		{name: "date whose midnight repeats", timezone: "America/Havana", raw: "2026-11-01", want: "2026-11-01T04:00:00Z"},

		{name: "format date", timezone: "Europe/Berlin", format: "02.01.2006", raw: "31.10.2026", want: "2026-10-30T23:00:00Z"},
		{name: "format date-time", timezone: "Europe/Berlin", format: "02.01.2006 15:04", raw: "30.06.2026 18:00", want: "2026-06-30T16:00:00Z"},
		{name: "format date-time in gap", timezone: "Europe/Berlin", format: "02.01.2006 15:04", raw: "29.03.2026 02:30", wantErr: "does not exist in Europe/Berlin"},
		{name: "format with offset, no timezone", format: "2006-01-02 15:04 -0700", raw: "2026-10-31 18:00 +0100", want: "2026-10-31T17:00:00Z"},
		{name: "format with offset wins over timezone", timezone: "Asia/Tokyo", format: "2006-01-02 15:04 -0700", raw: "2026-10-31 18:00 +0100", want: "2026-10-31T17:00:00Z"},
		{name: "format mismatch", timezone: "Europe/Berlin", format: "02.01.2006", raw: "2026-10-31", wantErr: `line 2: occurred_at (column "t"): "2026-10-31" does not match occurred_at_format "02.01.2006"`},

		{name: "not a time", timezone: "Europe/Berlin", raw: "31/10/2026", wantErr: `line 2: occurred_at (column "t"): invalid time "31/10/2026"`},
		{name: "no seconds", timezone: "Europe/Berlin", raw: "2026-10-31T18:00", wantErr: `invalid time "2026-10-31T18:00"`},
		{name: "impossible date", timezone: "Europe/Berlin", raw: "2026-02-30", wantErr: `invalid time "2026-02-30"`},
		{name: "empty", timezone: "Europe/Berlin", raw: "", wantErr: `invalid time ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := "type: x\nschema_version: 1\nsource: s\nid: \"${k}\"\nsubject: \"${k}\"\noccurred_at: \"${t}\"\n"
			if tt.timezone != "" {
				yml += "timezone: " + tt.timezone + "\n"
			}
			if tt.format != "" {
				yml += "occurred_at_format: \"" + tt.format + "\"\n"
			}
			row := mapOne(t, yml, []string{"k", "t"}, []string{"K1", tt.raw})
			if tt.wantErr != "" {
				if row.Err == nil || !strings.Contains(row.Err.Error(), tt.wantErr) {
					t.Fatalf("Err = %v, want it to contain %q", row.Err, tt.wantErr)
				}
				return
			}
			if row.Err != nil {
				t.Fatal(row.Err)
			}
			if got := eventField(t, row.Event, "occurred_at"); got != `"`+tt.want+`"` {
				t.Errorf("occurred_at = %s, want %q", got, tt.want)
			}
		})
	}
}

// TestInZoneAgreesWithTimeDate checks the DST handling against the standard
// library for every hour of a year in which time.Date is unambiguous.
func TestInZoneAgreesWithTimeDate(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for wall := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC); wall.Year() == 2026; wall = wall.Add(time.Hour) {
		got, err := inZone(wall, loc, false)
		mo, d, h := wall.Month(), wall.Day(), wall.Hour()
		switch {
		case mo == time.March && d == 29 && h == 2, mo == time.October && d == 25 && h == 2:
			if err == nil {
				t.Errorf("%s: no error for a local time skipped or repeated by DST", wall.Format(localDateTime))
			}
		case err != nil:
			t.Errorf("%s: %v", wall.Format(localDateTime), err)
		default:
			want := time.Date(wall.Year(), mo, d, h, wall.Minute(), 0, 0, loc)
			if !got.Equal(want) {
				t.Errorf("%s: got %s, want %s", wall.Format(localDateTime), got.UTC(), want.UTC())
			}
		}
	}
}

func TestMissingColumns(t *testing.T) {
	yml := `
type: loan.balance
schema_version: 1
source: core-banking
id: "cb-${as_of_date}-${loan_id}"
subject: "${loan_id}"
occurred_at: "${as_of_date}T18:00:00Z"
data:
  counterparty_id: "${cpty}"
  days_past_due: {value: "${dpd}", type: integer}
  outstanding: {value: "${Outstanding}", type: decimal}
`
	m := mustParse(t, yml)
	_, err := NewReader(m, strings.NewReader("as_of_date,outstanding,other\n2026-10-31,1,2\n"))
	if err == nil {
		t.Fatal("NewReader: no error for missing columns")
	}
	for _, want := range []string{
		`csvmap: header (line 1): missing columns`,
		`"Outstanding" (used by data.outstanding) - the header has "outstanding"; names are case-sensitive`,
		`"cpty" (used by data.counterparty_id)`,
		`"dpd" (used by data.days_past_due)`,
		`"loan_id" (used by id, subject)`,
		`the header has "as_of_date", "outstanding", "other"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}

	t.Run("referenced column named twice", func(t *testing.T) {
		_, err := NewReader(mustParse(t, baseMapping), strings.NewReader("k,x,k\n1,2,3\n"))
		if err == nil || !strings.Contains(err.Error(), `columns named more than once "k" (used by id, subject)`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unreferenced column named twice is fine", func(t *testing.T) {
		if _, err := NewReader(mustParse(t, baseMapping), strings.NewReader("k,x,x\n1,2,3\n")); err != nil {
			t.Error(err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		_, err := NewReader(mustParse(t, baseMapping), strings.NewReader(""))
		if err == nil || !strings.Contains(err.Error(), "empty file") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestParseMappingErrors(t *testing.T) {
	tests := []struct {
		name string
		yml  string
		want []string // each must appear in the error
	}{
		{name: "unknown top-level key", yml: baseMapping + "delimeter: \";\"\n",
			want: []string{`mapping: delimeter: unknown key (line 8); known keys: type, schema_version`}},
		{name: "unknown type", yml: baseMapping + "data:\n  outstanding: {value: \"${k}\", type: money}\n",
			want: []string{`mapping: data.outstanding: unknown type "money"`}},
		{name: "unknown key in a data field", yml: baseMapping + "data:\n  v: {value: \"${k}\", type: decimal, optinal: true}\n",
			want: []string{`mapping: data.v: unknown key "optinal" (line 9); known keys: value, type, optional`}},
		{name: "long form without value", yml: baseMapping + "data:\n  v: {type: decimal}\n",
			want: []string{`mapping: data.v.value: required`}},
		{name: "empty data field", yml: baseMapping + "data:\n  v:\n",
			want: []string{`mapping: data.v: empty; want a template`}},
		{name: "data field list", yml: baseMapping + "data:\n  v: [a, b]\n",
			want: []string{`mapping: data.v: want a template or {value, type, optional}, got a list`}},
		{name: "duplicate data key", yml: baseMapping + "data:\n  v: \"${k}\"\n  v: \"${k}\"\n",
			want: []string{`mapping: data.v: duplicate key (line 10, first set at line 9)`}},
		{name: "duplicate top-level key", yml: baseMapping + "source: again\n",
			want: []string{`mapping: source: duplicate key (line 8, first set at line 4)`}},
		{name: "optional not a boolean", yml: baseMapping + "data:\n  v: {value: \"${k}\", optional: sometimes}\n",
			want: []string{`mapping: data.v.optional: want true or false, got "sometimes"`}},
		{name: "data not a mapping", yml: baseMapping + "data: [a]\n",
			want: []string{`mapping: data: want a mapping of field names to templates, got a list`}},
		{name: "missing required keys", yml: "data: {}\n",
			want: []string{"mapping: type: required", "mapping: source: required", "mapping: schema_version: required",
				"mapping: id: required", "mapping: subject: required", "mapping: occurred_at: required"}},
		{name: "schema_version text", yml: strings.Replace(baseMapping, "schema_version: 1", "schema_version: one", 1),
			want: []string{`mapping: schema_version: want a positive integer, got "one" (line 3)`}},
		{name: "schema_version zero", yml: strings.Replace(baseMapping, "schema_version: 1", "schema_version: 0", 1),
			want: []string{`mapping: schema_version: want a positive integer, got "0"`}},
		{name: "schema_version fraction", yml: strings.Replace(baseMapping, "schema_version: 1", "schema_version: 1.5", 1),
			want: []string{`mapping: schema_version: want a positive integer, got "1.5"`}},
		{name: "type not a string", yml: strings.Replace(baseMapping, "type: test.event", "type: {a: b}", 1),
			want: []string{`mapping: type: want a string, got a mapping (line 2)`}},
		{name: "delimiter too long", yml: baseMapping + "delimiter: \";;\"\n",
			want: []string{`mapping: delimiter: want exactly one character, got ";;"`}},
		{name: "delimiter single-quoted tab", yml: baseMapping + "delimiter: '\\t'\n",
			want: []string{`mapping: delimiter: got the two characters \t; write "\t" in double quotes for a tab`}},
		{name: "delimiter quote", yml: baseMapping + "delimiter: '\"'\n",
			want: []string{`mapping: delimiter: "\"" cannot be a CSV delimiter`}},
		{name: "Europe/Frankfurt is not an IANA zone", yml: baseMapping + "timezone: Europe/Frankfurt\n",
			want: []string{`mapping: timezone: unknown time zone "Europe/Frankfurt": want "Europe/Frankfurt" is not an IANA zone name; use "Europe/Berlin"`}},
		{name: "unknown zone", yml: baseMapping + "timezone: Mars/Olympus\n",
			want: []string{`mapping: timezone: unknown time zone "Mars/Olympus": want an IANA zone name such as "Europe/Berlin"`}},
		{name: "Local zone", yml: baseMapping + "timezone: Local\n",
			want: []string{`mapping: timezone: "Local" is not allowed`}},
		{name: "constant id", yml: strings.Replace(baseMapping, `id: "ev-${k}"`, `id: "ev-1"`, 1),
			want: []string{`mapping: id: template "ev-1" refers to no column: every row would get the same id`}},
		{name: "bad template", yml: strings.Replace(baseMapping, `subject: "${k}"`, `subject: "$k"`, 1),
			want: []string{`mapping: subject: template "$k": lone "$" at byte 0`}},
		{name: "bad data template", yml: baseMapping + "data:\n  v: {value: \"${k\", type: decimal}\n",
			want: []string{`mapping: data.v.value: template "${k": unterminated "${" at byte 0`}},
		{name: "format without a date", yml: baseMapping + "timezone: UTC\noccurred_at_format: \"15:04\"\n",
			want: []string{`mapping: occurred_at_format: Go layout "15:04" must contain a year, month and day`}},
		{name: "format with zone abbreviation", yml: baseMapping + "timezone: Europe/Berlin\noccurred_at_format: \"2006-01-02 15:04 MST\"\n",
			want: []string{`mapping: occurred_at_format: layout "2006-01-02 15:04 MST" reads a zone abbreviation (MST); use a numeric offset`}},
		{name: "format without offset needs timezone", yml: baseMapping + "occurred_at_format: \"02.01.2006\"\n",
			want: []string{`mapping: occurred_at_format: layout "02.01.2006" has no UTC offset, so timezone is required`}},
		{name: "decimal_comma not a boolean", yml: baseMapping + "decimal_comma: maybe\n",
			want: []string{`mapping: decimal_comma: want true or false, got "maybe"`}},
		{name: "thousands same as decimal separator", yml: baseMapping + "decimal_comma: true\nthousands: \",\"\n",
			want: []string{`mapping: thousands: "," is also the decimal separator (see decimal_comma)`}},
		{name: "thousands too long", yml: baseMapping + "thousands: \"..\"\n",
			want: []string{`mapping: thousands: want one character or "", got ".."`}},
		{name: "thousands digit", yml: baseMapping + "thousands: \"0\"\n",
			want: []string{`mapping: thousands: "0" cannot be a thousands separator`}},
		{name: "yaml syntax", yml: "type: [unclosed\n", want: []string{"mapping: yaml: line"}},
		{name: "not a mapping", yml: "- a\n- b\n", want: []string{"mapping: line 1: cannot unmarshal !!seq"}},
		{name: "empty document", yml: "", want: []string{"mapping: empty document"}},
		{name: "two documents", yml: baseMapping + "---\n" + baseMapping, want: []string{"mapping: more than one YAML document"}},
		{name: "every problem at once", yml: baseMapping + "timezone: Nowhere\ndata:\n  a: {value: \"${k}\", type: money}\n  b: \"$\"\n",
			want: []string{`mapping: timezone: unknown time zone "Nowhere"`, `mapping: data.a: unknown type "money"`, `mapping: data.b: template "$": lone "$"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMapping([]byte(tt.yml))
			if err == nil {
				t.Fatalf("ParseMapping: no error for\n%s", tt.yml)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n%v\ndoes not contain:\n%s", err, want)
				}
			}
		})
	}
}

func TestParseMappingAccepts(t *testing.T) {
	tests := []struct{ name, yml string }{
		{name: "minimal", yml: baseMapping},
		{name: "tab delimiter", yml: baseMapping + "delimiter: \"\\t\"\n"},
		{name: "non-ASCII delimiter", yml: baseMapping + "delimiter: \"§\"\n"},
		{name: "null optional keys", yml: baseMapping + "timezone:\ndelimiter: ~\ndata:\n"},
		{name: "format with offset needs no timezone", yml: baseMapping + "occurred_at_format: \"2006-01-02T15:04:05Z07:00\"\n"},
		{name: "anchors", yml: baseMapping + "data:\n  a: &amount {value: \"${k}\", type: decimal}\n  b: *amount\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustParse(t, tt.yml) })
	}
}

func TestBOMAndSemicolon(t *testing.T) {
	yml := `
type: loan.balance
schema_version: 1
source: core-banking
delimiter: ";"
decimal_comma: true
timezone: Europe/Berlin
id: "cb-${Stichtag}-${Konto}"
subject: "${Konto}"
occurred_at: "${Stichtag}"
occurred_at_format: "02.01.2006"
data:
  outstanding: {value: "${Saldo}", type: decimal}
  name: "${Name}"
`
	m := mustParse(t, yml)
	const want = `{"id":"cb-31.10.2026-DE-1","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"DE-1","occurred_at":"2026-10-30T23:00:00Z","data":{"outstanding":"-1234.50","name":"Müller; Söhne"}}`
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{name: "BOM, padded header, CRLF",
			input: "\uFEFFStichtag ; Konto ;Saldo; Name\r\n31.10.2026;DE-1;-1.234,50;\"Müller; Söhne\"\r\n"},
		{name: "BOM before a quoted header",
			input: "\uFEFF\"Stichtag\";\"Konto\";\"Saldo\";\"Name\"\n\"31.10.2026\";\"DE-1\";\"-1.234,50\";\"Müller; Söhne\"\n"},
		{name: "unquoted delimiter in a value",
			input:   "\uFEFFStichtag;Konto;Saldo;Name\n31.10.2026;DE-1;-1.234,50;Müller; Söhne\n",
			wantErr: "line 2: 5 fields, but the header has 4 (is a value containing the delimiter not quoted?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := readAll(t, m, tt.input)
			if len(rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(rows))
			}
			row := rows[0]
			if tt.wantErr != "" {
				if row.Err == nil || row.Err.Error() != tt.wantErr {
					t.Fatalf("Err = %v, want %q", row.Err, tt.wantErr)
				}
				return
			}
			if row.Err != nil {
				t.Fatal(row.Err)
			}
			if string(row.Event) != want {
				t.Errorf("event\n got %s\nwant %s", row.Event, want)
			}
		})
	}
}

func TestRows(t *testing.T) {
	yml := baseMapping + `
data:
  amount: {value: "${amount}", type: decimal}
  days: {value: "${days}", type: integer}
  note: "${note}"
`
	m := mustParse(t, yml)
	input := "k,amount,days,note\n" + // line 1
		"A,1.5,3,plain\n" + // line 2
		"\n" + // line 3: blank lines are skipped
		"B,2.5,4,\"spans\ntwo lines\"\n" + // lines 4-5
		"C,x,y,bad values\n" + // line 6: two field errors
		"D,1\n" + // line 7: too few fields
		"E,7,8,after the errors\n" // line 8
	rows := readAll(t, m, input)
	type want struct {
		line int
		err  []string
		note string
	}
	wants := []want{
		{line: 2, note: "plain"},
		{line: 4, note: "spans\ntwo lines"},
		{line: 6, err: []string{
			`line 6: data.amount (column "amount"): invalid decimal "x"`,
			`line 6: data.days (column "days"): invalid integer "y"`}},
		{line: 7, err: []string{"line 7: 2 fields, but the header has 4"}},
		{line: 8, note: "after the errors"},
	}
	if len(rows) != len(wants) {
		t.Fatalf("got %d rows, want %d: %+v", len(rows), len(wants), rows)
	}
	for i, w := range wants {
		row := rows[i]
		if row.Line != w.line {
			t.Errorf("row %d: Line = %d, want %d", i, row.Line, w.line)
		}
		if w.err != nil {
			if row.Err == nil {
				t.Errorf("line %d: no error", w.line)
				continue
			}
			for _, e := range w.err {
				if !strings.Contains(row.Err.Error(), e) {
					t.Errorf("line %d: error %q does not contain %q", w.line, row.Err, e)
				}
			}
			continue
		}
		if row.Err != nil {
			t.Errorf("line %d: %v", w.line, row.Err)
			continue
		}
		var ev struct {
			Data struct{ Note string } `json:"data"`
		}
		if err := json.Unmarshal(row.Event, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Data.Note != w.note {
			t.Errorf("line %d: note = %q, want %q", w.line, ev.Data.Note, w.note)
		}
	}
}

func TestNextStopsOnBrokenCSV(t *testing.T) {
	r, err := NewReader(mustParse(t, baseMapping), strings.NewReader("k\nA\n\"B\nC\n"))
	if err != nil {
		t.Fatal(err)
	}
	if row, err := r.Next(); err != nil || row.Err != nil || row.Line != 2 {
		t.Fatalf("first row = %+v, %v", row, err)
	}
	_, err = r.Next()
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *csv.ParseError", err)
	}
	if _, again := r.Next(); again != err {
		t.Errorf("second call: err = %v, want the same error again", again)
	}
}

func TestHeaderOnly(t *testing.T) {
	r, err := NewReader(mustParse(t, baseMapping), strings.NewReader("k\n"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("Next = %v, want io.EOF", err)
		}
	}
}

// TestLoansEODExample maps the worked example in docs/examples and compares
// the events with testdata/loans-eod.golden.ndjson (go test -update rewrites it).
func TestLoansEODExample(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "docs", "examples")
	yml, err := os.ReadFile(filepath.Join(dir, "loans-eod.mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	input, err := os.ReadFile(filepath.Join(dir, "loans-eod.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, mustParse(t, string(yml)), string(input))
	if len(rows) != 10 {
		t.Fatalf("got %d rows, want 10", len(rows))
	}
	var got bytes.Buffer
	for i, row := range rows {
		if row.Err != nil {
			t.Errorf("row %d: %v", i, row.Err)
		}
		if row.Line != i+2 {
			t.Errorf("row %d: Line = %d, want %d", i, row.Line, i+2)
		}
		got.Write(row.Event)
		got.WriteByte('\n')
	}

	// Some rows spelt out: thousands separators removed, optional fields
	// present and absent, a subject with a space, a dot and non-ASCII, and
	// 18:00 Frankfurt winter time as 17:00 UTC.
	want := map[int]string{
		0: `{"id":"cb-2026-10-31-LN-6001","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-6001","occurred_at":"2026-10-31T17:00:00Z","data":{"loan_id":"LN-6001","counterparty_id":"CP-1001","exposure_class":"corporate","product":"term_loan","outstanding":"12500000.00","currency":"EUR","maturity_date":"2031-12-31"}}`,
		1: `{"id":"cb-2026-10-31-LN-6002","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-6002","occurred_at":"2026-10-31T17:00:00Z","data":{"loan_id":"LN-6002","counterparty_id":"CP-1002","exposure_class":"corporate","product":"revolving_credit","outstanding":"1800000.00","undrawn_commitment":"3200000.00","ccf":"0.5","currency":"EUR","maturity_date":"2028-06-30"}}`,
		4: `{"id":"cb-2026-10-31-LN-6005","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-6005","occurred_at":"2026-10-31T17:00:00Z","data":{"loan_id":"LN-6005","counterparty_id":"CP-2001","exposure_class":"retail","product":"overdraft","outstanding":"1245.67","undrawn_commitment":"3754.33","ccf":"0.1","currency":"EUR"}}`,
		9: `{"id":"cb-2026-10-31-LN 6010.B-Zürich","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN 6010.B-Zürich","occurred_at":"2026-10-31T17:00:00Z","data":{"loan_id":"LN 6010.B-Zürich","counterparty_id":"CP-1003","exposure_class":"defaulted","product":"term_loan","outstanding":"980000.00","currency":"CHF","maturity_date":"2027-12-31"}}`,
	}
	for i, w := range want {
		if string(rows[i].Event) != w {
			t.Errorf("line %d:\n got %s\nwant %s", rows[i].Line, rows[i].Event, w)
		}
	}

	golden := filepath.Join("testdata", "loans-eod.golden.ndjson")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantAll, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), wantAll) {
		t.Errorf("events differ from %s (go test -update rewrites it):\n%s", golden, got.Bytes())
	}
}

// TestNoFloats checks that numbers survive a decode with UseNumber exactly:
// an integer stays a JSON number, a decimal a JSON string.
func TestNoFloats(t *testing.T) {
	yml := baseMapping + "data:\n  big: {value: \"${big}\", type: integer}\n  amount: {value: \"${amount}\", type: decimal}\n"
	row := mapOne(t, yml, []string{"k", "big", "amount"}, []string{"K", "9007199254740993", "0.1"})
	if row.Err != nil {
		t.Fatal(row.Err)
	}
	dec := json.NewDecoder(bytes.NewReader(row.Event))
	dec.UseNumber()
	var ev struct{ Data map[string]any }
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if n, ok := ev.Data["big"].(json.Number); !ok || n.String() != "9007199254740993" {
		t.Errorf("big = %#v, want json.Number 9007199254740993", ev.Data["big"])
	}
	if s, ok := ev.Data["amount"].(string); !ok || s != "0.1" {
		t.Errorf("amount = %#v, want the string \"0.1\"", ev.Data["amount"])
	}
}
