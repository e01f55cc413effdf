package render

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/layout"
	"github.com/xuri/excelize/v2"
)

// Creator is the author stamped into every workbook's document properties.
const Creator = "Ledgerline"

// XLSX renders r as a workbook.
//
// With a layout (the bytes of the regulator's .xlsx, checked with layout.Check
// first), it fills the layout in place: each cell's amount at Cell.At and each
// table's rows from Table.At down (the GroupBy dimensions, then the value), on
// sheets that must exist in the layout. Everything else in the layout — styles,
// merged cells, formulas, other sheets — is kept; an amount cell keeps its font,
// fill and border and takes r.NumberFormat. Formulas are recalculated when the
// workbook is opened.
//
// Without a layout (layout == nil), it builds a workbook with one sheet per
// report sheet, streaming rows so that tables of any length fit in bounded
// memory, with each cell's label left of it and a header row above each table.
//
// Amounts are number cells holding the exact decimal text. The output depends
// only on the inputs: document properties are stamped from r.PeriodEnd and the
// archive is written with a fixed entry order and entry times.
func XLSX(r filing.Report, layout []byte) ([]byte, error) {
	if err := checkReport(r); err != nil {
		return nil, fmt.Errorf("render xlsx %s: %w", r.Template, err)
	}
	var (
		out []byte
		err error
	)
	if layout == nil {
		out, err = streamWorkbook(r)
	} else {
		out, err = fillLayout(r, layout)
	}
	if err != nil {
		return nil, fmt.Errorf("render xlsx %s: %w", r.Template, err)
	}
	return out, nil
}

// setProps stamps the document properties. Excel and excelize would stamp the
// wall clock; the period end is what the file is about and keeps it replayable.
func setProps(f *excelize.File, r filing.Report) error {
	stamp := r.PeriodEnd.UTC().Format(time.RFC3339)
	title := r.Name
	if title == "" {
		title = r.Template
	}
	return f.SetDocProps(&excelize.DocProperties{
		Created:        stamp,
		Modified:       stamp,
		Creator:        Creator,
		LastModifiedBy: Creator,
		Title:          title,
		Subject:        fmt.Sprintf("%s v%d, period %s", r.Template, r.Version, r.Period),
	})
}

// save writes f through the deterministic packer.
func save(f *excelize.File, fix func(name string, data []byte) ([]byte, error)) ([]byte, error) {
	f.SetZipWriter(func(w io.Writer) excelize.ZipWriter { return newPacker(w, fix) })
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("write workbook: %w", err)
	}
	return buf.Bytes(), nil
}

// fillLayout writes the report into the regulator's workbook. It uses excelize's
// in-memory cell API (a StreamWriter would replace the sheet, losing the layout);
// SetCellDefault writes the decimal text as a number cell verbatim.
func fillLayout(r filing.Report, data []byte) ([]byte, error) {
	// The stored layout was checked at upload; it is checked again because
	// rendering must never be the first to parse untrusted bytes.
	info, err := layout.Check(data)
	if err != nil {
		return nil, err
	}
	for _, s := range r.Sheets {
		if !info.HasSheet(s.Name) {
			return nil, fmt.Errorf("layout has no sheet %q (its sheets: %s)", s.Name, quoteAll(info.SheetNames()))
		}
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: layout.MaxUncompressedSize})
	if err != nil {
		return nil, fmt.Errorf("open layout: %w", err)
	}
	defer f.Close()

	st := &styler{f: f, format: r.NumberFormat, derived: map[int]int{}}
	put := func(sheet, ref, text string) error {
		if err := f.SetCellDefault(sheet, ref, text); err != nil {
			return fmt.Errorf("sheet %q cell %s: %w", sheet, ref, err)
		}
		return st.apply(sheet, ref)
	}
	for _, s := range r.Sheets {
		for _, c := range s.Cells {
			if err := put(s.Name, c.At, amount(r, c.Value)); err != nil {
				return nil, err
			}
		}
		for _, t := range s.Tables {
			for i, row := range t.Rows {
				for j, dim := range row.Dims {
					ref, err := tableRef(t, i, j)
					if err != nil {
						return nil, err
					}
					if err := f.SetCellStr(s.Name, ref, dim); err != nil {
						return nil, fmt.Errorf("sheet %q cell %s: %w", s.Name, ref, err)
					}
				}
				ref, err := tableRef(t, i, len(t.GroupBy))
				if err != nil {
					return nil, err
				}
				if err := put(s.Name, ref, amount(r, row.Value)); err != nil {
					return nil, err
				}
			}
		}
	}
	// The layout's formulas (totals, checks) still hold cached results computed
	// from the empty template; make Excel recalculate them on open.
	full := true
	if err := f.SetCalcProps(&excelize.CalcPropsOptions{FullCalcOnLoad: &full}); err != nil {
		return nil, err
	}
	if err := setProps(f, r); err != nil {
		return nil, err
	}
	return save(f, nil)
}

// styler applies the report's number format to layout cells, keeping the rest
// of each cell's style. A layout has a handful of styles, so the derived style
// for each source style is made once.
type styler struct {
	f       *excelize.File
	format  string
	derived map[int]int // source style id -> id with the number format
}

func (s *styler) apply(sheet, ref string) error {
	if s.format == "" {
		return nil // the layout's own format stands
	}
	src, err := s.f.GetCellStyle(sheet, ref)
	if err != nil {
		return err
	}
	id, ok := s.derived[src]
	if !ok {
		style, err := s.f.GetStyle(src)
		if err != nil {
			return fmt.Errorf("style %d of sheet %q cell %s: %w", src, sheet, ref, err)
		}
		format := s.format
		style.NumFmt, style.DecimalPlaces, style.NegRed, style.CustomNumFmt = 0, nil, false, &format
		if id, err = s.f.NewStyle(style); err != nil {
			return fmt.Errorf("number format %q: %w", s.format, err)
		}
		s.derived[src] = id
	}
	return s.f.SetCellStyle(sheet, ref, ref, id)
}

// streamAmount is how an amount goes through the StreamWriter. The StreamWriter
// of excelize v2.11.1 writes a raw numeric <v> only for Go ints and floats
// (setCellValFunc); a decimal, a string or any other type becomes an inline
// string, and the only way to a fractional number is float64, which this
// project does not put money through. So the exact text is streamed as an inline
// string in a style used only by amounts, and numberCells turns exactly those
// cells into number cells as the archive is written; the count is checked.
func streamAmount(style int, text string) excelize.Cell {
	return excelize.Cell{StyleID: style, Value: text}
}

// item is one cell of a streamed sheet.
type item struct {
	row, col int
	value    any
	// data cells (amounts, dimension values) win over labels and headers
	// where a label would land on another cell's position.
	data bool
}

// streamWorkbook builds a new workbook from the report alone.
func streamWorkbook(r filing.Report) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()

	format := r.NumberFormat
	if format == "" {
		format = fixedFormat(r.Decimals)
	}
	amountStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		return nil, fmt.Errorf("number format %q: %w", format, err)
	}
	if amountStyle == 0 {
		// numberCells finds amounts by their style; the default style is everywhere.
		return nil, fmt.Errorf("number format %q did not get a style of its own", format)
	}
	headerStyle, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}

	// The first report sheet takes the place of excelize's default "Sheet1";
	// a report without sheets keeps it, as a workbook needs one.
	for i, s := range r.Sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s.Name); err != nil {
				return nil, fmt.Errorf("sheet %q: %w", s.Name, err)
			}
			continue
		}
		if _, err := f.NewSheet(s.Name); err != nil {
			return nil, fmt.Errorf("sheet %q: %w", s.Name, err)
		}
	}
	amounts := 0
	for _, s := range r.Sheets {
		n, err := streamSheet(f, r, s, amountStyle, headerStyle)
		if err != nil {
			return nil, fmt.Errorf("sheet %q: %w", s.Name, err)
		}
		amounts += n
	}
	if err := setProps(f, r); err != nil {
		return nil, err
	}
	rewritten := 0
	out, err := save(f, func(name string, data []byte) ([]byte, error) {
		if !isWorksheetPart(name) {
			return data, nil
		}
		fixed, n, err := numberCells(data, amountStyle)
		rewritten += n
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return fixed, nil
	})
	if err != nil {
		return nil, err
	}
	if rewritten != amounts {
		return nil, fmt.Errorf("wrote %d amounts but found %d to make numeric: excelize's stream output changed", amounts, rewritten)
	}
	return out, nil
}

// streamSheet writes one sheet's cells and tables in row order, the only order
// a StreamWriter accepts. It returns how many amounts it wrote.
func streamSheet(f *excelize.File, r filing.Report, s filing.Sheet, amountStyle, headerStyle int) (int, error) {
	var items []item
	amounts := 0
	for _, c := range s.Cells {
		col, row, _ := excelize.CellNameToCoordinates(c.At) // checked by checkReport
		items = append(items, item{row: row, col: col, value: streamAmount(amountStyle, amount(r, c.Value)), data: true})
		amounts++
		if c.Label != "" && col > 1 {
			items = append(items, item{row: row, col: col - 1, value: c.Label})
		}
	}
	for _, t := range s.Tables {
		col, row, _ := excelize.CellNameToCoordinates(t.At)
		if row > 1 {
			for j, g := range t.GroupBy {
				items = append(items, item{row: row - 1, col: col + j, value: excelize.Cell{StyleID: headerStyle, Value: g}})
			}
			items = append(items, item{row: row - 1, col: col + len(t.GroupBy), value: excelize.Cell{StyleID: headerStyle, Value: valueColumn}})
		}
		for i, rw := range t.Rows {
			for j, d := range rw.Dims {
				items = append(items, item{row: row + i, col: col + j, value: d, data: true})
			}
			items = append(items, item{row: row + i, col: col + len(t.GroupBy), value: streamAmount(amountStyle, amount(r, rw.Value)), data: true})
			amounts++
		}
	}
	// Row, then column; at one position the data cell first, then whichever
	// label or header came first in the report.
	slices.SortStableFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.row, b.row); c != 0 {
			return c
		}
		if c := cmp.Compare(a.col, b.col); c != 0 {
			return c
		}
		switch {
		case a.data && !b.data:
			return -1
		case b.data && !a.data:
			return 1
		}
		return 0
	})

	sw, err := f.NewStreamWriter(s.Name)
	if err != nil {
		return 0, err
	}
	var values []any
	for i := 0; i < len(items); {
		row, first := items[i].row, items[i].col
		values = values[:0]
		for ; i < len(items) && items[i].row == row; i++ {
			it := items[i]
			if at := first + len(values) - 1; it.col == at {
				continue // a label under a data cell (or a second label): the first stays
			}
			for first+len(values) < it.col {
				values = append(values, nil) // SetRow skips nil: an empty cell
			}
			values = append(values, it.value)
		}
		ref, err := excelize.CoordinatesToCellName(first, row)
		if err != nil {
			return 0, err
		}
		if err := sw.SetRow(ref, values); err != nil {
			return 0, fmt.Errorf("row %d: %w", row, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return 0, err
	}
	return amounts, nil
}

// fixedFormat is the number format for amounts when the report names none:
// exactly Decimals places, so 1234.50 does not show as 1234.5.
func fixedFormat(decimals int) string {
	if decimals == 0 {
		return "0"
	}
	return "0." + strings.Repeat("0", decimals)
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
