package rules_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

const creditRules = `
ruleset: test-credit
effective_from: "2026-01"
figures:
  - name: loan_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: payments_out
    kind: flow
    when: event.type == "payment" && event.data.direction == "outbound"
    value: decimal(event.data.amount)
    currency: event.data.currency
  - name: payments_total
    kind: cumulative
    when: event.type == "payment"
    value: decimal(event.data.amount)
    currency: event.data.currency
  - name: exposure_and_payments
    kind: derived
    value: figure("loan_exposure") + figure("payments_out") * 2
`

// TestStockFlowCumulativeDerivedAtTwoWatermarks: stock takes the latest live event
// per subject before the period end (late and out-of-order events included), flow
// the events inside the period, cumulative everything before its end; a correction
// and a void change the answer only for watermarks at or after them.
func TestStockFlowCumulativeDerivedAtTwoWatermarks(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	s.publish(loan("l1-a", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.publish(loan("l2-a", "L2", "CP2", "200.00", "EUR", "2026-10-15T12:00:00Z"))
	s.publish(loan("l1-b", "L1", "CP1", "150.00", "EUR", "2026-10-20T12:00:00Z"))
	s.publish(loan("l1-c", "L1", "CP1", "999.00", "EUR", "2026-11-02T12:00:00Z"))    // next period
	s.publish(loan("l2-late", "L2", "CP2", "120.00", "EUR", "2026-10-05T12:00:00Z")) // late, older than l2-a
	s.publish(payment("p1", "50.00", "2026-10-03T09:00:00Z"))
	s.publish(payment("p2", "70.00", "2026-09-30T09:00:00Z"))
	w1 := s.settle()

	s.want("loan_exposure", "2026-10", "350")
	s.want("loan_exposure", "2026-10", "150", "counterparty", "CP1")
	s.want("loan_exposure", "2026-11", "1199") // L1 999 + L2 still 200
	s.want("payments_out", "2026-10", "50")
	s.want("payments_total", "2026-10", "120")
	s.want("payments_total", "2026-09", "70")
	d := s.want("exposure_and_payments", "2026-10", "450")
	if len(d.Inputs) != 2 {
		t.Fatalf("derived figure inputs %+v", d.Inputs)
	}

	// A correction of L1's October balance and a void of L2's.
	s.publish(with(loan("l1-b2", "L1", "CP1", "130.00", "EUR", "2026-10-20T12:00:00Z"), "supersedes", "l1-b"))
	s.publish(void("v-l2", "l2-a", "2026-10-25T00:00:00Z"))
	w2 := s.settle()
	s.want("loan_exposure", "2026-10", "250") // 130 + the late 120
	s.want("loan_exposure", "2026-10", "350", "as_of_seq", fmt.Sprint(w1))
	s.want("loan_exposure", "2026-10", "250", "as_of_seq", fmt.Sprint(w2))
	// A watermark before the late event: L2 was 200 then.
	s.want("loan_exposure", "2026-10", "350", "as_of_seq", "4")
	s.want("loan_exposure", "2026-10", "100", "as_of_seq", "1")
}

func TestPeriodEdgesInANonUTCTimeZone(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	// 2026-10-31T23:30Z is 1 November 00:30 in Berlin (CET); 2026-09-30T22:30Z is
	// 1 October 00:30 in Berlin (CEST).
	s.publish(payment("p-end", "10.00", "2026-10-31T23:30:00Z"))
	s.publish(payment("p-start", "7.00", "2026-09-30T22:30:00Z"))
	s.publish(payment("p-mid", "1.00", "2026-10-15T12:00:00Z"))
	s.settle()
	s.want("payments_out", "2026-10", "11")                       // UTC: p-end and p-mid
	s.want("payments_out", "2026-10", "8", "tz", "Europe/Berlin") // Berlin: p-start and p-mid
	s.want("payments_out", "2026-11", "10", "tz", "Europe/Berlin")
	s.want("payments_out", "2026-Q4", "18", "tz", "Europe/Berlin")
	s.want("payments_out", "2026-Q3", "0", "tz", "Europe/Berlin")
	s.want("payments_out", "2026", "18", "tz", "Europe/Berlin")
}

func TestCurrencyConversion(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	s.publish(loan("e1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.publish(loan("u1", "L2", "CP2", "1000.00", "USD", "2026-10-12T12:00:00Z"))
	s.publish(fx("fx-usd-1", "USD", "EUR", "0.9", "2026-10-01T16:00:00Z"))
	s.publish(fx("fx-usd-2", "USD", "EUR", "0.8", "2026-11-05T16:00:00Z")) // after the period end
	s.settle()
	f := s.want("loan_exposure", "2026-10", "1000", "currency", "EUR")
	if len(f.Conversions) != 1 || f.Conversions[0].EventID != "fx-usd-1" {
		t.Fatalf("conversions %+v", f.Conversions)
	}
	if _, code, raw := s.figure("loan_exposure", "2026-10"); code != 422 || !strings.Contains(raw, "EUR, USD") {
		t.Fatalf("mixed currencies without a reporting currency: %d %s", code, raw)
	}
	if _, code, raw := s.figure("exposure_and_payments", "2026-10"); code != 422 || !strings.Contains(raw, "currency") {
		t.Fatalf("a derived figure over EUR and USD amounts without a reporting currency: %d %s", code, raw)
	}
	s.publish(loan("g1", "L3", "CP3", "85.00", "GBP", "2026-10-12T12:00:00Z"))
	s.settle()
	if _, code, raw := s.figure("loan_exposure", "2026-10", "currency", "EUR"); code != 422 || !strings.Contains(raw, "GBP into EUR") {
		t.Fatalf("missing rate: %d %s", code, raw)
	}
	s.publish(fx("fx-eur-gbp", "EUR", "GBP", "0.85", "2026-10-02T16:00:00Z")) // quoted the other way round
	s.settle()
	s.want("loan_exposure", "2026-10", "1100", "currency", "EUR") // 100 + 900 + 85/0.85
}

func TestManualAdjustmentsCountForTheirPeriod(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	s.publish(loan("e1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.settle()
	var out map[string]any
	body := `{"figure":"loan_exposure","dimensions":{"counterparty":"CP1"},"value":"-25.50","currency":"EUR","period":"2026-10","reason":"write-down agreed with the auditor"}`
	if code := s.do("POST", "/v1/adjustments", auth.RoleCompliance, []byte(body), &out); code != 201 {
		t.Fatalf("adjust: %d %v", code, out)
	}
	if code := s.do("POST", "/v1/adjustments", auth.RoleSource, []byte(body), nil); code != 403 {
		t.Fatalf("a source key adjusting: %d", code)
	}
	if code := s.do("POST", "/v1/adjustments", auth.RoleOperator, []byte(strings.Replace(body, "write-down agreed with the auditor", " ", 1)), nil); code != 422 {
		t.Fatalf("an adjustment without a reason: %d", code)
	}
	derived := strings.Replace(body, `"figure":"loan_exposure"`, `"figure":"exposure_and_payments"`, 1)
	var e struct{ Error struct{ Message string } }
	if code := s.do("POST", "/v1/adjustments", auth.RoleOperator, []byte(derived), &e); code != 422 || !strings.Contains(e.Error.Message, "derived") {
		t.Fatalf("adjusting a derived figure: %d %+v", code, e)
	}
	s.settle()
	s.want("loan_exposure", "2026-10", "74.5")
	s.want("loan_exposure", "2026-11", "100")
}

func TestRunawayAndFailingExpressionsAreRecordedNotFatal(t *testing.T) {
	s := newStack(t)
	var list []string
	for i := 0; i < 100; i++ {
		list = append(list, fmt.Sprint(i))
	}
	l := "[" + strings.Join(list, ",") + "]"
	s.onboard(`
ruleset: risky
effective_from: "2026-01"
figures:
  - name: runaway
    kind: flow
    when: event.type == "payment"
    value: decimal(size(` + l + `.map(a, ` + l + `.map(b, ` + l + `.map(c, a + b + c)))))
  - name: missing_field
    kind: flow
    when: event.type == "payment"
    value: decimal(event.data.no_such_field)
  - name: fine
    kind: flow
    when: event.type == "payment"
    value: decimal(event.data.amount)
`)
	s.publish(payment("p1", "5.00", "2026-10-03T09:00:00Z"))
	s.publish(payment("p2", "6.00", "2026-10-04T09:00:00Z"))
	s.settle()
	s.want("fine", "2026-10", "11")
	var res struct {
		Failures []struct{ Figure, Field, EventID, Error string }
	}
	s.do("GET", "/v1/rules/failures", auth.RoleOperator, nil, &res)
	found := map[string]int{}
	for _, f := range res.Failures {
		found[f.Figure]++
		if f.Figure == "runaway" && !strings.Contains(strings.ToLower(f.Error), "cost") {
			t.Errorf("runaway failure says %q, want the cost limit", f.Error)
		}
	}
	if found["runaway"] != 2 || found["missing_field"] != 2 {
		t.Fatalf("failures %+v", res.Failures)
	}
}

func TestBrokenRuleSetsAreRefusedWithMessages(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name, src, figure, field, says string
	}{
		{"CEL syntax", `
ruleset: b1
effective_from: "2026-01"
figures:
  - {name: x, kind: flow, when: 'event.type ==', value: decimal("1")}`, "x", "when", ":"},
		{"unknown figure", `
ruleset: b2
effective_from: "2026-01"
figures:
  - {name: d, kind: derived, value: 'figure("nope")'}`, "d", "value", "nope"},
		{"cycle", `
ruleset: b3
effective_from: "2026-01"
figures:
  - {name: a, kind: derived, value: 'figure("b")'}
  - {name: b, kind: derived, value: 'figure("a")'}`, "", "", "cycle"},
		{"duplicate", `
ruleset: b4
effective_from: "2026-01"
figures:
  - {name: x, kind: flow, when: 'true', value: decimal("1")}
  - {name: x, kind: flow, when: 'true', value: decimal("2")}`, "x", "name", "duplicate"},
		{"value of the wrong type", `
ruleset: b5
effective_from: "2026-01"
figures:
  - {name: x, kind: flow, when: 'true', value: '"text"'}`, "x", "value", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e struct {
				Error struct {
					Code    string
					Details []struct{ Figure, Field, Message string }
				}
			}
			if code := s.do("POST", "/v1/rulesets", auth.RoleRuleAuthor, []byte(tt.src), &e); code != 422 || e.Error.Code != "invalid_ruleset" {
				t.Fatalf("status %d %+v", code, e)
			}
			ok := false
			for _, p := range e.Error.Details {
				if (tt.figure == "" || p.Figure == tt.figure) && (tt.field == "" || p.Field == tt.field) &&
					strings.Contains(strings.ToLower(p.Message), tt.says) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("problems %+v: want figure %q field %q saying %q", e.Error.Details, tt.figure, tt.field, tt.says)
			}
		})
	}
}

// numberedLoan is the i-th of a run of loan balances over 40 loans and 7
// counterparties in October 2026.
func numberedLoan(i int) map[string]any {
	return loan(fmt.Sprintf("l-%d", i), fmt.Sprintf("L%d", i%40), fmt.Sprintf("CP%d", i%7), fmt.Sprintf("%d.%02d", i, i%100), "EUR",
		fmt.Sprintf("2026-10-%02dT12:00:00Z", 1+i%28))
}

// TestRebuildGivesIdenticalRows drops the projections and replays the stream.
func TestRebuildGivesIdenticalRows(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	for i := 0; i < 300; i++ {
		s.publish(numberedLoan(i))
		if i%50 == 0 {
			s.publish(payment(fmt.Sprintf("p-%d", i), "3.00", "2026-10-03T09:00:00Z"))
		}
	}
	s.publish(with(loan("l-5b", "L5", "CP5", "1.00", "EUR", "2026-10-30T12:00:00Z"), "supersedes", "l-5"))
	s.settle()
	ctx := context.Background()
	n1, sum1, err := s.svc.Checksum(ctx)
	if err != nil || n1 < 300 {
		t.Fatalf("checksum: %d rows, %v", n1, err)
	}
	before, _, _ := s.figure("loan_exposure", "2026-10")
	if code := s.do("POST", "/v1/projections/rebuild", auth.RoleOperator, nil, nil); code != 202 {
		t.Fatalf("rebuild: %d", code)
	}
	s.settle()
	n2, sum2, _ := s.svc.Checksum(ctx)
	if n1 != n2 || sum1 != sum2 {
		t.Fatalf("rebuild: %d rows %s, live: %d rows %s", n2, sum2, n1, sum1)
	}
	after, _, _ := s.figure("loan_exposure", "2026-10")
	if before.Value != after.Value {
		t.Fatalf("figure %s before, %s after the rebuild", before.Value, after.Value)
	}
}

// TestAnIdleWorkerNoticesARebuildElsewhere: a rebuild run by another process
// drops every position while this process's worker holds the partition and
// waits, idle, past the stream's last event on a consumer the rebuild did not
// delete (created between that process's consumer deletion and its drop). With
// no new event it would never commit, so never find its position gone, and the
// rebuild would wait for ever; the worker checks while idle and starts over.
// Meanwhile the watermark must not take that idle consumer for a partition
// done (with several partitions it reads the consumers).
func TestAnIdleWorkerNoticesARebuildElsewhere(t *testing.T) {
	for _, partitions := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d partitions", partitions), func(t *testing.T) {
			s := newStack(t, func(c *config.Config) { c.Rules.Partitions = partitions })
			s.onboard(creditRules)
			for i := 0; i < 300; i++ {
				s.publish(numberedLoan(i))
			}
			last := s.settle()
			ctx := context.Background()
			n1, sum1, err := s.svc.Checksum(ctx)
			if err != nil || n1 < 300 {
				t.Fatalf("checksum: %d rows, %v", n1, err)
			}
			// What the other process's rebuild does once its own workers have
			// stopped and the consumers it found are deleted.
			if err := store.New(s.db.Pool).DropProjections(ctx, "another process"); err != nil {
				t.Fatal(err)
			}
			if p, err := s.svc.Watermark(ctx); err != nil || p.Watermark >= last {
				t.Fatalf("right after the drop the watermark is %d of %d (%v): the projections are empty", p.Watermark, last, err)
			}
			s.settle() // up to last again: the worker started over
			if n2, sum2, err := s.svc.Checksum(ctx); err != nil || n2 != n1 || sum2 != sum1 {
				t.Fatalf("rebuilt: %d rows %s, live: %d rows %s (%v)", n2, sum2, n1, sum1, err)
			}
		})
	}
}

// TestAFailedRebuildLeavesTheWorkersRunning: a rebuild that fails part way
// (here its context is already over, so deleting the consumers fails) answers
// the error, and the workers it stopped run again: the next event is processed.
func TestAFailedRebuildLeavesTheWorkersRunning(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	for i := 0; i < 100; i++ {
		s.publish(numberedLoan(i))
	}
	s.settle()
	over, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.svc.Rebuild(over, "test"); err == nil {
		t.Fatal("a rebuild with its context over succeeded")
	}
	s.publish(numberedLoan(100))
	s.settle()
}

// TestANewVersionIsBackfilled: a version onboarded after the events were stored
// replays the stream for itself; periods before its effective_from use the old one.
func TestANewVersionIsBackfilled(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	s.publish(loan("e1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.settle()
	v2 := strings.Replace(strings.Replace(creditRules, `effective_from: "2026-01"`, `effective_from: "2026-10"`, 1),
		"value: decimal(event.data.outstanding)", `value: decimal(event.data.outstanding) * decimal("2")`, 1)
	out := s.onboard(v2)
	if out.Version != 2 {
		t.Fatalf("version %d", out.Version)
	}
	s.settle()
	f := s.want("loan_exposure", "2026-10", "200")
	if f.Version != 2 {
		t.Fatalf("version used %d", f.Version)
	}
	if f := s.want("loan_exposure", "2026-09", "0"); f.Version != 1 {
		t.Fatalf("version used for 2026-09: %d", f.Version)
	}
	var r rules.Onboarded
	_ = r
}

// TestAnotherRuleSetBackfillingDoesNotPullFiguresBack: a figure asked for without a
// watermark is computed at how far its own rule set version has processed the
// stream, not at the lowest position of every version (a new one starts at 0).
func TestAnotherRuleSetBackfillingDoesNotPullFiguresBack(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	for i := 0; i < 2000; i++ {
		s.publish(payment(fmt.Sprintf("p-%d", i), "1.00", "2026-10-03T09:00:00Z"))
	}
	s.settle()
	s.onboard(strings.NewReplacer("test-credit", "other", "loan_exposure", "o_loan", "payments_out", "o_out",
		"payments_total", "o_total", "exposure_and_payments", "o_derived").Replace(creditRules))
	f := s.want("payments_out", "2026-10", "2000")
	if f.AsOfSeq != 2000 {
		t.Fatalf("as_of_seq %d, want 2000", f.AsOfSeq)
	}
}

// TestChangingThePartitionCountRebuilds: positions made with another partition
// count cannot be continued; the service rebuilds instead of counting twice.
func TestChangingThePartitionCountRebuilds(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	for i := 0; i < 50; i++ {
		s.publish(payment(fmt.Sprintf("p-%d", i), "1.00", "2026-10-03T09:00:00Z"))
	}
	s.settle()
	s.want("payments_out", "2026-10", "50")
	s.stop()
	s.cfg.Rules.Partitions = 2
	s.start()
	s.settle()
	s.want("payments_out", "2026-10", "50")
	n, _, err := s.svc.Checksum(context.Background())
	if err != nil || n != 100 { // payments_out and payments_total: one row each per payment
		t.Fatalf("%d contribution rows (%v), want 100", n, err)
	}
}

// TestBreakdownByDimensionSet: the rows of a breakdown are the figure under each
// dimension set, converted into one currency, and they sum to the figure.
func TestBreakdownByDimensionSet(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	s.publish(loan("e1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.publish(loan("e2", "L2", "CP1", "50.50", "EUR", "2026-10-11T12:00:00Z"))
	s.publish(loan("u1", "L3", "CP2", "1000.00", "USD", "2026-10-12T12:00:00Z"))
	s.publish(loan("u2", "L4", "CP1", "10.00", "USD", "2026-10-12T12:00:00Z"))
	s.publish(fx("fx-usd-1", "USD", "EUR", "0.9", "2026-10-01T16:00:00Z"))
	w := s.settle()
	b, err := s.svc.Breakdown(context.Background(), rules.FigureRequest{Name: "loan_exposure", Period: "2026-10", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var n int64
	for _, r := range b.Rows {
		got[r.Dims["counterparty"]] = r.Value.String()
		n += r.Contributions
	}
	if len(b.Rows) != 2 || got["CP1"] != "159.5" || got["CP2"] != "900" || b.Value != "1059.5" || n != 4 || b.AsOfSeq != w {
		t.Fatalf("breakdown %+v rows %v", b.Figure, got)
	}
	if len(b.Conversions) != 1 || b.Conversions[0].EventID != "fx-usd-1" {
		t.Fatalf("conversions %+v", b.Conversions)
	}
	// The same as Figure under a filter, at an earlier watermark too.
	s.want("loan_exposure", "2026-10", "159.5", "currency", "EUR", "counterparty", "CP1")
	early, err := s.svc.Breakdown(context.Background(), rules.FigureRequest{Name: "loan_exposure", Period: "2026-10", AsOfSeq: 2})
	if err != nil || len(early.Rows) != 1 || early.Value != "150.5" || early.Currency != "EUR" {
		t.Fatalf("as of seq 2: %+v %v", early, err)
	}
	if _, err := s.svc.Breakdown(context.Background(), rules.FigureRequest{Name: "exposure_and_payments", Period: "2026-10"}); err == nil {
		t.Fatal("a derived figure broke down")
	}
	if kind, dims, ok := s.svc.FigureInfo("loan_exposure"); !ok || kind != "stock" || len(dims) != 1 || dims[0] != "counterparty" {
		t.Fatalf("FigureInfo: %s %v %v", kind, dims, ok)
	}
	if _, _, ok := s.svc.FigureInfo("nope"); ok {
		t.Fatal("FigureInfo of an unknown figure")
	}
}

// TestAsOfTimeMapsKnowledgeTimeToASeq: as_of_time asks a figure as the platform
// knew it at that moment: the last event recorded by then is the watermark.
func TestAsOfTimeMapsKnowledgeTimeToASeq(t *testing.T) {
	s := newStack(t)
	s.onboard(creditRules)
	s.publish(loan("t1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.publish(loan("t2", "L2", "CP2", "50.00", "EUR", "2026-10-11T12:00:00Z"))
	s.settle()
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	s.publish(loan("t3", "L1", "CP1", "300.00", "EUR", "2026-10-20T12:00:00Z"))
	s.settle()
	f := s.want("loan_exposure", "2026-10", "150", "as_of_time", between.Format(time.RFC3339Nano))
	if f.AsOfSeq != 2 {
		t.Fatalf("as_of_time mapped to seq %d, want 2", f.AsOfSeq)
	}
	s.want("loan_exposure", "2026-10", "350")
	if _, code, _ := s.figure("loan_exposure", "2026-10", "as_of_time", "2020-01-01T00:00:00Z"); code != 422 {
		t.Fatalf("a time before every event: %d, want 422", code)
	}
	if _, code, _ := s.figure("loan_exposure", "2026-10", "as_of_time", "yesterday"); code != 400 {
		t.Fatalf("a bad time: %d, want 400", code)
	}
	if _, code, _ := s.figure("loan_exposure", "2026-10", "as_of_time", between.Format(time.RFC3339Nano), "as_of_seq", "1"); code != 400 {
		t.Fatalf("both as_of_seq and as_of_time: %d, want 400", code)
	}
}
