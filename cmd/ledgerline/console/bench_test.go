package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/services/ingest"
	ingeststore "github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	submissionstore "github.com/ledgerline/ledgerline/services/submission/store"
)

// The data set of the reports service's BenchmarkLargeFiling: one stock rule
// over loan balances, a template with a cell per counterparty and a table with
// a row per counterparty.
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

func loanEvent(id string, i, loan, counterparty int, day int, outstanding, supersedes string) []byte {
	sup := ""
	if supersedes != "" {
		sup = `,"supersedes":"` + supersedes + `"`
	}
	return []byte(fmt.Sprintf(`{"id":"%s","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-%d",`+
		`"occurred_at":"2026-10-%02dT%02d:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d","exposure_class":"corporate",`+
		`"product":"term_loan","outstanding":"%s","currency":"EUR"}%s}`,
		id, loan, day, i%24, loan, counterparty, outstanding, sup))
}

// BenchmarkConsolePages requests every page type of the web console over
// 1,000,000 contributions (1,000,000 loan.balance events of 200,000 loans to
// 10,000 counterparties, as in the reports service's BenchmarkLargeFiling): a
// filing with 5,000 cells and a 10,000-row table, its restatement after 3
// late corrections, 1,000 quarantine entries. It reports the p50 and p99 of
// each page over its requests (the first request of a page, with cold caches,
// included) and how many page types exceed 200 ms at p99. Run it with
// -benchtime 1x: the data set is built once (a few minutes), each page is asked
// 100 times per iteration.
func BenchmarkConsolePages(b *testing.B) {
	events := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_CONSOLE_EVENTS")); err == nil && v >= 50_000 {
		events = v // a smaller data set of the same shape, to try the benchmark out
	}
	const (
		late   = 3 // each changed amount is traced over every contribution by Restate: seconds each at this size
		rounds = 100
	)
	loans, counterparties := events/5, events/100
	cells := counterparties / 2
	s := reportstest.New(b)
	s.OnboardRules(benchRules)
	start := time.Now()
	for i := 0; i < events; i++ {
		if i%5000 == 0 {
			<-s.Events.JS.PublishAsyncComplete() // bounded in flight
		}
		loan := i % loans
		id := fmt.Sprintf("ev-%07d", i)
		if _, err := s.Events.JS.PublishMsgAsync(&nats.Msg{Subject: envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", loan)),
			Data: loanEvent(id, i, loan, loan%counterparties, 1+i/loans*5, fmt.Sprintf("%d.%02d", 1000+i%100000, i%100), "")}, jetstream.WithMsgID(id)); err != nil {
			b.Fatal(err)
		}
	}
	<-s.Events.JS.PublishAsyncComplete()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	last, _ := s.Events.LastSeq(ctx)
	if err := s.Rules.WaitFor(ctx, last); err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM contributions`).Scan(&n); err != nil || n != int64(events) {
		b.Fatalf("%d contributions (%v)", n, err)
	}
	b.Logf("%d contributions in %s", events, time.Since(start).Round(time.Second))
	if code, body := s.OnboardTemplate("maker", benchTemplate(cells), nil); code != 201 {
		b.Fatalf("onboard: %d %s", code, body)
	}
	if code := s.Do("POST", "/v1/templates/bench-large/versions/1/approve", "checker", nil, nil); code != 200 {
		b.Fatalf("approve: %d", code)
	}
	b.Logf("template onboarded and approved after %s", time.Since(start).Round(time.Second))
	operator := auth.Principal{KeyID: s.IDs["operator"], Name: "bench"}
	orig, _, err := s.Reports.File(ctx, reports.FileRequest{Template: "bench-large", Period: "2026-10"}, operator)
	if err != nil {
		b.Fatal(err)
	}
	s.Reports.WaitLineage()
	b.Logf("filed after %s", time.Since(start).Round(time.Second))
	// Late corrections of the last balance of 200 loans (counterparties CP-0..CP-199).
	for i := 0; i < late; i++ {
		loan := loans*4 + i // the balance of loan i on 2026-10-21 is event ev-(800000+i)
		s.PublishRaw(loanEvent(fmt.Sprintf("late-%03d", i), i, i, i%counterparties, 21, "99.00", fmt.Sprintf("ev-%07d", loan)))
	}
	s.Settle()
	// Statistics for the planner, as autovacuum would gather them within a
	// minute of the bulk load: without them the restatement's queries (and the
	// first page requests) run on plans made for empty tables.
	if _, err := s.DB.Pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("late events settled after %s", time.Since(start).Round(time.Second))
	rs, err := s.Reports.Restate(ctx, orig.ID, operator)
	if err != nil {
		b.Fatal(err)
	}
	s.Reports.WaitLineage()
	b.Logf("restated after %s", time.Since(start).Round(time.Second))
	if len(rs.Changes) < late {
		b.Fatalf("the restatement changed %d amounts, want at least %d", len(rs.Changes), late)
	}
	// The event index of the events the event page opens (the data was
	// published straight to the stream).
	eventID := fmt.Sprintf("ev-%07d", loans*4+7)
	for _, id := range []string{"ev-0000042", eventID} {
		if _, err := s.DB.Pool.Exec(ctx, `INSERT INTO event_index (id, seq, type) SELECT event_id, seq, 'loan.balance' FROM contributions
			WHERE event_id = $1 LIMIT 1`, id); err != nil {
			b.Fatal(err)
		}
	}
	ing, err := ingest.New(s.Cfg, s.DB.Pool, s.Events, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		b.Fatal(err)
	}
	var rejected []ingeststore.Rejected
	for i := 0; i < 1000; i++ {
		rejected = append(rejected, ingeststore.Rejected{ReceivedFrom: "key:bench#1", Channel: "http", EventID: fmt.Sprintf("bad-%d", i),
			EventType: "loan.balance", Raw: []byte(`{"id":"bad"}`), Code: "schema", Field: "data.outstanding", Reason: "missing"})
	}
	ids, err := ingeststore.New(s.DB.Pool).Quarantine(ctx, rejected)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB.Pool.Exec(ctx, `ANALYZE`); err != nil { // the restatement's lineage rows too
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c, err := New(Config{Pool: s.DB.Pool, Keys: auth.NewKeys(s.DB.Pool), Reports: s.Reports, Rules: s.Rules, Ingest: ing,
		Submissions: submissionstore.New(s.DB.Pool), Metrics: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	c.metrics.take(time.Now())
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	br := &benchBrowser{b: b, base: srv.URL, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	br.login(s.Keys["auditor"])

	f, a := orig.ID, rs.Amended.ID
	next := br.nextCursor("/filings/" + f + "/figures/bench_exposure/contributions")
	pages := []struct{ name, path string }{
		{"filings", "/filings"},
		{"filing", "/filings/" + f},
		{"filing_table_rows", "/filings/" + f + "?sheet=1&from=" + strconv.Itoa(counterparties/2)},
		{"cell", "/filings/" + f + "/cells/c00042"},
		{"table_row", "/filings/" + f + "/cells/by_counterparty?row=1"},
		{"contributions", "/filings/" + f + "/cells/c00042/contributions"},
		{"figure_contributions_all", "/filings/" + f + "/figures/bench_exposure/contributions"},
		{"figure_contributions_next", "/filings/" + f + "/figures/bench_exposure/contributions?cursor=" + url.QueryEscape(next) + "&n=26"},
		{"table_row_contributions", "/filings/" + f + "/cells/by_counterparty/contributions?row=1"},
		{"figure_contributions", "/filings/" + f + "/figures/bench_exposure/contributions?d.counterparty=CP-7"},
		{"difference", "/filings/" + a + "/difference"},
		{"difference_all", "/filings/" + a + "/difference?all=1&offset=" + strconv.Itoa(cells*4/5)},
		{"event", "/events/" + eventID},
		{"templates", "/templates"},
		{"template_version", "/templates/bench-large/versions/1"},
		{"rulesets", "/rulesets"},
		{"ruleset_version", "/rulesets/bench/versions/1"},
		{"schedule", "/schedule"},
		{"operations", "/operations"},
		{"quarantine", "/quarantine"},
		{"quarantine_entry", fmt.Sprintf("/quarantine/%d", ids[500])},
	}
	lat := map[string][]time.Duration{}
	cold := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, p := range pages {
				took := br.get(p.path)
				if i == 0 && r == 0 {
					cold[p.name] = took
				}
				lat[p.name] = append(lat[p.name], took)
			}
		}
	}
	b.StopTimer()
	names := make([]string, 0, len(pages))
	over := 0
	var report strings.Builder
	for _, p := range pages {
		names = append(names, p.name)
		l := lat[p.name]
		slices.Sort(l)
		p50, p99 := l[(len(l)+1)/2-1], l[(len(l)*99+99)/100-1] // nearest rank
		if p99 > 200*time.Millisecond {
			over++
		}
		b.ReportMetric(float64(p50.Microseconds())/1000, p.name+"_p50_ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, p.name+"_p99_ms")
		fmt.Fprintf(&report, "%-24s p50 %7.1f ms  p99 %7.1f ms  first %7.1f ms  %s\n", p.name, ms(p50), ms(p99), ms(cold[p.name]), p.path)
	}
	sort.Strings(names)
	// Printed, not logged: a benchmark's log is cut after a few lines.
	fmt.Printf("pages over %d contributions (%d requests each):\n%s", events, len(lat[names[0]]), report.String())
	b.ReportMetric(float64(over), "pages_p99_over_200ms")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchBrowser is a logged-in client of the console.
type benchBrowser struct {
	b       *testing.B
	base    string
	c       *http.Client
	session *http.Cookie
}

var benchCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (br *benchBrowser) login(key string) {
	resp, err := br.c.Get(br.base + "/login")
	if err != nil {
		br.b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := benchCSRF.FindSubmatch(page)
	if m == nil {
		br.b.Fatalf("login page without a token:\n%s", page)
	}
	req, _ := http.NewRequest("POST", br.base+"/login", strings.NewReader(url.Values{"csrf": {string(m[1])}, "key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie(resp, loginCookie))
	resp, err = br.c.Do(req)
	if err != nil {
		br.b.Fatal(err)
	}
	resp.Body.Close()
	if br.session = cookie(resp, sessionCookie); br.session == nil {
		br.b.Fatalf("login: %d without a session", resp.StatusCode)
	}
}

func (br *benchBrowser) fetch(path string) (string, time.Duration) {
	req, _ := http.NewRequest("GET", br.base+path, nil)
	req.AddCookie(br.session)
	start := time.Now()
	resp, err := br.c.Do(req)
	if err != nil {
		br.b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		br.b.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
	}
	return string(body), took
}

func (br *benchBrowser) get(path string) time.Duration {
	_, took := br.fetch(path)
	return took
}

var nextLink = regexp.MustCompile(`cursor=([0-9]+)`)

func (br *benchBrowser) nextCursor(path string) string {
	page, _ := br.fetch(path)
	m := nextLink.FindStringSubmatch(page)
	if m == nil {
		br.b.Fatalf("%s has no next page", path)
	}
	return m[1]
}
