package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank"
	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank/expect"
	"github.com/ledgerline/ledgerline/platform/pgtest"
)

// TestDemoStory runs `ledgerline demo` (a smaller bank than `make demo`'s) and
// checks every amount of the filings it wrote — the originals and the
// restatements — against values computed in this test from the generated
// events (package expect: plain Go over the events, no rules engine), in the
// JSON output and, when LibreOffice is installed, in the XLSX as LibreOffice
// reads it, at the cells the templates name.
func TestDemoStory(t *testing.T) {
	opt := demobank.Options{Seed: 5, Counterparties: 150, Loans: 300, Period: "2026-Q3"}
	dir := filepath.Join(t.TempDir(), "demo")
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_HTTP_ADDR=" + e.addr}
	started := time.Now()
	out, stderr, err := e.run("demo", "--exit", "--fresh", "--data-dir", dir, "--seed", fmt.Sprint(opt.Seed),
		"--counterparties", fmt.Sprint(opt.Counterparties), "--loans", fmt.Sprint(opt.Loans), "--period", opt.Period)
	if err != nil {
		t.Fatalf("ledgerline demo: %v\n%s\n%s", err, out, stderr)
	}
	t.Logf("ledgerline demo took %s", time.Since(started).Round(time.Millisecond))
	for _, want := range []string{"== 1. ", "== 6. ", "== 9. Restatement", "== 10. Lineage", "== 11. Replay", "== 12. Submission receipts", "== Explore",
		"approval by its maker refused", "every file identical (SHA-256)", "received each of the 5 submissions exactly once"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DIFFERS") {
		t.Errorf("a replay differs:\n%s", out)
	}

	data, err := demobank.Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	var accepted [][]byte
	for i, ev := range data.Events {
		if !slices.Contains(data.Invalid, i) {
			accepted = append(accepted, ev)
		}
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	compute := func(events [][]byte, period string) expect.Figures {
		f, err := expect.Compute(events, period, berlin, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	withLate := append(slices.Clone(accepted), data.Late...)
	quarter, quarterLate := compute(accepted, "2026-Q3"), compute(withLate, "2026-Q3")
	month := compute(accepted, "2026-09")

	// The story the data promises: a group above the limit, one the late
	// correction raises, and a late GL posting that changes tier 1.
	if len(quarter.LargeExposures) < 2 || !quarter.LargeExposures[0].Value.GreaterThan(quarter.Limit) {
		t.Fatalf("expected a group above the limit %s: %+v", quarter.Limit, quarter.LargeExposures)
	}
	if quarterLate.Tier1.Equal(quarter.Tier1) || quarterLate.LargeExposures[0].Value.Equal(quarter.LargeExposures[0].Value) {
		t.Fatalf("the late events change nothing: tier 1 %s → %s", quarter.Tier1, quarterLate.Tier1)
	}

	lo := ""
	if os.Getenv(requireLibreOffice) != "" || libreOfficeInstalled() {
		lo = libreOffice(t)
	} else {
		t.Log("libreoffice is not installed: the XLSX files are not opened in LibreOffice (apt-get install libreoffice-calc-nogui)")
	}
	for _, c := range []struct {
		filing, template string
		want             expect.Figures
	}{
		{"corep-own-funds-2026-Q3-v1", "corep-own-funds", quarter},
		{"corep-own-funds-2026-Q3-v1-r1", "corep-own-funds", quarterLate},
		{"corep-large-exposures-2026-Q3-v1", "corep-large-exposures", quarter},
		{"corep-large-exposures-2026-Q3-v1-r1", "corep-large-exposures", quarterLate},
		{"lcr-2026-09-v1", "lcr", month},
	} {
		t.Run(c.filing, func(t *testing.T) {
			cells, tables := expectedAmounts(c.template, c.want)
			checkFiledJSON(t, filepath.Join(dir, "filings", c.filing+".json"), cells, tables)
			if lo != "" {
				checkXLSXInLibreOffice(t, lo, filepath.Join(dir, "filings", c.filing+".xlsx"), c.template, cells, tables)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "filings", "lcr-2026-09-v1-r1.json")); err == nil {
		t.Errorf("the LCR was restated, but the late events do not touch it")
	}
}

func libreOfficeInstalled() bool {
	for _, name := range []string{"libreoffice", "soffice"} {
		if _, err := exec.LookPath(name); err == nil {
			return true
		}
	}
	return false
}

// row is an expected table row: its dimension values and its amount.
type row struct {
	dims  []string
	value decimal.Decimal
}

// expectedAmounts maps a sample template's cell codes to the amounts computed
// independently, and its tables to their rows in the template's order.
func expectedAmounts(template string, f expect.Figures) (map[string]decimal.Decimal, map[string][]row) {
	neg := func(account string) decimal.Decimal { return f.GL[account].Neg() }
	sum := func(m map[string]decimal.Decimal) decimal.Decimal {
		s := decimal.Zero
		for _, v := range m {
			s = s.Add(v)
		}
		return s
	}
	switch template {
	case "corep-own-funds":
		return map[string]decimal.Decimal{
			"r0010_c0010": f.OwnFunds, "r0015_c0010": f.Tier1, "r0020_c0010": f.CET1,
			"r0030_c0010": f.CapitalInstruments, "r0040_c0010": neg("3000"), "r0060_c0010": neg("3010"),
			"r0130_c0010": f.RetainedEarnings.Add(f.InterimProfit), "r0140_c0010": f.RetainedEarnings, "r0150_c0010": f.InterimProfit,
			"r0180_c0010": f.OCI, "r0300_c0010": f.Intangibles, "r0370_c0010": f.DeferredTax,
			"r0530_c0010": f.AT1, "r0750_c0010": f.Tier2,
		}, nil
	case "corep-large-exposures":
		var large, members []row
		for _, x := range f.LargeExposures {
			large = append(large, row{[]string{x.Group}, x.Value})
			for _, cp := range f.GroupMembers[x.Group] {
				if cp != x.Group {
					members = append(members, row{[]string{x.Group, cp}, f.Counterparties[cp]})
				}
			}
		}
		// C 29.00 is ordered by group, then (the renderer's tie-break) by counterparty.
		slices.SortStableFunc(members, func(a, b row) int { return strings.Compare(a.dims[0]+"\x00"+a.dims[1], b.dims[0]+"\x00"+b.dims[1]) })
		return map[string]decimal.Decimal{"le_tier1": f.Tier1, "le_threshold": f.Threshold, "le_limit": f.Limit},
			map[string][]row{"large_exposures": large, "group_members": members}
	case "lcr":
		cells := map[string]decimal.Decimal{
			"c72_r0010_c0010": f.HQLATotal, "c72_r0010_c0040": f.BufferTotal,
			"c73_r0010_c0010": sum(f.Deposits), "c73_r0010_c0060": f.OutflowsTotal,
			"c76_r0010_c0010": f.BufferTotal, "c76_r0020_c0010": f.OutflowsTotal, "c76_r0030_c0010": f.LCR.Mul(decimal.NewFromInt(100)),
		}
		for i, level := range []string{"1", "2A", "2B"} {
			cells[fmt.Sprintf("c72_r%04d_c0010", 20+10*i)] = f.HQLA[level]
			cells[fmt.Sprintf("c72_r%04d_c0040", 20+10*i)] = f.Buffer[level]
		}
		for i, cat := range []string{"retail_stable", "retail_less_stable", "operational", "non_operational_corporate", "financial_institution"} {
			cells[fmt.Sprintf("c73_r%04d_c0010", 20+10*i)] = f.Deposits[cat]
			cells[fmt.Sprintf("c73_r%04d_c0060", 20+10*i)] = f.Outflows[cat]
		}
		return cells, nil
	}
	panic("no expected amounts for template " + template)
}

// checkFiledJSON compares a filing's json output with the expected amounts,
// rounded to the templates' 2 places.
func checkFiledJSON(t *testing.T, path string, cells map[string]decimal.Decimal, tables map[string][]row) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells  map[string]string              `json:"cells"`
		Tables map[string][]map[string]string `json:"tables"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Cells) != len(cells) {
		t.Errorf("%s has %d cells, the test expects %d: %v", filepath.Base(path), len(doc.Cells), len(cells), doc.Cells)
	}
	for code, want := range cells {
		if got := doc.Cells[code]; got != want.StringFixed(2) {
			t.Errorf("%s cell %s = %q, computed independently %s", filepath.Base(path), code, got, want.StringFixed(2))
		}
	}
	for code, rows := range tables {
		got := doc.Tables[code]
		if len(got) != len(rows) {
			t.Errorf("%s table %s has %d rows, computed independently %d: %v", filepath.Base(path), code, len(got), len(rows), got)
			continue
		}
		for i, r := range rows {
			dimsOK := true
			for _, d := range r.dims {
				dimsOK = dimsOK && slices.Contains(mapValues(got[i]), d)
			}
			if got[i]["value"] != r.value.StringFixed(2) || !dimsOK {
				t.Errorf("%s table %s row %d = %v, computed independently %v %s", filepath.Base(path), code, i+1, got[i], r.dims, r.value.StringFixed(2))
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// templateLayout is where a sample template puts its cells and tables.
type templateLayout struct {
	Sheets []struct {
		Name  string `yaml:"name"`
		Cells []struct {
			Code string `yaml:"code"`
			At   string `yaml:"at"`
		} `yaml:"cells"`
		Tables []struct {
			Code    string   `yaml:"code"`
			At      string   `yaml:"at"`
			GroupBy []string `yaml:"group_by"`
		} `yaml:"tables"`
	} `yaml:"sheets"`
}

// checkXLSXInLibreOffice opens a filed workbook in LibreOffice and checks that
// each expected amount is at the cell its template names, and each table row's
// dimension values and amount at its row.
func checkXLSXInLibreOffice(t *testing.T, lo, xlsx, template string, cells map[string]decimal.Decimal, tables map[string][]row) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "reports", template, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var layout templateLayout
	if err := yaml.Unmarshal(src, &layout); err != nil {
		t.Fatal(err)
	}
	sheets := convertWithLibreOffice(t, lo, xlsx)
	amount := func(s string) decimal.Decimal {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return decimal.NewFromInt(-999999999)
		}
		return d
	}
	for _, sh := range layout.Sheets {
		grid, ok := sheets[sh.Name]
		if !ok {
			t.Errorf("LibreOffice finds no sheet %q in %s (sheets: %v)", sh.Name, filepath.Base(xlsx), keys(sheets))
			continue
		}
		for _, c := range sh.Cells {
			want, ok := cells[c.Code]
			if !ok {
				continue
			}
			if got := grid.at(c.At); !amount(got).Equal(want.Round(2)) {
				t.Errorf("LibreOffice reads %s!%s (%s) of %s as %q, computed independently %s", sh.Name, c.At, c.Code, filepath.Base(xlsx), got, want.StringFixed(2))
			}
		}
		for _, tb := range sh.Tables {
			col, first := splitRef(tb.At)
			for i, r := range tables[tb.Code] {
				for j, d := range r.dims {
					if got := grid.at(fmt.Sprintf("%s%d", colName(col+j), first+i)); got != d {
						t.Errorf("LibreOffice reads %s row %d column %d of %s as %q, want %q", tb.Code, i+1, j+1, filepath.Base(xlsx), got, d)
					}
				}
				ref := fmt.Sprintf("%s%d", colName(col+len(tb.GroupBy)), first+i)
				if got := grid.at(ref); !amount(got).Equal(r.value.Round(2)) {
					t.Errorf("LibreOffice reads %s!%s (%s row %d) of %s as %q, computed independently %s", sh.Name, ref, tb.Code, i+1, filepath.Base(xlsx), got, r.value.StringFixed(2))
				}
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// splitRef splits "C15" into column 3 and row 15.
func splitRef(ref string) (col, row int) {
	i := 0
	for ; i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z'; i++ {
		col = col*26 + int(ref[i]-'A'+1)
	}
	fmt.Sscanf(ref[i:], "%d", &row)
	return col, row
}

// colName is the letters of column n (1 = A).
func colName(n int) string {
	s := ""
	for ; n > 0; n = (n - 1) / 26 {
		s = string(rune('A'+(n-1)%26)) + s
	}
	return s
}
