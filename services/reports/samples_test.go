package reports_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	samplereports "github.com/ledgerline/ledgerline/reports"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/reports/template"
)

var writeSampleLayouts = flag.Bool("write-sample-layouts", false, "regenerate reports/*/layout.xlsx (the sample regulator workbooks)")

// repo is the repository root, seen from this package.
const repo = "../.."

// layoutSheet is one worksheet of a sample layout workbook, drawn the way the
// supervisors' own templates are: a title, a header row of column labels over
// a row of column codes, then one line per row code with its label and the
// amount cells (pale yellow) the template's cells fill, and tables whose rows
// the filing writes below their headers.
type layoutSheet struct {
	name, title string
	// columns are the amount columns: letter, header label, column code.
	columns [][3]string
	rows    []layoutRow
	tables  []layoutTable
	// formulas are checks of the layout itself, recalculated when opened.
	formulas map[string]string
}

// layoutRow is one line of a sheet, at row `row`: its code (column B), its
// label (C, indented by level; level 0 is bold) and the amount cells it has
// (column letters), or fixed values such as standard weights.
type layoutRow struct {
	row         int
	code, label string
	level       int
	amounts     []string
	fixed       map[string]float64 // standard weights, shown as percentages
}

// layoutTable is a table block: a bold title at row, the column labels and
// codes under it, and styledRows rows of input cells below, starting at
// column col; columnWidth sets the widths of its columns on a sheet of its
// own (0: those of the sheet's rows).
type layoutTable struct {
	row         int
	col         string
	title       string
	columns     [][2]string // header label, column code; the last is the amount
	styledRows  int
	columnWidth float64
}

// sampleLayouts are the sample templates' workbooks, by template folder.
var sampleLayouts = map[string][]layoutSheet{
	"corep-own-funds": {{
		name:    "C 01.00",
		title:   "C 01.00 - OWN FUNDS (simplified)",
		columns: [][3]string{{"D", "Amount", "0010"}},
		rows: []layoutRow{
			{row: 8, code: "0010", label: "OWN FUNDS", amounts: []string{"D"}},
			{row: 9, code: "0015", label: "TIER 1 CAPITAL", level: 1, amounts: []string{"D"}},
			{row: 10, code: "0020", label: "COMMON EQUITY TIER 1 CAPITAL", level: 2, amounts: []string{"D"}},
			{row: 11, code: "0030", label: "Capital instruments eligible as CET1 Capital", level: 3, amounts: []string{"D"}},
			{row: 12, code: "0040", label: "Paid up capital instruments", level: 4, amounts: []string{"D"}},
			{row: 13, code: "0060", label: "Share premium", level: 4, amounts: []string{"D"}},
			{row: 14, code: "0130", label: "Retained earnings", level: 3, amounts: []string{"D"}},
			{row: 15, code: "0140", label: "Previous years retained earnings", level: 4, amounts: []string{"D"}},
			{row: 16, code: "0150", label: "Profit or loss eligible", level: 4, amounts: []string{"D"}},
			{row: 17, code: "0180", label: "Accumulated other comprehensive income", level: 3, amounts: []string{"D"}},
			{row: 18, code: "0300", label: "(-) Other intangible assets", level: 3, amounts: []string{"D"}},
			{row: 19, code: "0370", label: "(-) Deferred tax assets that rely on future profitability and do not arise from temporary differences", level: 3, amounts: []string{"D"}},
			{row: 20, code: "0530", label: "ADDITIONAL TIER 1 CAPITAL", level: 2, amounts: []string{"D"}},
			{row: 21, code: "0750", label: "TIER 2 CAPITAL", level: 1, amounts: []string{"D"}},
		},
		formulas: map[string]string{
			"E8":  `IF(D8=D9+D21,"ok","check 0010 = 0015 + 0750")`,
			"E9":  `IF(D9=D10+D20,"ok","check 0015 = 0020 + 0530")`,
			"E10": `IF(D10=D11+D14+D17+D18+D19,"ok","check 0020 = 0030 + 0130 + 0180 + 0300 + 0370")`,
		},
	}},
	"corep-large-exposures": {{
		name:    "C 28.00",
		title:   "C 28.00 - EXPOSURES IN THE NON-TRADING AND TRADING BOOK: LARGE EXPOSURES (simplified)",
		columns: [][3]string{{"D", "Amount", "0010"}},
		rows: []layoutRow{
			{row: 8, code: "0010", label: "Tier 1 capital", amounts: []string{"D"}},
			{row: 9, code: "0020", label: "Large exposure threshold: 10% of tier 1 capital (CRR Art. 392)", level: 1, amounts: []string{"D"}},
			{row: 10, code: "0030", label: "Large exposure limit: 25% of tier 1 capital (CRR Art. 395(1))", level: 1, amounts: []string{"D"}},
		},
		tables: []layoutTable{{row: 12, col: "C", title: "Exposures to clients and groups of connected clients at or above the threshold (no exemptions, no CRM)",
			columns:    [][2]string{{"Code of the group or client", "0010"}, {"Exposure value", "0020"}},
			styledRows: 20}},
	}, {
		name:  "C 29.00",
		title: "C 29.00 - DETAILS OF THE EXPOSURES TO INDIVIDUAL CLIENTS WITHIN GROUPS OF CONNECTED CLIENTS (simplified)",
		tables: []layoutTable{{row: 5, col: "B", title: "Clients within the groups of connected clients reported in C 28.00",
			columns:    [][2]string{{"Code of the group", "0010"}, {"Code of the client", "0020"}, {"Exposure value", "0030"}},
			styledRows: 40, columnWidth: 28}},
	}},
	"lcr": {{
		name:    "C 72.00",
		title:   "C 72.00 - LIQUIDITY COVERAGE - LIQUID ASSETS (simplified)",
		columns: [][3]string{{"D", "Amount / market value", "0010"}, {"E", "Standard weight", "0020"}, {"F", "Value according to Article 9", "0040"}},
		rows: []layoutRow{
			{row: 8, code: "0010", label: "TOTAL UNADJUSTED LIQUID ASSETS", amounts: []string{"D", "F"}},
			{row: 9, code: "0020", label: "Total unadjusted level 1 assets", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 1}},
			{row: 10, code: "0030", label: "Total unadjusted level 2A assets", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 0.85}},
			{row: 11, code: "0040", label: "Total unadjusted level 2B assets", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 0.5}},
		},
		formulas: map[string]string{"G8": `IF(F8=F9+F10+F11,"ok","check 0010 = 0020 + 0030 + 0040")`},
	}, {
		name:    "C 73.00",
		title:   "C 73.00 - LIQUIDITY COVERAGE - OUTFLOWS (simplified)",
		columns: [][3]string{{"D", "Amount", "0010"}, {"E", "Standard weight", "0040"}, {"F", "Outflow", "0060"}},
		rows: []layoutRow{
			{row: 8, code: "0010", label: "OUTFLOWS FROM DEPOSITS", amounts: []string{"D", "F"}},
			{row: 9, code: "0020", label: "Retail deposits: stable deposits (Art. 24)", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 0.05}},
			{row: 10, code: "0030", label: "Retail deposits: less stable deposits (Art. 25)", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 0.10}},
			{row: 11, code: "0040", label: "Operational deposits (Art. 27(1)(a))", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 0.25}},
			{row: 12, code: "0050", label: "Non-operational deposits of non-financial corporates (Art. 27(1)(b))", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 0.40}},
			{row: 13, code: "0060", label: "Deposits of financial customers (Art. 28(1))", level: 1, amounts: []string{"D", "F"}, fixed: map[string]float64{"E": 1}},
		},
		formulas: map[string]string{"G8": `IF(F8=SUM(F9:F13),"ok","check 0010 = 0020 + ... + 0060")`},
	}, {
		name:    "C 76.00",
		title:   "C 76.00 - LIQUIDITY COVERAGE - CALCULATIONS (simplified)",
		columns: [][3]string{{"D", "Value", "0010"}},
		rows: []layoutRow{
			{row: 8, code: "0010", label: "Liquidity buffer", amounts: []string{"D"}},
			{row: 9, code: "0020", label: "Net liquidity outflow", amounts: []string{"D"}},
			{row: 10, code: "0030", label: "Liquidity coverage ratio (%)", amounts: []string{"D"}},
		},
	}},
}

// TestWriteSampleLayouts regenerates the sample bank's layout workbooks
// (sampleLayouts), shaped like a supervisor's own templates, when run with
// -write-sample-layouts. The files are committed: a compliance team uploads
// the regulator's workbook, it does not generate one.
func TestWriteSampleLayouts(t *testing.T) {
	if !*writeSampleLayouts {
		t.Skip("run with -write-sample-layouts to regenerate reports/*/layout.xlsx")
	}
	for dir, sheets := range sampleLayouts {
		out := filepath.Join(repo, "reports", dir, "layout.xlsx")
		writeLayout(t, out, sheets)
		t.Logf("wrote %s", out)
	}
}

func writeLayout(t *testing.T, out string, sheets []layoutSheet) {
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	style := func(s *excelize.Style) int {
		id, err := f.NewStyle(s)
		must(err)
		return id
	}
	grey := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9D9D9"}}
	thin := []excelize.Border{{Type: "left", Color: "A6A6A6", Style: 1}, {Type: "right", Color: "A6A6A6", Style: 1},
		{Type: "top", Color: "A6A6A6", Style: 1}, {Type: "bottom", Color: "A6A6A6", Style: 1}}
	title := style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 13, Color: "1F3864"}})
	head := style(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: grey, Border: thin,
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center", Horizontal: "center"}})
	code := style(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "404040"}, Fill: grey, Border: thin,
		Alignment: &excelize.Alignment{Horizontal: "center"}})
	amount := style(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFF2CC"}}, Border: thin})
	text := style(&excelize.Style{Border: thin})
	weight := style(&excelize.Style{Fill: grey, Border: thin, NumFmt: 9}) // 0%
	bold := style(&excelize.Style{Font: &excelize.Font{Bold: true}, Border: thin})
	labels := map[int]int{0: bold}
	for level := 1; level <= 4; level++ {
		labels[level] = style(&excelize.Style{Border: thin, Alignment: &excelize.Alignment{Indent: level * 2}})
	}
	set := func(sheet, at string, v any, style int) {
		t.Helper()
		must(f.SetCellValue(sheet, at, v))
		if style != 0 {
			must(f.SetCellStyle(sheet, at, at, style))
		}
	}
	for i, sh := range sheets {
		if i == 0 {
			must(f.SetSheetName("Sheet1", sh.name))
		} else {
			_, err := f.NewSheet(sh.name)
			must(err)
		}
		set(sh.name, "B2", sh.title, title)
		set(sh.name, "B3", "Demo national competent authority - reporting template - Demo Bank AG (DEMOBANK-AG) - amounts in EUR", 0)
		if len(sh.rows) > 0 {
			set(sh.name, "B6", "Row", head)
			set(sh.name, "C6", "Item", head)
			set(sh.name, "B7", nil, code)
			set(sh.name, "C7", nil, code)
			for _, c := range sh.columns {
				set(sh.name, c[0]+"6", c[1], head)
				set(sh.name, c[0]+"7", c[2], code)
			}
			must(f.SetRowHeight(sh.name, 6, 30))
		}
		for _, r := range sh.rows {
			n := fmt.Sprint(r.row)
			set(sh.name, "B"+n, r.code, code)
			set(sh.name, "C"+n, r.label, labels[r.level])
			for _, c := range sh.columns {
				set(sh.name, c[0]+n, nil, weight) // not applicable: grey
			}
			for _, col := range r.amounts {
				set(sh.name, col+n, nil, amount)
			}
			for col, v := range r.fixed {
				set(sh.name, col+n, v, weight)
			}
		}
		for at, formula := range sh.formulas {
			must(f.SetCellFormula(sh.name, at, formula))
		}
		for _, tb := range sh.tables {
			col0, err := excelize.ColumnNameToNumber(tb.col)
			must(err)
			cell := func(dc, row int) string {
				name, err := excelize.CoordinatesToCellName(col0+dc, row)
				must(err)
				return name
			}
			set(sh.name, cell(0, tb.row), tb.title, bold)
			for j, c := range tb.columns {
				set(sh.name, cell(j, tb.row+1), c[0], head)
				set(sh.name, cell(j, tb.row+2), c[1], code)
				for k := range tb.styledRows {
					st := text
					if j == len(tb.columns)-1 {
						st = amount
					}
					set(sh.name, cell(j, tb.row+3+k), nil, st)
				}
			}
			must(f.SetRowHeight(sh.name, tb.row+1, 30))
			if tb.columnWidth > 0 {
				last, err := excelize.ColumnNumberToName(col0 + len(tb.columns) - 1)
				must(err)
				must(f.SetColWidth(sh.name, tb.col, last, tb.columnWidth))
			}
		}
		if len(sh.rows) > 0 {
			must(f.SetColWidth(sh.name, "B", "B", 8))
			must(f.SetColWidth(sh.name, "C", "C", 60))
			must(f.SetColWidth(sh.name, "D", "G", 22))
		}
	}
	must(f.SaveAs(out))
}

// samplePeriods is the period each sample template is filed for on the sample
// events (October 2026), by frequency.
var samplePeriods = map[string]string{"monthly": "2026-10", "quarterly": "2026-Q4"}

// sampleWant are the amounts the sample templates report on
// schemas/examples/bank-2026-10.ndjson, worked out by hand from the events.
// Cells by code; table rows as "code dimension values" in the table's order.
//
// Own funds, 2026-Q4 (GL balances carried forward on 2026-10-01 plus the
// October interim profit; the October adjustments are for 2026-10 only):
// capital instruments 120,000,000 (3000) + 35,000,000 (3010) = 155,000,000;
// retained earnings 210,000,000 (3100) + 4,200,000 (3900) = 214,200,000; OCI
// 18,000,000 (3200); deductions -12,000,000 intangibles (0400) and -3,500,000
// deferred tax assets (0450): CET1 = 155,000,000 + 214,200,000 + 18,000,000 -
// 15,500,000 = 371,700,000; AT1 50,000,000 (3300): tier 1 421,700,000; tier 2
// 40,000,000 (2800): own funds 461,700,000.
//
// Large exposures, 2026-Q4: threshold 10% of 421,700,000 = 42,170,000, limit
// 25% = 105,425,000. Per group (USD at 0.8620, the rate of 2026-10-30):
// GRP-RHEINWERK = CP-1001 (LN-1001 as corrected 24,500,000 + LN-1003
// 8,500,000 USD = 7,327,000: 31,827,000) + CP-1002 (LN-1002 4,000,000 +
// 6,000,000 undrawn × ccf 0.5 = 7,000,000, bond POS-BB-0006 4,975,000:
// 11,975,000) = 43,802,000; CP-4001 (no group) = its bonds 48,750,000 +
// 19,610,000 (encumbered, still an exposure) = 68,360,000. Below the
// threshold: CP-3001 15,000,000 + 9,820,000, CP-1004 4,890,000 + 3,600,000,
// CP-1003 3,750,000, the retail clients.
//
// LCR, 2026-10: HQLA level 1 48,750,000 (POS-LB-0005 is encumbered), 2A
// 9,820,000 × 0.85 = 8,347,000, 2B 4,890,000 × 0.50 = 2,445,000: 63,460,000
// before and 59,542,000 after haircuts. Deposits: retail stable 45,000 × 5% =
// 2,250, less stable 180,000 × 10% = 18,000, operational 3,200,000 × 25% =
// 800,000, non-operational corporate 7,500,000 + 2,000,000 USD (1,724,000) =
// 9,224,000 × 40% = 3,689,600, financial 12,000,000 × 100%: 24,649,000 and
// 16,509,850 outflows. LCR = 59,542,000 / 16,509,850 = 360.6453...%: 360.65.
var sampleWant = map[string]map[string]string{
	"corep-own-funds": {
		"r0010_c0010": "461700000.00", "r0015_c0010": "421700000.00", "r0020_c0010": "371700000.00",
		"r0030_c0010": "155000000.00", "r0040_c0010": "120000000.00", "r0060_c0010": "35000000.00",
		"r0130_c0010": "214200000.00", "r0140_c0010": "210000000.00", "r0150_c0010": "4200000.00",
		"r0180_c0010": "18000000.00", "r0300_c0010": "-12000000.00", "r0370_c0010": "-3500000.00",
		"r0530_c0010": "50000000.00", "r0750_c0010": "40000000.00",
	},
	"corep-large-exposures": {
		"le_tier1": "421700000.00", "le_threshold": "42170000.00", "le_limit": "105425000.00",
		"large_exposures 1 CP-4001":             "68360000.00",
		"large_exposures 2 GRP-RHEINWERK":       "43802000.00",
		"group_members 1 GRP-RHEINWERK/CP-1001": "31827000.00",
		"group_members 2 GRP-RHEINWERK/CP-1002": "11975000.00",
	},
	"lcr": {
		"c72_r0010_c0010": "63460000.00", "c72_r0020_c0010": "48750000.00", "c72_r0030_c0010": "9820000.00", "c72_r0040_c0010": "4890000.00",
		"c72_r0010_c0040": "59542000.00", "c72_r0020_c0040": "48750000.00", "c72_r0030_c0040": "8347000.00", "c72_r0040_c0040": "2445000.00",
		"c73_r0010_c0010": "24649000.00", "c73_r0020_c0010": "45000.00", "c73_r0030_c0010": "180000.00", "c73_r0040_c0010": "3200000.00",
		"c73_r0050_c0010": "9224000.00", "c73_r0060_c0010": "12000000.00",
		"c73_r0010_c0060": "16509850.00", "c73_r0020_c0060": "2250.00", "c73_r0030_c0060": "18000.00", "c73_r0040_c0060": "800000.00",
		"c73_r0050_c0060": "3689600.00", "c73_r0060_c0060": "12000000.00",
		"c76_r0010_c0010": "59542000.00", "c76_r0020_c0010": "16509850.00", "c76_r0030_c0010": "360.65",
	},
}

// rowColumnCode reads a cell code in the supervisors' style, "r0010_c0010" or
// "c72_r0010_c0040": its row and column codes.
var rowColumnCode = regexp.MustCompile(`^(?:c\d+_)?r(\d{4})_c(\d{4})$`)

// TestSampleTemplatesFileOnSampleData onboards the sample rule sets and every
// sample template with its layout, files each on the sample bank's events for
// its period (2026-10 or 2026-Q4), and checks the amounts against sampleWant,
// that every validation passes, and that the XLSX has each amount in its cell
// of the layout, on the line of its row code under its column code. Then a
// late loan takes a group of connected clients above 25% of tier 1 capital:
// the restated large exposures filing fails the limit's warning with its
// message and stays submittable.
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
	if err != nil || len(dirs) != len(sampleWant) {
		t.Fatalf("sample templates %q (%v), want one for each of %d in sampleWant", dirs, err, len(sampleWant))
	}
	filings := map[string]store.Filing{}
	for _, path := range dirs {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		layout, err := os.ReadFile(filepath.Join(filepath.Dir(path), "layout.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := template.Parse(src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(samplereports.Order, tpl.ID) || filepath.Base(filepath.Dir(path)) != tpl.ID {
			t.Errorf("%s: template %s is not in reports.Order %q, or not in a folder of its name", path, tpl.ID, samplereports.Order)
		}
		o := onboardAndApprove(t, s, string(src), layout)
		body, _ := json.Marshal(map[string]string{"template": o.ID, "period": samplePeriods[tpl.Frequency]})
		var f store.Filing
		if code := s.Do("POST", "/v1/filings", "operator", body, &f); code != 201 {
			t.Fatalf("%s: file: %d", o.ID, code)
		}
		filings[o.ID] = f
		for _, v := range f.Validations {
			if !v.Passed {
				t.Errorf("%s: validation %s (%s) failed on the sample data: %s", o.ID, v.ID, v.Severity, v.Message)
			}
		}
		got, err := s.Reports.Filing(context.Background(), f.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := sampleWant[o.ID]
		seen := map[string]bool{}
		check := func(key string, v decimal.Decimal) {
			t.Helper()
			seen[key] = true
			if w, ok := want[key]; !ok || v.StringFixed(2) != w {
				t.Errorf("%s %s = %s, want %s", o.ID, key, v.StringFixed(2), w)
			}
		}
		_, _, xlsx := s.Raw("GET", "/v1/filings/"+f.ID+"/files/xlsx", "auditor", "", nil)
		wb, err := excelize.OpenReader(bytes.NewReader(xlsx))
		if err != nil {
			t.Fatalf("%s: the xlsx does not open: %v", o.ID, err)
		}
		for _, sh := range got.Report.Sheets {
			for _, c := range sh.Cells {
				check(c.Code, c.Value)
				if v, _ := wb.GetCellValue(sh.Name, c.At, excelize.Options{RawCellValue: true}); v != c.Value.StringFixed(2) {
					t.Errorf("%s %s!%s (%s) = %q, want %s", o.ID, sh.Name, c.At, c.Code, v, c.Value.StringFixed(2))
				}
				m := rowColumnCode.FindStringSubmatch(c.Code)
				if m == nil {
					continue
				}
				col, row, _ := excelize.CellNameToCoordinates(c.At)
				colName, _ := excelize.ColumnNumberToName(col)
				if rc, _ := wb.GetCellValue(sh.Name, fmt.Sprintf("B%d", row)); rc != m[1] {
					t.Errorf("%s %s (%s): the layout's row code at B%d is %q, want %s", o.ID, c.Code, c.At, row, rc, m[1])
				}
				if cc, _ := wb.GetCellValue(sh.Name, colName+"7"); cc != m[2] {
					t.Errorf("%s %s (%s): the layout's column code at %s7 is %q, want %s", o.ID, c.Code, c.At, colName, cc, m[2])
				}
			}
			for _, tb := range sh.Tables {
				col, row, _ := excelize.CellNameToCoordinates(tb.At)
				for i, r := range tb.Rows {
					check(fmt.Sprintf("%s %d %s", tb.Code, i+1, strings.Join(r.Dims, "/")), r.Value)
					for j, d := range append(slices.Clone(r.Dims), r.Value.StringFixed(2)) {
						at, _ := excelize.CoordinatesToCellName(col+j, row+i)
						if v, _ := wb.GetCellValue(sh.Name, at, excelize.Options{RawCellValue: true}); v != d {
							t.Errorf("%s %s!%s (table %s row %d) = %q, want %q", o.ID, sh.Name, at, tb.Code, i+1, v, d)
						}
					}
				}
			}
		}
		wb.Close()
		for key := range want {
			if !seen[key] {
				t.Errorf("%s: %s is not in the filing", o.ID, key)
			}
		}
	}

	// A late loan of 70,000,000 to Rheinwerk Logistik takes its group to
	// 113,802,000, above the limit of 105,425,000.
	s.PublishRaw([]byte(`{"id":"cb-2026-10-31-LN-1004","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-1004",` +
		`"occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":"LN-1004","counterparty_id":"CP-1002","group_id":"GRP-RHEINWERK",` +
		`"exposure_class":"corporate","product":"term_loan","outstanding":"70000000.00","currency":"EUR","maturity_date":"2030-12-31"}}`))
	s.Settle()
	var rs reports.Restatement
	if code := s.Do("POST", "/v1/filings/"+filings["corep-large-exposures"].ID+"/restatements", "operator", nil, &rs); code != 201 {
		t.Fatalf("restate the large exposures: %d", code)
	}
	var limit *filing.ValidationResult
	for i, v := range rs.Amended.Validations {
		if v.ID == "v0003" {
			limit = &rs.Amended.Validations[i]
		} else if !v.Passed {
			t.Errorf("restated: validation %s failed: %s", v.ID, v.Message)
		}
	}
	if limit == nil || limit.Passed || limit.Severity != "warning" || !strings.HasPrefix(limit.Message, "CRR Art. 395(1): ") {
		t.Fatalf("restated: the limit's validation is %+v, want a failed warning naming CRR Art. 395(1)", limit)
	}
	if !rs.Amended.ValidationsOK || rs.Amended.Status == "blocked" {
		t.Errorf("restated: status %s, validations passed %v: a warning blocks nothing", rs.Amended.Status, rs.Amended.ValidationsOK)
	}
	changed := map[string]string{}
	for _, c := range rs.Changes {
		changed[fmt.Sprintf("%s %s/%s", c.Code, c.Dimensions["group"], c.Dimensions["counterparty"])] = c.Old + " -> " + c.New
	}
	wantChanged := map[string]string{
		"large_exposures GRP-RHEINWERK/":      "43802000.00 -> 113802000.00",
		"group_members GRP-RHEINWERK/CP-1002": "11975000.00 -> 81975000.00",
	}
	if !maps.Equal(changed, wantChanged) {
		t.Errorf("restated changes %v, want %v", changed, wantChanged)
	}
}
