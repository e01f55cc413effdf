package filing

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
)

type fakeFigures struct {
	rows    map[string][]DimValue
	derived map[string]string
	asked   map[string]int
}

func (f *fakeFigures) Rows(name string) ([]DimValue, error) {
	f.asked[name]++
	if _, ok := f.derived[name]; ok {
		return nil, ErrDerived
	}
	rows, ok := f.rows[name]
	if !ok {
		return nil, errors.New("unknown figure " + name)
	}
	return rows, nil
}

func (f *fakeFigures) Value(name string, _ map[string]string) (decimal.Decimal, error) {
	return decimal.RequireFromString(f.derived[name]), nil
}

func dv(v string, kv ...string) DimValue {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return DimValue{Dims: d, Value: decimal.RequireFromString(v)}
}

func TestBuild(t *testing.T) {
	figs := &fakeFigures{asked: map[string]int{},
		rows: map[string][]DimValue{
			"exposure": {
				dv("100.004", "cp", "A", "class", "corp"), dv("50", "cp", "A", "class", "retail"),
				dv("300", "cp", "B", "class", "corp"), dv("20", "cp", "C", "class", "corp"), dv("300", "cp", "D", "class", "corp"),
			},
		},
		derived: map[string]string{"threshold": "100"},
	}
	spec := Spec{Template: "t", Version: 2, Currency: "EUR", Decimals: 2,
		Sheets: []SheetSpec{{Name: "S", Cells: []CellSpec{
			{Code: "total", At: "B2", Figure: "exposure"},
			{Code: "corp", At: "B3", Figure: "exposure", Where: map[string]string{"class": "corp"}},
			{Code: "retail", At: "B4", Figure: "exposure", Where: map[string]string{"class": "retail"}},
			{Code: "thr", At: "B5", Figure: "threshold"},
		}, Tables: []TableSpec{{Code: "large", At: "A10", Figure: "exposure", GroupBy: []string{"cp"}, OrderBy: "value desc",
			Having: func(v decimal.Decimal, row map[string]string, figure Lookup) (bool, error) {
				thr, err := figure("threshold", nil)
				return v.GreaterThanOrEqual(thr), err
			}}}}},
		Validations: []ValidationSpec{
			{ID: "sum", Severity: "error", Check: func(cell func(string) (decimal.Decimal, error), _ func(string) ([]decimal.Decimal, error), _ Lookup) (bool, error) {
				a, _ := cell("total")
				b, _ := cell("corp")
				c, _ := cell("retail")
				return a.Equal(b.Add(c)), nil
			}},
			{ID: "broken", Severity: "warning", Check: func(cell func(string) (decimal.Decimal, error), _ func(string) ([]decimal.Decimal, error), _ Lookup) (bool, error) {
				_, err := cell("nope")
				return false, err
			}},
		},
	}
	r, err := Build(spec, "2026-Q3", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 42, figs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"total": "770", "corp": "720", "retail": "50", "thr": "100"}
	for _, c := range r.Sheets[0].Cells {
		if c.Value.String() != want[c.Code] {
			t.Errorf("cell %s = %s, want %s", c.Code, c.Value, want[c.Code])
		}
	}
	rows := r.Sheets[0].Tables[0].Rows
	// B and D tie at 300: ordered by their dimension values; C (20) is below the threshold.
	if len(rows) != 3 || rows[0].Dims[0] != "B" || rows[1].Dims[0] != "D" || rows[2].Dims[0] != "A" || rows[2].Value.String() != "150" {
		t.Fatalf("table rows %+v", rows)
	}
	if figs.asked["exposure"] != 1 {
		t.Fatalf("exposure asked %d times, want once for every cell and table", figs.asked["exposure"])
	}
	if !r.Validations[0].Passed || r.Validations[1].Passed || r.Validations[1].Message == "" || !r.ValidationsPassed() {
		t.Fatalf("validations %+v", r.Validations)
	}
	spec.Sheets[0].Tables[0].OrderBy = "nope asc"
	if _, err := Build(spec, "2026-Q3", time.Time{}, 1, figs); err == nil {
		t.Fatal("an order_by on an unknown dimension built")
	}
}

// TestBuildValidatesTableRows builds a large exposures report whose validation
// reads a table's rows with rows(): the values it sees are those reported
// (rounded, after having, order and limit), and a failed validation says its
// message.
func TestBuildValidatesTableRows(t *testing.T) {
	env, err := celenv.NewReportEnv()
	if err != nil {
		t.Fatal(err)
	}
	having, err := env.CompileHaving(`value >= figure("threshold")`)
	if err != nil {
		t.Fatal(err)
	}
	limit, err := env.CompileValidation(`rows("large").all(v, v <= figure("limit"))`)
	if err != nil {
		t.Fatal(err)
	}
	// What the check saw, to compare with the reported rows.
	var seen []decimal.Decimal
	count, err := env.CompileValidation(`size(rows("large")) == 2 && size(rows("small")) == 1`)
	if err != nil {
		t.Fatal(err)
	}
	check := func(p *celenv.ReportProgram) CheckFunc {
		return func(cell func(string) (decimal.Decimal, error), rows func(string) ([]decimal.Decimal, error), figure Lookup) (bool, error) {
			return p.Validate(cell, rows, figure)
		}
	}
	spec := func(limitValue string) (Spec, *fakeFigures) {
		figs := &fakeFigures{asked: map[string]int{},
			rows: map[string][]DimValue{
				// Group G: 60 + 40.004 = 100.004, reported 100.00; H 70.005,
				// reported 70.01; I is under the threshold of 50.
				"exposure": {dv("60", "group", "G", "cp", "G1"), dv("40.004", "group", "G", "cp", "G2"),
					dv("70.005", "group", "H", "cp", "H"), dv("20", "group", "I", "cp", "I")},
			},
			derived: map[string]string{"threshold": "50", "limit": limitValue},
		}
		return Spec{Template: "le", Version: 1, Currency: "EUR", Decimals: 2,
			Sheets: []SheetSpec{{Name: "C 28.00", Tables: []TableSpec{
				{Code: "large", At: "B10", Figure: "exposure", GroupBy: []string{"group"}, OrderBy: "value desc",
					Having: func(v decimal.Decimal, row map[string]string, figure Lookup) (bool, error) {
						return having.Having(v, row, figure)
					}},
				{Code: "small", At: "E10", Figure: "exposure", GroupBy: []string{"cp"}, OrderBy: "value asc", Limit: 1},
			}}},
			Validations: []ValidationSpec{
				{ID: "le1", Severity: "warning", Message: "CRR Art. 395(1): an exposure exceeds 25% of tier 1", Check: check(limit)},
				{ID: "count", Severity: "error", Check: check(count)},
				{ID: "seen", Severity: "error", Check: func(_ func(string) (decimal.Decimal, error), rows func(string) ([]decimal.Decimal, error), _ Lookup) (bool, error) {
					var err error
					seen, err = rows("large")
					return err == nil, err
				}},
				{ID: "unknown", Severity: "warning", Check: func(_ func(string) (decimal.Decimal, error), rows func(string) ([]decimal.Decimal, error), _ Lookup) (bool, error) {
					_, err := rows("nope")
					return false, err
				}},
			},
		}, figs
	}

	for _, tt := range []struct {
		limit  string
		passed bool
	}{
		{"100", true},    // G is reported as 100.00, at the limit (its exact 100.004 is above it)
		{"99.99", false}, // G above it
	} {
		sp, figs := spec(tt.limit)
		r, err := Build(sp, "2026-Q4", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 7, figs)
		if err != nil {
			t.Fatal(err)
		}
		large := r.Sheets[0].Tables[0].Rows
		if len(large) != 2 || large[0].Dims[0] != "G" || large[0].Value.String() != "100" ||
			large[1].Dims[0] != "H" || large[1].Value.String() != "70.01" {
			t.Fatalf("large rows %+v", large)
		}
		if len(seen) != len(large) || !seen[0].Equal(large[0].Value) || !seen[1].Equal(large[1].Value) {
			t.Errorf("rows(\"large\") = %v, want the reported rows %+v", seen, large)
		}
		le1, cnt, unknown := r.Validations[0], r.Validations[1], r.Validations[3]
		if le1.Passed != tt.passed {
			t.Errorf("limit %s: le1 passed = %v, want %v (%s)", tt.limit, le1.Passed, tt.passed, le1.Message)
		}
		if !tt.passed && le1.Message != "CRR Art. 395(1): an exposure exceeds 25% of tier 1" {
			t.Errorf("le1 message = %q, want the validation's message", le1.Message)
		}
		if tt.passed && le1.Message != "" {
			t.Errorf("le1 passed with message %q", le1.Message)
		}
		if !cnt.Passed || !r.Validations[2].Passed {
			t.Errorf("count, seen = %+v, %+v", cnt, r.Validations[2])
		}
		if unknown.Passed || unknown.Message != `could not be evaluated: no table "nope"` {
			t.Errorf("unknown table = %+v", unknown)
		}
		// Warnings do not fail the report.
		if !r.ValidationsPassed() {
			t.Errorf("limit %s: ValidationsPassed false, but only warnings failed", tt.limit)
		}
	}
}
