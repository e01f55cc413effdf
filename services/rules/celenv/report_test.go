package celenv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

func mustReportEnv(t testing.TB, opts ...Option) *ReportEnv {
	t.Helper()
	env, err := NewReportEnv(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// figures is a figure lookup over a fixed table, keyed by name and, for a
// filtered call, name plus the filter.
func figures(values map[string]string) func(string, map[string]string) (decimal.Decimal, error) {
	return func(name string, dims map[string]string) (decimal.Decimal, error) {
		key := name
		if dims != nil {
			key = name + " " + fmt.Sprint(dims)
		}
		v, ok := values[key]
		if !ok {
			return decimal.Decimal{}, fmt.Errorf("no figure %s", key)
		}
		return decimal.RequireFromString(v), nil
	}
}

var errNoCell = errors.New("no such cell")

func cells(values map[string]string) func(string) (decimal.Decimal, error) {
	return func(code string) (decimal.Decimal, error) {
		v, ok := values[code]
		if !ok {
			return decimal.Decimal{}, errNoCell
		}
		return decimal.RequireFromString(v), nil
	}
}

func TestHaving(t *testing.T) {
	env := mustReportEnv(t)
	lookup := figures(map[string]string{
		"large_exposure_threshold":                    "42123456.79",
		"loan_exposure map[counterparty:CP-1]":        "60000000",
		"exposure_limit map[counterparty:CP-1]":       "100000000",
		"exposure_limit map[counterparty:CP-2]":       "10000000",
		"tier1_capital":                               "421234567.89",
		"loan_exposure map[exposure_class:retail]":    "5",
		"loan_exposure map[exposure_class:corporate]": "7",
	})
	tests := []struct {
		name  string
		expr  string
		value string
		row   map[string]string
		want  bool
		refs  []string
		dims  map[string][]string
		keys  []string
	}{
		{"at the threshold", `value >= figure("large_exposure_threshold")`, "42123456.79", map[string]string{"counterparty": "CP-1"}, true,
			[]string{"large_exposure_threshold"}, map[string][]string{"large_exposure_threshold": {}}, nil},
		{"a cent below", `value >= figure("large_exposure_threshold")`, "42123456.78", map[string]string{"counterparty": "CP-1"}, false,
			[]string{"large_exposure_threshold"}, map[string][]string{"large_exposure_threshold": {}}, nil},
		{"row dimension", `row["exposure_class"] == "corporate" && value > decimal("0")`, "1", map[string]string{"exposure_class": "corporate"}, true,
			nil, nil, []string{"exposure_class"}},
		{"row selection and presence", `has(row.portfolio) || row.counterparty.startsWith("CP-")`, "1", map[string]string{"counterparty": "CP-9"}, true,
			nil, nil, []string{"counterparty", "portfolio"}},
		{"filter from the row", `value * 2 > figure("exposure_limit", {"counterparty": row.counterparty})`, "6000000", map[string]string{"counterparty": "CP-2"}, true,
			[]string{"exposure_limit"}, map[string][]string{"exposure_limit": {"counterparty"}}, []string{"counterparty"}},
		{"share of capital, rounded", `round(value / figure("tier1_capital") * 100, 2) >= decimal("10.00")`, "42123456.79", nil, true,
			[]string{"tier1_capital"}, map[string][]string{"tier1_capital": {}}, nil},
		{"two filters on one figure", `figure("loan_exposure", {"exposure_class": "retail"}) < figure("loan_exposure", {"exposure_class": "corporate"})`, "0", nil, true,
			[]string{"loan_exposure"}, map[string][]string{"loan_exposure": {"exposure_class"}}, nil},
		{"in row", `"counterparty" in row`, "0", map[string]string{"counterparty": "x"}, true, nil, nil, []string{"counterparty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := env.CompileHaving(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Having(decimal.RequireFromString(tt.value), tt.row, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Having = %v, want %v", got, tt.want)
			}
			if r := p.FigureRefs(); !reflect.DeepEqual(r, tt.refs) && (len(r) != 0 || len(tt.refs) != 0) {
				t.Errorf("FigureRefs = %q, want %q", r, tt.refs)
			}
			if d := p.FigureDims(); !reflect.DeepEqual(d, tt.dims) && (len(d) != 0 || len(tt.dims) != 0) {
				t.Errorf("FigureDims = %q, want %q", d, tt.dims)
			}
			if k := p.RowKeys(); !reflect.DeepEqual(k, tt.keys) && (len(k) != 0 || len(tt.keys) != 0) {
				t.Errorf("RowKeys = %q, want %q", k, tt.keys)
			}
			if c := p.CellRefs(); len(c) != 0 {
				t.Errorf("CellRefs = %q, want none", c)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	env := mustReportEnv(t)
	// 0.1 + 0.2 is 0.30000000000000004 in doubles; cells are exact.
	values := cells(map[string]string{"a": "0.3", "b": "0.1", "c": "0.2", "d": "0.30000000000000004", "neg": "-12.5"})
	lookup := figures(map[string]string{"own_funds": "0.3", "tier1_capital map[tier:cet1]": "0.1"})
	tests := []struct {
		expr  string
		want  bool
		cells []string
		refs  []string
	}{
		{`cell("a") == cell("b") + cell("c")`, true, []string{"a", "b", "c"}, nil},
		{`cell("d") == cell("b") + cell("c")`, false, []string{"b", "c", "d"}, nil},
		{`cell("a") == figure("own_funds")`, true, []string{"a"}, []string{"own_funds"}},
		{`cell("b") == figure("tier1_capital", {"tier": "cet1"})`, true, []string{"b"}, []string{"tier1_capital"}},
		{`abs(cell("neg")) <= decimal("12.50") && cell("neg") < 0`, true, []string{"neg"}, nil},
		{`cell("a") - cell("b") - cell("c") == decimal(0)`, true, []string{"a", "b", "c"}, nil},
		{`cell("a") / 3 == decimal("0.1")`, true, []string{"a"}, nil},
		{`cell("a") >= cell("a")`, true, []string{"a"}, nil}, // a code is listed once
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := env.CompileValidation(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Validate(values, nil, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Validate = %v, want %v", got, tt.want)
			}
			if c := p.CellRefs(); !reflect.DeepEqual(c, tt.cells) {
				t.Errorf("CellRefs = %q, want %q", c, tt.cells)
			}
			if r := p.FigureRefs(); !reflect.DeepEqual(r, tt.refs) && (len(r) != 0 || len(tt.refs) != 0) {
				t.Errorf("FigureRefs = %q, want %q", r, tt.refs)
			}
		})
	}
}

var errNoTable = errors.New("no such table")

func tables(values map[string][]string) func(string) ([]decimal.Decimal, error) {
	return func(code string) ([]decimal.Decimal, error) {
		v, ok := values[code]
		if !ok {
			return nil, errNoTable
		}
		out := make([]decimal.Decimal, len(v))
		for i, s := range v {
			out[i] = decimal.RequireFromString(s)
		}
		return out, nil
	}
}

// TestValidateRows checks rows(table): the reported values of a table's rows
// as a list of decimals, for the validations of a whole table such as the
// large exposures limit (CRR Art. 395(1)).
func TestValidateRows(t *testing.T) {
	env := mustReportEnv(t)
	// Tier 1 421,700,000.00: limit 25% = 105,425,000.00.
	lookup := figures(map[string]string{"large_exposure_limit": "105425000.00", "large_exposure_threshold": "42170000.00"})
	rows := tables(map[string][]string{
		"large_exposures": {"105425000.00", "68360000.00", "43827000.00"}, // the first at the limit exactly
		"over_limit":      {"105425000.01", "43827000.00"},
		"none":            {},
	})
	values := cells(map[string]string{"le_limit": "105425000.00"})
	tests := []struct {
		expr   string
		want   bool
		tables []string
		cells  []string
	}{
		{`rows("large_exposures").all(v, v <= figure("large_exposure_limit"))`, true, []string{"large_exposures"}, nil},
		{`rows("over_limit").all(v, v <= figure("large_exposure_limit"))`, false, []string{"over_limit"}, nil},
		{`rows("over_limit").exists(v, v > cell("le_limit"))`, true, []string{"over_limit"}, []string{"le_limit"}},
		{`rows("none").all(v, v <= figure("large_exposure_limit"))`, true, []string{"none"}, nil}, // an empty table passes all()
		{`size(rows("large_exposures")) == 3 && rows("large_exposures")[1] == decimal("68360000")`, true, []string{"large_exposures"}, nil},
		{`rows("large_exposures").filter(v, v >= figure("large_exposure_threshold")).size() == 3`, true, []string{"large_exposures"}, nil},
		{`size(rows("none")) == 0 && size(rows("over_limit")) == 2`, true, []string{"none", "over_limit"}, nil},
		{`decimal("43827000") in rows("large_exposures")`, true, []string{"large_exposures"}, nil}, // numeric equality: 43827000.00
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := env.CompileValidation(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Validate(values, rows, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Validate = %v, want %v", got, tt.want)
			}
			if r := p.TableRefs(); !reflect.DeepEqual(r, tt.tables) {
				t.Errorf("TableRefs = %q, want %q", r, tt.tables)
			}
			if c := p.CellRefs(); !reflect.DeepEqual(c, tt.cells) && (len(c) != 0 || len(tt.cells) != 0) {
				t.Errorf("CellRefs = %q, want %q", c, tt.cells)
			}
		})
	}

	p, err := env.CompileValidation(`rows("nope").all(v, v > decimal(0))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Validate(values, rows, lookup); !errors.Is(err, errNoTable) || err.Error() != `rows "nope": no such table` {
		t.Errorf("unknown table: error = %v, want errNoTable", err)
	}
	if _, err := p.Validate(values, nil, lookup); err == nil || err.Error() != `rows "nope": no table rows supplied` {
		t.Errorf("nil rows: error = %v", err)
	}
	h, err := env.CompileHaving(`value > decimal(0)`)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.TableRefs(); r != nil {
		t.Errorf("having TableRefs = %q, want none", r)
	}

	// rows() iterates with a comprehension, so a validation over a long table
	// runs under the cost limit.
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	big := tables(map[string][]string{"t": many})
	p, err = mustReportEnv(t, WithCostLimit(1000)).CompileValidation(`rows("t").all(v, v >= decimal(0))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Validate(nil, big, nil); !errors.Is(err, ErrCostLimit) {
		t.Errorf("5000 rows, limit 1000: error = %v, want ErrCostLimit", err)
	}
	p, err = env.CompileValidation(`rows("t").all(v, v >= decimal(0))`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Validate(nil, big, nil); err != nil || !ok {
		t.Errorf("5000 rows, default limit: %v, %v", ok, err)
	}
}

func TestReportCompileErrors(t *testing.T) {
	env := mustReportEnv(t)
	tests := []struct {
		name string
		kind ReportKind
		expr string
		err  string
	}{
		{"having not bool", ReportHaving, `value * 2`, `must evaluate to a bool, not decimal`},
		{"validation not bool", ReportValidation, `cell("a") + cell("b")`, `must evaluate to a bool, not decimal`},
		{"validation string", ReportValidation, `"ok"`, `must evaluate to a bool, not string`},
		{"unknown function", ReportValidation, `lower("A") == "a"`, `1:6: undeclared reference to 'lower' (did you mean 'lowerAscii'?)`},
		{"cell code not literal", ReportValidation, `cell("r0010" + "_c0010") > decimal(0)`, `1:14: cell(): the cell code must be a string literal, e.g. cell("r0010_c0010")`},
		{"cell of a variable", ReportValidation, `["a", "b"].all(c, cell(c) > 0)`, `1:24: cell(): the cell code must be a string literal, e.g. cell("r0010_c0010")`},
		{"cell of an int", ReportValidation, `cell(10) > 0`, `1:5: found no matching overload for 'cell' applied to '(int)'`},
		{"figure name not literal", ReportHaving, `value > figure("a" + "b")`, `1:20: figure(): the figure name must be a string literal, e.g. figure("tier1_capital")`},
		{"cell in having", ReportHaving, `value == cell("a")`, `1:14: undeclared reference to 'cell': cell() is only available in validations; a table's having sees value, row and figure()`},
		{"value in validation", ReportValidation, `value > cell("a")`, `1:1: undeclared reference to 'value': value and row are only available in a table's having; a validation reads cell("code"), rows("table") and figure("name")`},
		{"rows in having", ReportHaving, `size(rows("t")) > 0`, `1:10: undeclared reference to 'rows': rows() is only available in validations; a table's having sees value, row and figure()`},
		{"rows code not literal", ReportValidation, `rows("large_" + "exposures").all(v, v > 0)`, `1:15: rows(): the table code must be a string literal, e.g. rows("large_exposures")`},
		{"rows of an int", ReportValidation, `size(rows(1)) > 0`, `1:10: found no matching overload for 'rows' applied to '(int)'`},
		{"rows are decimals", ReportValidation, `rows("t").all(v, v > 1.5)`, `1:20: found no matching overload for '_>_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`},
		{"rows is a list", ReportValidation, `rows("t") > decimal(0)`, `1:11: found no matching overload for '_>_' applied to '(list(decimal), decimal)'`},
		{"event", ReportHaving, `event.type == "x"`, `1:1: undeclared reference to 'event': report expressions are computed from figures and cells, not from events`},
		{"double", ReportHaving, `value > 1.5`, `1:7: found no matching overload for '_>_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`},
		{"row is strings", ReportHaving, `row.counterparty > value`, `1:18: found no matching overload for '_>_' applied to '(string, decimal)'`},
		{"second line", ReportValidation, "cell(\"a\") ==\n  cell(\"b\") +", `2:14: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := env.Compile(tt.expr, tt.kind)
			if err == nil {
				t.Fatalf("compiled: %v", p)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T, want *CompileError", err)
			}
			if err.Error() != tt.err {
				t.Errorf("error\n got %s\nwant %s", err, tt.err)
			}
		})
	}
}

func TestReportCompileErrorPositions(t *testing.T) {
	_, err := mustReportEnv(t).CompileValidation("cell(\"a\") == cell(\"b\")\n  && cell(x) > 0")
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want *CompileError", err)
	}
	want := []Issue{{Line: 2, Column: 11, Message: "undeclared reference to 'x'"}}
	if !reflect.DeepEqual(ce.Issues, want) {
		t.Errorf("issues = %+v, want %+v", ce.Issues, want)
	}
}

func TestReportRuntimeErrors(t *testing.T) {
	env := mustReportEnv(t)
	v, err := env.CompileValidation(`cell("a") == cell("zz") + cell("b")`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(cells(map[string]string{"a": "1", "b": "1"}), nil, nil)
	if !errors.Is(err, errNoCell) {
		t.Fatalf("unknown cell: error = %v, want errNoCell", err)
	}
	if want := `cell "zz": no such cell`; err.Error() != want {
		t.Errorf("unknown cell: error = %q, want %q", err, want)
	}

	errDown := errors.New("figures store unavailable")
	h, err := env.CompileHaving(`value >= figure("large_exposure_threshold")`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Having(decimal.NewFromInt(1), nil, func(string, map[string]string) (decimal.Decimal, error) {
		return decimal.Decimal{}, errDown
	})
	if !errors.Is(err, errDown) || err.Error() != `figure "large_exposure_threshold": figures store unavailable` {
		t.Errorf("lookup error = %v", err)
	}
	if _, err := h.Having(decimal.NewFromInt(1), nil, nil); !errors.Is(err, errNoLookup) {
		t.Errorf("nil lookup: error = %v", err)
	}

	div, err := env.CompileValidation(`cell("a") / cell("b") > 0`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := div.Validate(cells(map[string]string{"a": "1", "b": "0"}), nil, nil); err == nil || err.Error() != "division by zero" {
		t.Errorf("division by zero: error = %v", err)
	}

	// A program is evaluated as the kind it was compiled as.
	if _, err := h.Validate(nil, nil, nil); err == nil {
		t.Error("Validate on a having program: no error")
	}
	if _, err := v.Having(decimal.Zero, nil, nil); err == nil {
		t.Error("Having on a validation program: no error")
	}
	if _, err := env.Compile("true", ReportKind(9)); err == nil {
		t.Error("unknown kind compiled")
	}
}

func TestReportCostLimit(t *testing.T) {
	const ten = `[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]`
	runaway := fmt.Sprintf(`size(%[1]s.map(a, %[1]s.map(b, %[1]s.map(c, %[1]s.map(d, %[1]s.map(e, a + b + c + d + e)))))) > 0`, ten)
	for _, kind := range []ReportKind{ReportHaving, ReportValidation} {
		p, err := mustReportEnv(t).Compile(runaway, kind)
		if err != nil {
			t.Fatal(err)
		}
		if kind == ReportHaving {
			_, err = p.Having(decimal.Zero, nil, nil)
		} else {
			_, err = p.Validate(nil, nil, nil)
		}
		if !errors.Is(err, ErrCostLimit) {
			t.Errorf("%v: error = %v, want ErrCostLimit", kind, err)
		}
	}
	small := fmt.Sprintf(`size(%[1]s.map(a, %[1]s.map(b, a + b))) == 10 && value > 0`, ten)
	p, err := mustReportEnv(t, WithCostLimit(50)).CompileHaving(small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Having(decimal.NewFromInt(1), nil, nil); !errors.Is(err, ErrCostLimit) {
		t.Errorf("limit 50: error = %v, want ErrCostLimit", err)
	}
	p, err = mustReportEnv(t).CompileHaving(small)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Having(decimal.NewFromInt(1), nil, nil); err != nil || !ok {
		t.Errorf("default limit: %v, %v", ok, err)
	}
}

func TestReportProgramsAreConcurrencySafe(t *testing.T) {
	env := mustReportEnv(t)
	p, err := env.CompileHaving(`value >= figure("t", {"counterparty": row.counterparty})`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for j := range 200 {
				cp := fmt.Sprintf("CP-%d-%d", i, j)
				ok, e := p.Having(decimal.NewFromInt(int64(j)), map[string]string{"counterparty": cp},
					func(name string, dims map[string]string) (decimal.Decimal, error) {
						if dims["counterparty"] != cp {
							return decimal.Decimal{}, fmt.Errorf("got %v, want %s", dims, cp)
						}
						return decimal.NewFromInt(100), nil
					})
				if e != nil || ok != (j >= 100) {
					err = fmt.Errorf("%s: %v, %v", cp, ok, e)
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func ExampleReportProgram_Validate() {
	env, err := NewReportEnv()
	if err != nil {
		panic(err)
	}
	v, err := env.CompileValidation(`cell("r0010_c0010") == cell("r0015_c0010") + cell("r0020_c0010")`)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.CellRefs())
	reported := map[string]string{"r0010_c0010": "0.3", "r0015_c0010": "0.1", "r0020_c0010": "0.2"}
	ok, err := v.Validate(func(code string) (decimal.Decimal, error) {
		return decimal.RequireFromString(reported[code]), nil
	}, nil, nil)
	fmt.Println(ok, err)

	_, err = env.CompileHaving(`value >= figure(threshold)`)
	fmt.Println(err)
	// Output:
	// [r0010_c0010 r0015_c0010 r0020_c0010]
	// true <nil>
	// 1:17: undeclared reference to 'threshold'
}
