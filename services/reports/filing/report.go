// Package filing is the pure core of a filing: the report a template produces for
// one period as of one watermark (cells, tables, validation results), computed from
// figure breakdowns without I/O. Renderers (package render) turn a Report into
// files; the store keeps it.
package filing

import (
	"time"

	"github.com/shopspring/decimal"
)

// Report is everything a filing's files are rendered from. Values are already
// in the reporting currency and rounded to Decimals places.
type Report struct {
	Template  string    // template id
	Version   int       // template version
	Name      string    // the template's display name
	Regulator string    // the template's regulator
	Period    string    // "2026-10", "2026-Q3" or "2026"
	PeriodEnd time.Time // the period's end (exclusive), in the template's time zone: stamps the files
	AsOfSeq   uint64    // the knowledge watermark the figures were computed at
	Currency  string    // the reporting currency
	Decimals  int       // decimal places of every amount
	// NumberFormat is the Excel number format of amounts, e.g. "#,##0.00".
	NumberFormat string
	Sheets       []Sheet
	Validations  []ValidationResult
}

// Sheet is one worksheet of the report.
type Sheet struct {
	Name   string
	Cells  []Cell
	Tables []Table
}

// Cell is one reported amount at a fixed position.
type Cell struct {
	Code  string // the stable cell code: the lineage key
	At    string // A1 reference, e.g. "D8"
	Label string
	Value decimal.Decimal
}

// Table is a block of rows generated from a figure's dimensions. Its first row is
// at At; each row has one column per GroupBy dimension, then the value.
type Table struct {
	Code    string
	At      string
	Label   string
	GroupBy []string // the dimension names, in column order
	Rows    []Row
}

// Row is one row of a table.
type Row struct {
	Dims  []string // the dimension values, in GroupBy order
	Value decimal.Decimal
}

// ValidationResult is the outcome of one of the template's validations.
type ValidationResult struct {
	ID       string `json:"id"`
	Severity string `json:"severity"` // error | warning
	Passed   bool   `json:"passed"`
	Message  string `json:"message,omitempty"` // why it failed or could not be evaluated
}
