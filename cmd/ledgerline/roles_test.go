package main_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/services/submission/sim"
)

const rolesRules = `
ruleset: roles-test
effective_from: "2026-01"
figures:
  - name: roles_outstanding
    kind: flow
    when: event.type == "loan.balance"
    value: decimal(event.data.outstanding)
    currency: event.data.currency
`

const rolesTemplate = `
id: roles-test
name: Roles test
regulator: demo-nca
frequency: monthly
schedule: "0 6 5 * *"
timezone: UTC
reporting_currency: EUR
decimals: 2
sheets:
  - name: Main
    cells:
      - code: total
        at: B2
        label: Outstanding, summed over the month
        figure: roles_outstanding
outputs: [json, csv]
submission: {channel: regulator-sim}
`

// TestServeRoles runs every service as a process of its own (`ledgerline serve
// --role`), two of them rules, on one test database and the embedded
// nats-server of the first process, which the others find through the store's
// lock file. Events go to the ingest process, the rule set to a rules process,
// the template and the filing to the reports process, the submission to the
// submission process; an adjustment to the other rules process goes through
// the ingest code in that process. The filed amount and the contributions are
// checked against the events, the regulator gets the filing once, the second
// rules process takes over when the first is killed, and every process refuses
// the routes of the others with a 404 naming the role that serves them.
func TestServeRoles(t *testing.T) {
	dbURL := pgtest.URL(t)
	regulator := sim.New(sim.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	simURL, stopSim, err := regulator.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	// One regulator for every submission process: each process's bundled
	// simulator would be its own.
	cfgFile := filepath.Join(t.TempDir(), "ledgerline.yaml")
	if err := os.WriteFile(cfgFile, []byte("submission:\n  channels:\n    regulator-sim: {type: http, url: \""+simURL+"\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := []string{"LEDGERLINE_DATABASE_URL=" + dbURL, "LEDGERLINE_DATA_DIR=" + t.TempDir(), "LEDGERLINE_CONFIG=" + cfgFile,
		"LEDGERLINE_LOG_LEVEL=info", "LEDGERLINE_SUBMISSION_POLL_INTERVAL=200ms", "LEDGERLINE_RULES_BATCH=200"}
	e := env{t: t, vars: vars}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, stderr, err := e.run("serve", "--role", "ingest,ledger"); err == nil ||
		!strings.Contains(stderr, `unknown role "ledger" (want all, or a comma list of ingest, rules, reports, submission)`) {
		t.Fatalf("serve --role ingest,ledger: %v %s, want the unknown role refused", err, stderr)
	}
	source, author, maker, checker, operator, auditor := e.key("source"), e.key("rule-author"), e.key("compliance"),
		e.key("compliance"), e.key("operator"), e.key("auditor")
	procEnv := func(name string) []string { // sessions named after the process: see lockHolder
		return append(slices.Clone(vars), "LEDGERLINE_DATABASE_URL="+withAppName(dbURL, name))
	}
	// The first process starts the embedded nats-server on the data dir; the
	// others, started once it runs, use it.
	ing := startProcs(t, procEnv, "ingest")[0]
	ps := startProcs(t, procEnv, "rules-1", "rules-2", "reports", "submission")
	rules1, rules2, rep, sub := ps[0], ps[1], ps[2], ps[3]
	for _, p := range ps {
		if b, _ := os.ReadFile(p.log); !strings.Contains(string(b), "using the embedded nats-server of another process") {
			t.Fatalf("%s did not use the ingest process's embedded nats-server:\n%s", p.name, tail(b, 2000))
		}
	}

	// Each process serves its routes only, and says where the others are.
	for _, c := range []struct {
		p            *proc
		method, path string
		role         string
	}{
		{rep, "POST", "/v1/events", "ingest"},
		{ing, "GET", "/v1/filings", "reports"},
		{sub, "GET", "/v1/figures/roles_outstanding", "rules"},
		{rules1, "POST", "/v1/filings/x/submissions", "submission"},
		{rules2, "GET", "/v1/stream", "ingest"},
	} {
		var answer struct {
			Error struct {
				Code, Message string
				Details       map[string]string
			}
		}
		code := apitest.Do(t, c.p.url(), "", c.method, c.path, nil, &answer)
		if code != 404 || answer.Error.Code != "not_served" || answer.Error.Details["role"] != c.role ||
			!strings.Contains(answer.Error.Message, "served by the "+c.role+" role") {
			t.Fatalf("%s %s on the %s process: %d %+v, want 404 not_served naming role %s", c.method, c.path, c.p.name, code, answer, c.role)
		}
	}
	for _, p := range append(ps, ing) {
		if code := apitest.Do(t, p.url(), "", "GET", "/healthz", nil, nil); code != 200 {
			t.Fatalf("%s /healthz: %d", p.name, code)
		}
	}

	push := func(first, n int) uint64 {
		t.Helper()
		var rs []result
		if code := apitest.Do(t, ing.url(), source, "POST", "/v1/events", clusterEvents(first, n), &rs); code != 200 || len(rs) != n {
			t.Fatalf("POST /v1/events: %d, %d results", code, len(rs))
		}
		for _, r := range rs {
			if r.Status != "accepted" {
				t.Fatalf("%s: %s %s", r.ID, r.Status, r.Error)
			}
		}
		return rs[n-1].Seq
	}
	push(0, 900)
	if code := apitest.Do(t, rules1.url(), author, "POST", "/v1/rulesets", []byte(rolesRules), nil); code != 201 {
		t.Fatalf("POST /v1/rulesets on rules-1: %d", code)
	}
	// The reports process knows the rule set's figures at once.
	var onboarded struct{ ID, Status string }
	if code := apitest.Do(t, rep.url(), maker, "POST", "/v1/templates", []byte(rolesTemplate), &onboarded); code != 201 || onboarded.Status != "validated" {
		t.Fatalf("POST /v1/templates on reports: %d %+v", code, onboarded)
	}
	if code := apitest.Do(t, rep.url(), checker, "POST", "/v1/templates/roles-test/versions/1/approve", nil, nil); code != 200 {
		t.Fatalf("approve on reports: %d", code)
	}
	// The filing waits for the rules processes' consumers.
	var filing struct {
		ID      string `json:"id"`
		AsOfSeq uint64 `json:"as_of_seq"`
		Status  string `json:"status"`
	}
	if code := apitest.Do(t, rep.url(), operator, "POST", "/v1/filings", []byte(`{"template":"roles-test","period":"2026-10"}`), &filing); code != 201 {
		t.Fatalf("POST /v1/filings on reports: %d", code)
	}
	var filed struct{ Cells map[string]string }
	if code := apitest.Do(t, rep.url(), auditor, "GET", "/v1/filings/"+filing.ID+"/files/json", nil, &filed); code != 200 {
		t.Fatalf("the filing's json: %d", code)
	}
	if want := outstandingOf(0, 900); filing.AsOfSeq != 900 || !decimalIs(filed.Cells["total"], want) {
		t.Fatalf("filing %s at seq %d: total %s, want %s at seq 900", filing.ID, filing.AsOfSeq, filed.Cells["total"], want)
	}
	if n := roleContributions(t, dbURL); n != 900 {
		t.Fatalf("%d contributions for 900 events", n)
	}

	// Submitted through the submission process, delivered once.
	var submitted struct{ ID, Status string }
	if code := apitest.Do(t, sub.url(), operator, "POST", "/v1/filings/"+filing.ID+"/submissions", nil, &submitted); code != 202 {
		t.Fatalf("POST /v1/filings/%s/submissions on submission: %d", filing.ID, code)
	}
	waitUntil(t, 30*time.Second, "an accepted submission", func() bool {
		var s struct{ Status string }
		apitest.Do(t, sub.url(), operator, "GET", "/v1/submissions/"+submitted.ID, nil, &s)
		return s.Status == "accepted"
	})
	if d := regulator.Deliveries(); len(d) != 1 || d[submitted.ID] != 1 {
		t.Fatalf("the regulator's deliveries: %v, want %s once", d, submitted.ID)
	}

	// An adjustment posted to the other rules process is stored through the
	// ingest code in that process, like any event.
	var adj struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	}
	if code := apitest.Do(t, rules2.url(), operator, "POST", "/v1/adjustments",
		[]byte(`{"figure":"roles_outstanding","value":"5.00","currency":"EUR","period":"2026-10","reason":"roles test"}`), &adj); code != 201 && code != 200 {
		t.Fatalf("POST /v1/adjustments on rules-2: %d", code)
	}
	if adj.Seq != 901 {
		t.Fatalf("the adjustment is at seq %d, want 901", adj.Seq)
	}
	var ev struct{ Seq uint64 }
	if code := apitest.Do(t, ing.url(), auditor, "GET", "/v1/events/"+adj.ID, nil, &ev); code != 200 || ev.Seq != 901 {
		t.Fatalf("GET /v1/events/%s on ingest: %d seq %d (the adjustment was not indexed)", adj.ID, code, ev.Seq)
	}

	// Kill whichever rules process works the rule set: the other takes over.
	worker, standby := rules1, rules2
	if holder := lockHolder(pool); holder == "rules-2" {
		worker, standby = rules2, rules1
	} else if holder != "rules-1" {
		t.Fatalf("the rule set's partition lock is held by %q, want a rules process", holder)
	}
	rulesAt := func(p *proc, seq uint64) {
		t.Helper()
		waitUntil(t, 60*time.Second, p.name+" at seq "+fmt.Sprint(seq), func() bool {
			var w struct{ Watermark uint64 }
			apitest.Do(t, p.url(), auditor, "GET", "/v1/rules/watermark", nil, &w)
			return w.Watermark >= seq
		})
	}
	// A rebuild asked of the standby while the worker in the other process is
	// busy with new events: that worker starts again from the first event too.
	last := push(900, 3000)
	if code := apitest.Do(t, standby.url(), operator, "POST", "/v1/projections/rebuild", nil, nil); code != 202 {
		t.Fatalf("POST /v1/projections/rebuild on %s: %d", standby.name, code)
	}
	rulesAt(standby, last)
	wantRules := func(events int) {
		t.Helper()
		if n := roleContributions(t, dbURL); n != events+1 {
			t.Fatalf("%d contributions for %d events and an adjustment", n, events)
		}
		var figure struct{ Value string }
		if code := apitest.Do(t, standby.url(), auditor, "GET", "/v1/figures/roles_outstanding?period=2026-10", nil, &figure); code != 200 ||
			!decimalIs(figure.Value, outstandingOf(0, events).Add(decimal.RequireFromString("5"))) {
			t.Fatalf("GET /v1/figures on %s: %d %s, want the sum of %d events and the adjustment", standby.name, code, figure.Value, events)
		}
	}
	wantRules(3900)
	// And once more with that worker idle past the stream's last event.
	if code := apitest.Do(t, standby.url(), operator, "POST", "/v1/projections/rebuild", nil, nil); code != 202 {
		t.Fatalf("POST /v1/projections/rebuild on %s (the worker idle): %d", standby.name, code)
	}
	rulesAt(standby, last)
	wantRules(3900)
	// The worker killed: the standby takes over.
	worker.kill()
	last = push(3900, 300)
	rulesAt(standby, last)
	if holder := lockHolder(pool); holder != standby.name {
		t.Fatalf("after the kill the lock is held by %q, want %s", holder, standby.name)
	}
	wantRules(4200)
}

// outstandingOf sums the outstanding amounts of clusterEvents(first, n).
func outstandingOf(first, n int) decimal.Decimal {
	sum := decimal.Zero
	for i := first; i < first+n; i++ {
		sum = sum.Add(decimal.New(int64(1000+i)*100+int64(i%100), -2))
	}
	return sum
}

func decimalIs(s string, want decimal.Decimal) bool {
	d, err := decimal.NewFromString(s)
	return err == nil && d.Equal(want)
}

// roleContributions counts the contributions of the roles test's rule set.
func roleContributions(t *testing.T, dbURL string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM contribution_rows WHERE ruleset = 'roles-test'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
