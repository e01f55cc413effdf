package filing

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Spec is what a report is built from: a template version's sheets, tables and
// validations, with its expressions already compiled (the reports service maps
// a parsed template onto it).
type Spec struct {
	Template     string
	Version      int
	Name         string
	Regulator    string
	Currency     string
	Decimals     int
	NumberFormat string
	Sheets       []SheetSpec
	Validations  []ValidationSpec
}

// SheetSpec is one worksheet of a template.
type SheetSpec struct {
	Name   string
	Cells  []CellSpec
	Tables []TableSpec
}

// CellSpec is a cell: the figure summed over the dimensions Where does not fix.
type CellSpec struct {
	Code, At, Label, Figure string
	Where                   map[string]string
}

// TableSpec is a table: one row per distinct combination of the GroupBy
// dimensions, kept when Having holds, ordered by OrderBy, at most Limit rows.
type TableSpec struct {
	Code, At, Label, Figure string
	GroupBy                 []string
	Having                  HavingFunc // nil keeps every row
	OrderBy                 string     // "value desc", "value asc", "<dim> asc|desc"; "" orders by the GroupBy dimensions
	Limit                   int        // 0: no limit
}

// ValidationSpec is one of the template's validations.
type ValidationSpec struct {
	ID, Severity string
	// Message is what a failed validation says, e.g. the rule it checks;
	// "" for "the expression is false".
	Message string
	Check   CheckFunc
}

// Lookup is figure(name, dims) in an expression: the figure under a filter.
type Lookup func(name string, dims map[string]string) (decimal.Decimal, error)

// HavingFunc decides whether a table row is kept.
type HavingFunc func(value decimal.Decimal, row map[string]string, figure Lookup) (bool, error)

// CheckFunc evaluates a validation over the report's cells (cell: a cell's
// reported amount) and tables (rows: the reported values of a table's rows, in
// the table's order).
type CheckFunc func(cell func(code string) (decimal.Decimal, error), rows func(table string) ([]decimal.Decimal, error), figure Lookup) (bool, error)

// DimValue is a figure's value for one set of dimension values.
type DimValue struct {
	Dims  map[string]string
	Value decimal.Decimal
}

// ErrDerived is what Figures.Rows answers for a derived figure: it has no
// dimensions, ask Figures.Value.
var ErrDerived = errors.New("derived figure")

// Figures supplies the figure values of one (period, watermark), already in the
// reporting currency.
type Figures interface {
	// Rows is the figure by dimension set (ErrDerived for a derived figure).
	Rows(figure string) ([]DimValue, error)
	// Value is a derived figure (where is nil: derived figures have no dimensions).
	Value(figure string, where map[string]string) (decimal.Decimal, error)
}

// Build computes a report: every cell, every table row, every validation. Amounts
// are computed exactly, rounded to the template's decimal places only when
// reported; having expressions see exact values, validations the reported ones
// (what the regulator will check): cells, and the rows of tables after their
// having, order and limit. A figure that cannot be computed fails the
// build; a validation that cannot be evaluated fails as a validation.
func Build(spec Spec, period string, periodEnd time.Time, asOfSeq uint64, figs Figures) (Report, error) {
	r := Report{Template: spec.Template, Version: spec.Version, Name: spec.Name, Regulator: spec.Regulator, Period: period,
		PeriodEnd: periodEnd, AsOfSeq: asOfSeq, Currency: spec.Currency, Decimals: spec.Decimals, NumberFormat: spec.NumberFormat}
	b := builder{figs: figs, rows: map[string][]DimValue{}, sums: map[string]map[string]decimal.Decimal{}}
	round := func(d decimal.Decimal) decimal.Decimal { return d.Round(int32(spec.Decimals)) }
	reported := map[string]decimal.Decimal{}
	tables := map[string][]decimal.Decimal{}
	for _, ss := range spec.Sheets {
		sh := Sheet{Name: ss.Name}
		for _, cs := range ss.Cells {
			v, err := b.value(cs.Figure, cs.Where)
			if err != nil {
				return Report{}, fmt.Errorf("cell %s: %w", cs.Code, err)
			}
			v = round(v)
			reported[cs.Code] = v
			sh.Cells = append(sh.Cells, Cell{Code: cs.Code, At: cs.At, Label: cs.Label, Value: v})
		}
		for _, ts := range ss.Tables {
			t, err := b.table(ts)
			if err != nil {
				return Report{}, fmt.Errorf("table %s: %w", ts.Code, err)
			}
			values := make([]decimal.Decimal, len(t.Rows))
			for i := range t.Rows {
				t.Rows[i].Value = round(t.Rows[i].Value)
				values[i] = t.Rows[i].Value
			}
			tables[ts.Code] = values
			sh.Tables = append(sh.Tables, t)
		}
		r.Sheets = append(r.Sheets, sh)
	}
	cell := func(code string) (decimal.Decimal, error) {
		v, ok := reported[code]
		if !ok {
			return decimal.Decimal{}, fmt.Errorf("no cell %q", code)
		}
		return v, nil
	}
	rows := func(code string) ([]decimal.Decimal, error) {
		v, ok := tables[code]
		if !ok {
			return nil, fmt.Errorf("no table %q", code)
		}
		return v, nil
	}
	for _, vs := range spec.Validations {
		res := ValidationResult{ID: vs.ID, Severity: vs.Severity}
		ok, err := vs.Check(cell, rows, b.lookup)
		switch {
		case err != nil:
			res.Message = "could not be evaluated: " + err.Error()
		case !ok && vs.Message != "":
			res.Message = vs.Message
		case !ok:
			res.Message = "the expression is false"
		default:
			res.Passed = true
		}
		r.Validations = append(r.Validations, res)
	}
	return r, nil
}

// ValidationsPassed reports whether every error-severity validation passed.
func (r Report) ValidationsPassed() bool {
	for _, v := range r.Validations {
		if v.Severity == "error" && !v.Passed {
			return false
		}
	}
	return true
}

// builder asks Figures once per figure and derives every cell from the rows.
type builder struct {
	figs Figures
	rows map[string][]DimValue
	// sums indexes a figure's rows by the values of one set of filter
	// dimensions (figure + "\x00" + the sorted names): thousands of cells
	// filtering the same figure cost one pass over its rows, not one each.
	sums map[string]map[string]decimal.Decimal
}

func (b *builder) figureRows(name string) ([]DimValue, error) {
	if rows, ok := b.rows[name]; ok {
		return rows, nil
	}
	rows, err := b.figs.Rows(name)
	if err != nil {
		return nil, err
	}
	b.rows[name] = rows
	return rows, nil
}

// value is the figure summed over the rows matching where.
func (b *builder) value(name string, where map[string]string) (decimal.Decimal, error) {
	rows, err := b.figureRows(name)
	if errors.Is(err, ErrDerived) {
		return b.figs.Value(name, where)
	}
	if err != nil {
		return decimal.Decimal{}, err
	}
	names := make([]string, 0, len(where))
	for k := range where {
		names = append(names, k)
	}
	slices.Sort(names)
	index := name + "\x00" + strings.Join(names, "\x00")
	sums, ok := b.sums[index]
	if !ok {
		sums = map[string]decimal.Decimal{}
		for _, r := range rows {
			k := valuesKey(r.Dims, names)
			sums[k] = sums[k].Add(r.Value)
		}
		b.sums[index] = sums
	}
	return sums[valuesKey(where, names)], nil
}

// valuesKey joins the values of the named dimensions.
func valuesKey(dims map[string]string, names []string) string {
	var sb strings.Builder
	for _, n := range names {
		sb.WriteString(dims[n])
		sb.WriteByte(0)
	}
	return sb.String()
}

func (b *builder) lookup(name string, dims map[string]string) (decimal.Decimal, error) {
	return b.value(name, dims)
}

func (b *builder) table(ts TableSpec) (Table, error) {
	rows, err := b.figureRows(ts.Figure)
	if err != nil {
		return Table{}, err
	}
	type group struct {
		dims  []string
		value decimal.Decimal
	}
	index := map[string]int{}
	var groups []group
	var key strings.Builder
	for _, r := range rows {
		key.Reset()
		dims := make([]string, len(ts.GroupBy))
		for i, d := range ts.GroupBy {
			dims[i] = r.Dims[d]
			key.WriteString(dims[i])
			key.WriteByte(0)
		}
		i, ok := index[key.String()]
		if !ok {
			i = len(groups)
			index[key.String()] = i
			groups = append(groups, group{dims: dims})
		}
		groups[i].value = groups[i].value.Add(r.Value)
	}
	t := Table{Code: ts.Code, At: ts.At, Label: ts.Label, GroupBy: ts.GroupBy}
	for _, g := range groups {
		if ts.Having != nil {
			row := make(map[string]string, len(ts.GroupBy))
			for i, d := range ts.GroupBy {
				row[d] = g.dims[i]
			}
			keep, err := ts.Having(g.value, row, b.lookup)
			if err != nil {
				return Table{}, fmt.Errorf("having, row %s: %w", strings.Join(g.dims, "/"), err)
			}
			if !keep {
				continue
			}
		}
		t.Rows = append(t.Rows, Row{Dims: g.dims, Value: g.value})
	}
	if err := order(t.Rows, ts.GroupBy, ts.OrderBy); err != nil {
		return Table{}, err
	}
	if ts.Limit > 0 && len(t.Rows) > ts.Limit {
		t.Rows = t.Rows[:ts.Limit]
	}
	return t, nil
}

// order sorts rows by orderBy; ties (and "") fall back to the dimension values,
// so the order is total and the files deterministic.
func order(rows []Row, groupBy []string, orderBy string) error {
	byDims := func(a, b Row) int { return slices.Compare(a.Dims, b.Dims) }
	f := strings.Fields(orderBy)
	if len(f) == 0 {
		slices.SortStableFunc(rows, byDims)
		return nil
	}
	desc := len(f) > 1 && strings.EqualFold(f[1], "desc")
	if len(f) > 2 || (len(f) == 2 && !desc && !strings.EqualFold(f[1], "asc")) {
		return fmt.Errorf("order_by %q: want \"<value|dimension> [asc|desc]\"", orderBy)
	}
	var primary func(a, b Row) int
	if f[0] == "value" {
		primary = func(a, b Row) int { return a.Value.Cmp(b.Value) }
	} else {
		i := slices.Index(groupBy, f[0])
		if i < 0 {
			return fmt.Errorf("order_by %q: %s is not one of group_by %v", orderBy, f[0], groupBy)
		}
		primary = func(a, b Row) int { return cmp.Compare(a.Dims[i], b.Dims[i]) }
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		c := primary(a, b)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return byDims(a, b)
	})
	return nil
}

// Zero is a dry-run source: every figure without rows, every derived figure 0.
// Onboarding renders a template with it to prove the layout takes every cell.
type Zero struct{}

// Rows answers no rows.
func (Zero) Rows(string) ([]DimValue, error) { return nil, nil }

// Value answers 0.
func (Zero) Value(string, map[string]string) (decimal.Decimal, error) { return decimal.Zero, nil }
