package rules_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

// stockRules are stock figures whose `when` tests more than the event type, as
// the sample bank's hqla and off_balance_exposure do, plus one whose `when`
// names no type at all.
const stockRules = `
ruleset: test-stock
effective_from: "2026-01"
figures:
  - name: hqla
    kind: stock
    when: >-
      event.type == "security.position" && event.data.hqla_level != "none"
      && !event.data.?encumbered.orValue(false)
    dimensions:
      level: event.data.hqla_level
    value: decimal(event.data.market_value)
    currency: event.data.currency
  - name: off_balance
    kind: stock
    when: event.type == "loan.balance" && has(event.data.undrawn_commitment)
    dimensions:
      exposure_class: event.data.exposure_class
    value: decimal(event.data.undrawn_commitment)
    currency: event.data.currency
  - name: exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      exposure_class: event.data.exposure_class
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: corporate_exposure
    kind: stock
    when: event.type == "loan.balance" && event.data.exposure_class == "corporate"
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: flagged
    kind: stock
    when: event.data.?flagged.orValue(false) == true
    value: decimal(1)
`

func position(id, subject, level, value string, encumbered bool, at string) map[string]any {
	return map[string]any{"id": id, "source": "treasury", "type": "security.position", "schema_version": 1, "subject": subject,
		"occurred_at": at, "data": map[string]any{"position_id": subject, "isin": "DE0001102580", "issuer_id": "DE-GOV",
			"hqla_level": level, "market_value": value, "currency": "EUR", "encumbered": encumbered}}
}

func classLoan(id, subject, class, outstanding, undrawn, at string) map[string]any {
	ev := loan(id, subject, "CP1", outstanding, "EUR", at)
	data := ev["data"].(map[string]any)
	data["exposure_class"] = class
	if undrawn != "" {
		data["undrawn_commitment"] = undrawn
	}
	return ev
}

func (s *stack) contributions(name, period string, asOf uint64, where map[string]string) []rules.ContributionRow {
	s.t.Helper()
	rows, err := s.svc.Contributions(context.Background(), rules.FigureRequest{Name: name, Period: period, AsOfSeq: asOf, Where: where}, 0, 100)
	if err != nil {
		s.t.Fatal(err)
	}
	return rows
}

func (s *stack) superseded(name, period string, after, through uint64, where map[string]string) []store.Supersession {
	s.t.Helper()
	sp, err := s.svc.Superseded(context.Background(), rules.FigureRequest{Name: name, Period: period, Where: where}, after, through)
	if err != nil {
		s.t.Fatal(err)
	}
	return sp
}

func (s *stack) eventContributions(seq uint64) map[string][]store.EventContribution {
	s.t.Helper()
	cs, err := s.svc.EventContributions(context.Background(), seq)
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string][]store.EventContribution{}
	for _, c := range cs {
		out[c.Figure] = append(out[c.Figure], c)
	}
	return out
}

func eventIDs(rows []rules.ContributionRow) []string {
	ids := []string{}
	for _, r := range rows {
		ids = append(ids, r.EventID)
	}
	return ids
}

// TestEncumberedPositionStopsCounting: a later snapshot of a position that
// `when` no longer matches takes the position out of the stock figure from its
// seq on, in every view of the figure; a correction that matches again and a
// void of that correction bring it back as supersession always did.
func TestEncumberedPositionStopsCounting(t *testing.T) {
	s := newStack(t)
	s.onboard(stockRules)
	s.publish(position("p1-a", "P1", "1", "100.00", false, "2026-10-05T12:00:00Z"))
	s.publish(position("p2-a", "P2", "2A", "50.00", false, "2026-10-06T12:00:00Z"))
	// Another type with the same subject: hqla does not concern it.
	s.publish(classLoan("x-p1", "P1", "corporate", "7.00", "", "2026-10-07T12:00:00Z"))
	seqEncumbered := s.publish(position("p1-b", "P1", "1", "100.00", true, "2026-10-20T12:00:00Z"))
	w := s.settle()

	before := fmt.Sprint(seqEncumbered - 1)
	if f := s.want("hqla", "2026-10", "50"); f.Contributions != 1 {
		t.Fatalf("hqla counts %d contributions, want 1 (the tombstone is none)", f.Contributions)
	}
	s.want("hqla", "2026-10", "150", "as_of_seq", before)
	s.want("hqla", "2026-10", "0", "level", "1")
	s.want("hqla", "2026-10", "100", "level", "1", "as_of_seq", before)
	s.want("hqla", "2026-11", "50") // carried forward: still encumbered
	if got := eventIDs(s.contributions("hqla", "2026-10", w, nil)); fmt.Sprint(got) != "[p2-a]" {
		t.Fatalf("contributions %v, want [p2-a]", got)
	}
	if got := eventIDs(s.contributions("hqla", "2026-10", seqEncumbered-1, nil)); fmt.Sprint(got) != "[p2-a p1-a]" {
		t.Fatalf("contributions before the encumbrance %v, want [p2-a p1-a]", got)
	}
	if got := s.contributions("hqla", "2026-10", w, map[string]string{"level": "1"}); len(got) != 0 {
		t.Fatalf("level 1 contributions %+v, want none", got)
	}
	b, err := s.svc.Breakdown(context.Background(), rules.FigureRequest{Name: "hqla", Period: "2026-10"})
	if err != nil || len(b.Rows) != 1 || b.Rows[0].Dims["level"] != "2A" || b.Value != "50" || b.Contributions != 1 {
		t.Fatalf("breakdown %+v %v: want one row, level 2A, 50", b, err)
	}

	// Lineage: a restatement over the encumbrance names it, under the total and
	// the level 1 filter but not under level 2A; its impact says what it took out.
	want := store.Supersession{Superseded: "p1-a", By: "p1-b", BySeq: seqEncumbered, StopsCounting: true}
	for _, where := range []map[string]string{nil, {"level": "1"}} {
		if sp := s.superseded("hqla", "2026-10", seqEncumbered-1, w, where); len(sp) != 1 || sp[0] != want {
			t.Fatalf("superseded under %v: %+v, want %+v", where, sp, want)
		}
	}
	if sp := s.superseded("hqla", "2026-10", seqEncumbered-1, w, map[string]string{"level": "2A"}); len(sp) != 0 {
		t.Fatalf("superseded under level 2A: %+v", sp)
	}
	imp := s.eventContributions(seqEncumbered)["hqla"]
	if len(imp) != 1 || !imp[0].StopsCounting || imp[0].Replaces != "p1-a" || imp[0].Dims["level"] != "1" || !imp[0].Value.IsZero() ||
		imp[0].Currency != "EUR" {
		t.Fatalf("impact of the encumbrance on hqla: %+v", imp)
	}
	if imp := s.eventContributions(3); len(imp["hqla"]) != 0 || len(imp["exposure"]) != 1 || len(imp["off_balance"]) != 1 {
		t.Fatalf("impact of a loan event with the position's subject: %+v", imp)
	}

	// A correction of the encumbered snapshot that matches again: P1 counts again,
	// with the correction's value; before it the answer stays 50.
	seqCorr := s.publish(with(position("p1-b2", "P1", "1", "90.00", false, "2026-10-20T12:00:00Z"), "supersedes", "p1-b"))
	s.settle()
	s.want("hqla", "2026-10", "140")
	s.want("hqla", "2026-10", "50", "as_of_seq", fmt.Sprint(w))
	if sp := s.superseded("hqla", "2026-10", w, seqCorr, nil); len(sp) != 1 || sp[0].By != "p1-b2" || sp[0].Superseded != "p1-b" || sp[0].StopsCounting {
		t.Fatalf("superseded by the correction: %+v", sp)
	}
	if got := eventIDs(s.contributions("hqla", "2026-10", seqCorr, nil)); fmt.Sprint(got) != "[p1-b2 p2-a]" {
		t.Fatalf("contributions after the correction %v", got)
	}
	// Voiding the correction leaves P1's first snapshot as its latest live event
	// (the encumbered one stays superseded).
	s.publish(void("v-p1-b2", "p1-b2", "2026-10-21T00:00:00Z"))
	s.settle()
	s.want("hqla", "2026-10", "150")
	s.want("hqla", "2026-10", "140", "as_of_seq", fmt.Sprint(seqCorr))

	// A `when` that names no type concerns every type: any later event of the
	// subject it does not match stops it counting.
	s.publish(with(position("p3-a", "P3", "none", "1.00", false, "2026-10-05T12:00:00Z"), "data",
		map[string]any{"flagged": true, "hqla_level": "none", "market_value": "1", "currency": "EUR"}))
	s.settle()
	s.want("flagged", "2026-10", "1")
	s.publish(classLoan("x-p3", "P3", "retail", "5.00", "", "2026-10-09T12:00:00Z"))
	s.settle()
	s.want("flagged", "2026-10", "0")
	s.want("hqla", "2026-10", "150")

	// A rebuild replays the same rows, tombstones included.
	ctx := context.Background()
	n1, sum1, err := s.svc.Checksum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.svc.Rebuild(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	s.settle()
	n2, sum2, err := s.svc.Checksum(ctx)
	if err != nil || n1 != n2 || sum1 != sum2 {
		t.Fatalf("rebuild: %d rows %s, live: %d rows %s (%v)", n2, sum2, n1, sum1, err)
	}
	s.want("hqla", "2026-10", "150")
	s.want("hqla", "2026-10", "50", "as_of_seq", fmt.Sprint(w))
	s.want("flagged", "2026-10", "0")
}

// TestLoanDroppingItsUndrawnCommitment: the later snapshot without an undrawn
// commitment is the loan's latest for off_balance, so its commitment stops
// counting there, while the loan's exposure goes on.
func TestLoanDroppingItsUndrawnCommitment(t *testing.T) {
	s := newStack(t)
	s.onboard(stockRules)
	s.publish(classLoan("l1-a", "L1", "corporate", "100.00", "1000.00", "2026-10-05T12:00:00Z"))
	s.publish(classLoan("l2-a", "L2", "corporate", "10.00", "40.00", "2026-10-06T12:00:00Z"))
	seqDrawn := s.publish(classLoan("l1-b", "L1", "corporate", "1100.00", "", "2026-10-25T12:00:00Z"))
	w := s.settle()
	s.want("off_balance", "2026-10", "40")
	s.want("off_balance", "2026-10", "1040", "as_of_seq", fmt.Sprint(seqDrawn-1))
	s.want("off_balance", "2026-10", "40", "exposure_class", "corporate")
	s.want("exposure", "2026-10", "1110")
	// September knew neither; November carries October's latest forward.
	s.want("off_balance", "2026-09", "0")
	s.want("off_balance", "2026-11", "40")
	if sp := s.superseded("off_balance", "2026-10", seqDrawn-1, w, map[string]string{"exposure_class": "corporate"}); len(sp) != 1 ||
		sp[0].By != "l1-b" || sp[0].Superseded != "l1-a" || !sp[0].StopsCounting {
		t.Fatalf("superseded: %+v", sp)
	}
	imp := s.eventContributions(seqDrawn)
	if off := imp["off_balance"]; len(off) != 1 || !off[0].StopsCounting || off[0].Replaces != "l1-a" || off[0].Dims["exposure_class"] != "corporate" {
		t.Fatalf("impact on off_balance: %+v", off)
	}
	if ex := imp["exposure"]; len(ex) != 1 || ex[0].StopsCounting || ex[0].Value.String() != "1100" {
		t.Fatalf("impact on exposure: %+v", ex)
	}
}

// TestSubjectChangingItsDimensions: latest per subject is per (figure, subject),
// not per dimension set: a loan moving to another exposure class stops counting
// under the old one, in the figure that classifies by dimension and in the one
// that classifies in `when`.
func TestSubjectChangingItsDimensions(t *testing.T) {
	s := newStack(t)
	s.onboard(stockRules)
	s.publish(classLoan("l1-a", "L1", "corporate", "100.00", "", "2026-10-05T12:00:00Z"))
	s.publish(classLoan("l2-a", "L2", "corporate", "30.00", "", "2026-10-06T12:00:00Z"))
	seqMove := s.publish(classLoan("l1-b", "L1", "retail", "120.00", "", "2026-10-25T12:00:00Z"))
	w := s.settle()
	before := fmt.Sprint(seqMove - 1)
	s.want("exposure", "2026-10", "150")
	s.want("exposure", "2026-10", "30", "exposure_class", "corporate")
	s.want("exposure", "2026-10", "120", "exposure_class", "retail")
	s.want("exposure", "2026-10", "130", "exposure_class", "corporate", "as_of_seq", before)
	s.want("corporate_exposure", "2026-10", "30")
	s.want("corporate_exposure", "2026-10", "130", "as_of_seq", before)
	if got := eventIDs(s.contributions("exposure", "2026-10", w, map[string]string{"exposure_class": "corporate"})); fmt.Sprint(got) != "[l2-a]" {
		t.Fatalf("corporate contributions %v", got)
	}
	// Lineage: the move is what changed the corporate amount; under retail it
	// simply contributes (Contributions lists it), so it is no stop there.
	sp := s.superseded("exposure", "2026-10", seqMove-1, w, map[string]string{"exposure_class": "corporate"})
	if len(sp) != 1 || sp[0] != (store.Supersession{Superseded: "l1-a", By: "l1-b", BySeq: seqMove, StopsCounting: true}) {
		t.Fatalf("superseded under corporate: %+v", sp)
	}
	if sp := s.superseded("exposure", "2026-10", seqMove-1, w, map[string]string{"exposure_class": "retail"}); len(sp) != 0 {
		t.Fatalf("superseded under retail: %+v", sp)
	}
	if sp := s.superseded("exposure", "2026-10", seqMove-1, w, nil); len(sp) != 0 {
		t.Fatalf("superseded under no filter: %+v", sp)
	}
	if sp := s.superseded("corporate_exposure", "2026-10", seqMove-1, w, nil); len(sp) != 1 || sp[0].By != "l1-b" || !sp[0].StopsCounting {
		t.Fatalf("superseded in corporate_exposure: %+v", sp)
	}
	// A restatement reads what the late events did once per figure and filters it
	// per cell: the same answers as asking per filter, and the late rows that
	// contribute under each filter are the move alone, under retail.
	lc, err := s.svc.LateChanges(context.Background(), rules.FigureRequest{Name: "exposure", Period: "2026-10"}, seqMove-1, w)
	if err != nil {
		t.Fatal(err)
	}
	late, err := s.svc.LateContributions(context.Background(), rules.FigureRequest{Name: "exposure", Period: "2026-10", AsOfSeq: w}, seqMove-1)
	if err != nil || len(late) != 1 || late[0].EventID != "l1-b" {
		t.Fatalf("late contributions %+v (%v)", late, err)
	}
	for _, where := range []map[string]string{{"exposure_class": "corporate"}, {"exposure_class": "retail"}, nil} {
		if got, want := lc.Under(where), s.superseded("exposure", "2026-10", seqMove-1, w, where); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("late changes under %v: %+v, asked alone %+v", where, got, want)
		}
		if got, want := store.Under(late[0].Dims, where), where == nil || where["exposure_class"] == "retail"; got != want {
			t.Fatalf("the move under %v: %v", where, got)
		}
	}
	// Impact: the move contributes under retail and stops counting under corporate.
	imp := s.eventContributions(seqMove)
	ex := imp["exposure"]
	if len(ex) != 2 || ex[0].StopsCounting || ex[0].Dims["exposure_class"] != "retail" || ex[0].Value.String() != "120" ||
		!ex[1].StopsCounting || ex[1].Dims["exposure_class"] != "corporate" || ex[1].Replaces != "l1-a" || !ex[1].Value.IsZero() {
		t.Fatalf("impact on exposure: %+v", ex)
	}
	if ce := imp["corporate_exposure"]; len(ce) != 1 || !ce[0].StopsCounting || ce[0].Replaces != "l1-a" {
		t.Fatalf("impact on corporate_exposure: %+v", ce)
	}
	// Back to corporate with a correction of the move.
	s.publish(with(classLoan("l1-b2", "L1", "corporate", "120.00", "", "2026-10-25T12:00:00Z"), "supersedes", "l1-b"))
	s.settle()
	s.want("exposure", "2026-10", "150", "exposure_class", "corporate")
	s.want("exposure", "2026-10", "0", "exposure_class", "retail")
	s.want("corporate_exposure", "2026-10", "150")
}
