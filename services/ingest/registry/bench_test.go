package registry_test

import (
	"context"
	"testing"
)

var benchEvent = []byte(`{"id":"ev-00001234","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-1234","occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":"LN-1234","counterparty_id":"CP-234","exposure_class":"corporate","product":"term_loan","outstanding":"101234.34","undrawn_commitment":"250000.00","ccf":"0.5","currency":"EUR","maturity_date":"2031-06-30"}}`)

func BenchmarkCheck(b *testing.B) {
	r := newRegistry(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, p, err := r.Check(ctx, benchEvent); p != nil || err != nil {
			b.Fatal(p, err)
		}
	}
}
