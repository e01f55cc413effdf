// Package template reads and checks a report template: the YAML the compliance
// team onboards as reports/<id>/template.yaml (DESIGN.md, "Report
// templates"). Parse turns the YAML into a Template whose expressions are
// compiled (a table's `having`, the validations) and whose figures are checked
// against the rules service's catalog, or refuses it with every problem found,
// each naming the cell code and field concerned, so the author can fix them
// all in one go.
//
// Onboarding calls Parse for the "validated" step of the template lifecycle;
// the renderer reads the cells, tables and validations of a parsed Template to
// build a filing (package filing), and the scheduler asks it when to run and
// for which period (package schedule). It is pure: no I/O, no clock.
package template

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/services/reports/schedule"
	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/shopspring/decimal"
)

// The values of the template's enumerated fields.
const (
	SignOffRequired = "required" // a named person signs the filing off before submission
	SignOffNone     = "none"

	SeverityError   = "error"   // a failed validation blocks submission
	SeverityWarning = "warning" // a failed validation is recorded

	OutputXLSX = "xlsx"
	OutputCSV  = "csv"
	OutputJSON = "json"

	// OrderValue is the order_by key of a table row's value; any other key is
	// one of the table's group_by dimensions.
	OrderValue = "value"
)

// Defaults of the optional fields.
const (
	DefaultDecimals = 2
	MaxDecimals     = 10
)

// DefaultOutputs are the files rendered when a template names none.
var DefaultOutputs = []string{OutputXLSX, OutputCSV, OutputJSON}

// Template is a parsed and checked report template. It is read-only once
// parsed and safe for concurrent use.
type Template struct {
	ID          string // [a-z0-9][a-z0-9-]*, e.g. "corep-own-funds"
	Name        string
	Description string
	Regulator   string
	// Frequency is schedule.Monthly, schedule.Quarterly or schedule.Annual: the
	// period a run files.
	Frequency string
	// Schedule is the cron expression (five fields) of the runs, in Location.
	Schedule string
	Timezone string         // the IANA name, e.g. "Europe/Berlin"
	Location *time.Location // Timezone, loaded
	// ReportingCurrency is the ISO 4217 code every amount is converted into.
	ReportingCurrency string
	// Decimals is the number of decimal places every amount is rounded to
	// (DefaultDecimals unless given).
	Decimals int
	// NumberFormat is the Excel number format of amounts; unless given,
	// "#,##0" followed by Decimals zeros after a point: "#,##0.00".
	NumberFormat string
	// Layout is the file name of the regulator's workbook next to the
	// template (e.g. "layout.xlsx"), filled in place for the xlsx output; ""
	// when the workbook is generated.
	Layout string
	// SignOff is SignOffRequired or SignOffNone (the default).
	SignOff     string
	Sheets      []Sheet
	Validations []Validation
	// Outputs are the files rendered, a subset of xlsx, csv, json in the
	// order given (DefaultOutputs unless given).
	Outputs []string
	// Submission is how filings are submitted; nil when they are not.
	Submission *Submission
	// Source is the YAML as onboarded, stored with the template version.
	Source []byte

	figures []string
}

// Sheet is one worksheet of the report.
type Sheet struct {
	Name   string
	Cells  []Cell
	Tables []Table
}

// Cell is one reported amount at a fixed position: the figure summed over the
// contributions matching Where.
type Cell struct {
	Code   string // the stable cell code, [a-z0-9_]+: the lineage key
	At     string // the A1 reference, in canonical form ("D8")
	Label  string
	Figure string
	// Where filters the figure by dimension value; nil sums over all.
	Where map[string]string
}

// Table is a block of rows generated from a figure's dimensions: one row per
// distinct combination of the GroupBy dimension values, holding the figure
// summed over the rest.
type Table struct {
	Code    string // like a cell code; it names the table, not a cell
	At      string // the A1 reference of the first row, canonical
	Label   string
	Figure  string
	GroupBy []string // dimension names, in column order; at least one
	// Having is the filter expression as written, "" when there is none;
	// HavingProg is it compiled, nil when there is none (see Keep).
	Having     string
	HavingProg *celenv.ReportProgram
	// OrderBy is order_by as written and checked: "value desc", "value asc"
	// or "<dimension> asc|desc" (asc when the direction is left out); ""
	// orders by the GroupBy dimensions.
	OrderBy string
	// Order is the complete sort order OrderBy means: its key, then the
	// GroupBy dimensions in column order, ascending, so that the order is
	// total and rendering deterministic. Values compare numerically,
	// dimension values byte-wise.
	Order []OrderKey
	// Limit is the maximum number of rows after filtering and ordering; 0
	// for no limit.
	Limit int
}

// OrderKey is one key of a table's order: OrderValue or a dimension name.
type OrderKey struct {
	By   string
	Desc bool
}

func (k OrderKey) String() string {
	if k.Desc {
		return k.By + " desc"
	}
	return k.By + " asc"
}

// Keep reports whether a row of the table passes its having filter (always,
// without one). value is the row's value, row its dimension values; lookup
// supplies figure() at the filing's period and watermark.
func (t *Table) Keep(value decimal.Decimal, row map[string]string, lookup func(name string, dims map[string]string) (decimal.Decimal, error)) (bool, error) {
	if t.HavingProg == nil {
		return true, nil
	}
	ok, err := t.HavingProg.Having(value, row, lookup)
	if err != nil {
		return false, fmt.Errorf("table %s having: %w", t.Code, err)
	}
	return ok, nil
}

// Validation is one of the template's checks on the reported cells, like the
// regulators' own validation rules.
type Validation struct {
	ID       string
	Expr     string                // as written
	Program  *celenv.ReportProgram // compiled
	Severity string                // SeverityError (the default) or SeverityWarning
	// Message is what a failed validation says (e.g. the rule it checks);
	// "" when the template gives none.
	Message string
}

// Submission says how filings of the template are submitted.
type Submission struct {
	Channel string // the submission channel, e.g. "regulator-sim"
	// Auto submits a filing once it is validated (and signed off, when the
	// template requires it) without waiting for a person to do it.
	Auto bool
}

// Figures returns the figures the template needs, sorted and distinct: those
// of its cells and tables and those figure() names in having and validations.
func (t *Template) Figures() []string { return slices.Clone(t.figures) }

// PeriodFor returns the period a run at the given time files: the month,
// quarter or year (per Frequency) just ended at run in the template's time
// zone, e.g. "2026-Q3" for a quarterly run on 2026-10-10.
func (t *Template) PeriodFor(run time.Time) string {
	return schedule.PeriodBefore(t.Frequency, run, t.Location)
}

// NextRuns returns the template's next n run times after `after`.
func (t *Template) NextRuns(after time.Time, n int) ([]time.Time, error) {
	return schedule.Next(t.Schedule, t.Location, after, n)
}

// MissedRuns returns the template's run times in (since, now]; see
// schedule.Missed.
func (t *Template) MissedRuns(since, now time.Time) ([]time.Time, error) {
	return schedule.Missed(t.Schedule, t.Location, since, now)
}

// Catalog is what Parse needs to know about figures, supplied by the caller
// from the rules service's active rule sets.
type Catalog interface {
	// Figure returns a figure's kind ("stock", "flow", "cumulative" or
	// "derived") and dimension names; ok is false when there is no such
	// figure.
	Figure(name string) (kind string, dimensions []string, ok bool)
}

// Problem is one reason a template is refused.
type Problem struct {
	// Cell is the code of the cell or table concerned, or the id of the
	// validation; "" for the template or a sheet as a whole.
	Cell string `json:"cell"`
	// Field is the path of the field concerned: "schedule",
	// "sheets[0].cells[2].at", "sheets[1].tables[0].group_by[1]",
	// "validations[v0001].expr" (validations by id, or by index when they
	// have none); "" for the document as a whole.
	Field string `json:"field"`
	// Message says what is wrong. An expression's errors start with CEL's
	// line:column inside the expression: "CEL 1:17: ...".
	Message string `json:"message"`
	// Line and Column locate the field in the YAML (1-based); 0 when unknown.
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	}
	switch {
	case p.Field != "" && p.Cell != "":
		fmt.Fprintf(&b, "%s (%s): ", p.Field, p.Cell)
	case p.Field != "":
		fmt.Fprintf(&b, "%s: ", p.Field)
	case p.Cell != "":
		fmt.Fprintf(&b, "%s: ", p.Cell)
	}
	b.WriteString(p.Message)
	return b.String()
}

// Invalid is the error of Parse for a template it refuses: every problem
// found, in the order of the YAML.
type Invalid struct {
	Problems []Problem
}

func (e *Invalid) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	noun := "problems"
	if len(parts) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid template: %d %s: %s", len(parts), noun, strings.Join(parts, "; "))
}
