package reports_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	"github.com/ledgerline/ledgerline/services/reports/store"
)

var writeSampleLayouts = flag.Bool("write-sample-layouts", false, "regenerate reports/*/layout.xlsx (the sample regulator workbooks)")

// repo is the repository root, seen from this package.
const repo = "../.."

// TestWriteSampleLayouts regenerates the sample bank's layout workbooks, shaped
// like a supervisor's own templates (title, row codes, labels, styled amount
// cells), when run with -write-sample-layouts. The files are committed: a
// compliance team uploads the regulator's workbook, it does not generate one.
func TestWriteSampleLayouts(t *testing.T) {
	if !*writeSampleLayouts {
		t.Skip("run with -write-sample-layouts to regenerate reports/*/layout.xlsx")
	}
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "C 01.00"))
	_, err := f.NewSheet("LE")
	must(err)
	title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 13, Color: "1F3864"}})
	must(err)
	head, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
		Border: []excelize.Border{{Type: "bottom", Color: "1F3864", Style: 2}}})
	must(err)
	amount, err := f.NewStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFF2CC"}},
		Border: []excelize.Border{{Type: "left", Color: "A6A6A6", Style: 1}, {Type: "right", Color: "A6A6A6", Style: 1},
			{Type: "top", Color: "A6A6A6", Style: 1}, {Type: "bottom", Color: "A6A6A6", Style: 1}}})
	must(err)
	set := func(sheet, at string, v any, style int) {
		must(f.SetCellValue(sheet, at, v))
		if style != 0 {
			must(f.SetCellStyle(sheet, at, at, style))
		}
	}
	// C 01.00
	set("C 01.00", "B2", "C 01.00 - OWN FUNDS (simplified)", title)
	must(f.MergeCell("C 01.00", "B2", "E2"))
	set("C 01.00", "B3", "Demo national competent authority - reporting template (amounts in EUR)", 0)
	for _, h := range [][2]string{{"B6", "Row"}, {"C6", "Item"}, {"D6", "Amount (c0010)"}} {
		set("C 01.00", h[0], h[1], head)
	}
	for _, r := range []struct{ row, code, label string }{
		{"8", "0010", "OWN FUNDS"}, {"9", "0015", "TIER 1 CAPITAL"}, {"10", "0020", "COMMON EQUITY TIER 1 CAPITAL"},
		{"40", "0530", "ADDITIONAL TIER 1 CAPITAL"}, {"60", "0750", "TIER 2 CAPITAL"},
	} {
		set("C 01.00", "B"+r.row, r.code, 0)
		set("C 01.00", "C"+r.row, r.label, 0)
		set("C 01.00", "D"+r.row, nil, amount)
	}
	must(f.SetCellFormula("C 01.00", "E8", `IF(D8=D9+D60,"ok","check 0010 = 0015 + 0750")`))
	must(f.SetColWidth("C 01.00", "C", "C", 42))
	must(f.SetColWidth("C 01.00", "D", "E", 22))
	// LE
	set("LE", "B2", "LARGE EXPOSURES (simplified C 28.00)", title)
	must(f.MergeCell("LE", "B2", "G2"))
	set("LE", "B4", "Threshold", 0)
	set("LE", "C4", nil, amount)
	for _, h := range [][2]string{{"B7", "Counterparty"}, {"C7", "Exposure"}, {"F7", "Exposure class"}, {"G7", "Exposure"}} {
		set("LE", h[0], h[1], head)
	}
	must(f.SetColWidth("LE", "B", "G", 20))
	out := filepath.Join(repo, "reports", "corep-own-funds", "layout.xlsx")
	must(f.SaveAs(out))
	t.Logf("wrote %s", out)
}

// TestSampleTemplatesFileOnSampleData onboards the sample rule sets and every
// sample template with its layout, files them on the sample bank's events and
// checks their validations pass.
func TestSampleTemplatesFileOnSampleData(t *testing.T) {
	s := reportstest.New(t)
	for _, rs := range []string{"own-funds.yaml", "credit-risk.yaml", "liquidity.yaml"} {
		src, err := os.ReadFile(filepath.Join(repo, "rules", rs))
		if err != nil {
			t.Fatal(err)
		}
		s.OnboardRules(string(src))
	}
	events, err := os.Open(filepath.Join(repo, "schemas", "examples", "bank-2026-10.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	sc := bufio.NewScanner(events)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			s.PublishRaw(append([]byte(nil), line...))
		}
	}
	s.Settle()
	dirs, err := filepath.Glob(filepath.Join(repo, "reports", "*", "template.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no sample templates (%v)", err)
	}
	for _, path := range dirs {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		layout, err := os.ReadFile(filepath.Join(filepath.Dir(path), "layout.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		o := onboardAndApprove(t, s, string(src), layout)
		body, _ := json.Marshal(map[string]string{"template": o.ID, "period": "2026-Q4"})
		var f store.Filing
		if code := s.Do("POST", "/v1/filings", "operator", body, &f); code != 201 {
			t.Fatalf("%s: file: %d", o.ID, code)
		}
		for _, v := range f.Validations {
			if !v.Passed {
				t.Errorf("%s: validation %s (%s) failed on the sample data: %s", o.ID, v.ID, v.Severity, v.Message)
			}
		}
		got, err := s.Reports.Filing(context.Background(), f.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range got.Report.Sheets {
			for _, c := range sh.Cells {
				t.Logf("%s %s %s = %s", o.ID, sh.Name, c.Code, c.Value)
			}
			for _, tb := range sh.Tables {
				t.Logf("%s %s table %s: %d rows", o.ID, sh.Name, tb.Code, len(tb.Rows))
			}
		}
	}
}
