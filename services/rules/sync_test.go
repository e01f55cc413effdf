package rules_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/services/rules"
)

// TestVersionsOnboardedByAnotherProcess: a second, query-only rules service on
// the same database and stream (a `ledgerline serve --role reports` process)
// knows a rule set onboarded through the first as soon as a request names one
// of its figures, waits for the first's consumers in WaitFor, and runs no
// consumer of its own.
func TestVersionsOnboardedByAnotherProcess(t *testing.T) {
	s := newStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, err := rules.New(ctx, rules.Config{Stream: s.cfg.Stream.Name, Partitions: 1, Batch: 500, QueryOnly: true},
		s.db.Pool, s.events.JS, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop()
	if _, _, ok := q.FigureInfo("sync_exposure"); ok {
		t.Fatal("a figure no rule set defines is known")
	}
	var last uint64
	for i := 0; i < 3000; i++ {
		last = s.publish(loan(fmt.Sprintf("sync-%d", i), fmt.Sprintf("LN-%d", i), "CP1", "1.00", "EUR", "2026-10-31T18:00:00Z"))
	}
	// Onboarded through the first service, which backfills the version from the
	// first event; the second waits for that backfill.
	s.onboard(`
ruleset: sync-test
effective_from: "2026-01"
figures:
  - name: sync_exposure
    kind: stock
    when: event.type == "loan.balance"
    value: decimal(event.data.outstanding)
    currency: event.data.currency
`)
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := q.WaitFor(wctx, last); err != nil {
		t.Fatal(err)
	}
	if kind, _, ok := q.FigureInfo("sync_exposure"); !ok || kind != "stock" {
		t.Fatalf("FigureInfo after onboarding elsewhere: %q %v", kind, ok)
	}
	// WaitFor waited for the first service's consumer: every event is in.
	f, err := q.Figure(ctx, rules.FigureRequest{Name: "sync_exposure", Period: "2026-10", AsOfSeq: last})
	if err != nil || f.Value != "3000" || f.Contributions != 3000 {
		t.Fatalf("figure from the query-only service after WaitFor: %+v %v, want 3000 from 3000 contributions", f, err)
	}
	if _, _, err := q.Adjust(ctx, "key:test", rules.Adjustment{Figure: "sync_exposure", Value: "1", Period: "2026-10", Reason: "x"}); err == nil {
		t.Fatal("a query-only service stored an adjustment")
	}
	lister := s.events.Stream.ListConsumers(ctx)
	var names []string
	for ci := range lister.Info() {
		names = append(names, ci.Name)
	}
	if err := lister.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "rules_sync-test_v1_p0of1" {
		t.Fatalf("consumers on the stream: %v, want only the first service's", names)
	}
	// A new version onboarded elsewhere is in force here within the periodic look.
	s.onboard(`
ruleset: sync-test
effective_from: "2026-01"
figures:
  - name: sync_exposure
    kind: stock
    when: event.type == "loan.balance"
    value: decimal(event.data.outstanding) * decimal("2")
    currency: event.data.currency
`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := q.Figure(ctx, rules.FigureRequest{Name: "sync_exposure", Period: "2026-10"})
		if err == nil && f.Version == 2 && f.Value == "6000" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 2 not in force on the query-only service: %+v %v", f, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A figure this process does not know makes it look at once (a template
	// onboarded right after its rule set, on another process).
	s.onboard(`
ruleset: sync-other
effective_from: "2026-01"
figures:
  - name: sync_other
    kind: flow
    when: event.type == "payment"
    value: decimal(event.data.amount)
`)
	if kind, _, ok := q.FigureInfo("sync_other"); !ok || kind != "flow" {
		t.Fatalf("FigureInfo right after onboarding elsewhere: %q %v", kind, ok)
	}
}
