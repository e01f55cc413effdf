package expect_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank/expect"
)

var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

// ev writes one envelope; data is the JSON object's members.
func ev(id, typ, subject, at, data string, supersedes ...string) []byte {
	s := fmt.Sprintf(`{"id":%q,"source":"t","type":%q,"schema_version":1,"subject":%q,"occurred_at":%q`, id, typ, subject, at)
	if data != "" {
		s += `,"data":{` + data + `}`
	}
	if len(supersedes) > 0 {
		s += fmt.Sprintf(`,"supersedes":%q`, supersedes[0])
	}
	return []byte(s + "}")
}

func loan(id, subject, at, cp, extra string, supersedes ...string) []byte {
	return ev(id, "loan.balance", subject, at, fmt.Sprintf(`"loan_id":%q,"counterparty_id":%q,"exposure_class":"corporate",%s`, subject, cp, extra), supersedes...)
}

func gl(id, at, account, amount string) []byte {
	return ev(id, "gl.posting", id, at, fmt.Sprintf(`"posting_id":%q,"gl_account":%q,"entity":"E","amount":%q,"currency":"EUR","booking_date":"2026-09-01"`, id, account, amount))
}

func rate(id, at, base, quote, r string) []byte {
	return ev(id, "fx.rate", base+"/"+quote, at, fmt.Sprintf(`"base":%q,"quote":%q,"rate":%q`, base, quote, r))
}

func must(t *testing.T, events [][]byte, period string) expect.Figures {
	t.Helper()
	f, err := expect.Compute(events, period, berlin, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func eq(t *testing.T, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(decimal.RequireFromString(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func TestStockTakesTheLatestLiveEventBeforeThePeriodEnd(t *testing.T) {
	term := `"product":"term_loan","currency":"EUR","outstanding":`
	tests := []struct {
		name   string
		events [][]byte
		want   string // exposure of CP-1
	}{
		{"latest by occurred_at, not by arrival", [][]byte{
			loan("s", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"300"`),
			loan("a", "L1", "2026-08-31T16:00:00Z", "CP-1", term+`"200"`),
		}, "300"},
		{"a tie goes to the later event", [][]byte{
			loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"300"`),
			loan("b", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"310"`),
		}, "310"},
		{"a correction replaces the event it supersedes", [][]byte{
			loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"300"`),
			loan("a-c1", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"250"`, "a"),
		}, "250"},
		{"a voided snapshot gives way to the one before", [][]byte{
			loan("a", "L1", "2026-08-31T16:00:00Z", "CP-1", term+`"200"`),
			loan("b", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"300"`),
			ev("v", "void", "L1", "2026-10-01T08:00:00Z", "", "b"),
		}, "200"},
		{"00:30 on 1 October in Berlin is after the quarter (22:30 UTC on 30 September)", [][]byte{
			loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", term+`"300"`),
			loan("b", "L1", "2026-09-30T22:30:00Z", "CP-1", term+`"999"`),
		}, "300"},
		{"undrawn commitments with the product's default factor or the event's", [][]byte{
			loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", `"product":"revolving_credit","currency":"EUR","outstanding":"100","undrawn_commitment":"100"`),
			loan("b", "L2", "2026-09-30T16:00:00Z", "CP-1", `"product":"overdraft","currency":"EUR","outstanding":"10","undrawn_commitment":"100"`),
			loan("c", "L3", "2026-09-30T16:00:00Z", "CP-1", `"product":"term_loan","currency":"EUR","outstanding":"10","undrawn_commitment":"100"`),
			loan("d", "L4", "2026-09-30T16:00:00Z", "CP-1", `"product":"overdraft","currency":"EUR","outstanding":"0","undrawn_commitment":"100","ccf":"0.25"`),
		}, "305"}, // 150 + 20 + 110 + 25
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := must(t, tt.events, "2026-Q3")
			eq(t, "CP-1", f.Counterparties["CP-1"], tt.want)
		})
	}
}

func TestGroupsConvertAndSpanLoansAndSecurities(t *testing.T) {
	f := must(t, [][]byte{
		rate("r1", "2026-09-10T12:15:00Z", "USD", "EUR", "0.9000"),
		rate("r2", "2026-09-30T12:15:00Z", "USD", "EUR", "0.8500"),
		rate("r3", "2026-09-30T12:15:00Z", "EUR", "GBP", "0.8000"), // quoted the other way round
		rate("r4", "2026-10-01T12:15:00Z", "USD", "EUR", "2"),      // after the period
		loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", `"group_id":"G","product":"term_loan","currency":"USD","outstanding":"1000"`),
		loan("b", "L2", "2026-09-30T16:00:00Z", "CP-2", `"group_id":"G","product":"term_loan","currency":"GBP","outstanding":"80"`),
		ev("c", "security.position", "P1", "2026-09-30T15:30:00Z", `"position_id":"P1","isin":"XS0000000000","issuer_id":"CP-2","group_id":"G","portfolio":"liquidity_buffer","quantity":"1","market_value":"50","currency":"EUR","hqla_level":"2B"`),
		loan("d", "L3", "2026-09-30T16:00:00Z", "CP-3", `"product":"term_loan","currency":"EUR","outstanding":"7"`),
	}, "2026-Q3")
	eq(t, "G", f.Groups["G"], "1000") // 850 + 100 + 50
	eq(t, "CP-3 is its own group", f.Groups["CP-3"], "7")
	eq(t, "total", f.TotalExposure, "1007")
	if got := strings.Join(f.GroupMembers["G"], ","); got != "CP-1,CP-2" {
		t.Errorf("members of G: %s", got)
	}
	if got := strings.Join(f.GroupEvents["G"], ","); got != "a,b,c" {
		t.Errorf("events of G: %s", got)
	}
	if f.Rates["USD"].EventID != "r2" || !f.Rates["GBP"].Inverse {
		t.Errorf("rates: %+v", f.Rates)
	}
	eq(t, "2B after the haircut", f.Buffer["2B"], "25")
}

func TestOwnFundsLargeExposureLimitsAndLCR(t *testing.T) {
	at := "2026-07-01T04:00:00Z"
	deposit := func(id, cat, bal string) []byte {
		return ev(id, "deposit.balance", id, "2026-09-30T16:00:00Z", fmt.Sprintf(`"account_id":%q,"counterparty_id":"C","deposit_category":%q,"insured":false,"balance":%q,"currency":"EUR"`, id, cat, bal))
	}
	sec := func(id, level, mv string, encumbered bool) []byte {
		return ev(id, "security.position", id, "2026-09-30T15:30:00Z", fmt.Sprintf(`"position_id":%q,"isin":"DE0000000000","issuer_id":"S","portfolio":"liquidity_buffer","quantity":"1","market_value":%q,"currency":"EUR","hqla_level":%q,"encumbered":%v`, id, mv, level, encumbered))
	}
	f := must(t, [][]byte{
		gl("j1", "2026-01-02T05:00:00Z", "3000", "-100.00"),
		gl("j2", at, "3010", "-20.00"),
		gl("j3", at, "3100", "-50.01"),
		gl("j4", at, "3200", "3.00"), // an OCI loss
		gl("j5", at, "3900", "-7.00"),
		gl("j6", at, "0400", "10.00"),
		gl("j7", at, "0450", "2.00"),
		gl("j8", at, "3300", "-30.00"),
		gl("j9", at, "2800", "-40.00"),
		gl("j10", at, "1100", "50.00"),                        // not a capital account
		gl("j11", "2026-09-30T22:30:00Z", "3100", "-1000.00"), // in October in Berlin
		sec("p1", "1", "100", false), sec("p2", "2A", "100", false), sec("p3", "2B", "100", false),
		sec("p4", "1", "500", true), sec("p5", "none", "500", false),
		deposit("d1", "retail_stable", "1000"), deposit("d2", "financial_institution", "30"),
		deposit("d3", "non_operational_corporate", "100"),
	}, "2026-Q3")
	eq(t, "capital instruments", f.CapitalInstruments, "120")
	eq(t, "OCI", f.OCI, "-3")
	eq(t, "intangibles", f.Intangibles, "-10")
	eq(t, "CET1", f.CET1, "162.01")
	eq(t, "Tier 1", f.Tier1, "192.01")
	eq(t, "own funds", f.OwnFunds, "232.01")
	eq(t, "threshold", f.Threshold, "19.20") // 19.201
	eq(t, "limit", f.Limit, "48.00")         // 48.0025
	eq(t, "HQLA", f.HQLATotal, "300")
	eq(t, "buffer", f.BufferTotal, "235")
	eq(t, "outflows", f.OutflowsTotal, "120") // 50 + 30 + 40
	eq(t, "LCR", f.LCR, "1.9583")
	if len(f.LargeExposures) != 1 || f.LargeExposures[0].Group != "S" {
		t.Errorf("large exposures: %+v", f.LargeExposures)
	}
}

func TestFlowsCountOnlyInsideThePeriodInItsTimeZone(t *testing.T) {
	pay := func(id, at, dir, amt string) []byte {
		return ev(id, "payment", id, at, fmt.Sprintf(`"payment_id":%q,"debtor_account":"A","creditor_account":"B","amount":%q,"currency":"EUR","direction":%q,"value_date":"2026-07-01"`, id, amt, dir))
	}
	events := [][]byte{
		pay("a", "2026-06-30T22:30:00Z", "inbound", "1"), // 00:30 on 1 July in Berlin
		pay("b", "2026-07-15T10:00:00Z", "inbound", "10"),
		pay("c", "2026-07-15T10:00:00Z", "inbound", "100"),
		ev("v", "void", "c", "2026-07-16T06:00:00Z", "", "c"),
		pay("d", "2026-09-30T22:30:00Z", "outbound", "1000"), // 00:30 on 1 October
		pay("e", "2026-09-30T21:59:59Z", "outbound", "5"),
	}
	f := must(t, events, "2026-Q3")
	eq(t, "inbound", f.Payments["inbound"], "11")
	eq(t, "outbound", f.Payments["outbound"], "5")
	u, err := expect.Compute(events, "2026-Q3", time.UTC, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "inbound in UTC", u.Payments["inbound"], "10")
	eq(t, "outbound in UTC", u.Payments["outbound"], "1005")
}

func TestErrorsNameTheProblem(t *testing.T) {
	for _, tt := range []struct {
		events [][]byte
		period string
		want   string
	}{
		{nil, "2026-13", "period"},
		{[][]byte{[]byte(`{"id":`)}, "2026-09", "event 0"},
		{[][]byte{loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", `"product":"term_loan","currency":"USD","outstanding":"1"`)}, "2026-09", "no fx.rate converts USD"},
		{[][]byte{loan("a", "L1", "2026-09-30T16:00:00Z", "CP-1", `"product":"term_loan","currency":"EUR","outstanding":"1e3"`)}, "2026-09", "outstanding"},
	} {
		_, err := expect.Compute(tt.events, tt.period, berlin, "EUR")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want an error containing %q", err, tt.want)
		}
	}
}
