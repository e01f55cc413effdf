package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	"github.com/ledgerline/ledgerline/services/reports/store"
)

// TestDifferenceOfAStoredRestatement: the difference of an amended filing
// against its original, asked later from the stored filings, is what the
// restatement answered — every changed amount with its late events — also
// page by page; the cells traced from the
// filing's stored lineage (FiledCell) equal the cells traced over every
// contribution (Cell).
func TestDifferenceOfAStoredRestatement(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	publishBank(s)
	onboardAndApprove(t, s, testTemplate, layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	corr := reportstest.Loan("e1-c1", "L1", "CP1", "130.00", "EUR", "2026-10-10T12:00:00Z")
	corr["supersedes"] = "e1"
	s.Publish(corr)
	s.Publish(map[string]any{"id": "v-e3", "source": "ops", "type": "void", "subject": "L4", "occurred_at": "2026-10-14T00:00:00Z", "supersedes": "e3"})
	s.Publish(reportstest.Loan("late-u2", "L5", "CP2", "500.00", "USD", "2026-10-30T12:00:00Z"))
	s.Settle()
	var rs reports.Restatement
	if code := s.Do("POST", "/v1/filings/"+f.ID+"/restatements", "operator", nil, &rs); code != 201 {
		t.Fatalf("restate: %d", code)
	}
	ctx := context.Background()
	s.Reports.WaitLineage()

	key := func(code string, dims map[string]string) string {
		if len(dims) == 0 {
			return code
		}
		return code + "[" + dims["counterparty"] + "]"
	}
	events := func(es []reports.LateEvent) string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s@%d %s %s", e.ID, e.Seq, e.Type, e.Effect))
		}
		return strings.Join(out, ", ")
	}
	want := map[string]string{}
	for _, c := range rs.Changes {
		want[key(c.Code, c.Dimensions)] = c.Old + " " + c.New + " " + c.Delta + " " + events(c.Events)
	}
	if len(want) != 4 {
		t.Fatalf("the restatement changed %d amounts, want 4: %+v", len(want), rs.Changes)
	}
	d, err := s.Reports.Difference(ctx, rs.Amended.ID, true, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if d.Original != f.ID || d.OldAsOfSeq != f.AsOfSeq || d.NewAsOfSeq != rs.Amended.AsOfSeq || d.Changed != 4 || d.Total != 4 || len(d.Rows) != 4 {
		t.Fatalf("difference %+v", d)
	}
	for _, r := range d.Rows {
		got := r.Old + " " + r.New + " " + r.Delta + " " + events(r.Events)
		if k := key(r.Code, r.Dimensions); got != want[k] || !r.Changed {
			t.Errorf("difference of %s: %q (changed %v), the restatement said %q", k, got, r.Changed, want[k])
		}
	}
	var recorded int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM restatement_changes WHERE filing_id = $1`, rs.Amended.ID).Scan(&recorded); err != nil || recorded != 4 {
		t.Fatalf("%d changes recorded with the amended filing (%v), want 4", recorded, err)
	}

	all, err := s.Reports.Difference(ctx, rs.Amended.ID, false, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, r := range all.Rows {
		if r.Changed {
			changed++
			continue
		}
		if r.Old != r.New || r.Delta != "0.00" || r.Events != nil {
			t.Errorf("unchanged %s: %+v", key(r.Code, r.Dimensions), r)
		}
	}
	if changed != 4 || all.Total != 4 || all.Changed != 4 { // every amount of this small filing changed
		t.Fatalf("every amount: %d rows, %d changed", all.Total, changed)
	}
	page, err := s.Reports.Difference(ctx, rs.Amended.ID, false, 1, 2)
	if err != nil || len(page.Rows) != 2 || page.Rows[0].Code != all.Rows[1].Code || page.Offset != 1 {
		t.Fatalf("a page of 2 from 1: %+v (%v)", page.Rows, err)
	}
	if _, err := s.Reports.Difference(ctx, f.ID, true, 0, 10); err == nil {
		t.Fatal("the difference of an original filing answered")
	}

	for _, id := range []string{f.ID, rs.Amended.ID} {
		full, err := s.Reports.Filing(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// The sheets read from the stored amounts are the report's.
		fr, err := s.Reports.FiledSheets(ctx, id)
		if err != nil || len(fr.Sheets) != len(full.Report.Sheets) || fr.Name != full.Report.Name || fr.RuleVersions["test-credit"] != 1 {
			t.Fatalf("filed sheets of %s: %+v (%v)", id, fr, err)
		}
		for i, sh := range full.Report.Sheets {
			var want, got []string
			for _, c := range sh.Cells {
				want = append(want, c.Code+"@"+c.At+"="+c.Value.StringFixed(int32(full.Report.Decimals))+" "+c.Label)
			}
			for _, tb := range sh.Tables {
				for _, r := range tb.Rows {
					want = append(want, tb.Code+strings.Join(r.Dims, "/")+"="+r.Value.StringFixed(int32(full.Report.Decimals)))
				}
			}
			for _, c := range fr.Sheets[i].Cells {
				got = append(got, c.Code+"@"+c.At+"="+c.Value+" "+c.Label)
			}
			for _, tb := range fr.Sheets[i].Tables {
				for _, r := range tb.Rows {
					got = append(got, tb.Code+strings.Join(r.Dims, "/")+"="+r.Value)
				}
			}
			if strings.Join(got, "; ") != strings.Join(want, "; ") || len(want) == 0 {
				t.Errorf("sheet %s of %s from the stored amounts:\n  %v\nin the report:\n  %v", sh.Name, id, got, want)
			}
		}
		for _, sh := range full.Report.Sheets {
			var amounts [][2]any
			for _, c := range sh.Cells {
				amounts = append(amounts, [2]any{c.Code, 0})
			}
			for _, tb := range sh.Tables {
				for i := range tb.Rows {
					amounts = append(amounts, [2]any{tb.Code, i + 1})
				}
			}
			for _, a := range amounts {
				code, row := a[0].(string), a[1].(int)
				slow, err := s.Reports.Cell(ctx, id, code, row)
				if err != nil {
					t.Fatal(err)
				}
				fast, err := s.Reports.FiledCell(ctx, id, code, row)
				if err != nil {
					t.Fatal(err)
				}
				sj, _ := json.Marshal(slow)
				fj, _ := json.Marshal(fast)
				if string(sj) != string(fj) {
					t.Errorf("%s %s row %d from the stored lineage:\n%s\nover every contribution:\n%s", id, code, row, fj, sj)
				}
			}
		}
	}

	// The impact of each event, with its cells selected by PostgreSQL, is the
	// impact over every filed cell.
	cells := func(cs []reports.ImpactedCell) string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s/%s/%d=%s", c.Filing, c.Code, c.Row, c.Value))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, id := range []string{"e1", "e1-c1", "e2", "u1", "v-e3", "late-u2", "fx-usd"} {
		slow, err := s.Reports.Impact(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := s.Reports.EventImpact(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if cells(fast.Cells) != cells(slow.Cells) || cells(fast.WouldChange) != cells(slow.WouldChange) || len(fast.Contributions) != len(slow.Contributions) {
			t.Errorf("impact of %s:\n  %s | %s\nover every filed cell:\n  %s | %s", id, cells(fast.Cells), cells(fast.WouldChange),
				cells(slow.Cells), cells(slow.WouldChange))
		}
		if id == "late-u2" && (len(fast.WouldChange) == 0 || len(fast.Cells) == 0) {
			t.Errorf("the late event is behind no amended amount, or would change no original one: %+v", fast)
		}
	}
}
