// Package expect computes, from first principles, the figures Ledgerline's sample
// reports must show for a set of events: own funds (COREP C 01.00), large
// exposures (C 28.00) and the liquidity coverage ratio, following the demo bank's
// data contract and the product's stock, flow and cumulative semantics
// (DESIGN.md). It is deliberately independent of the rules and reports services
// and of the generator, so tests can check both against it.
//
// Semantics, for a period [start, end) of local midnights in loc:
//   - an event is live unless a later event supersedes it (a correction or a void);
//   - stock (loans, securities, deposits, fx rates): per type and subject, the
//     latest live event with occurred_at before end; ties go to the later event in
//     the slice (the stream sequence);
//   - cumulative (gl.posting): every live posting before end;
//   - flow (payment): every live payment with occurred_at in [start, end);
//   - amounts are converted into the reporting currency with the latest live
//     fx.rate as of end (base X, quote the reporting currency: multiply; quoted the
//     other way round: divide to 20 places), after summing per currency.
//
// Derived figures round like rules/*.yaml: the large exposure threshold and limit
// to 2 places, the LCR to 4 (after a division to 20 places).
package expect

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Figures are the expected values for one period, in the reporting currency.
type Figures struct {
	Period   string
	Currency string

	// GL holds every account's balance (debit positive), in the reporting currency.
	GL map[string]decimal.Decimal

	// Own funds. Deductions (Intangibles, DeferredTax) are negative: they are the
	// amounts as they enter CET1, which is the sum of the lines before it.
	CapitalInstruments decimal.Decimal // 3000 subscribed capital + 3010 share premium, negated
	RetainedEarnings   decimal.Decimal // 3100, negated
	OCI                decimal.Decimal // 3200 accumulated other comprehensive income, negated
	InterimProfit      decimal.Decimal // 3900, negated
	Intangibles        decimal.Decimal // 0400, negated
	DeferredTax        decimal.Decimal // 0450 deferred tax assets relying on future profitability, negated
	CET1               decimal.Decimal
	AT1                decimal.Decimal // 3300, negated
	Tier1              decimal.Decimal
	Tier2              decimal.Decimal // 2800, negated
	OwnFunds           decimal.Decimal

	// Large exposures: exposure value per group of connected clients and per
	// counterparty (loans: outstanding + undrawn commitment × CCF; securities:
	// market value), the events behind each group, the threshold (10% of Tier 1)
	// and the limit (25%).
	Groups         map[string]decimal.Decimal
	Counterparties map[string]decimal.Decimal
	// GroupMembers lists each group's counterparties, sorted.
	GroupMembers map[string][]string
	// GroupEvents lists the ids of the loan and security events behind each group,
	// in event order.
	GroupEvents    map[string][]string
	TotalExposure  decimal.Decimal
	Threshold      decimal.Decimal
	Limit          decimal.Decimal
	LargeExposures []Exposure // groups at or above the threshold, biggest first

	// LCR: HQLA per level ("1", "2A", "2B") before and after haircuts, deposits
	// and outflows per deposit category.
	HQLA     map[string]decimal.Decimal
	Buffer   map[string]decimal.Decimal
	Deposits map[string]decimal.Decimal
	Outflows map[string]decimal.Decimal
	// HQLATotal and BufferTotal sum HQLA and Buffer; OutflowsTotal sums Outflows.
	HQLATotal, BufferTotal, OutflowsTotal decimal.Decimal
	LCR                                   decimal.Decimal

	// Payments: settled in the period, per direction.
	Payments map[string]decimal.Decimal

	// Rates are the conversion rates used, per currency, with the event behind each.
	Rates map[string]Rate
}

// Exposure is one group's exposure value.
type Exposure struct {
	Group string
	Value decimal.Decimal
}

// Rate converts a currency into the reporting currency.
type Rate struct {
	Rate    decimal.Decimal // as the event has it
	Inverse bool            // the event quotes the reporting currency in this one
	EventID string
}

func (r Rate) convert(x decimal.Decimal) decimal.Decimal {
	if r.Inverse {
		return x.DivRound(r.Rate, 20)
	}
	return x.Mul(r.Rate)
}

type event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject"`
	OccurredAt time.Time       `json:"occurred_at"`
	Supersedes string          `json:"supersedes"`
	Data       json.RawMessage `json:"data"`
	seq        int
}

type loanData struct {
	CounterpartyID    string  `json:"counterparty_id"`
	GroupID           string  `json:"group_id"`
	Product           string  `json:"product"`
	Outstanding       string  `json:"outstanding"`
	UndrawnCommitment *string `json:"undrawn_commitment"`
	CCF               *string `json:"ccf"`
	Currency          string  `json:"currency"`
}

type securityData struct {
	IssuerID    string `json:"issuer_id"`
	GroupID     string `json:"group_id"`
	MarketValue string `json:"market_value"`
	Currency    string `json:"currency"`
	HQLALevel   string `json:"hqla_level"`
	Encumbered  bool   `json:"encumbered"`
}

type depositData struct {
	Category string `json:"deposit_category"`
	Balance  string `json:"balance"`
	Currency string `json:"currency"`
}

type postingData struct {
	Account  string `json:"gl_account"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

type paymentData struct {
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	Direction string `json:"direction"`
}

type rateData struct {
	Base  string `json:"base"`
	Quote string `json:"quote"`
	Rate  string `json:"rate"`
}

var (
	haircuts = map[string]decimal.Decimal{"1": decimal.NewFromInt(1), "2A": decimal.RequireFromString("0.85"),
		"2B": decimal.RequireFromString("0.5")}
	runOff = map[string]decimal.Decimal{"retail_stable": decimal.RequireFromString("0.05"),
		"retail_less_stable": decimal.RequireFromString("0.10"), "operational": decimal.RequireFromString("0.25"),
		"non_operational_corporate": decimal.RequireFromString("0.40"), "financial_institution": decimal.NewFromInt(1)}
	ccfDefault = map[string]decimal.Decimal{"overdraft": decimal.RequireFromString("0.1"),
		"revolving_credit": decimal.RequireFromString("0.5")}
)

// Compute derives the figures for period ("2026-10", "2026-Q3" or "2026") in loc
// from events, the NDJSON envelopes the platform accepted, in the order it
// accepted them (pass only accepted events: skip the ones meant to be refused).
func Compute(events [][]byte, periodText string, loc *time.Location, reportingCurrency string) (Figures, error) {
	start, end, err := bounds(periodText, loc)
	if err != nil {
		return Figures{}, err
	}
	evs := make([]event, 0, len(events))
	superseded := map[string]bool{}
	for n, raw := range events {
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			return Figures{}, fmt.Errorf("event %d: %w", n, err)
		}
		e.seq = n
		if e.Supersedes != "" {
			superseded[e.Supersedes] = true
		}
		evs = append(evs, e)
	}
	// Stock: the latest live event per type and subject before the period end.
	latest := map[string]int{}
	var stock []int
	var gl, pays []int
	for i, e := range evs {
		if superseded[e.ID] || e.Type == "void" || !e.OccurredAt.Before(end) {
			continue
		}
		switch e.Type {
		case "gl.posting":
			gl = append(gl, i)
		case "payment":
			if !e.OccurredAt.Before(start) {
				pays = append(pays, i)
			}
		case "loan.balance", "security.position", "deposit.balance", "fx.rate":
			key := e.Type + "\x00" + e.Subject
			j, ok := latest[key]
			if !ok {
				stock = append(stock, i)
				latest[key] = i
			} else if !e.OccurredAt.Before(evs[j].OccurredAt) {
				latest[key] = i
			}
		}
	}
	var live []int
	for _, i := range stock {
		live = append(live, latest[evs[i].Type+"\x00"+evs[i].Subject])
	}
	sort.Ints(live)

	f := Figures{Period: periodText, Currency: reportingCurrency, GL: map[string]decimal.Decimal{},
		Groups: map[string]decimal.Decimal{}, Counterparties: map[string]decimal.Decimal{},
		GroupMembers: map[string][]string{}, GroupEvents: map[string][]string{},
		HQLA: map[string]decimal.Decimal{}, Buffer: map[string]decimal.Decimal{}, Deposits: map[string]decimal.Decimal{},
		Outflows: map[string]decimal.Decimal{}, Payments: map[string]decimal.Decimal{}, Rates: map[string]Rate{}}
	rates := map[string]Rate{reportingCurrency: {Rate: decimal.NewFromInt(1)}}
	rateAt := map[string]time.Time{}
	for _, i := range live {
		e := &evs[i]
		if e.Type != "fx.rate" {
			continue
		}
		var d rateData
		if err := decode(e, &d); err != nil {
			return Figures{}, err
		}
		r, err := decimal.NewFromString(d.Rate)
		if err != nil {
			return Figures{}, fmt.Errorf("event %s: rate: %w", e.ID, err)
		}
		var ccy string
		rt := Rate{Rate: r, EventID: e.ID}
		switch {
		case d.Quote == reportingCurrency:
			ccy = d.Base
		case d.Base == reportingCurrency:
			ccy, rt.Inverse = d.Quote, true
		default:
			continue
		}
		// Both quotations of a pair are candidates: the later one wins.
		if t, ok := rateAt[ccy]; !ok || !e.OccurredAt.Before(t) {
			rates[ccy], rateAt[ccy] = rt, e.OccurredAt
		}
	}

	// Sums per key and currency, converted at the end.
	type sums map[string]map[string]decimal.Decimal
	add := func(s sums, key, ccy string, x decimal.Decimal) {
		if s[key] == nil {
			s[key] = map[string]decimal.Decimal{}
		}
		s[key][ccy] = s[key][ccy].Add(x)
	}
	glSums, groups, cps, hqla, buffer, deposits, outflows, payments := sums{}, sums{}, sums{}, sums{}, sums{}, sums{}, sums{}, sums{}
	members := map[string]map[string]bool{}
	exposure := func(e *event, group, cp, ccy string, x decimal.Decimal) {
		if group == "" {
			group = cp
		}
		add(groups, group, ccy, x)
		add(cps, cp, ccy, x)
		if members[group] == nil {
			members[group] = map[string]bool{}
		}
		members[group][cp] = true
		f.GroupEvents[group] = append(f.GroupEvents[group], e.ID)
	}
	for _, i := range live {
		e := &evs[i]
		switch e.Type {
		case "loan.balance":
			var d loanData
			if err := decode(e, &d); err != nil {
				return Figures{}, err
			}
			x, err := num(e, "outstanding", d.Outstanding)
			if err != nil {
				return Figures{}, err
			}
			if d.UndrawnCommitment != nil {
				u, err := num(e, "undrawn_commitment", *d.UndrawnCommitment)
				if err != nil {
					return Figures{}, err
				}
				ccf, ok := ccfDefault[d.Product]
				if !ok {
					ccf = decimal.NewFromInt(1)
				}
				if d.CCF != nil {
					if ccf, err = num(e, "ccf", *d.CCF); err != nil {
						return Figures{}, err
					}
				}
				x = x.Add(u.Mul(ccf))
			}
			exposure(e, d.GroupID, d.CounterpartyID, d.Currency, x)
		case "security.position":
			var d securityData
			if err := decode(e, &d); err != nil {
				return Figures{}, err
			}
			x, err := num(e, "market_value", d.MarketValue)
			if err != nil {
				return Figures{}, err
			}
			exposure(e, d.GroupID, d.IssuerID, d.Currency, x)
			if h, ok := haircuts[d.HQLALevel]; ok && !d.Encumbered {
				add(hqla, d.HQLALevel, d.Currency, x)
				add(buffer, d.HQLALevel, d.Currency, x.Mul(h))
			}
		case "deposit.balance":
			var d depositData
			if err := decode(e, &d); err != nil {
				return Figures{}, err
			}
			x, err := num(e, "balance", d.Balance)
			if err != nil {
				return Figures{}, err
			}
			r, ok := runOff[d.Category]
			if !ok {
				return Figures{}, fmt.Errorf("event %s: unknown deposit_category %q", e.ID, d.Category)
			}
			add(deposits, d.Category, d.Currency, x)
			add(outflows, d.Category, d.Currency, x.Mul(r))
		}
	}
	for _, i := range gl {
		var d postingData
		if err := decode(&evs[i], &d); err != nil {
			return Figures{}, err
		}
		x, err := num(&evs[i], "amount", d.Amount)
		if err != nil {
			return Figures{}, err
		}
		add(glSums, d.Account, d.Currency, x)
	}
	for _, i := range pays {
		var d paymentData
		if err := decode(&evs[i], &d); err != nil {
			return Figures{}, err
		}
		x, err := num(&evs[i], "amount", d.Amount)
		if err != nil {
			return Figures{}, err
		}
		add(payments, d.Direction, d.Currency, x)
	}

	missing := map[string]bool{}
	convert := func(s sums, into map[string]decimal.Decimal) decimal.Decimal {
		total := decimal.Zero
		for key, byCcy := range s {
			v := decimal.Zero
			for ccy, x := range byCcy {
				r, ok := rates[ccy]
				if !ok {
					missing[ccy] = true
					continue
				}
				if ccy != reportingCurrency {
					f.Rates[ccy] = r
				}
				v = v.Add(r.convert(x))
			}
			into[key] = v
			total = total.Add(v)
		}
		return total
	}
	convert(glSums, f.GL)
	f.TotalExposure = convert(groups, f.Groups)
	convert(cps, f.Counterparties)
	f.HQLATotal = convert(hqla, f.HQLA)
	f.BufferTotal = convert(buffer, f.Buffer)
	convert(deposits, f.Deposits)
	f.OutflowsTotal = convert(outflows, f.Outflows)
	convert(payments, f.Payments)
	if len(missing) > 0 {
		var ccys []string
		for c := range missing {
			ccys = append(ccys, c)
		}
		sort.Strings(ccys)
		return Figures{}, fmt.Errorf("no fx.rate converts %s into %s before the end of %s", strings.Join(ccys, ", "), reportingCurrency, periodText)
	}

	neg := func(accounts ...string) decimal.Decimal {
		s := decimal.Zero
		for _, a := range accounts {
			s = s.Sub(f.GL[a])
		}
		return s
	}
	f.CapitalInstruments = neg("3000", "3010")
	f.RetainedEarnings = neg("3100")
	f.OCI = neg("3200")
	f.InterimProfit = neg("3900")
	f.Intangibles = neg("0400")
	f.DeferredTax = neg("0450")
	f.CET1 = f.CapitalInstruments.Add(f.RetainedEarnings).Add(f.OCI).Add(f.InterimProfit).Add(f.Intangibles).Add(f.DeferredTax)
	f.AT1 = neg("3300")
	f.Tier1 = f.CET1.Add(f.AT1)
	f.Tier2 = neg("2800")
	f.OwnFunds = f.Tier1.Add(f.Tier2)

	f.Threshold = f.Tier1.Mul(decimal.RequireFromString("0.10")).Round(2)
	f.Limit = f.Tier1.Mul(decimal.RequireFromString("0.25")).Round(2)
	for g, v := range f.Groups {
		if v.GreaterThanOrEqual(f.Threshold) {
			f.LargeExposures = append(f.LargeExposures, Exposure{Group: g, Value: v})
		}
		var ms []string
		for m := range members[g] {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		f.GroupMembers[g] = ms
	}
	sort.Slice(f.LargeExposures, func(i, j int) bool {
		if c := f.LargeExposures[i].Value.Cmp(f.LargeExposures[j].Value); c != 0 {
			return c > 0
		}
		return f.LargeExposures[i].Group < f.LargeExposures[j].Group
	})
	if !f.OutflowsTotal.IsZero() {
		f.LCR = f.BufferTotal.DivRound(f.OutflowsTotal, 20).Round(4)
	}
	return f, nil
}

func decode(e *event, v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s (%s): data: %w", e.ID, e.Type, err)
	}
	return nil
}

// decimalText is an exact decimal as the schemas write it (no exponent).
var decimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func num(e *event, field, s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err == nil && !decimalText.MatchString(s) {
		err = errors.New("want digits with an optional fraction")
	}
	if err != nil {
		return d, fmt.Errorf("event %s: %s %q is not a decimal: %w", e.ID, field, s, err)
	}
	return d, nil
}

// bounds is the period's [start, end) of local midnights in loc.
func bounds(p string, loc *time.Location) (time.Time, time.Time, error) {
	bad := fmt.Errorf("period %q: want a month \"2026-10\", a quarter \"2026-Q3\" or a year \"2026\"", p)
	if loc == nil {
		loc = time.UTC
	}
	if len(p) < 4 {
		return time.Time{}, time.Time{}, bad
	}
	year, err := strconv.Atoi(p[:4])
	if err != nil || year < 1 {
		return time.Time{}, time.Time{}, bad
	}
	month, months := 1, 12
	switch rest := p[4:]; {
	case rest == "":
	case strings.HasPrefix(rest, "-Q") && len(rest) == 3 && rest[2] >= '1' && rest[2] <= '4':
		month, months = 3*int(rest[2]-'1')+1, 3
	case len(rest) == 3 && rest[0] == '-':
		m, err := strconv.Atoi(rest[1:])
		if err != nil || m < 1 || m > 12 {
			return time.Time{}, time.Time{}, bad
		}
		month, months = m, 1
	default:
		return time.Time{}, time.Time{}, bad
	}
	start := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, loc)
	return start, start.AddDate(0, months, 0), nil
}
