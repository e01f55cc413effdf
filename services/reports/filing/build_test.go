package filing

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
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
			{ID: "sum", Severity: "error", Check: func(cell func(string) (decimal.Decimal, error), _ Lookup) (bool, error) {
				a, _ := cell("total")
				b, _ := cell("corp")
				c, _ := cell("retail")
				return a.Equal(b.Add(c)), nil
			}},
			{ID: "broken", Severity: "warning", Check: func(cell func(string) (decimal.Decimal, error), _ Lookup) (bool, error) {
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
