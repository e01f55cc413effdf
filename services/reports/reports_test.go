package reports_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/render"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	"github.com/ledgerline/ledgerline/services/reports/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testRules = `
ruleset: test-credit
effective_from: "2026-01"
figures:
  - name: loan_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
      exposure_class: event.data.exposure_class
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: big_threshold
    kind: derived
    value: figure("loan_exposure") * decimal("0.25")
`

const testTemplate = `
id: test-exposures
name: Test exposures
regulator: demo-nca
frequency: monthly
schedule: "0 6 5 * *"
timezone: Europe/Berlin
reporting_currency: EUR
layout: layout.xlsx
sheets:
  - name: "C 01.00"
    cells:
      - code: r0010_c0010
        at: D8
        label: Total exposure
        figure: loan_exposure
      - code: r0020_c0010
        at: D9
        label: Exposure to CP1
        figure: loan_exposure
        where: {counterparty: CP1}
      - code: r0030_c0010
        at: D10
        label: Large exposure threshold
        figure: big_threshold
    tables:
      - code: large
        at: B20
        label: Large exposures
        figure: loan_exposure
        group_by: [counterparty]
        having: value >= figure("big_threshold")
        order_by: value desc
validations:
  - id: v0001
    expr: cell("r0010_c0010") >= cell("r0020_c0010")
    severity: error
  - id: v0002
    expr: cell("r0020_c0010") < decimal("100")
    severity: warning
outputs: [xlsx, csv, json]
`

// layoutWorkbook is a regulator-style workbook: a merged title, a styled amount
// cell with a formula beside it.
func layoutWorkbook(t testing.TB, sheet string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetCellValue(sheet, "B2", "C 01.00 - Exposures (simplified)"))
	must(f.MergeCell(sheet, "B2", "D2"))
	style, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "1F3864"},
		Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Border: []excelize.Border{{Type: "bottom", Color: "000000", Style: 1}}})
	must(err)
	must(f.SetCellStyle(sheet, "D8", "D8", style))
	must(f.SetCellValue(sheet, "B8", "Total exposure"))
	must(f.SetCellFormula(sheet, "E8", "D8*2"))
	var buf bytes.Buffer
	must(f.Write(&buf))
	return buf.Bytes()
}

func publishBank(s *reportstest.Stack) uint64 {
	s.Publish(reportstest.Loan("e1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.Publish(reportstest.Loan("e2", "L2", "CP1", "50.50", "EUR", "2026-10-11T12:00:00Z"))
	s.Publish(reportstest.Loan("u1", "L3", "CP2", "1000.00", "USD", "2026-10-12T12:00:00Z"))
	s.Publish(reportstest.Loan("e3", "L4", "CP3", "20.00", "EUR", "2026-10-13T12:00:00Z"))
	s.Publish(reportstest.FX("fx-usd", "USD", "EUR", "0.9", "2026-10-01T16:00:00Z"))
	return s.Settle()
}

// onboardAndApprove onboards the template as the maker and approves it as the checker.
func onboardAndApprove(t *testing.T, s *reportstest.Stack, src string, layout []byte) reports.Onboarded {
	t.Helper()
	code, body := s.OnboardTemplate("maker", src, layout)
	var o reports.Onboarded
	if code != 201 || json.Unmarshal(body, &o) != nil {
		t.Fatalf("onboard template: %d %s", code, body)
	}
	path := fmt.Sprintf("/v1/templates/%s/versions/%d/approve", o.ID, o.Version)
	if code := s.Do("POST", path, "checker", nil, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	return o
}

// TestTemplateWithLayoutIsApprovedFiledAndReadBack is the whole path: a template
// with the regulator's workbook is onboarded, refused approval by its maker,
// approved by a second compliance key, filed; the XLSX read back has the right
// values in the right cells with the layout's formatting kept, and csv and json
// agree with it; filing again is idempotent; rendering again gives the same bytes.
func TestTemplateWithLayoutIsApprovedFiledAndReadBack(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	asOf := publishBank(s)
	layout := layoutWorkbook(t, "C 01.00")

	code, body := s.OnboardTemplate("maker", testTemplate, layout)
	var o reports.Onboarded
	if code != 201 || json.Unmarshal(body, &o) != nil || o.Version != 1 || o.Status != "validated" {
		t.Fatalf("onboard: %d %s", code, body)
	}
	// Not active yet: filing is refused.
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), nil); code != 409 {
		t.Fatalf("filing an unapproved template: %d, want 409", code)
	}
	approve := "/v1/templates/test-exposures/versions/1/approve"
	if code := s.Do("POST", approve, "maker", nil, nil); code != 403 {
		t.Fatalf("the maker approving: %d, want 403", code)
	}
	if code := s.Do("POST", approve, "operator", nil, nil); code != 403 {
		t.Fatalf("an operator approving: %d, want 403", code)
	}
	var tv store.Template
	if code := s.Do("POST", approve, "checker", nil, &tv); code != 200 || tv.Status != "active" || !strings.Contains(tv.ApprovedBy, "test-checker") {
		t.Fatalf("the checker approving: %d %+v", code, tv)
	}
	if code := s.Do("POST", approve, "checker", nil, nil); code != 409 {
		t.Fatalf("approving twice: %d, want 409", code)
	}

	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	if f.ID != "test-exposures-2026-10-v1" || f.AsOfSeq != asOf || f.TemplateVersion != 1 || f.RuleVersions["test-credit"] != 1 ||
		len(f.Files) != 3 || !f.ValidationsOK || !f.Submittable || f.Status != "submittable" {
		t.Fatalf("filing %+v", f)
	}
	if len(f.Validations) != 2 || !f.Validations[0].Passed || f.Validations[1].Passed || f.Validations[1].Severity != "warning" {
		t.Fatalf("validations %+v", f.Validations)
	}

	// The XLSX read back.
	code, hdr, xlsx := s.Raw("GET", "/v1/filings/"+f.ID+"/files/xlsx", "auditor", "", nil)
	if code != 200 || hdr.Get("X-Checksum-SHA256") != sha(xlsx) || sha(xlsx) != fileSHA(f, "xlsx") {
		t.Fatalf("xlsx: %d, checksum %s vs %s", code, hdr.Get("X-Checksum-SHA256"), fileSHA(f, "xlsx"))
	}
	wb, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	const sheet = "C 01.00"
	want := map[string]string{"D8": "1070.50", "D9": "150.50", "D10": "267.63", "B20": "CP2", "C20": "900.00", "B21": ""}
	for at, v := range want {
		got, err := wb.GetCellValue(sheet, at, excelize.Options{RawCellValue: true})
		if err != nil || !sameAmount(got, v) {
			t.Errorf("%s = %q, want %q (%v)", at, got, v, err)
		}
	}
	if typ, _ := wb.GetCellType(sheet, "D8"); typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
		t.Errorf("D8 is of type %v, want a number", typ)
	}
	styleID, _ := wb.GetCellStyle(sheet, "D8")
	st, err := wb.GetStyle(styleID)
	if err != nil || st.Font == nil || !st.Font.Bold || len(st.Fill.Color) == 0 || !strings.EqualFold(st.Fill.Color[0], "DDEBF7") ||
		len(st.Border) == 0 || st.CustomNumFmt == nil || *st.CustomNumFmt != "#,##0.00" {
		t.Errorf("D8 style %+v (%v): want the layout's bold font, fill and border with the number format #,##0.00", st, err)
	}
	if merged, _ := wb.GetMergeCells(sheet); len(merged) != 1 || merged[0].GetStartAxis() != "B2" || merged[0].GetEndAxis() != "D2" {
		t.Errorf("merged cells %v, want B2:D2", merged)
	}
	if formula, _ := wb.GetCellFormula(sheet, "E8"); formula != "D8*2" {
		t.Errorf("E8 formula %q, want D8*2", formula)
	}

	// json and csv agree with the xlsx.
	_, _, js := s.Raw("GET", "/v1/filings/"+f.ID+"/files/json", "auditor", "", nil)
	var doc struct {
		Template    string                         `json:"template"`
		Version     int                            `json:"version"`
		Period      string                         `json:"period"`
		AsOfSeq     uint64                         `json:"as_of_seq"`
		Currency    string                         `json:"currency"`
		Cells       map[string]string              `json:"cells"`
		Tables      map[string][]map[string]string `json:"tables"`
		Validations []struct {
			ID, Severity string
			Passed       bool
		} `json:"validations"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("json file: %v\n%s", err, js)
	}
	if doc.Template != "test-exposures" || doc.Version != 1 || doc.Period != "2026-10" || doc.AsOfSeq != asOf || doc.Currency != "EUR" ||
		doc.Cells["r0010_c0010"] != "1070.50" || doc.Cells["r0020_c0010"] != "150.50" || doc.Cells["r0030_c0010"] != "267.63" ||
		len(doc.Tables["large"]) != 1 || doc.Tables["large"][0]["counterparty"] != "CP2" || doc.Tables["large"][0]["value"] != "900.00" ||
		len(doc.Validations) != 2 || !doc.Validations[0].Passed || doc.Validations[1].Passed {
		t.Fatalf("json file %s", js)
	}
	_, _, csvFile := s.Raw("GET", "/v1/filings/"+f.ID+"/files/csv", "auditor", "", nil)
	records, err := csv.NewReader(bytes.NewReader(csvFile)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byAt := map[string]string{}
	for _, r := range records[1:] {
		byAt[r[2]] = r[len(r)-1]
	}
	if byAt["D8"] != "1070.50" || byAt["D9"] != "150.50" || byAt["D10"] != "267.63" || byAt["C20"] != "900.00" || len(records) != 5 {
		t.Fatalf("csv file:\n%s", csvFile)
	}

	// Filing again is idempotent: the same filing, not a new one.
	var again store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &again); code != 200 ||
		again.ID != f.ID || fileSHA(again, "xlsx") != fileSHA(f, "xlsx") {
		t.Fatalf("filing again: %d %+v", code, again)
	}
	// Rendering the stored report again gives byte-identical files.
	stored, err := s.Reports.Filing(context.Background(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		b, err := render.XLSX(stored.Report, layout)
		if err != nil || sha(b) != fileSHA(f, "xlsx") {
			t.Fatalf("re-render %d: sha %s, stored %s (%v)", i, sha(b), fileSHA(f, "xlsx"), err)
		}
	}
	if b, _ := render.JSON(stored.Report); sha(b) != fileSHA(f, "json") {
		t.Fatal("the json file does not re-render to the same bytes")
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA(f store.Filing, format string) string {
	for _, file := range f.Files {
		if file.Format == format {
			return file.SHA256
		}
	}
	return ""
}

// sameAmount compares a cell's raw text with an amount: the text may drop
// trailing zeros (the number is the same; the number format shows the places).
func sameAmount(got, want string) bool {
	if got == want {
		return true
	}
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	return want != "" && trim(got) == trim(want)
}

// TestOnboardingErrorsAreRefused: every kind of broken template or layout is
// refused with a message that names the cell code and the field.
func TestOnboardingErrorsAreRefused(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	layout := layoutWorkbook(t, "C 01.00")
	replace := func(old, new string) string {
		if !strings.Contains(testTemplate, old) {
			t.Fatalf("the test template has no %q", old)
		}
		return strings.Replace(testTemplate, old, new, 1)
	}
	var zipBomb bytes.Buffer
	{
		zw := newZip(&zipBomb)
		w, _ := zw.Create("xl/worksheets/sheet1.xml")
		zero := make([]byte, 1<<20)
		for i := 0; i < 150; i++ {
			w.Write(zero)
		}
		zw.Close()
	}
	macro := withEntry(t, layout, "xl/vbaProject.bin", []byte("Attribute VB_Name"))
	cases := []struct {
		name     string
		src      string
		layout   []byte
		cell     string // the problem's cell code ("" when template-wide)
		contains []string
	}{
		{"unknown figure", replace("figure: big_threshold", "figure: no_such_figure"), layout, "r0030_c0010", []string{"no_such_figure"}},
		{"unknown dimension", replace("where: {counterparty: CP1}", "where: {country: DE}"), layout, "r0020_c0010", []string{"country"}},
		{"invalid cell", replace("at: D9", "at: 9D"), layout, "r0020_c0010", []string{"9D"}},
		{"having does not compile", replace(`having: value >= figure("big_threshold")`, `having: value >= `), layout, "large", []string{"having"}},
		{"validation names an unknown cell", replace(`cell("r0020_c0010") < decimal("100")`, `cell("r9999_c0010") < decimal("100")`), layout, "v0002", []string{"r9999_c0010"}},
		{"duplicate cell code", replace("code: r0030_c0010", "code: r0010_c0010"), layout, "r0010_c0010", []string{"r0010_c0010"}},
		{"layout missing", testTemplate, nil, "", []string{"layout.xlsx"}},
		{"layout without the sheet", testTemplate, layoutWorkbook(t, "Other"), "", []string{"C 01.00"}},
		{"layout not a zip", testTemplate, []byte("this is not a workbook"), "", []string{"zip"}},
		{"layout corrupt", testTemplate, layout[:len(layout)/2], "", []string{"layout"}},
		{"layout zip bomb", testTemplate, zipBomb.Bytes(), "", []string{"layout"}},
		{"layout with macros", testTemplate, macro, "", []string{"macro"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := s.OnboardTemplate("maker", c.src, c.layout)
			var e struct {
				Error struct {
					Code    string
					Message string
					Details []struct{ Cell, Field, Message string }
				}
			}
			if code != 422 || json.Unmarshal(body, &e) != nil || e.Error.Code != "invalid_template" || len(e.Error.Details) == 0 {
				t.Fatalf("%d %s, want 422 invalid_template with problems", code, body)
			}
			found := false
			for _, p := range e.Error.Details {
				all := true
				for _, w := range c.contains {
					all = all && strings.Contains(strings.ToLower(p.Message+" "+p.Field), strings.ToLower(w))
				}
				if all && (c.cell == "" || p.Cell == c.cell) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem on cell %q mentioning %v in %s", c.cell, c.contains, body)
			}
		})
	}
	var list struct{ Templates []store.Template }
	if s.Do("GET", "/v1/templates", "auditor", nil, &list); len(list.Templates) != 0 {
		t.Fatalf("refused templates were stored: %+v", list.Templates)
	}
}

// TestValidationFailureBlocksSubmissionUntilOverridden: a failed error
// validation makes the filing blocked; an operator's override needs a written
// reason and makes it submittable; it is audited.
func TestValidationFailureBlocksSubmissionUntilOverridden(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	publishBank(s)
	src := strings.Replace(testTemplate, `cell("r0010_c0010") >= cell("r0020_c0010")`, `cell("r0010_c0010") < cell("r0020_c0010")`, 1)
	onboardAndApprove(t, s, src, layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	if f.Status != "blocked" || f.Submittable || f.ValidationsOK || f.Validations[0].Passed {
		t.Fatalf("a filing with a failed error validation: %+v", f)
	}
	path := "/v1/filings/" + f.ID + "/override"
	if code := s.Do("POST", path, "operator", []byte(`{"reason":""}`), nil); code != 422 {
		t.Fatalf("override without a reason: %d, want 422", code)
	}
	if code := s.Do("POST", path, "auditor", []byte(`{"reason":"the regulator confirmed the rule is retired"}`), nil); code != 403 {
		t.Fatalf("override by an auditor: %d, want 403", code)
	}
	if code := s.Do("POST", path, "operator", []byte(`{"reason":"the regulator confirmed the rule is retired"}`), &f); code != 200 ||
		!f.Submittable || f.Status != "submittable" || f.OverrideReason == "" || !strings.Contains(f.OverrideBy, "test-operator") {
		t.Fatalf("override: %d %+v", code, f)
	}
	if code := s.Do("POST", path, "operator", []byte(`{"reason":"the regulator confirmed the rule is retired"}`), nil); code != 409 {
		t.Fatalf("override twice: %d, want 409", code)
	}
	var n int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'filings.override' AND target = $1
		AND details->>'reason' = 'the regulator confirmed the rule is retired'`, "filing:"+f.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("override audit records: %d (%v)", n, err)
	}
	// A filing is a record: the database refuses to change or remove it or its parts.
	for _, sql := range []string{
		`UPDATE filings SET validations_ok = true`, `UPDATE filings SET override_reason = 'changed later'`, `DELETE FROM filings`,
		`UPDATE filing_cells SET value = 0`, `DELETE FROM filing_cells`, `UPDATE filing_files SET sha256 = 'x'`, `DELETE FROM filing_files`,
		`UPDATE templates SET approved_by = 'someone else'`,
	} {
		if _, err := s.DB.Pool.Exec(context.Background(), sql); err == nil || !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want it refused", sql, err)
		}
	}
	// And a quarterly period does not fit this monthly template.
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-Q4"}`), nil); code != 422 {
		t.Fatalf("a quarter for a monthly template: %d, want 422", code)
	}
}

// TestSignOffByASecondComplianceKey: with sign_off: required a filing is
// submittable only after a compliance key other than the one that ran it signs.
func TestSignOffByASecondComplianceKey(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	publishBank(s)
	onboardAndApprove(t, s, strings.Replace(testTemplate, "outputs:", "sign_off: required\noutputs:", 1), layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "admin", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	if f.Status != "awaiting_sign_off" || f.Submittable {
		t.Fatalf("before the sign-off: %+v", f)
	}
	path := "/v1/filings/" + f.ID + "/sign-off"
	if code := s.Do("POST", path, "admin", nil, nil); code != 403 {
		t.Fatalf("the key that ran it signing off: %d, want 403", code)
	}
	if code := s.Do("POST", path, "operator", nil, nil); code != 403 {
		t.Fatalf("an operator signing off: %d, want 403", code)
	}
	if code := s.Do("POST", path, "checker", nil, &f); code != 200 || !f.Submittable || !strings.Contains(f.SignedOffBy, "test-checker") {
		t.Fatalf("sign-off: %d %+v", code, f)
	}
}

// TestScheduleFiresOnceWithTwoSchedulers: two scheduler instances on one
// database, run at the same moments, make each due filing exactly once; runs
// missed while no instance was up are caught up.
func TestScheduleFiresOnceWithTwoSchedulers(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	publishBank(s)
	onboardAndApprove(t, s, testTemplate, layoutWorkbook(t, "C 01.00"))
	// The version was approved just now; pretend it was in September 2026 and
	// that the clock is past three monthly runs (5 Oct, 5 Nov, 5 Dec 06:00 Berlin).
	if _, err := s.DB.Pool.Exec(context.Background(), `ALTER TABLE templates DISABLE TRIGGER templates_immutable;
		UPDATE templates SET approved_at = '2026-09-20T00:00:00Z';
		ALTER TABLE templates ENABLE TRIGGER templates_immutable`); err != nil {
		t.Fatal(err)
	}
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Date(2026, 12, 5, 6, 0, 30, 0, time.UTC)
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	a := s.NewReports(reports.Config{RulesTimeout: 20 * time.Second, Instance: "a", Now: now})
	b := s.NewReports(reports.Config{RulesTimeout: 20 * time.Second, Instance: "b", Now: now})
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for _, svc := range []*reports.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := svc.ScheduleOnce(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	fs, err := a.Filings(context.Background(), "test-exposures", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	periods := map[string]int{}
	for _, f := range fs {
		periods[f.Period]++
	}
	if len(fs) != 3 || periods["2026-09"] != 1 || periods["2026-10"] != 1 || periods["2026-11"] != 1 {
		t.Fatalf("scheduled filings %v, want 2026-09, 2026-10 and 2026-11 once each", periods)
	}
	var runs, claimers int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT claimed_by) FROM schedule_runs
		WHERE filing_id IS NOT NULL`).Scan(&runs, &claimers); err != nil || runs != 3 {
		t.Fatalf("%d finished runs (%v)", runs, err)
	}
	// The schedule shows the next runs and the periods they will file.
	var sch struct {
		Schedule []struct {
			Template string
			Next     []struct {
				At     time.Time
				Period string
			}
		}
	}
	if code := s.Do("GET", "/v1/schedule", "auditor", nil, &sch); code != 200 || len(sch.Schedule) != 1 || len(sch.Schedule[0].Next) != 3 {
		t.Fatalf("schedule: %d %+v", code, sch)
	}
	// The next pass, at the same clock, makes nothing new.
	if err := a.ScheduleOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs, _ := a.Filings(context.Background(), "test-exposures", "", 100); len(fs) != 3 {
		t.Fatalf("%d filings after another pass", len(fs))
	}
}

func newZip(w *bytes.Buffer) *zip.Writer { return zip.NewWriter(w) }

// withEntry copies a workbook with one more zip entry.
func withEntry(t testing.TB, xlsx []byte, name string, content []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(xlsx), int64(len(xlsx)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := zw.Create(name)
	w.Write(content)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
