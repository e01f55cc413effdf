package console

import (
	"fmt"
	"testing"

	"github.com/ledgerline/ledgerline/services/reports"
)

func TestSplitRefAndColName(t *testing.T) {
	for _, c := range []struct {
		ref      string
		col, row int
		ok       bool
	}{
		{"A1", 1, 1, true}, {"D8", 4, 8, true}, {"$D$8", 4, 8, true}, {"d8", 4, 8, true}, {"AA10", 27, 10, true},
		{"XFD1048576", 16384, 1048576, true}, {"8", 0, 0, false}, {"D", 0, 0, false}, {"D0", 0, 0, false}, {"D8x", 0, 0, false},
		{"ABCD1", 0, 0, false},
	} {
		col, row, ok := splitRef(c.ref)
		if ok != c.ok || (ok && (col != c.col || row != c.row)) {
			t.Errorf("splitRef(%q) = %d, %d, %v; want %d, %d, %v", c.ref, col, row, ok, c.col, c.row, c.ok)
		}
		if canonical := c.ref[0] >= 'A' && c.ref[0] <= 'Z'; ok && canonical && colName(col)+itoa(row) != c.ref {
			t.Errorf("colName(%d) + row = %s, want %s", col, colName(col)+itoa(row), c.ref)
		}
	}
	for n, want := range map[int]string{1: "A", 26: "Z", 27: "AA", 52: "AZ", 53: "BA", 702: "ZZ", 703: "AAA", 16384: "XFD"} {
		if got := colName(n); got != want {
			t.Errorf("colName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "12.50": "12.50", "1234.56": "1,234.56", "-1234567.8": "-1,234,567.8", "459200000.00": "459,200,000.00",
		"100": "100", "1000": "1,000", "abc": "abc", "": "", "12.3.4": "12.3.4", "1e5": "1e5",
	} {
		if got := formatAmount(in); got != want {
			t.Errorf("formatAmount(%q) = %q, want %q", in, got, want)
		}
	}
}

// A generated workbook: each cell's label left of it, a header row above each
// table, the table's dimension values then its value.
func TestIndexSheetGenerated(t *testing.T) {
	sh := reports.FiledSheet{Name: "S", Cells: []reports.FiledAmount{{Code: "c1", At: "C2", Label: "Total", Value: "10.00"}},
		Tables: []reports.FiledTable{{Code: "t", At: "B5", GroupBy: []string{"cp"}, Rows: []reports.FiledRow{{Dims: []string{"CP-1"}, Value: "7.00"}, {Dims: []string{"CP-2"}, Value: "3.00"}}}}}
	ix := indexSheet(sh, nil)
	g := ix.page(0, 10)
	if g.Amounts != 3 || g.First != 2 || g.Last != 6 || g.Prev != 0 || g.Next != 0 {
		t.Fatalf("grid %+v", g)
	}
	if fmt.Sprint(g.Columns) != "[2 3]" {
		t.Fatalf("columns %v, want B and C", g.Columns)
	}
	want := map[int][]string{
		2: {"text:Total", "amount:c1:0:10.00"},
		4: {"header:cp", "header:value"},
		5: {"text:CP-1", "amount:t:1:7.00"},
		6: {"text:CP-2", "amount:t:2:3.00"},
	}
	if len(g.Rows) != len(want) {
		t.Fatalf("%d rows, want %d (empty rows left out): %+v", len(g.Rows), len(want), g.Rows)
	}
	for _, r := range g.Rows {
		var got []string
		for _, c := range r.Cells {
			switch {
			case c.Code != "":
				got = append(got, fmt.Sprintf("amount:%s:%d:%s", c.Code, c.Row, c.Amount))
			case c.Header:
				got = append(got, "header:"+c.Text)
			default:
				got = append(got, "text:"+c.Text)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[r.N]) {
			t.Errorf("row %d = %v, want %v", r.N, got, want[r.N])
		}
	}
}

// With the regulator's layout, its own text is kept around the amounts and
// an amount replaces whatever the layout had at its cell; no label is added.
func TestIndexSheetLayout(t *testing.T) {
	sh := reports.FiledSheet{Name: "C 01.00", Cells: []reports.FiledAmount{{Code: "r0010", At: "D8", Label: "Own funds", Value: "1234567.89"}}}
	ix := indexSheet(sh, map[string]string{"B8": "0010", "C8": "Own funds (layout)", "D8": "placeholder", "B2": "C 01.00 title"})
	g := ix.page(0, 10)
	if len(g.Rows) != 2 || g.Rows[0].N != 2 || g.Rows[1].N != 8 {
		t.Fatalf("rows %+v", g.Rows)
	}
	row := g.Rows[1].Cells
	if len(row) != 3 || row[0].Text != "0010" || row[1].Text != "Own funds (layout)" || row[2].Code != "r0010" || row[2].Amount != "1234567.89" || row[2].Ref != "D8" {
		t.Fatalf("row 8 = %+v", row)
	}
}

// A long sheet is paged by used rows, with links both ways.
func TestSheetPaging(t *testing.T) {
	var sh reports.FiledSheet
	for i := 0; i < 250; i++ {
		sh.Cells = append(sh.Cells, reports.FiledAmount{Code: fmt.Sprintf("c%03d", i), At: fmt.Sprintf("B%d", i+2), Value: "1"})
	}
	ix := indexSheet(sh, map[string]string{})
	p1 := ix.page(0, 100)
	if len(p1.Rows) != 100 || p1.From != 2 || p1.To != 101 || p1.Prev != 0 || p1.Next != 102 {
		t.Fatalf("page 1: %d rows, %d..%d, prev %d next %d", len(p1.Rows), p1.From, p1.To, p1.Prev, p1.Next)
	}
	p3 := ix.page(p1.Next+100, 100)
	if len(p3.Rows) != 50 || p3.From != 202 || p3.To != 251 || p3.Prev != 102 || p3.Next != 0 {
		t.Fatalf("page 3: %d rows, %d..%d, prev %d next %d", len(p3.Rows), p3.From, p3.To, p3.Prev, p3.Next)
	}
	if past := ix.page(10_000, 100); past.From != 152 || past.Next != 0 {
		t.Fatalf("a page past the end shows the last rows: %d..%d", past.From, past.To)
	}
}

// A layout wider than a page keeps the amounts of the page in view.
func TestGridColumnsBounded(t *testing.T) {
	sh := reports.FiledSheet{Name: "W", Cells: []reports.FiledAmount{{Code: "far", At: "BZ3", Value: "1"}}}
	ix := indexSheet(sh, map[string]string{"A1": "title", "A3": "label"})
	g := ix.page(0, 10)
	if len(g.Columns) != maxGridColumns {
		t.Fatalf("%d columns, want %d", len(g.Columns), maxGridColumns)
	}
	found := false
	for _, c := range g.Rows[len(g.Rows)-1].Cells {
		found = found || c.Code == "far"
	}
	if !found {
		t.Fatalf("the amount at BZ3 is not in columns %v", g.Columns)
	}
}
