package render

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/layout"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const sheet = "C 01.00"

func dec(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sampleReport is a COREP-like report: three cells, a table whose dimension
// values include a numeric-looking code and CSV/JSON-hostile characters, and two
// validations.
func sampleReport(t testing.TB) filing.Report {
	return filing.Report{
		Template:  "corep-own-funds",
		Version:   3,
		Name:      "COREP C 01.00 Own funds (simplified)",
		Regulator: "demo-nca",
		Period:    "2026-Q3",
		// Midnight in Frankfurt, summer time: 22:00 UTC the day before.
		PeriodEnd:    time.Date(2026, 10, 1, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
		AsOfSeq:      918273,
		Currency:     "EUR",
		Decimals:     2,
		NumberFormat: "#,##0.00",
		Sheets: []filing.Sheet{{
			Name: sheet,
			Cells: []filing.Cell{
				{Code: "r0010_c0010", At: "D8", Label: "Own funds", Value: dec(t, "1234.50")},
				{Code: "r0015_c0010", At: "D9", Label: "Common equity tier 1", Value: dec(t, "1246.8")},
				{Code: "r0020_c0010", At: "D10", Label: "Tier 2", Value: dec(t, "-12.3")},
			},
			Tables: []filing.Table{{
				Code:    "large_exposures",
				At:      "B20",
				Label:   "Large exposures",
				GroupBy: []string{"counterparty", "country"},
				Rows: []filing.Row{
					{Dims: []string{"Bank A", "DE"}, Value: dec(t, "5000000")},
					{Dims: []string{`Smith & Co; "Ltd"`, "FR"}, Value: dec(t, "2500000.125")},
					{Dims: []string{"0012", "NL"}, Value: dec(t, "0")},
				},
			}},
		}},
		Validations: []filing.ValidationResult{
			{ID: "v0001", Severity: "error", Passed: true},
			{ID: "v0002", Severity: "warning", Passed: false, Message: "r0030 is negative"},
		},
	}
}

// layoutWorkbook builds the regulator's workbook: a bold merged header, a
// bordered and filled amount cell D8 with a formula next to it, the table's
// column headers, and a second sheet the report does not touch.
func layoutWorkbook(t testing.TB) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", sheet))
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	must(err)
	must(f.SetCellStr(sheet, "B2", "C 01.00 - Own funds"))
	must(f.SetCellStyle(sheet, "B2", "B2", bold))
	must(f.MergeCell(sheet, "B2", "D2"))
	boxed, err := f.NewStyle(&excelize.Style{
		Font: &excelize.Font{Italic: true, Color: "1F4E79"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFF2CC"}},
		Border: []excelize.Border{
			{Type: "left", Color: "000000", Style: 1},
			{Type: "top", Color: "000000", Style: 1},
			{Type: "right", Color: "000000", Style: 1},
			{Type: "bottom", Color: "000000", Style: 2},
		},
	})
	must(err)
	must(f.SetCellStyle(sheet, "D8", "D8", boxed))
	must(f.SetCellStr(sheet, "C8", "Own funds"))
	must(f.SetCellFormula(sheet, "E8", "D8*2"))
	must(f.SetCellStr(sheet, "B19", "Counterparty"))
	must(f.SetCellStr(sheet, "C19", "Country"))
	must(f.SetCellStr(sheet, "D19", "Exposure"))
	_, err = f.NewSheet("Notes")
	must(err)
	must(f.SetCellStr("Notes", "A1", "Fill in C 01.00 only."))
	buf, err := f.WriteToBuffer()
	must(err)
	return buf.Bytes()
}

func open(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func raw(t testing.TB, f *excelize.File, sheet, ref string) string {
	t.Helper()
	v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// zipEntry returns one part of an archive, inflated.
func zipEntry(t testing.TB, data []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range zr.File {
		if e.Name != name {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("no entry %s", name)
	return nil
}

// cellXML is the <c> element for ref in a worksheet part.
func cellXML(t testing.TB, part []byte, ref string) string {
	t.Helper()
	m := regexp.MustCompile(`<c r="` + ref + `"[^>]*?(/>|>.*?</c>)`).Find(part)
	if m == nil {
		t.Fatalf("no cell %s in the sheet XML", ref)
	}
	return string(m)
}

// assertNumberCell checks the cell is an untyped (numeric) cell holding exactly text.
func assertNumberCell(t testing.TB, part []byte, ref, text string) {
	t.Helper()
	c := cellXML(t, part, ref)
	if strings.Contains(c, ` t="`) {
		t.Errorf("cell %s is typed, want a number: %s", ref, c)
	}
	if !strings.Contains(c, "<v>"+text+"</v>") {
		t.Errorf("cell %s = %s, want <v>%s</v>", ref, c, text)
	}
}

func TestXLSXFillsLayoutInPlace(t *testing.T) {
	lay := layoutWorkbook(t)
	r := sampleReport(t)
	out, err := XLSX(r, lay)
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, out)
	before := open(t, lay)

	for ref, want := range map[string]string{
		"D8": "1234.50", "D9": "1246.80", "D10": "-12.30",
		"B20": "Bank A", "C20": "DE", "D20": "5000000.00",
		"B21": `Smith & Co; "Ltd"`, "C21": "FR", "D21": "2500000.13",
		"B22": "0012", "C22": "NL", "D22": "0.00",
		// The layout's own content is still there.
		"B2": "C 01.00 - Own funds", "C8": "Own funds", "B19": "Counterparty", "D19": "Exposure",
	} {
		if got := raw(t, f, sheet, ref); got != want {
			t.Errorf("%s = %q, want %q", ref, got, want)
		}
	}
	if got := raw(t, f, "Notes", "A1"); got != "Fill in C 01.00 only." {
		t.Errorf("untouched sheet Notes A1 = %q", got)
	}

	part := zipEntry(t, out, "xl/worksheets/sheet1.xml")
	for ref, text := range map[string]string{"D8": "1234.50", "D9": "1246.80", "D10": "-12.30", "D20": "5000000.00", "D21": "2500000.13", "D22": "0.00"} {
		assertNumberCell(t, part, ref, text)
	}
	// A dimension that looks like a number stays text.
	if c := cellXML(t, part, "B22"); !strings.Contains(c, `t="s"`) {
		t.Errorf("B22 (dimension 0012) is not a string cell: %s", c)
	}

	// D8 kept its font, fill and border and took the number format.
	origID, err := before.GetCellStyle(sheet, "D8")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := before.GetStyle(origID)
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.GetCellStyle(sheet, "D8")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Font.Italic || !reflect.DeepEqual(got.Font, orig.Font) {
		t.Errorf("D8 font = %+v, want the layout's %+v", got.Font, orig.Font)
	}
	if got.Fill.Pattern != 1 || !reflect.DeepEqual(got.Fill, orig.Fill) {
		t.Errorf("D8 fill = %+v, want the layout's %+v", got.Fill, orig.Fill)
	}
	if len(got.Border) != 4 || !reflect.DeepEqual(got.Border, orig.Border) {
		t.Errorf("D8 border = %+v, want the layout's %+v", got.Border, orig.Border)
	}
	if got.CustomNumFmt == nil || *got.CustomNumFmt != "#,##0.00" {
		t.Errorf("D8 number format = %v, want #,##0.00", got.CustomNumFmt)
	}
	// Unstyled cells get the number format alone.
	id9, _ := f.GetCellStyle(sheet, "D9")
	st9, _ := f.GetStyle(id9)
	if st9.CustomNumFmt == nil || *st9.CustomNumFmt != "#,##0.00" || st9.Fill.Pattern != 0 || len(st9.Border) != 0 {
		t.Errorf("D9 style = %+v, want only the number format", st9)
	}
	// The header kept its bold font.
	idB2, _ := f.GetCellStyle(sheet, "B2")
	stB2, _ := f.GetStyle(idB2)
	if stB2.Font == nil || !stB2.Font.Bold || stB2.Font.Size != 14 {
		t.Errorf("B2 style = %+v, want bold 14pt", stB2.Font)
	}

	merged, err := f.GetMergeCells(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged) != 1 || merged[0].GetStartAxis() != "B2" || merged[0].GetEndAxis() != "D2" {
		t.Errorf("merged cells = %v, want B2:D2", merged)
	}
	formula, err := f.GetCellFormula(sheet, "E8")
	if err != nil {
		t.Fatal(err)
	}
	if formula != "D8*2" {
		t.Errorf("E8 formula = %q, want D8*2", formula)
	}
	// The formula's cached result predates the amounts; Excel must recompute.
	if wb := zipEntry(t, out, "xl/workbook.xml"); !bytes.Contains(wb, []byte(`fullCalcOnLoad="true"`)) {
		t.Errorf("workbook.xml does not ask for a full recalculation on load:\n%s", wb)
	}
	if got := f.GetSheetList(); !reflect.DeepEqual(got, []string{sheet, "Notes"}) {
		t.Errorf("sheets = %v, want the layout's", got)
	}
}

func TestXLSXLayoutErrors(t *testing.T) {
	r := sampleReport(t)
	r.Sheets = append(r.Sheets, filing.Sheet{Name: "C 02.00", Cells: []filing.Cell{{Code: "x", At: "A1", Value: dec(t, "1")}}})
	_, err := XLSX(r, layoutWorkbook(t))
	if err == nil || !strings.Contains(err.Error(), `layout has no sheet "C 02.00"`) || !strings.Contains(err.Error(), `"C 01.00", "Notes"`) {
		t.Errorf("missing sheet: error = %v, want it named with the layout's sheets", err)
	}

	_, err = XLSX(sampleReport(t), []byte("not a workbook at all"))
	if !errors.Is(err, layout.ErrNotZip) {
		t.Errorf("garbage layout: error = %v, want layout.ErrNotZip", err)
	}
	// An empty (non-nil) layout is a missing file, not "no layout".
	_, err = XLSX(sampleReport(t), []byte{})
	if !errors.Is(err, layout.ErrNotZip) {
		t.Errorf("empty layout: error = %v, want layout.ErrNotZip", err)
	}
}

func TestXLSXStreamed(t *testing.T) {
	r := sampleReport(t)
	r.Sheets = append(r.Sheets, filing.Sheet{
		Name:  "C 02.00",
		Cells: []filing.Cell{{Code: "r0100_c0010", At: "A1", Label: "no column left of A", Value: dec(t, "7")}},
		// A table at row 1 has no header row.
		Tables: []filing.Table{{Code: "by_branch", At: "C1", GroupBy: []string{"branch"}, Rows: []filing.Row{{Dims: []string{"Lyon"}, Value: dec(t, "3.5")}}}},
	})
	out, err := XLSX(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, out)
	if got := f.GetSheetList(); !reflect.DeepEqual(got, []string{"C 01.00", "C 02.00"}) {
		t.Errorf("sheets = %v, want the report's (no Sheet1)", got)
	}
	for ref, want := range map[string]string{
		"C8": "Own funds", "D8": "1234.50",
		"C9": "Common equity tier 1", "D9": "1246.80",
		"C10": "Tier 2", "D10": "-12.30",
		"B19": "counterparty", "C19": "country", "D19": "value",
		"B20": "Bank A", "C20": "DE", "D20": "5000000.00",
		"B21": `Smith & Co; "Ltd"`, "D21": "2500000.13",
		"B22": "0012", "D22": "0.00",
		"A20": "", "E20": "",
	} {
		if got := raw(t, f, sheet, ref); got != want {
			t.Errorf("%s!%s = %q, want %q", sheet, ref, got, want)
		}
	}
	for ref, want := range map[string]string{"A1": "7.00", "C1": "Lyon", "D1": "3.50", "C2": ""} {
		if got := raw(t, f, "C 02.00", ref); got != want {
			t.Errorf("C 02.00!%s = %q, want %q", ref, got, want)
		}
	}

	part := zipEntry(t, out, "xl/worksheets/sheet1.xml")
	for ref, text := range map[string]string{"D8": "1234.50", "D9": "1246.80", "D10": "-12.30", "D20": "5000000.00", "D21": "2500000.13", "D22": "0.00"} {
		assertNumberCell(t, part, ref, text)
	}
	if c := cellXML(t, part, "B22"); !strings.Contains(c, `t="inlineStr"`) || !strings.Contains(c, "<t>0012</t>") {
		t.Errorf("B22 (dimension 0012) is not a string cell: %s", c)
	}
	assertNumberCell(t, zipEntry(t, out, "xl/worksheets/sheet2.xml"), "A1", "7.00")

	id, _ := f.GetCellStyle(sheet, "D21")
	st, _ := f.GetStyle(id)
	if st.CustomNumFmt == nil || *st.CustomNumFmt != "#,##0.00" {
		t.Errorf("D21 number format = %v, want #,##0.00", st.CustomNumFmt)
	}
	hid, _ := f.GetCellStyle(sheet, "B19")
	hst, _ := f.GetStyle(hid)
	if hst.Font == nil || !hst.Font.Bold {
		t.Errorf("header B19 is not bold: %+v", hst.Font)
	}
	lid, _ := f.GetCellStyle(sheet, "C8")
	if lid != 0 {
		t.Errorf("label C8 has style %d, want the default", lid)
	}
}

func TestXLSXStreamedLabelsYieldToAmounts(t *testing.T) {
	r := sampleReport(t)
	r.Sheets = []filing.Sheet{{Name: "S", Cells: []filing.Cell{
		{Code: "b", At: "D8", Label: "label of D8", Value: dec(t, "2")},
		{Code: "a", At: "C8", Label: "label of C8", Value: dec(t, "1")},
		{Code: "c", At: "F8", Label: "label of F8", Value: dec(t, "3")},
	}}}
	out, err := XLSX(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, out)
	for ref, want := range map[string]string{"B8": "label of C8", "C8": "1.00", "D8": "2.00", "E8": "label of F8", "F8": "3.00"} {
		if got := raw(t, f, "S", ref); got != want {
			t.Errorf("%s = %q, want %q", ref, got, want)
		}
	}
}

func TestXLSXNumberFormatDefaultsToDecimals(t *testing.T) {
	r := sampleReport(t)
	r.NumberFormat, r.Decimals = "", 3
	out, err := XLSX(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, out)
	id, _ := f.GetCellStyle(sheet, "D8")
	st, _ := f.GetStyle(id)
	if st.CustomNumFmt == nil || *st.CustomNumFmt != "0.000" {
		t.Errorf("number format = %v, want 0.000", st.CustomNumFmt)
	}
	assertNumberCell(t, zipEntry(t, out, "xl/worksheets/sheet1.xml"), "D8", "1234.500")
}

func TestXLSXStreamed10kRows(t *testing.T) {
	r := bigReport(t, 10_000, 50)
	out, err := XLSX(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, out)
	for ref, want := range map[string]string{
		"F2": "counterparty", "G2": "value",
		"F3": "cpty-00000", "G3": "0.01",
		"F10002": "cpty-09999", "G10002": "100.00",
		"F10003": "",
		"B1":     "cell 0", "C1": "0.00", "C50": "49.00",
	} {
		if got := raw(t, f, "Big", ref); got != want {
			t.Errorf("%s = %q, want %q", ref, got, want)
		}
	}
	part := zipEntry(t, out, "xl/worksheets/sheet1.xml")
	assertNumberCell(t, part, "G3", "0.01")
	assertNumberCell(t, part, "G10002", "100.00")
	if n := bytes.Count(part, []byte("<v>")); n != 10_000+50 {
		t.Errorf("%d number cells, want %d", n, 10_050)
	}
}

// bigReport has one table of rows rows (at F3) and cells cells in column C
// (labels in B), so rows 3..cells mix both.
func bigReport(t testing.TB, rows, cells int) filing.Report {
	r := sampleReport(t)
	s := filing.Sheet{Name: "Big"}
	for i := range cells {
		s.Cells = append(s.Cells, filing.Cell{
			Code:  "c" + strconv.Itoa(i),
			At:    "C" + strconv.Itoa(i+1),
			Label: "cell " + strconv.Itoa(i),
			Value: decimal.New(int64(i), 0),
		})
	}
	tb := filing.Table{Code: "t", At: "F3", GroupBy: []string{"counterparty"}}
	for i := range rows {
		tb.Rows = append(tb.Rows, filing.Row{
			Dims:  []string{fmt.Sprintf("cpty-%05d", i)},
			Value: decimal.New(int64(i+1), -2), // 0.01 .. 100.00
		})
	}
	s.Tables = []filing.Table{tb}
	r.Sheets = []filing.Sheet{s}
	return r
}

func TestXLSXIsDeterministic(t *testing.T) {
	lay := layoutWorkbook(t)
	for _, mode := range []struct {
		name   string
		layout []byte
	}{{"streamed", nil}, {"layout", lay}} {
		t.Run(mode.name, func(t *testing.T) {
			r := sampleReport(t)
			a, err := XLSX(r, mode.layout)
			if err != nil {
				t.Fatal(err)
			}
			b, err := XLSX(r, mode.layout)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatal("two renderings of the same report differ")
			}

			zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
			if err != nil {
				t.Fatal(err)
			}
			if zr.File[0].Name != "[Content_Types].xml" {
				t.Errorf("first entry = %s, want [Content_Types].xml", zr.File[0].Name)
			}
			for i, e := range zr.File {
				if i > 1 && e.Name < zr.File[i-1].Name {
					t.Errorf("entry %s after %s: not sorted", e.Name, zr.File[i-1].Name)
				}
				if !e.Modified.Equal(entryTime) {
					t.Errorf("entry %s modified %v, want %v", e.Name, e.Modified, entryTime)
				}
				if e.Method != zip.Deflate {
					t.Errorf("entry %s method %d, want Deflate", e.Name, e.Method)
				}
			}

			core := string(zipEntry(t, a, "docProps/core.xml"))
			for _, want := range []string{
				`<dcterms:created xsi:type="dcterms:W3CDTF">2026-09-30T22:00:00Z</dcterms:created>`,
				`<dcterms:modified xsi:type="dcterms:W3CDTF">2026-09-30T22:00:00Z</dcterms:modified>`,
				`<dc:creator>Ledgerline</dc:creator>`,
				`<lastModifiedBy>Ledgerline</lastModifiedBy>`,
				`<dc:title>COREP C 01.00 Own funds (simplified)</dc:title>`,
				`<dc:subject>corep-own-funds v3, period 2026-Q3</dc:subject>`,
			} {
				if !strings.Contains(core, want) {
					t.Errorf("core.xml lacks %s:\n%s", want, core)
				}
			}

			// Another period end changes core.xml, and nothing else.
			r.PeriodEnd = r.PeriodEnd.AddDate(0, 3, 0)
			c, err := XLSX(r, mode.layout)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a, c) {
				t.Fatal("a different period end gives the same bytes")
			}
			other := string(zipEntry(t, c, "docProps/core.xml"))
			if other == core || !strings.Contains(other, "2026-12-31T22:00:00Z") {
				t.Errorf("core.xml for the later period end:\n%s", other)
			}
			for _, e := range zr.File {
				if e.Name == "docProps/core.xml" {
					continue
				}
				if !bytes.Equal(zipEntry(t, a, e.Name), zipEntry(t, c, e.Name)) {
					t.Errorf("entry %s differs between period ends", e.Name)
				}
			}
		})
	}
}

func TestCSV(t *testing.T) {
	got, err := CSV(sampleReport(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.csv", got)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if lines[0] != "sheet,code,at,label,dimensions,value" {
		t.Errorf("header = %q", lines[0])
	}
	if want := `C 01.00,large_exposures,D21,Large exposures,"counterparty=Smith & Co; ""Ltd"";country=FR",2500000.13`; lines[5] != want {
		t.Errorf("line 6 = %s\nwant     %s", lines[5], want)
	}
}

func TestJSON(t *testing.T) {
	got, err := JSON(sampleReport(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", got)
	if !bytes.HasSuffix(got, []byte("}\n")) || !bytes.HasPrefix(got, []byte("{\n  \"template\": \"corep-own-funds\",\n")) {
		t.Errorf("not two-space indented with a trailing newline:\n%s", got)
	}
	var doc struct {
		Cells  map[string]string
		Tables map[string][]map[string]string
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Cells["r0015_c0010"] != "1246.80" || doc.Tables["large_exposures"][1]["value"] != "2500000.13" ||
		doc.Tables["large_exposures"][2]["counterparty"] != "0012" {
		t.Errorf("values: %+v", doc)
	}
}

func TestJSONEmpty(t *testing.T) {
	r := sampleReport(t)
	r.Sheets, r.Validations = nil, nil
	got, err := JSON(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "template": "corep-own-funds",
  "version": 3,
  "period": "2026-Q3",
  "as_of_seq": 918273,
  "currency": "EUR",
  "cells": {},
  "tables": {},
  "validations": []
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestFilesAgree reads every amount back from the XLSX (both modes) at the
// position the CSV gives, and from the JSON by code.
func TestFilesAgree(t *testing.T) {
	r := sampleReport(t)
	csvOut, err := CSV(r)
	if err != nil {
		t.Fatal(err)
	}
	jsonOut, err := JSON(r)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells  map[string]string
		Tables map[string][]map[string]string
	}
	if err := json.Unmarshal(jsonOut, &doc); err != nil {
		t.Fatal(err)
	}
	streamed, err := XLSX(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	filled, err := XLSX(r, layoutWorkbook(t))
	if err != nil {
		t.Fatal(err)
	}
	books := map[string]*excelize.File{"streamed": open(t, streamed), "layout": open(t, filled)}

	tableRow := map[string]int{}
	for _, rec := range records[1:] {
		sheet, code, at, dims, value := rec[0], rec[1], rec[2], rec[4], rec[5]
		for name, f := range books {
			if got := raw(t, f, sheet, at); got != value {
				t.Errorf("%s xlsx %s!%s = %q, csv says %q", name, sheet, at, got, value)
			}
		}
		if dims == "" {
			if doc.Cells[code] != value {
				t.Errorf("json cell %s = %q, csv says %q", code, doc.Cells[code], value)
			}
			continue
		}
		row := doc.Tables[code][tableRow[code]]
		tableRow[code]++
		if row["value"] != value {
			t.Errorf("json %s row %d = %q, csv says %q", code, tableRow[code], row["value"], value)
		}
		var parts []string
		for _, g := range []string{"counterparty", "country"} {
			parts = append(parts, g+"="+row[g])
		}
		if strings.Join(parts, ";") != dims {
			t.Errorf("json %s dims %v, csv says %q", code, row, dims)
		}
	}
	if len(records) != 1+3+3 {
		t.Errorf("%d csv lines, want 7", len(records))
	}
}

func TestInvalidReports(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(r *filing.Report)
		message string
	}{
		{"negative decimals", func(r *filing.Report) { r.Decimals = -1 }, "decimals -1 out of range"},
		{"duplicate code", func(r *filing.Report) { r.Sheets[0].Cells[1].Code = "r0010_c0010" }, `code "r0010_c0010" is used twice`},
		{"table code equals a cell code", func(r *filing.Report) { r.Sheets[0].Tables[0].Code = "r0020_c0010" }, `code "r0020_c0010" is used twice`},
		{"bad reference", func(r *filing.Report) { r.Sheets[0].Cells[0].At = "8D" }, `cell "r0010_c0010": invalid cell reference "8D"`},
		{"two amounts in one cell", func(r *filing.Report) { r.Sheets[0].Cells[1].At = "D8" }, `cell D8 is filled by both "r0010_c0010" and "r0015_c0010"`},
		{"table over a cell", func(r *filing.Report) { r.Sheets[0].Tables[0].At = "B9" }, `cell D9 is filled by both "r0015_c0010" and "large_exposures"`},
		{"row with missing dimension", func(r *filing.Report) { r.Sheets[0].Tables[0].Rows[1].Dims = []string{"x"} }, "row 2: 1 dimension values for 2 group_by dimensions"},
		{"dimension named value", func(r *filing.Report) { r.Sheets[0].Tables[0].GroupBy[1] = "value" }, `a dimension may not be named "value"`},
		{"dimension name with =", func(r *filing.Report) { r.Sheets[0].Tables[0].GroupBy[1] = "a=b" }, `dimension name "a=b" contains`},
		{"duplicate sheet", func(r *filing.Report) { r.Sheets = append(r.Sheets, filing.Sheet{Name: sheet}) }, `sheet "C 01.00" appears twice`},
		{"table past the last row", func(r *filing.Report) { r.Sheets[0].Tables[0].At = "B1048575" }, "run past row 1048576"},
	}
	renderers := map[string]func(filing.Report) ([]byte, error){
		"xlsx": func(r filing.Report) ([]byte, error) { return XLSX(r, nil) },
		"csv":  CSV,
		"json": JSON,
	}
	for _, c := range cases {
		for name, render := range renderers {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				r := sampleReport(t)
				c.edit(&r)
				_, err := render(r)
				if !errors.Is(err, ErrInvalidReport) || !strings.Contains(err.Error(), c.message) {
					t.Errorf("error = %v, want ErrInvalidReport saying %q", err, c.message)
				}
			})
		}
	}
}

func TestNumberCells(t *testing.T) {
	part := []byte(`<row r="3"><c r="F3" t="inlineStr"><is><t>0012</t></is></c><c r="G3" s="3" t="inlineStr"><is><t>-0.01</t></is></c><c r="H3" s="4" t="inlineStr"><is><t>7</t></is></c></row>`)
	got, n, err := numberCells(part, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := `<row r="3"><c r="F3" t="inlineStr"><is><t>0012</t></is></c><c r="G3" s="3"><v>-0.01</v></c><c r="H3" s="4" t="inlineStr"><is><t>7</t></is></c></row>`
	if n != 1 || string(got) != want {
		t.Errorf("got %d rewrites:\n%s\nwant\n%s", n, got, want)
	}
	if _, _, err := numberCells([]byte(`<c r="A1" s="3" t="inlineStr"><is><t>1e5</t></is></c>`), 3); err == nil {
		t.Error("a non-decimal amount text was accepted")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot\n%s\nwant\n%s", name, got, want)
	}
}

// BenchmarkXLSXStream10k renders a 10,000-row table and 5,000 cells without a
// layout, the size a large-exposures filing reaches.
func BenchmarkXLSXStream10k(b *testing.B) {
	r := bigReport(b, 10_000, 5_000)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		out, err := XLSX(r, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(15_000*b.N)/b.Elapsed().Seconds(), "amounts/s")
	b.ReportMetric(float64(size), "bytes")
}
