package celenv

import (
	"bytes"
	"encoding/json"
	"testing"
)

// loanBalance is a real loan.balance event of the demo bank
// (schemas/examples/bank-2026-10.ndjson).
const loanBalance = `{"id":"cb-2026-10-31-LN-1002","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-1002","occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":"LN-1002","counterparty_id":"CP-1002","exposure_class":"corporate","product":"revolving_credit","outstanding":"4000000.00","undrawn_commitment":"6000000.00","ccf":"0.5","currency":"EUR","maturity_date":"2028-03-31"}}`

// benchRule is one rule's expressions: when, two dimensions, value, currency.
type benchRule struct {
	when, dim1, dim2, value, currency string
}

// benchRules are three rules that all match a loan.balance event, like the
// demo bank's credit-risk rule set.
var benchRules = []benchRule{
	{
		when:     `event.type == "loan.balance"`,
		dim1:     `event.data.counterparty_id`,
		dim2:     `event.data.exposure_class`,
		value:    `decimal(event.data.outstanding)`,
		currency: `event.data.currency`,
	},
	{
		when:     `event.type == "loan.balance" && has(event.data.undrawn_commitment)`,
		dim1:     `event.data.counterparty_id`,
		dim2:     `event.data.product`,
		value:    `decimal(event.data.undrawn_commitment) * decimal(has(event.data.ccf) ? event.data.ccf : "1")`,
		currency: `event.data.currency`,
	},
	{
		when:     `event.type == "loan.balance" && event.data.exposure_class in ["corporate", "institution"]`,
		dim1:     `event.data.counterparty_id`,
		dim2:     `date(event.occurred_at, "Europe/Berlin").substring(0, 7)`,
		value:    `round(decimal(event.data.outstanding) * decimal("0.08"), 2)`,
		currency: `event.data.currency`,
	},
}

type compiledRule struct {
	when, dim1, dim2, value, currency *Program
}

func compileBench(b *testing.B, opts ...Option) []compiledRule {
	b.Helper()
	env, err := New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	var out []compiledRule
	for _, r := range benchRules {
		c := func(expr string, k Kind) *Program {
			p, err := env.Compile(expr, k, false)
			if err != nil {
				b.Fatalf("%s: %v", expr, err)
			}
			return p
		}
		out = append(out, compiledRule{
			when: c(r.when, KindBool), dim1: c(r.dim1, KindString), dim2: c(r.dim2, KindString),
			value: c(r.value, KindDecimal), currency: c(r.currency, KindString),
		})
	}
	return out
}

// BenchmarkEvent is the whole per-event cost of the rules service's CEL work:
// NewEvent, then for each of three matching rules its when, two dimensions,
// value and currency (15 evaluations).
func BenchmarkEvent(b *testing.B) { benchEvent(b) }

// BenchmarkEventCostTrackedAlways is BenchmarkEvent with runtime cost tracking
// on every program, not only those with loops.
func BenchmarkEventCostTrackedAlways(b *testing.B) { benchEvent(b, WithCostTrackingAlways()) }

func benchEvent(b *testing.B, opts ...Option) {
	rules := compileBench(b, opts...)
	raw := []byte(loanBalance)
	b.ReportAllocs()
	for b.Loop() {
		ev, err := NewEvent(raw)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rules {
			ok, err := r.when.Bool(ev)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			if _, err := r.dim1.String(ev); err != nil {
				b.Fatal(err)
			}
			if _, err := r.dim2.String(ev); err != nil {
				b.Fatal(err)
			}
			if _, err := r.value.Decimal(ev); err != nil {
				b.Fatal(err)
			}
			if _, err := r.currency.String(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkNewEvent is the parse alone.
func BenchmarkNewEvent(b *testing.B) {
	raw := []byte(loanBalance)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewEvent(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewEventEncodingJSON is the baseline NewEvent replaces: decoding the
// envelope with encoding/json (UseNumber) into maps, before any conversion to
// CEL values.
func BenchmarkNewEventEncodingJSON(b *testing.B) {
	raw := []byte(loanBalance)
	b.ReportAllocs()
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			b.Fatal(err)
		}
	}
}
