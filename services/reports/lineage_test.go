package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/server"
	ingestapi "github.com/ledgerline/ledgerline/services/ingest/api"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsapi "github.com/ledgerline/ledgerline/services/reports/api"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	"github.com/ledgerline/ledgerline/services/reports/store"
	rulesapi "github.com/ledgerline/ledgerline/services/rules/api"
)

// lineageBank is publishBank plus a correction (e2 50.50 → 60.50) and a void
// (e3): superseded and voided events must never show as contributors.
func lineageBank(s *reportstest.Stack) uint64 {
	publishBank(s)
	corr := reportstest.Loan("e2-c1", "L2", "CP1", "60.50", "EUR", "2026-10-11T12:00:00Z")
	corr["supersedes"] = "e2"
	s.Publish(corr)
	s.Publish(map[string]any{"id": "v-e3", "source": "ops", "type": "void", "subject": "L4", "occurred_at": "2026-10-14T00:00:00Z", "supersedes": "e3"})
	return s.Settle()
}

// contributions pages through every contribution of a filed amount (small
// pages, to exercise the cursor) and returns them.
func contributions(t *testing.T, s *reportstest.Stack, filing, code string, row int) []reports.Contribution {
	t.Helper()
	var all []reports.Contribution
	cursor := ""
	for pages := 0; ; pages++ {
		path := fmt.Sprintf("/v1/filings/%s/cells/%s/contributions?limit=2&row=%d&cursor=%s", filing, code, row, cursor)
		var p reports.ContributionPage
		if code := s.Do("GET", path, "auditor", nil, &p); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		all = append(all, p.Contributions...)
		if p.NextCursor == "" {
			return all
		}
		if pages > 100 {
			t.Fatal("the cursor does not end")
		}
		cursor = p.NextCursor
	}
}

// TestEveryCellIsTheSumOfItsContributions: for every amount of a filing, its
// contributions (read page by page, each with its full envelope) sum to it, in
// the reporting currency with the fx rate event for converted ones; superseded
// and voided events never appear; a derived cell shows the figures it was
// computed from.
func TestEveryCellIsTheSumOfItsContributions(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	lineageBank(s)
	onboardAndApprove(t, s, testTemplate, layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	type amount struct {
		code string
		row  int
		want string
	}
	full, err := s.Reports.Filing(context.Background(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The pages read the lineage stored with the filing (and compute the same
	// rows before it is stored: the restatement test reads those).
	s.Reports.WaitLineage()
	var n int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM lineage_rows WHERE filing_id = $1`, f.ID).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d lineage rows stored for the filing (%v), want 3 (L1, the corrected L2, L3)", n, err)
	}
	var checks []amount
	for _, sh := range full.Report.Sheets {
		for _, c := range sh.Cells {
			if c.Code != "r0030_c0010" { // derived
				checks = append(checks, amount{c.Code, 0, c.Value.StringFixed(2)})
			}
		}
		for _, tb := range sh.Tables {
			for i, r := range tb.Rows {
				checks = append(checks, amount{tb.Code, i + 1, r.Value.StringFixed(2)})
			}
		}
	}
	// 100 + 60.50 (corrected) + 1000 USD at 0.9; e3 voided.
	if len(checks) != 3 || checks[0].want != "1060.50" || checks[1].want != "160.50" || checks[2].want != "900.00" {
		t.Fatalf("amounts %+v", checks)
	}
	for _, a := range checks {
		cs := contributions(t, s, f.ID, a.code, a.row)
		sum := decimal.Zero
		var lastSeq uint64
		for i, c := range cs {
			if c.EventID == "e2" || c.EventID == "e3" {
				t.Errorf("%s: %s is superseded or voided but shows as a contributor", a.code, c.EventID)
			}
			if i > 0 && c.Seq >= lastSeq {
				t.Errorf("%s: contributions not in descending seq order", a.code)
			}
			lastSeq = c.Seq
			var env struct{ ID string }
			if err := json.Unmarshal(c.Event, &env); err != nil || env.ID != c.EventID || c.RecordedAt.IsZero() || c.Seq == 0 {
				t.Errorf("%s: contribution %+v without its envelope", a.code, c.ContributionRow)
			}
			v := c.Value
			if c.Converted != nil {
				if c.Converted.Conversion.EventID != "fx-usd" || c.Converted.Currency != "EUR" {
					t.Errorf("%s: conversion %+v", a.code, c.Converted)
				}
				v = c.Converted.Value
			}
			sum = sum.Add(decimal.RequireFromString(v))
		}
		if sum.StringFixed(2) != a.want {
			t.Errorf("%s row %d: contributions sum to %s, the filing says %s", a.code, a.row, sum, a.want)
		}
	}
	// The cell: figure, filter, rule version with its CEL source, contribution count.
	var cell reports.CellLineage
	if code := s.Do("GET", "/v1/filings/"+f.ID+"/cells/r0020_c0010", "auditor", nil, &cell); code != 200 {
		t.Fatalf("cell: %d", code)
	}
	if cell.Value != "160.50" || cell.Figure.Name != "loan_exposure" || cell.Figure.Ruleset != "test-credit" || cell.Figure.Version != 1 ||
		cell.Figure.Contributions != 2 || !strings.Contains(string(cell.Figure.Definition), "decimal(event.data.outstanding)") ||
		cell.Sheet != "C 01.00" || cell.At != "D9" || cell.Label != "Exposure to CP1" {
		t.Fatalf("cell lineage %+v", cell)
	}
	// A derived cell shows its inputs, recursively, each with its definition.
	var derived reports.CellLineage
	if code := s.Do("GET", "/v1/filings/"+f.ID+"/cells/r0030_c0010", "auditor", nil, &derived); code != 200 {
		t.Fatalf("derived cell: %d", code)
	}
	var def struct{ Value string }
	_ = json.Unmarshal(derived.Figure.Definition, &def)
	if derived.Figure.Kind != "derived" || len(derived.Figure.Inputs) != 1 || derived.Figure.Inputs[0].Name != "loan_exposure" ||
		derived.Figure.Inputs[0].Value != "1060.5" || def.Value != `figure("loan_exposure") * decimal("0.25")` {
		t.Fatalf("derived cell lineage %+v", derived.Figure)
	}
	// A table row.
	var tableRow reports.CellLineage
	if code := s.Do("GET", "/v1/filings/"+f.ID+"/cells/large?row=1", "auditor", nil, &tableRow); code != 200 || tableRow.Value != "900.00" ||
		tableRow.At != "C20" || len(tableRow.Figure.Conversions) != 1 {
		t.Fatalf("table row lineage: %d %+v", code, tableRow)
	}
	// Impact of one event: the cells it is behind.
	var imp reports.Impact
	if code := s.Do("GET", "/v1/events/e2-c1/impact", "auditor", nil, &imp); code != 200 || len(imp.Contributions) != 1 {
		t.Fatalf("impact: %d %+v", code, imp)
	}
	codes := map[string]bool{}
	for _, c := range imp.Cells {
		codes[c.Code] = true
	}
	if !codes["r0010_c0010"] || !codes["r0020_c0010"] || codes["large"] || len(imp.WouldChange) != 0 {
		t.Fatalf("impact cells %+v would change %+v", imp.Cells, imp.WouldChange)
	}
}

// TestReplayMatchesBeforeAndAfterARebuild: a filing re-derived at its stored
// watermark with its rule set versions renders to the same SHA-256s, also
// after the projections were dropped and rebuilt from the stream and after a
// new rule set version and later events arrived.
func TestReplayMatchesBeforeAndAfterARebuild(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	lineageBank(s)
	onboardAndApprove(t, s, testTemplate, layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	replay := func(when string) {
		t.Helper()
		var r reports.Replay
		if code := s.Do("POST", "/v1/filings/"+f.ID+"/replay", "auditor", nil, &r); code != 200 || !r.Matches || len(r.Files) != 3 ||
			r.Difference != nil {
			t.Fatalf("replay %s: %d %+v", when, code, r)
		}
	}
	replay("at once")
	if err := s.Rules.Rebuild(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	replay("after a rebuild")
	// Later events and a new version of the rule set that doubles every value.
	s.Publish(reportstest.Loan("late", "L9", "CP1", "1.00", "EUR", "2026-10-20T12:00:00Z"))
	s.OnboardRules(strings.Replace(testRules, "value: decimal(event.data.outstanding)", "value: decimal(event.data.outstanding) * decimal(\"2\")", 1))
	replay("after later events and a new rule set version")
}

// TestLateCorrectionRestatement: corrections, a void and a late event after a
// filing give an amended filing referencing the original and the exact
// cell-by-cell difference, each change with the events that caused it.
func TestLateCorrectionRestatement(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	publishBank(s)
	onboardAndApprove(t, s, testTemplate, layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	if code := s.Do("POST", "/v1/filings/"+f.ID+"/restatements", "operator", nil, nil); code != 409 {
		t.Fatalf("a restatement with nothing new: %d, want 409", code)
	}
	// After the filing: L1 corrected from 100 to 130, L4 (CP3, 20) voided, a late
	// L5 for CP2 of 500 USD.
	corr := reportstest.Loan("e1-c1", "L1", "CP1", "130.00", "EUR", "2026-10-10T12:00:00Z")
	corr["supersedes"] = "e1"
	s.Publish(corr)
	s.Publish(map[string]any{"id": "v-e3", "source": "ops", "type": "void", "subject": "L4", "occurred_at": "2026-10-14T00:00:00Z", "supersedes": "e3"})
	s.Publish(reportstest.Loan("late-u2", "L5", "CP2", "500.00", "USD", "2026-10-30T12:00:00Z"))
	s.Settle()

	// Impact of the late event on the filing made before it arrived.
	var imp reports.Impact
	if code := s.Do("GET", "/v1/events/late-u2/impact", "auditor", nil, &imp); code != 200 || len(imp.WouldChange) == 0 || len(imp.Cells) != 0 {
		t.Fatalf("impact of the late event: %d %+v", code, imp)
	}

	var rs reports.Restatement
	if code := s.Do("POST", "/v1/filings/"+f.ID+"/restatements", "operator", nil, &rs); code != 201 {
		t.Fatalf("restate: %d", code)
	}
	if rs.Amended.ID != f.ID+"-r1" || rs.Amended.Amends != f.ID || rs.Amended.AsOfSeq <= f.AsOfSeq || rs.OldAsOfSeq != f.AsOfSeq {
		t.Fatalf("amended filing %+v", rs.Amended)
	}
	type change struct{ old, new, delta, events string }
	got := map[string]change{}
	for _, c := range rs.Changes {
		var evs []string
		for _, e := range c.Events {
			evs = append(evs, e.ID+" "+e.Effect)
		}
		key := c.Code
		if c.Row > 0 {
			key = fmt.Sprintf("%s[%s]", c.Code, c.Dimensions["counterparty"])
		}
		got[key] = change{c.Old, c.New, c.Delta, strings.Join(evs, ", ")}
	}
	want := map[string]change{
		// 130 + 50.50 + 900 + 450 (500 USD at 0.9)
		"r0010_c0010": {"1070.50", "1530.50", "460.00", "e1-c1 supersedes e1, v-e3 voids e3, late-u2 contributes"},
		"r0020_c0010": {"150.50", "180.50", "30.00", "e1-c1 supersedes e1"},
		"r0030_c0010": {"267.63", "382.63", "115.00", "e1-c1 supersedes e1, v-e3 voids e3, late-u2 contributes"}, // derived: its inputs' events
		"large[CP2]":  {"900.00", "1350.00", "450.00", "late-u2 contributes"},
	}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("change %s = %+v, want %+v", k, got[k], w)
		}
	}
	// The amended filing is stored, references the original, and replays.
	var again store.Filing
	if code := s.Do("GET", "/v1/filings/"+rs.Amended.ID, "auditor", nil, &again); code != 200 || again.Amends != f.ID {
		t.Fatalf("amended filing: %d %+v", code, again)
	}
	var r reports.Replay
	if code := s.Do("POST", "/v1/filings/"+rs.Amended.ID+"/replay", "auditor", nil, &r); code != 200 || !r.Matches {
		t.Fatalf("replay of the amended filing: %d %+v", code, r)
	}
	// The original still replays to what was filed.
	if code := s.Do("POST", "/v1/filings/"+f.ID+"/replay", "auditor", nil, &r); code != 200 || !r.Matches {
		t.Fatalf("replay of the original: %d %+v", code, r)
	}
}

// TestAnAuditorReadsEverythingAndChangesNothing: an auditor key reads filings,
// cells, contributions, impact and replays, and every mutating endpoint of every
// service answers it 403.
func TestAnAuditorReadsEverythingAndChangesNothing(t *testing.T) {
	s := reportstest.New(t)
	s.OnboardRules(testRules)
	publishBank(s)
	onboardAndApprove(t, s, testTemplate, layoutWorkbook(t, "C 01.00"))
	var f store.Filing
	if code := s.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-exposures","period":"2026-10"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	for _, path := range []string{"/v1/filings", "/v1/filings/" + f.ID, "/v1/filings/" + f.ID + "/files/xlsx", "/v1/filings/" + f.ID + "/cells/r0010_c0010",
		"/v1/filings/" + f.ID + "/cells/r0010_c0010/contributions", "/v1/events/e1/impact", "/v1/templates", "/v1/schedule",
		"/v1/figures/loan_exposure?period=2026-10&currency=EUR", "/v1/rulesets"} {
		if code, _, body := s.Raw("GET", path, "auditor", "", nil); code != 200 {
			t.Errorf("auditor GET %s: %d %s", path, code, body)
		}
	}
	if code := s.Do("POST", "/v1/filings/"+f.ID+"/replay", "auditor", nil, nil); code != 200 {
		t.Errorf("auditor replay: %d", code)
	}
	// Every route of every service, on a server with the real key check.
	srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), auth.NewKeys(s.DB.Pool), prometheus.NewRegistry())
	var routes []server.Route
	routes = append(routes, ingestapi.New(nil).Routes()...)
	routes = append(routes, rulesapi.New(nil).Routes()...)
	routes = append(routes, reportsapi.New(nil).Routes()...)
	// (services/submission checks its own routes the same way.)
	srv.Handle(routes...)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	mutating := 0
	for _, r := range routes {
		method, path, _ := strings.Cut(r.Pattern, " ")
		if method == http.MethodGet || r.Pattern == "POST /v1/filings/{id}/replay" {
			continue
		}
		mutating++
		path = strings.NewReplacer("{id}", "x", "{code}", "x", "{version}", "1", "{name}", "x", "{type}", "x", "{format}", "json").Replace(path)
		if code := apitest.Do(t, hs.URL, s.Keys["auditor"], method, path, []byte(`{}`), nil); code != http.StatusForbidden {
			t.Errorf("auditor %s %s: %d, want 403", method, path, code)
		}
	}
	if mutating < 10 {
		t.Fatalf("only %d mutating routes found", mutating)
	}
}
