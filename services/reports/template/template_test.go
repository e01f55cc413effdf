package template

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/services/reports/schedule"
	"github.com/shopspring/decimal"
)

// catalog is a fixed figure catalog, shaped like the demo bank's rule sets
// (rules/own-funds.yaml, rules/credit-risk.yaml).
type catalog map[string]struct {
	kind string
	dims []string
}

func (c catalog) Figure(name string) (string, []string, bool) {
	f, ok := c[name]
	return f.kind, f.dims, ok
}

var demoCatalog = catalog{
	"gl_balance":               {"cumulative", []string{"gl_account", "entity"}},
	"tier1_capital":            {"cumulative", []string{"tier", "gl_account"}},
	"tier2_capital":            {"cumulative", []string{"gl_account"}},
	"cet1_capital":             {"derived", nil},
	"own_funds":                {"derived", nil},
	"loan_exposure":            {"stock", []string{"counterparty", "exposure_class"}},
	"off_balance_exposure":     {"stock", []string{"counterparty", "exposure_class"}},
	"total_credit_exposure":    {"derived", nil},
	"large_exposure_threshold": {"derived", nil},
}

func mustParse(t *testing.T, src string, cat Catalog) *Template {
	t.Helper()
	tpl, err := Parse([]byte(src), cat)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tpl
}

func TestParseExample(t *testing.T) {
	src, err := os.ReadFile("testdata/corep-own-funds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl := mustParse(t, string(src), demoCatalog)

	if tpl.ID != "corep-own-funds" || tpl.Name != "COREP C 01.00 Own funds (simplified)" || tpl.Regulator != "demo-nca" ||
		!strings.HasPrefix(tpl.Description, "Own funds of the demo bank") {
		t.Errorf("header = %q %q %q %q", tpl.ID, tpl.Name, tpl.Regulator, tpl.Description)
	}
	if tpl.Frequency != schedule.Quarterly || tpl.Schedule != "0 6 10 1,4,7,10 *" || tpl.Timezone != "Europe/Berlin" ||
		tpl.Location == nil || tpl.Location.String() != "Europe/Berlin" {
		t.Errorf("timing = %q %q %q %v", tpl.Frequency, tpl.Schedule, tpl.Timezone, tpl.Location)
	}
	if tpl.ReportingCurrency != "EUR" || tpl.Decimals != 2 || tpl.NumberFormat != "#,##0.00" || tpl.Layout != "layout.xlsx" ||
		tpl.SignOff != SignOffRequired {
		t.Errorf("format = %q %d %q %q %q", tpl.ReportingCurrency, tpl.Decimals, tpl.NumberFormat, tpl.Layout, tpl.SignOff)
	}
	if !reflect.DeepEqual(tpl.Outputs, []string{"xlsx", "csv", "json"}) {
		t.Errorf("outputs = %q", tpl.Outputs)
	}
	if tpl.Submission == nil || *tpl.Submission != (Submission{Channel: "regulator-sim"}) {
		t.Errorf("submission = %+v", tpl.Submission)
	}
	if string(tpl.Source) != string(src) {
		t.Error("source not kept")
	}

	if len(tpl.Sheets) != 2 || tpl.Sheets[0].Name != "C 01.00" || tpl.Sheets[1].Name != "LE" {
		t.Fatalf("sheets = %+v", tpl.Sheets)
	}
	cells := tpl.Sheets[0].Cells
	if len(cells) != 5 {
		t.Fatalf("cells = %+v", cells)
	}
	wantCET1 := Cell{Code: "r0020_c0010", At: "D10", Label: "Common equity tier 1 capital", Figure: "tier1_capital",
		Where: map[string]string{"tier": "cet1"}}
	if !reflect.DeepEqual(cells[2], wantCET1) {
		t.Errorf("cells[2] = %+v, want %+v", cells[2], wantCET1)
	}
	if cells[0].Where != nil { // where: {} is no filter
		t.Errorf("cells[0].Where = %v, want nil", cells[0].Where)
	}

	tables := tpl.Sheets[1].Tables
	if len(tables) != 2 {
		t.Fatalf("tables = %+v", tables)
	}
	le := tables[0]
	if le.Code != "large_exposures" || le.At != "B8" || le.Figure != "loan_exposure" || le.Limit != 20 ||
		!reflect.DeepEqual(le.GroupBy, []string{"counterparty"}) || le.Having != `value >= figure("large_exposure_threshold")` {
		t.Errorf("large_exposures = %+v", le)
	}
	if want := []OrderKey{{By: "value", Desc: true}, {By: "counterparty"}}; !reflect.DeepEqual(le.Order, want) {
		t.Errorf("large_exposures order = %v, want %v", le.Order, want)
	}
	if want := []OrderKey{{By: "exposure_class"}}; !reflect.DeepEqual(tables[1].Order, want) {
		t.Errorf("exposures_by_class order = %v, want %v", tables[1].Order, want)
	}
	threshold := func(name string, dims map[string]string) (decimal.Decimal, error) {
		if name != "large_exposure_threshold" || dims != nil {
			return decimal.Decimal{}, errors.New("unexpected figure")
		}
		return decimal.RequireFromString("42123456.79"), nil
	}
	for _, c := range []struct {
		value string
		keep  bool
	}{{"42123456.79", true}, {"42123456.78", false}, {"60000000", true}} {
		keep, err := le.Keep(decimal.RequireFromString(c.value), map[string]string{"counterparty": "CP-1"}, threshold)
		if err != nil || keep != c.keep {
			t.Errorf("Keep(%s) = %v, %v; want %v", c.value, keep, err, c.keep)
		}
	}
	byClass := tables[1]
	if keep, err := byClass.Keep(decimal.NewFromInt(5), map[string]string{"exposure_class": "sovereign"}, nil); err != nil || keep {
		t.Errorf("Keep(sovereign) = %v, %v", keep, err)
	}

	if len(tpl.Validations) != 4 {
		t.Fatalf("validations = %+v", tpl.Validations)
	}
	sev := []string{}
	for _, v := range tpl.Validations {
		sev = append(sev, v.ID+":"+v.Severity)
	}
	if got := strings.Join(sev, " "); got != "v0001:error v0002:error v0003:warning v0004:error" {
		t.Errorf("severities = %s", got)
	}
	reported := map[string]string{"r0010_c0010": "0.3", "r0015_c0010": "0.1", "r0750_c0010": "0.2"}
	ok, err := tpl.Validations[0].Program.Validate(func(code string) (decimal.Decimal, error) {
		return decimal.RequireFromString(reported[code]), nil
	}, nil, nil)
	if err != nil || !ok {
		t.Errorf("v0001 on 0.3 == 0.1 + 0.2: %v, %v", ok, err)
	}

	wantFigures := []string{"cet1_capital", "large_exposure_threshold", "loan_exposure", "own_funds", "tier1_capital", "tier2_capital"}
	if got := tpl.Figures(); !reflect.DeepEqual(got, wantFigures) {
		t.Errorf("Figures = %q, want %q", got, wantFigures)
	}

	// The schedule, through the template.
	run := time.Date(2026, 10, 10, 6, 0, 0, 0, tpl.Location)
	if got := tpl.PeriodFor(run); got != "2026-Q3" {
		t.Errorf("PeriodFor(%v) = %q", run, got)
	}
	runs, err := tpl.NextRuns(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 2)
	if err != nil || len(runs) != 2 || !runs[0].Equal(run) || tpl.PeriodFor(runs[1]) != "2026-Q4" {
		t.Errorf("NextRuns = %v, %v", runs, err)
	}
	missed, err := tpl.MissedRuns(run.AddDate(-1, 0, 0), run)
	if err != nil || len(missed) != 4 || tpl.PeriodFor(missed[0]) != "2025-Q4" {
		t.Errorf("MissedRuns = %v, %v", missed, err)
	}

	// Without a catalog, the same template parses: figures are not looked up.
	if _, err := Parse(src, nil); err != nil {
		t.Errorf("Parse without catalog: %v", err)
	}
}

// minimal is a valid template with one of everything; the refusal tests edit it.
const minimal = `id: test-report
name: Test report
regulator: demo-nca
frequency: quarterly
schedule: "0 6 10 1,4,7,10 *"
timezone: Europe/Berlin
reporting_currency: EUR
sheets:
  - name: Own funds
    cells:
      - code: r0010
        at: D8
        label: Own funds
        figure: own_funds
      - code: r0020
        at: D9
        figure: tier1_capital
        where: {tier: cet1}
    tables:
      - code: large_exposures
        at: B20
        figure: loan_exposure
        group_by: [counterparty]
        having: value >= figure("large_exposure_threshold")
        order_by: value desc
validations:
  - id: v1
    expr: cell("r0010") >= cell("r0020")
    severity: error
`

// TestValidationOverTableRows parses a validation that reads a table's rows
// and has a message.
func TestValidationOverTableRows(t *testing.T) {
	src := strings.Replace(minimal, `    expr: cell("r0010") >= cell("r0020")
    severity: error
`, `    expr: cell("r0010") >= cell("r0020")
    severity: error
  - id: le1
    expr: rows("large_exposures").all(v, v <= figure("large_exposure_threshold") * 2 && v <= cell("r0020"))
    severity: warning
    message: "  CRR Art. 395(1): an exposure to a group of connected clients exceeds 25% of tier 1 capital "
`, 1)
	tpl := mustParse(t, src, demoCatalog)
	v := tpl.Validations[1]
	if v.ID != "le1" || v.Severity != SeverityWarning || v.Message != "CRR Art. 395(1): an exposure to a group of connected clients exceeds 25% of tier 1 capital" {
		t.Fatalf("le1 = %+v", v)
	}
	if got := v.Program.TableRefs(); !reflect.DeepEqual(got, []string{"large_exposures"}) {
		t.Errorf("TableRefs = %q", got)
	}
	if tpl.Validations[0].Message != "" {
		t.Errorf("v1 message = %q, want none", tpl.Validations[0].Message)
	}
	rows := func(code string) ([]decimal.Decimal, error) {
		return []decimal.Decimal{decimal.RequireFromString("300"), decimal.RequireFromString("200")}, nil
	}
	figure := func(string, map[string]string) (decimal.Decimal, error) { return decimal.RequireFromString("100"), nil }
	for _, tt := range []struct {
		r0020 string
		want  bool
	}{{"300", false}, {"200", false}, {"1000", false}} {
		cell := func(string) (decimal.Decimal, error) { return decimal.RequireFromString(tt.r0020), nil }
		ok, err := v.Program.Validate(cell, rows, figure)
		if err != nil || ok != tt.want {
			t.Errorf("r0020 %s: %v, %v; want %v", tt.r0020, ok, err, tt.want)
		}
	}
	figure = func(string, map[string]string) (decimal.Decimal, error) { return decimal.RequireFromString("150"), nil }
	cell := func(string) (decimal.Decimal, error) { return decimal.RequireFromString("300"), nil }
	if ok, err := v.Program.Validate(cell, rows, figure); err != nil || !ok {
		t.Errorf("every row within both limits: %v, %v", ok, err)
	}
}

func TestDefaults(t *testing.T) {
	tpl := mustParse(t, minimal, demoCatalog)
	if tpl.Decimals != 2 || tpl.NumberFormat != "#,##0.00" || tpl.SignOff != SignOffNone || tpl.Layout != "" || tpl.Submission != nil ||
		!reflect.DeepEqual(tpl.Outputs, DefaultOutputs) || tpl.Description != "" {
		t.Errorf("defaults: %d %q %q %q %v %q", tpl.Decimals, tpl.NumberFormat, tpl.SignOff, tpl.Layout, tpl.Submission, tpl.Outputs)
	}
	if tpl.Sheets[0].Tables[0].Limit != 0 {
		t.Errorf("limit = %d, want 0 (none)", tpl.Sheets[0].Tables[0].Limit)
	}
	for decimals, want := range map[string]string{"0": "#,##0", "1": "#,##0.0", "2": "#,##0.00", "4": "#,##0.0000", "10": "#,##0.0000000000"} {
		tpl := mustParse(t, minimal+"decimals: "+decimals+"\n", demoCatalog)
		if tpl.NumberFormat != want {
			t.Errorf("decimals %s: number format %q, want %q", decimals, tpl.NumberFormat, want)
		}
	}
	tpl = mustParse(t, minimal+"decimals: 0\nnumber_format: '#,##0.00'\n", demoCatalog)
	if tpl.Decimals != 0 || tpl.NumberFormat != "#,##0.00" {
		t.Errorf("explicit number format: %d %q", tpl.Decimals, tpl.NumberFormat)
	}
	tpl = mustParse(t, strings.Replace(minimal, "    severity: error\n", "", 1)+
		"outputs: [json]\nsign_off: none\nsubmission: {channel: regulator-sim, auto: true}\n", demoCatalog)
	if tpl.Validations[0].Severity != SeverityError || !reflect.DeepEqual(tpl.Outputs, []string{"json"}) ||
		*tpl.Submission != (Submission{Channel: "regulator-sim", Auto: true}) {
		t.Errorf("severity %q, outputs %q, submission %+v", tpl.Validations[0].Severity, tpl.Outputs, tpl.Submission)
	}
	// The order: the key of order_by, then the group_by dimensions.
	for _, c := range []struct {
		orderBy string
		want    []OrderKey
	}{
		{"counterparty DESC", []OrderKey{{By: "counterparty", Desc: true}, {By: "exposure_class"}}},
		{"value", []OrderKey{{By: "value"}, {By: "exposure_class"}, {By: "counterparty"}}},
		{"exposure_class asc", []OrderKey{{By: "exposure_class"}, {By: "counterparty"}}},
	} {
		tpl = mustParse(t, strings.NewReplacer("group_by: [counterparty]", "group_by: [exposure_class, counterparty]",
			"order_by: value desc", "order_by: "+c.orderBy).Replace(minimal), demoCatalog)
		tb := tpl.Sheets[0].Tables[0]
		if tb.OrderBy != c.orderBy || !reflect.DeepEqual(tb.Order, c.want) {
			t.Errorf("order_by %s: %q %v, want %v", c.orderBy, tb.OrderBy, tb.Order, c.want)
		}
	}
	tpl = mustParse(t, edit(t, "        order_by: value desc\n", ""), demoCatalog)
	if tb := tpl.Sheets[0].Tables[0]; tb.OrderBy != "" || !reflect.DeepEqual(tb.Order, []OrderKey{{By: "counterparty"}}) {
		t.Errorf("default order: %q %v", tb.OrderBy, tb.Order)
	}
	// Lower-case and absolute references are written canonically.
	tpl = mustParse(t, strings.Replace(minimal, "at: D8", "at: $d$8", 1), demoCatalog)
	if at := tpl.Sheets[0].Cells[0].At; at != "D8" {
		t.Errorf("at = %q, want D8", at)
	}
}

// edit replaces old with new in minimal, once; it fails the test when old is
// not there.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	src := minimal
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(src, pairs[i]) {
			t.Fatalf("minimal has no %q", pairs[i])
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

type want struct{ cell, field, message string }

func TestRefusals(t *testing.T) {
	const topFields = "id, name, description, regulator, frequency, schedule, timezone, reporting_currency, decimals, number_format, layout, sign_off, sheets, validations, outputs, submission"
	tests := []struct {
		name  string
		edits []string // pairs of old, new in minimal
		extra string   // appended to minimal
		cat   Catalog
		want  []want
	}{
		// The template as a whole.
		{name: "bad id", edits: []string{"id: test-report", "id: Test_Report"},
			want: []want{{"", "id", `"Test_Report" is not a valid template id: use lower-case letters, digits and "-", starting with a letter or digit`}}},
		{name: "missing fields", edits: []string{"id: test-report\nname: Test report\nregulator: demo-nca\n", ""},
			want: []want{
				{"", "id", "required, e.g. id: corep-own-funds"},
				{"", "name", "required: the template's display name"},
				{"", "regulator", "required: the regulator the filings go to, e.g. regulator: demo-nca"},
			}},
		{name: "frequency", edits: []string{"frequency: quarterly", "frequency: weekly"},
			want: []want{{"", "frequency", `"weekly" is not a frequency: want monthly, quarterly or annual`}}},
		{name: "schedule with four fields", edits: []string{`schedule: "0 6 10 1,4,7,10 *"`, `schedule: "0 6 10 1,4,7,10"`},
			want: []want{{"", "schedule", `schedule "0 6 10 1,4,7,10": expected exactly 5 fields, found 4: [0 6 10 1,4,7,10]`}}},
		{name: "schedule that never runs", edits: []string{`schedule: "0 6 10 1,4,7,10 *"`, `schedule: "0 6 31 2 *"`},
			want: []want{{"", "schedule", `schedule "0 6 31 2 *" never runs: no such date`}}},
		{name: "schedule descriptor", edits: []string{`schedule: "0 6 10 1,4,7,10 *"`, `schedule: "@monthly"`},
			want: []want{{"", "schedule", `schedule "@monthly": descriptors such as @monthly are not supported: write the five fields, e.g. "0 6 5 * *"`}}},
		{name: "no such time zone", edits: []string{"timezone: Europe/Berlin", "timezone: Europe/Frankfurt"},
			want: []want{{"", "timezone", `unknown time zone "Europe/Frankfurt": want an IANA name such as Europe/Berlin or UTC`}}},
		{name: "local time zone", edits: []string{"timezone: Europe/Berlin", "timezone: Local"},
			want: []want{{"", "timezone", `"Local" depends on the host: name the zone, e.g. Europe/Berlin`}}},
		{name: "currency", edits: []string{"reporting_currency: EUR", "reporting_currency: eur"},
			want: []want{{"", "reporting_currency", `"eur" is not a currency code: want three upper-case letters, e.g. EUR`}}},
		{name: "decimals out of range", extra: "decimals: 11\n",
			want: []want{{"", "decimals", "11 is out of range: want 0 to 10"}}},
		{name: "decimals not a number", extra: "decimals: two\n",
			want: []want{{"", "decimals", `want a whole number, not "two"`}}},
		{name: "empty number format", extra: "number_format: ''\n",
			want: []want{{"", "number_format", `must not be empty: leave it out for the default, e.g. "#,##0.00" for 2 decimals`}}},
		{name: "unknown top-level field", extra: "colour: red\n",
			want: []want{{"", "colour", `unknown field "colour" (fields: ` + topFields + `)`}}},
		{name: "sign off", extra: "sign_off: yes\n",
			want: []want{{"", "sign_off", `"yes": want required or none`}}},
		{name: "outputs", extra: "outputs: [xlsx, pdf, xlsx]\n",
			want: []want{
				{"", "outputs[1]", `"pdf" is not an output: want xlsx, csv or json`},
				{"", "outputs[2]", "xlsx is listed twice"},
			}},
		{name: "no outputs", extra: "outputs: []\n",
			want: []want{{"", "outputs", "at least one of xlsx, csv, json; leave it out for all three"}}},
		{name: "outputs not a list", extra: "outputs: xlsx\n",
			want: []want{{"", "outputs", `want a list of strings, not "xlsx"`}}},
		{name: "layout without xlsx", extra: "layout: layout.xlsx\noutputs: [csv, json]\n",
			want: []want{{"", "layout", "the layout fills the xlsx output, which outputs does not list"}}},
		{name: "layout path", extra: "layout: ../other/layout.xlsx\n",
			want: []want{{"", "layout", `"../other/layout.xlsx": want the file name of a workbook next to template.yaml, e.g. layout.xlsx`}}},
		{name: "layout not xlsx", extra: "layout: layout.xls\n",
			want: []want{{"", "layout", `"layout.xls": the layout is an Excel workbook (.xlsx)`}}},
		{name: "submission without channel", extra: "submission: {auto: true}\n",
			want: []want{{"", "submission.channel", "required: the channel filings are submitted through, e.g. channel: regulator-sim"}}},
		{name: "submission unknown field", extra: "submission: {channel: regulator-sim, mode: auto}\n",
			want: []want{{"", "submission.mode", `unknown field "mode" (fields: channel, auto)`}}},
		{name: "submission auto not a bool", extra: "submission: {channel: regulator-sim, auto: maybe}\n",
			want: []want{{"", "submission.auto", `want true or false, not "maybe"`}}},

		// Sheets.
		{name: "no sheets", edits: []string{"sheets:", "sheets: []\nx_sheets:"},
			want: []want{
				{"", "sheets", "at least one sheet is required"},
				{"", "x_sheets", `unknown field "x_sheets" (fields: ` + topFields + `)`},
			}},
		{name: "empty sheet, duplicate name", extra: "",
			edits: []string{"validations:", "  - name: own FUNDS\n  - name: \"a:b\"\n    cells: []\nvalidations:"},
			want: []want{
				{"", "sheets[1]", "a sheet needs at least one cell or table"},
				{"", "sheets[1].name", `sheet "own FUNDS" is defined twice (also at sheets[0].name)`},
				{"", "sheets[2]", "a sheet needs at least one cell or table"},
				{"", "sheets[2].name", `"a:b": a sheet name cannot contain any of [ ] : * ? / \`},
			}},
		{name: "sheet name too long", edits: []string{"name: Own funds", "name: Own funds and eligible capital, C 01.00"},
			want: []want{{"", "sheets[0].name", `"Own funds and eligible capital, C 01.00" is longer than 31 characters, Excel's limit for a sheet name`}}},

		// Cells.
		{name: "unknown field of a cell", edits: []string{"        label: Own funds\n", "        label: Own funds\n        colour: red\n"},
			want: []want{{"r0010", "sheets[0].cells[0].colour", `unknown field "colour" (fields: code, at, label, figure, where)`}}},
		{name: "bad position", edits: []string{"at: D8", "at: D0"},
			want: []want{{"r0010", "sheets[0].cells[0].at", `"D0" is not a cell reference such as D8: cannot convert cell "D0" to coordinates: invalid cell name "D0"`}}},
		{name: "column beyond XFD", edits: []string{"at: D8", "at: XFE8"},
			want: []want{{"r0010", "sheets[0].cells[0].at", `"XFE8" is not a cell reference such as D8: the column number must be greater than or equal to 1 and less than or equal to 16384`}}},
		{name: "missing position and figure", edits: []string{"        at: D8\n        label: Own funds\n        figure: own_funds\n", ""},
			want: []want{
				{"r0010", "sheets[0].cells[0].at", "required: the position, an A1 reference such as D8"},
				{"r0010", "sheets[0].cells[0].figure", "required: the figure the cell reports, e.g. figure: own_funds"},
			}},
		{name: "position taken", edits: []string{"at: D9", "at: D8"},
			want: []want{{"r0020", "sheets[0].cells[1].at", "D8 is also the position of r0010"}}},
		{name: "cell in a table's rows", edits: []string{"at: D9", "at: C90"},
			want: []want{{"large_exposures", "sheets[0].tables[0].at", "the rows of table large_exposures (B20:C…) would overwrite r0020 (C90)"}}},
		{name: "cell below a limited table", edits: []string{"at: D9", "at: C40", "order_by: value desc", "order_by: value desc\n        limit: 20"}},
		{name: "cell in a limited table's rows", edits: []string{"at: D9", "at: C39", "order_by: value desc", "order_by: value desc\n        limit: 20"},
			want: []want{{"large_exposures", "sheets[0].tables[0].at", "the rows of table large_exposures (B20:C39) would overwrite r0020 (C39)"}}},
		{name: "bad code, and the validation that reads it", edits: []string{"code: r0010", "code: R0010"},
			want: []want{
				{"R0010", "sheets[0].cells[0].code", `"R0010" is not a valid code: use lower-case letters, digits and "_"`},
				{"v1", "validations[v1].expr", `CEL 1:6: unknown cell "r0010"`},
			}},
		{name: "code used by a cell and a table", edits: []string{"code: large_exposures", "code: r0020"},
			want: []want{{"r0020", "sheets[0].tables[0].code",
				"code r0020 is used twice (also at sheets[0].cells[1].code): codes are unique across the template, cells and tables alike"}}},
		{name: "code used on two sheets", edits: []string{"validations:", "  - name: Other\n    cells:\n      - {code: r0010, at: A1, figure: own_funds}\nvalidations:"},
			want: []want{{"r0010", "sheets[1].cells[0].code",
				"code r0010 is used twice (also at sheets[0].cells[0].code): codes are unique across the template, cells and tables alike"}}},
		{name: "unknown figure", edits: []string{"figure: own_funds", "figure: own_fund"},
			want: []want{{"r0010", "sheets[0].cells[0].figure", `unknown figure "own_fund"`}}},
		{name: "malformed figure name, without a catalog", edits: []string{"figure: own_funds", "figure: Own-Funds"}, cat: Catalog(nil),
			want: []want{{"r0010", "sheets[0].cells[0].figure",
				`"Own-Funds" is not a figure name: figure names are lower-case letters, digits and "_", starting with a letter`}}},
		{name: "unknown figures pass without a catalog", edits: []string{"figure: own_funds", "figure: own_fund"}, cat: Catalog(nil)},
		{name: "where on a dimension the figure lacks", edits: []string{"where: {tier: cet1}", "where: {teir: cet1, gl_account: \"3000\"}"},
			want: []want{{"r0020", "sheets[0].cells[1].where.teir", `figure "tier1_capital" has no dimension "teir" (dimensions: tier, gl_account)`}}},
		{name: "where on a derived figure", edits: []string{"        figure: own_funds\n", "        figure: own_funds\n        where: {tier: cet1}\n"},
			want: []want{{"r0010", "sheets[0].cells[0].where", `figure "own_funds" is derived: it has no dimensions to filter by`}}},
		{name: "where not a mapping", edits: []string{"where: {tier: cet1}", "where: [tier, cet1]"},
			want: []want{{"r0020", "sheets[0].cells[1].where", "want a mapping of names to strings, not a list"}}},
		{name: "key given twice", edits: []string{"        at: D9\n", "        at: D9\n        at: D10\n"},
			want: []want{{"r0020", "sheets[0].cells[1].at", "given twice (also on line 16)"}}},

		// Tables.
		{name: "table of a derived figure", edits: []string{"figure: loan_exposure", "figure: total_credit_exposure"},
			want: []want{{"large_exposures", "sheets[0].tables[0].figure",
				`figure "total_credit_exposure" is derived: it has no dimensions to group by; a table needs a stock, flow or cumulative figure`}}},
		{name: "group by a dimension the figure lacks", edits: []string{"group_by: [counterparty]", "group_by: [counterparty, country, counterparty]"},
			want: []want{
				{"large_exposures", "sheets[0].tables[0].group_by[1]", `figure "loan_exposure" has no dimension "country" (dimensions: counterparty, exposure_class)`},
				{"large_exposures", "sheets[0].tables[0].group_by[2]", `dimension "counterparty" is listed twice`},
			}},
		{name: "group by nothing", edits: []string{"group_by: [counterparty]", "group_by: []", "order_by: value desc", "order_by: value"},
			want: []want{{"large_exposures", "sheets[0].tables[0].group_by", "at least one dimension is required, e.g. group_by: [counterparty]"}}},
		{name: "group by a string", edits: []string{"group_by: [counterparty]", "group_by: counterparty"},
			want: []want{
				{"large_exposures", "sheets[0].tables[0].group_by", `want a list of strings, not "counterparty"`},
			}},
		{name: "having of the wrong type", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: value * 2`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having", "must evaluate to a bool, not decimal"}}},
		{name: "having with an unknown figure", edits: []string{`figure("large_exposure_threshold")`, `figure("large_exposure_treshold")`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having", `CEL 1:17: unknown figure "large_exposure_treshold"`}}},
		{name: "having with an unknown function", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: value >= threshold("large")`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having", `CEL 1:19: undeclared reference to 'threshold'`}}},
		{name: "having reads a cell", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: value >= cell("r0010")`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having",
				`CEL 1:14: undeclared reference to 'cell': cell() is only available in validations; a table's having sees value, row and figure()`}}},
		{name: "having reads a dimension not grouped by", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: row.exposure_class == "corporate"`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having", `row has no key "exposure_class": a row holds the group_by dimensions (counterparty)`}}},
		{name: "having filters a figure by a dimension it lacks", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: 'value >= figure("loan_exposure", {"counterpart": row.counterparty})'`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having", `CEL 1:35: figure "loan_exposure" has no dimension "counterpart" (dimensions: counterparty, exposure_class)`}}},
		{name: "having filters a derived figure", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: 'value >= figure("large_exposure_threshold", {"counterparty": row.counterparty})'`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having", `CEL 1:17: figure "large_exposure_threshold" is derived: it has no dimensions to filter by`}}},
		{name: "having with an unquoted map literal", edits: []string{`figure("large_exposure_threshold")`, `figure("loan_exposure", {"counterparty": "CP-1"})`},
			want: []want{{"", "", `mapping values are not allowed in this context; an expression containing ": " must be quoted or written as a block (having: |)`}}},
		{name: "order by direction", edits: []string{"order_by: value desc", "order_by: value down"},
			want: []want{{"large_exposures", "sheets[0].tables[0].order_by", `"value down": the direction is asc or desc, not "down"`}}},
		{name: "order by a dimension not grouped by", edits: []string{"order_by: value desc", "order_by: country asc"},
			want: []want{{"large_exposures", "sheets[0].tables[0].order_by", `"country" is neither value nor a group_by dimension (counterparty)`}}},
		{name: "order by two keys", edits: []string{"order_by: value desc", "order_by: value desc, counterparty"},
			want: []want{{"large_exposures", "sheets[0].tables[0].order_by", `"value desc, counterparty": want one key, "value desc", "value asc" or "<dimension> asc|desc"`}}},
		{name: "limit", edits: []string{"order_by: value desc", "order_by: value desc\n        limit: 0"},
			want: []want{{"large_exposures", "sheets[0].tables[0].limit", "0: a limit is at least 1; leave it out for every row"}}},
		{name: "tables overlap", edits: []string{"validations:", "      - {code: by_class, at: C30, figure: loan_exposure, group_by: [exposure_class]}\nvalidations:"},
			want: []want{{"by_class", "sheets[0].tables[1].at", "table by_class (C30:D…) overlaps table large_exposures (B20:C…)"}}},

		// Validations.
		{name: "validation reads a table", edits: []string{`cell("r0020")`, `cell("large_exposures")`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:23: large_exposures is a table, not a cell: a validation reads cells`}}},
		{name: "validation reads an unknown cell", edits: []string{`cell("r0020")`, `cell("r0030")`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:23: unknown cell "r0030"`}}},
		{name: "rows of a cell", edits: []string{`expr: cell("r0010") >= cell("r0020")`, `expr: rows("r0020").all(v, v <= cell("r0010"))`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:6: r0020 is a cell, not a table: rows() reads the rows of a table; a cell is cell("r0020")`}}},
		{name: "rows of an unknown table", edits: []string{`expr: cell("r0010") >= cell("r0020")`, `expr: rows("large_exposure").all(v, v <= cell("r0010"))`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:6: unknown table "large_exposure"`}}},
		{name: "rows code not a literal", edits: []string{`expr: cell("r0010") >= cell("r0020")`, `expr: rows("large_" + "exposures").all(v, v <= cell("r0010"))`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:15: rows(): the table code must be a string literal, e.g. rows("large_exposures")`}}},
		{name: "rows in a having", edits: []string{`having: value >= figure("large_exposure_threshold")`, `having: size(rows("large_exposures")) > 0`},
			want: []want{{"large_exposures", "sheets[0].tables[0].having",
				`CEL 1:10: undeclared reference to 'rows': rows() is only available in validations; a table's having sees value, row and figure()`}}},
		{name: "validation cell code not a literal", edits: []string{`cell("r0020")`, `cell("r00" + "20")`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:29: cell(): the cell code must be a string literal, e.g. cell("r0010_c0010")`}}},
		{name: "validation of the wrong type", edits: []string{`expr: cell("r0010") >= cell("r0020")`, `expr: cell("r0010") - cell("r0020")`},
			want: []want{{"v1", "validations[v1].expr", "must evaluate to a bool, not decimal"}}},
		{name: "validation with an unknown function", edits: []string{`expr: cell("r0010") >= cell("r0020")`, `expr: sum(cell("r0010")) > 0`},
			want: []want{{"v1", "validations[v1].expr", "CEL 1:4: undeclared reference to 'sum'"}}},
		{name: "validation with an unknown figure", edits: []string{`expr: cell("r0010") >= cell("r0020")`, `expr: cell("r0010") == figure("own_fund")`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:25: unknown figure "own_fund"`}}},
		{name: "validation filters by a dimension the figure lacks", edits: []string{`expr: cell("r0010") >= cell("r0020")`,
			`expr: 'cell("r0020") == figure("tier1_capital", {"teir": "cet1"})'`},
			want: []want{{"v1", "validations[v1].expr", `CEL 1:43: figure "tier1_capital" has no dimension "teir" (dimensions: tier, gl_account)`}}},
		{name: "validation ids", extra: "  - id: v1\n    expr: cell(\"r0010\") > 0\n  - expr: cell(\"r0010\") > 0\n  - id: v 3\n    expr: cell(\"r0010\") > 0\n",
			want: []want{
				{"v1", "validations[v1].id", "validation v1 is defined twice"},
				{"", "validations[2].id", "required: the validation's id, e.g. id: v0001"},
				{"v 3", "validations[v 3].id", `"v 3" is not a valid id: use letters, digits, "_", "." and "-"`},
			}},
		{name: "validation severity and expression", edits: []string{"severity: error", "severity: fatal", `expr: cell("r0010") >= cell("r0020")`, "expr: ''"},
			want: []want{
				{"v1", "validations[v1].expr", `required: a CEL expression that is true when the filing passes, e.g. cell("r0010_c0010") >= decimal(0)`},
				{"v1", "validations[v1].severity", `"fatal": want error or warning`},
			}},
		{name: "validation unknown field", edits: []string{"    severity: error\n", "    severity: error\n    hint: own funds must cover tier 1\n"},
			want: []want{{"v1", "validations[v1].hint", `unknown field "hint" (fields: id, expr, severity, message)`}}},

		// Several problems at once, in the order of the YAML.
		{name: "everything wrong at once", edits: []string{
			"frequency: quarterly", "frequency: daily",
			"at: D8", "at: 8D",
			"figure: tier1_capital", "figure: tier3_capital",
			"order_by: value desc", "order_by: exposure desc",
			"severity: error", "severity: info",
		},
			want: []want{
				{"", "frequency", `"daily" is not a frequency: want monthly, quarterly or annual`},
				{"r0010", "sheets[0].cells[0].at", `"8D" is not a cell reference such as D8: cannot convert cell "8D" to coordinates: invalid cell name "8D"`},
				{"r0020", "sheets[0].cells[1].figure", `unknown figure "tier3_capital"`},
				{"large_exposures", "sheets[0].tables[0].order_by", `"exposure" is neither value nor a group_by dimension (counterparty)`},
				{"v1", "validations[v1].severity", `"info": want error or warning`},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, tt.edits...) + tt.extra
			cat := tt.cat
			if cat == nil && !strings.Contains(tt.name, "without a catalog") {
				cat = demoCatalog
			}
			tpl, err := Parse([]byte(src), cat)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parsed: %+v", tpl)
			}
			var inv *Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("error %T (%v), want *Invalid", err, err)
			}
			var got []want
			for _, p := range inv.Problems {
				got = append(got, want{p.Cell, p.Field, p.Message})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", formatWants(got), formatWants(tt.want))
			}
		})
	}
}

func formatWants(ws []want) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString("\n  {" + w.cell + " | " + w.field + " | " + w.message + "}")
	}
	return b.String()
}

func TestProblemPositions(t *testing.T) {
	src := edit(t, "at: D9", "at: D0", `cell("r0020")`, `cell("r0030")`) + "colour: red\n"
	_, err := Parse([]byte(src), demoCatalog)
	var inv *Invalid
	if !errors.As(err, &inv) {
		t.Fatalf("error = %v", err)
	}
	var lines []string
	for _, p := range inv.Problems {
		lines = append(lines, p.String())
	}
	want := []string{
		`16:13: sheets[0].cells[1].at (r0020): "D0" is not a cell reference such as D8: cannot convert cell "D0" to coordinates: invalid cell name "D0"`,
		`28:11: validations[v1].expr (v1): CEL 1:23: unknown cell "r0030"`,
		`30:1: colour: unknown field "colour" (fields: id, name, description, regulator, frequency, schedule, timezone, reporting_currency, decimals, number_format, layout, sign_off, sheets, validations, outputs, submission)`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(lines, "\n     "), strings.Join(want, "\n     "))
	}
	if !strings.HasPrefix(err.Error(), "invalid template: 3 problems: 16:13: sheets[0].cells[1].at (r0020): ") {
		t.Errorf("Error() = %s", err)
	}
	missing := edit(t, "        at: D9\n", "")
	_, err = Parse([]byte(missing), demoCatalog)
	if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Line != 15 || inv.Problems[0].Column != 9 {
		t.Errorf("a missing field is located at its mapping (15:9): %+v", err)
	}
}

func TestNotATemplate(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "the template is empty"},
		{"# nothing\n", "the template is empty"},
		{"- a\n- b\n", "1:1: a template is a mapping of fields: id, name, description, regulator, frequency, schedule, timezone, reporting_currency, decimals, number_format, layout, sign_off, sheets, validations, outputs, submission"},
		{"id: x\n  name: y\n", "2:1: mapping values are not allowed in this context; an expression containing \": \" must be quoted or written as a block (having: |)"},
		{minimal + "---\nid: second\n", "30:1: a template is one YAML document; found more after the first"},
		{"id: a\nid: b\n", "2:1: id: given twice (also on line 1)"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.src), nil)
		var inv *Invalid
		if !errors.As(err, &inv) {
			t.Errorf("%q: error = %v", tt.src, err)
			continue
		}
		if got := inv.Problems[0].String(); got != tt.want || len(inv.Problems) != 1 {
			t.Errorf("%q: problems = %v\n want %s", tt.src, inv.Problems, tt.want)
		}
	}
}
