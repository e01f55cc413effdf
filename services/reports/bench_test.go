package reports_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/proctest"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/render"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	"github.com/ledgerline/ledgerline/services/rules"
)

const benchRules = `
ruleset: bench
effective_from: "2026-01"
figures:
  - name: bench_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
      exposure_class: event.data.exposure_class
    value: decimal(event.data.outstanding)
    currency: event.data.currency
`

// benchTemplate has one cell per counterparty (cells counterparties) on a sheet
// and a table with a row per counterparty.
func benchTemplate(cells int) string {
	var b strings.Builder
	b.WriteString(`
id: bench-large
name: Benchmark filing
regulator: demo-nca
frequency: monthly
schedule: "0 6 5 * *"
timezone: UTC
reporting_currency: EUR
outputs: [xlsx, csv, json]
sheets:
  - name: Cells
    cells:
`)
	for i := 0; i < cells; i++ {
		fmt.Fprintf(&b, "      - {code: c%05d, at: B%d, label: CP-%d, figure: bench_exposure, where: {counterparty: CP-%d}}\n", i, i+2, i, i)
	}
	b.WriteString(`  - name: Table
    tables:
      - code: by_counterparty
        at: A2
        figure: bench_exposure
        group_by: [counterparty]
        order_by: value desc
validations:
  - {id: v1, expr: 'cell("c00000") >= decimal("0")', severity: error}
`)
	return b.String()
}

// BenchmarkLargeFiling: a filing with 5,000 cells and a 10,000-row table over
// 1,000,000 contributions (1,000,000 loan.balance events of 200,000 loans to
// 10,000 counterparties, one rule), end to end: query, render, store. It reports
// the time of one filing and the shares spent in PostgreSQL (the figure
// queries) and in rendering, measured on the same data in the same run. The
// baseline beside it is a raw PostgreSQL aggregate over the same rows.
func BenchmarkLargeFiling(b *testing.B) {
	const (
		events         = 1_000_000
		loans          = 200_000
		counterparties = 10_000
		cells          = 5_000
	)
	s := reportstest.New(b)
	s.OnboardRules(benchRules)
	for i := 0; i < events; i++ {
		if i%5000 == 0 {
			<-s.Events.JS.PublishAsyncComplete() // bounded in flight: the client stalls past its limit
		}
		loanN := i % loans
		raw := fmt.Sprintf(`{"id":"ev-%07d","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-%d",`+
			`"occurred_at":"2026-10-%02dT%02d:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d","exposure_class":"corporate",`+
			`"product":"term_loan","outstanding":"%d.%02d","currency":"EUR"}}`,
			i, loanN, 1+i/loans*5, i%24, loanN, loanN%counterparties, 1000+i%100000, i%100)
		if _, err := s.Events.JS.PublishMsgAsync(&nats.Msg{Subject: envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", loanN)),
			Data: []byte(raw)}, jetstream.WithMsgID(fmt.Sprintf("ev-%07d", i))); err != nil {
			b.Fatal(err)
		}
	}
	<-s.Events.JS.PublishAsyncComplete()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	last, _ := s.Events.LastSeq(ctx)
	if err := s.Rules.WaitFor(ctx, last); err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM contributions`).Scan(&n); err != nil || n != events {
		b.Fatalf("%d contributions (%v)", n, err)
	}
	if code, body := s.OnboardTemplate("maker", benchTemplate(cells), nil); code != 201 {
		b.Fatalf("onboard: %d %s", code, body)
	}
	if code := s.Do("POST", "/v1/templates/bench-large/versions/1/approve", "checker", nil, nil); code != 200 {
		b.Fatalf("approve: %d", code)
	}

	// The parts, on the same data: the figure query, and rendering of the report.
	start := time.Now()
	bd, err := s.Rules.Breakdown(ctx, rules.FigureRequest{Name: "bench_exposure", Period: "2026-10", Currency: "EUR", AsOfSeq: last})
	if err != nil {
		b.Fatal(err)
	}
	query := time.Since(start)
	// The raw PostgreSQL baseline: the same stock aggregation written by hand.
	start = time.Now()
	var rawRows int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT dim_set, sum(value) FROM (
		SELECT DISTINCT ON (subject) dim_set, value FROM contributions ORDER BY subject, occurred_at DESC, seq DESC) x GROUP BY dim_set) y`).
		Scan(&rawRows); err != nil {
		b.Fatal(err)
	}
	rawQuery := time.Since(start)

	b.ResetTimer()
	var total time.Duration
	var f reports.FileRequest
	for i := 0; i < b.N; i++ {
		// Each iteration files another period (a filing is idempotent per period):
		// the stock figures of October carry into November and December.
		f = reports.FileRequest{Template: "bench-large", Period: []string{"2026-10", "2026-11", "2026-12"}[i%3]}
		if i >= 3 {
			b.Fatal("run with -benchtime 3x or less: each iteration files a new period")
		}
		start := time.Now()
		got, created, err := s.Reports.File(ctx, f, auth.Principal{KeyID: s.IDs["operator"], Name: "bench"})
		if err != nil || !created {
			b.Fatalf("file %s: %v (created %v)", f.Period, err, created)
		}
		total += time.Since(start)
		if len(got.Report.Sheets) != 2 || len(got.Report.Sheets[0].Cells) != cells || len(got.Report.Sheets[1].Tables[0].Rows) != counterparties {
			b.Fatalf("filing %s: %d cells, %d table rows", got.ID, len(got.Report.Sheets[0].Cells), len(got.Report.Sheets[1].Tables[0].Rows))
		}
	}
	b.StopTimer()
	stored, err := s.Reports.Filing(ctx, "bench-large-2026-10-v1")
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	for _, r := range []func(filing.Report) ([]byte, error){func(r filing.Report) ([]byte, error) { return render.XLSX(r, nil) }, render.CSV, render.JSON} {
		if _, err := r(stored.Report); err != nil {
			b.Fatal(err)
		}
	}
	rendering := time.Since(start)
	// Lineage on the same data: the first page of a cell's contributions (a
	// counterparty's cell: its 20 loans' latest balances, among 1,000,000 rows),
	// and the whole filing's total (the table's first row), p50 and p99 over 200 asks.
	var lat []time.Duration
	s.Reports.WaitLineage()
	b.Logf("filings done; lineage pages next")
	for i := 0; i < 200; i++ {
		code := fmt.Sprintf("c%05d", (i*37)%cells)
		start := time.Now()
		p, err := s.Reports.CellContributions(ctx, "bench-large-2026-10-v1", code, 0, "", 100)
		lat = append(lat, time.Since(start))
		if err != nil || len(p.Contributions) != loans/counterparties {
			b.Fatalf("contributions of %s: %d (%v)", code, len(p.Contributions), err)
		}
	}
	for i := 0; i < 20; i++ {
		start := time.Now()
		p, err := s.Reports.CellContributions(ctx, "bench-large-2026-10-v1", "by_counterparty", 1, "", 100)
		lat = append(lat, time.Since(start))
		if err != nil || len(p.Contributions) != loans/counterparties {
			b.Fatalf("contributions of a table row: %d (%v)", len(p.Contributions), err)
		}
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	start = time.Now()
	rp, err := s.Reports.Replay(ctx, "bench-large-2026-10-v1")
	if err != nil || !rp.Matches {
		b.Fatalf("replay: %+v (%v)", rp, err)
	}
	replay := time.Since(start)
	// Restatement: late corrections of 1,000 loans of 1,000 counterparties (each
	// supersedes the loan's latest October balance) change 1,000 cells and 1,000
	// table rows; restating the October filing lists each change with its events.
	const late = 1000
	for k := 0; k < late; k++ {
		i := 4*loans + k // the loan's latest event: occurred 2026-10-21
		raw := fmt.Sprintf(`{"id":"late-%07d","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-%d",`+
			`"supersedes":"ev-%07d","occurred_at":"2026-10-21T%02d:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d",`+
			`"exposure_class":"corporate","product":"term_loan","outstanding":"%d.00","currency":"EUR"}}`,
			k, k, i, i%24, k, k%counterparties, 7+k)
		if _, err := s.Events.JS.PublishMsgAsync(&nats.Msg{Subject: envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", k)),
			Data: []byte(raw)}, jetstream.WithMsgID(fmt.Sprintf("late-%07d", k))); err != nil {
			b.Fatal(err)
		}
	}
	<-s.Events.JS.PublishAsyncComplete()
	last, _ = s.Events.LastSeq(ctx)
	if err := s.Rules.WaitFor(ctx, last); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	rs, err := s.Reports.Restate(ctx, "bench-large-2026-10-v1", auth.Principal{KeyID: s.IDs["operator"], Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	restate := time.Since(start)
	if len(rs.Changes) != 2*late {
		b.Fatalf("restatement: %d changes, want %d", len(rs.Changes), 2*late)
	}
	b.ReportMetric(restate.Seconds(), "restate_2000_changes_s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "first_page_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "first_page_p99_ms")
	b.ReportMetric(replay.Seconds(), "replay_5000_cells_s")
	perFiling := total / time.Duration(b.N)
	b.ReportMetric(perFiling.Seconds(), "filing_s")
	b.ReportMetric(query.Seconds()/perFiling.Seconds(), "postgres_share")
	b.ReportMetric(rendering.Seconds()/perFiling.Seconds(), "render_share")
	b.ReportMetric(rawQuery.Seconds(), "raw_pg_aggregate_s")
	b.ReportMetric(query.Seconds()/rawQuery.Seconds(), "query_vs_raw")
	b.ReportMetric(float64(len(bd.Rows)), "dimension_sets")
	// The service runs in this process with the rest of its stack (reportstest):
	// its peak RSS is at most this.
	b.ReportMetric(float64(proctest.PeakRSS(os.Getpid()))/(1<<20), "bench_peak_rss_MB")
	b.ReportMetric(0, "ns/op")
}
