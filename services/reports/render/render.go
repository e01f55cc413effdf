// Package render turns a filing.Report into the files a filing is made of: the
// XLSX workbook (the regulator's own layout filled in place, or a plain workbook
// built from the report), a flat CSV and the JSON document described in DESIGN.md.
//
// Rendering is a pure function of the report (and the layout bytes): the same
// inputs give byte-identical files, because the filing stores a SHA-256 of each
// file and a replay must reproduce it. Amounts never pass through float64: every
// renderer writes the decimal text, rounded to Report.Decimals places, so the
// three files agree digit for digit.
package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/layout"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// ErrInvalidReport wraps every reason a report cannot be rendered at all
// (as opposed to a bad layout or an I/O failure).
var ErrInvalidReport = errors.New("invalid report")

// maxDecimals bounds Report.Decimals: beyond this no currency or ratio makes
// sense, and Excel shows at most 30 decimal places anyway.
const maxDecimals = 30

// valueColumn is the name of a table's value in the XLSX header row and in the
// JSON row objects, so no dimension may take it.
const valueColumn = "value"

// amount is the one way an amount becomes text, shared by all renderers.
func amount(r filing.Report, v decimal.Decimal) string {
	return v.StringFixed(int32(r.Decimals))
}

// tableRef is the cell of column offset col (0-based) in table row i.
func tableRef(t filing.Table, i, col int) (string, error) {
	c, row, err := excelize.CellNameToCoordinates(t.At)
	if err != nil {
		return "", err
	}
	return excelize.CoordinatesToCellName(c+col, row+i)
}

// checkReport rejects what no renderer can write faithfully: codes that would
// collide in the JSON or the lineage, references outside the grid, rows whose
// dimensions do not match the table's, and two amounts in the same cell.
func checkReport(r filing.Report) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidReport, fmt.Sprintf(format, args...))
	}
	if r.Decimals < 0 || r.Decimals > maxDecimals {
		return bad("decimals %d out of range 0..%d", r.Decimals, maxDecimals)
	}
	codes := map[string]string{} // code -> sheet, for duplicate codes
	sheets := map[string]bool{}  // for duplicate sheet names
	claim := func(sheet, code string) error {
		if code == "" {
			return bad("sheet %q: a cell or table has no code", sheet)
		}
		if other, ok := codes[code]; ok {
			return bad("code %q is used twice (sheets %q and %q)", code, other, sheet)
		}
		codes[code] = sheet
		return nil
	}
	for _, s := range r.Sheets {
		if s.Name == "" {
			return bad("a sheet has no name")
		}
		if sheets[s.Name] {
			return bad("sheet %q appears twice", s.Name)
		}
		sheets[s.Name] = true
		// Which code fills each cell: amounts and table dimensions must not
		// overwrite each other.
		filled := map[[2]int]string{}
		fill := func(code string, col, row int) error {
			if other, ok := filled[[2]int{col, row}]; ok {
				ref, _ := excelize.CoordinatesToCellName(col, row)
				return bad("sheet %q: cell %s is filled by both %q and %q", s.Name, ref, other, code)
			}
			filled[[2]int{col, row}] = code
			return nil
		}
		for _, c := range s.Cells {
			if err := claim(s.Name, c.Code); err != nil {
				return err
			}
			col, row, err := excelize.CellNameToCoordinates(c.At)
			if err != nil {
				return bad("cell %q: %v", c.Code, layout.ValidCell(c.At))
			}
			if err := fill(c.Code, col, row); err != nil {
				return err
			}
		}
		for _, t := range s.Tables {
			if err := claim(s.Name, t.Code); err != nil {
				return err
			}
			col, row, err := excelize.CellNameToCoordinates(t.At)
			if err != nil {
				return bad("table %q: %v", t.Code, layout.ValidCell(t.At))
			}
			dims := map[string]bool{}
			for _, g := range t.GroupBy {
				switch {
				case g == "":
					return bad("table %q: a group_by dimension has no name", t.Code)
				case g == valueColumn:
					return bad("table %q: a dimension may not be named %q", t.Code, valueColumn)
				case dims[g]:
					return bad("table %q: dimension %q appears twice", t.Code, g)
				case strings.ContainsAny(g, "=;"):
					// The CSV writes dimensions as dim=value;dim=value.
					return bad("table %q: dimension name %q contains '=' or ';'", t.Code, g)
				}
				dims[g] = true
			}
			if last := col + len(t.GroupBy); last > excelize.MaxColumns {
				return bad("table %q: its value column is past the last column", t.Code)
			}
			if last := row + len(t.Rows) - 1; last > excelize.TotalRows {
				return bad("table %q: %d rows from %s run past row %d", t.Code, len(t.Rows), t.At, excelize.TotalRows)
			}
			for i, rw := range t.Rows {
				if len(rw.Dims) != len(t.GroupBy) {
					return bad("table %q row %d: %d dimension values for %d group_by dimensions", t.Code, i+1, len(rw.Dims), len(t.GroupBy))
				}
				for j := 0; j <= len(t.GroupBy); j++ {
					if err := fill(t.Code, col+j, row+i); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
