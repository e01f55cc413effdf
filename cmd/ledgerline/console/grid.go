package console

import (
	"sort"
	"strings"

	"github.com/ledgerline/ledgerline/services/reports"
)

// A sheet of a filing as the regulator sees it in the workbook: a grid of
// spreadsheet rows and columns holding the layout's own text (labels, row and
// column codes) with the filed amounts in place, each amount with its cell
// code. A generated workbook (no layout) has each cell's label left of it and
// a header row above each table, as package render writes it.

// gridCell is one spreadsheet cell of a sheet.
type gridCell struct {
	Ref    string // A1 reference
	Text   string // the layout's text, a label, a header or a table row's dimension value
	Code   string // the cell or table code of an amount ("" for text)
	Row    int    // the table row (1..) of a table amount; 0 for a cell
	Amount string // the filed amount ("" for text)
	Header bool
}

// gridRow is one spreadsheet row.
type gridRow struct {
	N     int
	Cells []gridCell // one per column of the grid, empty ones included
}

// sheetGrid is a page of spreadsheet rows of one sheet.
type sheetGrid struct {
	Sheet    string
	Columns  []int // column numbers (1 = A)
	Rows     []gridRow
	First    int // the first spreadsheet row of the sheet's used range
	Last     int // its last
	From, To int // the rows of this page
	Prev     int // the first row of the previous page (0: none)
	Next     int // the first row of the next page (0: none)
	Amounts  int // amounts on the whole sheet
}

// sheetIndex is every used cell of a sheet by position, built once per filing.
type sheetIndex struct {
	name      string
	cells     map[[2]int]gridCell // (row, col)
	rows      []int               // used rows, sorted
	minC      int
	maxC      int
	amounts   int
	firstRow  int
	lastRow   int
	rowsByNum map[int][]int // row → used columns, sorted
}

// indexSheet builds the index of one sheet of a report, over the layout text
// of that sheet (nil for a generated workbook).
func indexSheet(sh reports.FiledSheet, layoutText map[string]string) *sheetIndex {
	ix := &sheetIndex{name: sh.Name, cells: map[[2]int]gridCell{}, rowsByNum: map[int][]int{}}
	put := func(col, row int, c gridCell, over bool) {
		if col < 1 || row < 1 {
			return
		}
		k := [2]int{row, col}
		if _, taken := ix.cells[k]; taken && !over {
			return
		}
		c.Ref = colName(col) + itoa(row)
		ix.cells[k] = c
	}
	for ref, text := range layoutText {
		if col, row, ok := splitRef(ref); ok {
			put(col, row, gridCell{Text: text}, false)
		}
	}
	generated := layoutText == nil
	for _, c := range sh.Cells {
		col, row, ok := splitRef(c.At)
		if !ok {
			continue
		}
		put(col, row, gridCell{Code: c.Code, Amount: c.Value}, true)
		ix.amounts++
		if generated && c.Label != "" {
			put(col-1, row, gridCell{Text: c.Label}, false)
		}
	}
	for _, t := range sh.Tables {
		col, row, ok := splitRef(t.At)
		if !ok {
			continue
		}
		if generated && row > 1 {
			for j, g := range t.GroupBy {
				put(col+j, row-1, gridCell{Text: g, Header: true}, false)
			}
			put(col+len(t.GroupBy), row-1, gridCell{Text: "value", Header: true}, false)
		}
		for i, r := range t.Rows {
			for j, d := range r.Dims {
				put(col+j, row+i, gridCell{Text: d}, true)
			}
			put(col+len(t.GroupBy), row+i, gridCell{Code: t.Code, Row: i + 1, Amount: r.Value}, true)
			ix.amounts++
		}
	}
	ix.minC, ix.maxC = 0, 0
	for k := range ix.cells {
		row, col := k[0], k[1]
		ix.rowsByNum[row] = append(ix.rowsByNum[row], col)
		if ix.minC == 0 || col < ix.minC {
			ix.minC = col
		}
		if col > ix.maxC {
			ix.maxC = col
		}
	}
	for row, cols := range ix.rowsByNum {
		sort.Ints(cols)
		ix.rows = append(ix.rows, row)
	}
	sort.Ints(ix.rows)
	if len(ix.rows) > 0 {
		ix.firstRow, ix.lastRow = ix.rows[0], ix.rows[len(ix.rows)-1]
	}
	return ix
}

// maxGridColumns bounds the columns a page shows: a layout may use a wide
// range (notes far to the right); the amounts' columns are always inside.
const maxGridColumns = 40

// page is the grid of the spreadsheet rows from..from+n-1 that are in use
// (empty rows in between are left out, as a long gap would be noise).
func (ix *sheetIndex) page(from, n int) sheetGrid {
	g := sheetGrid{Sheet: ix.name, First: ix.firstRow, Last: ix.lastRow, Amounts: ix.amounts}
	if len(ix.rows) == 0 {
		return g
	}
	if from < ix.firstRow {
		from = ix.firstRow
	}
	// The page holds n used rows from the first used row at or after from.
	start := sort.SearchInts(ix.rows, from)
	if start >= len(ix.rows) {
		start = max(len(ix.rows)-n, 0)
	}
	end := min(start+n, len(ix.rows))
	if start > 0 {
		g.Prev = ix.rows[max(start-n, 0)]
	}
	if end < len(ix.rows) {
		g.Next = ix.rows[end]
	}
	g.From, g.To = ix.rows[start], ix.rows[end-1]
	minC, maxC := ix.minC, ix.maxC
	if maxC-minC+1 > maxGridColumns {
		// Keep the columns of the amounts on this page in view.
		lo, hi := 0, 0
		for _, row := range ix.rows[start:end] {
			for _, col := range ix.rowsByNum[row] {
				if ix.cells[[2]int{row, col}].Code == "" {
					continue
				}
				if lo == 0 || col < lo {
					lo = col
				}
				hi = max(hi, col)
			}
		}
		if lo == 0 {
			lo, hi = minC, minC
		}
		minC = max(ix.minC, hi-maxGridColumns+1)
		minC = min(minC, lo)
		maxC = min(ix.maxC, minC+maxGridColumns-1)
	}
	for col := minC; col <= maxC; col++ {
		g.Columns = append(g.Columns, col)
	}
	for _, row := range ix.rows[start:end] {
		gr := gridRow{N: row}
		for col := minC; col <= maxC; col++ {
			c, ok := ix.cells[[2]int{row, col}]
			if !ok {
				c = gridCell{Ref: colName(col) + itoa(row)}
			}
			gr.Cells = append(gr.Cells, c)
		}
		g.Rows = append(g.Rows, gr)
	}
	return g
}

// splitRef reads an A1 reference ("D8", "$D$8") into its column and row (from 1).
func splitRef(ref string) (col, row int, ok bool) {
	ref = strings.ReplaceAll(strings.ToUpper(ref), "$", "")
	i := 0
	for ; i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z'; i++ {
		col = col*26 + int(ref[i]-'A'+1)
	}
	if i == 0 || i == len(ref) || i > 3 {
		return 0, 0, false
	}
	for ; i < len(ref); i++ {
		if ref[i] < '0' || ref[i] > '9' {
			return 0, 0, false
		}
		row = row*10 + int(ref[i]-'0')
		if row > 1<<20 {
			return 0, 0, false
		}
	}
	return col, row, row > 0
}

// colName is the letters of a column number: 1 → A, 27 → AA.
func colName(n int) string {
	var b []byte
	for n > 0 {
		n--
		b = append([]byte{byte('A' + n%26)}, b...)
		n /= 26
	}
	return string(b)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
