package demobank

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Deposits (the LCR outflows) and the payments booked on them.

// buildDeposits opens the customers' accounts and sizes them so that the
// liquidity buffer covers the outflows the LCR assumes about one and a half times.
func (b *bank) buildDeposits() {
	buffer := 0.0
	haircut := map[string]float64{"1": 1, "2A": 0.85, "2B": 0.5}
	for _, s := range b.secs {
		if h, ok := haircut[s.level]; ok && !s.encumbered {
			buffer += float64(s.mv[b.k-1]) / 100 * float64(b.rateEnd[s.ccy]) / float64(one) * h
		}
	}
	outflows := buffer / b.uniform(1.38, 1.68)
	run := map[string]float64{"retail_stable": 0.05, "retail_less_stable": 0.10, "operational": 0.25,
		"non_operational_corporate": 0.40, "financial_institution": 1}

	type raw struct {
		d deposit
		v float64 // EUR
	}
	var accts []raw
	account := func(prefix int) string {
		return iban("DE", bankCode+fmt.Sprintf("%d%09d", prefix, len(accts)+1))
	}
	retailOut := 0.0
	for i, c := range b.cps {
		switch c.sector {
		case secRetail:
			for n := 0; n == 0 || (n == 1 && b.chance(0.25)); n++ {
				v := 15000 * b.lognormal(1.2)
				d := deposit{cp: i, ccy: "EUR", category: "retail_stable", insured: true}
				switch {
				case v > 100000:
					d.category, d.insured = "retail_less_stable", false
				case b.chance(0.15):
					d.category = "retail_less_stable" // no established relationship
				default:
					v = math.Min(v, 99000)
				}
				retailOut += v * run[d.category]
				d.account = account(1)
				accts = append(accts, raw{d, v})
			}
		case secCorporate:
			if b.chance(0.45) {
				accts = append(accts, raw{deposit{cp: i, category: "operational", ccy: currencyOf(c.country), account: account(2)}, 0})
			}
			if b.chance(0.55) {
				accts = append(accts, raw{deposit{cp: i, category: "non_operational_corporate", ccy: currencyOf(c.country), account: account(2)}, 0})
			}
		case secInstitution, secFinancial:
			accts = append(accts, raw{deposit{cp: i, category: "financial_institution", ccy: currencyOf(c.country), account: account(3)}, 0})
		}
	}
	// Every category has accounts, whatever the draw.
	for _, cat := range []string{"operational", "non_operational_corporate"} {
		if !slices.ContainsFunc(accts, func(a raw) bool { return a.d.category == cat }) {
			accts = append(accts, raw{deposit{cp: 0, category: cat, ccy: currencyOf(b.cps[0].country), account: account(2)}, 0})
		}
	}
	scale := 1.0
	if retailOut > 0.45*outflows {
		scale = 0.45 * outflows / retailOut
		retailOut = 0.45 * outflows
	}
	rest := outflows - retailOut
	op, fi := b.uniform(0.2, 0.35), b.uniform(0.2, 0.35)
	share := map[string]float64{"operational": op, "financial_institution": fi, "non_operational_corporate": 1 - op - fi}
	weight := map[string]float64{}
	for i := range accts {
		a := &accts[i]
		if _, ok := share[a.d.category]; ok {
			a.v = b.pareto(1.5)
			weight[a.d.category] += a.v
		}
	}
	end := b.per.End.AddDate(0, 0, -1)
	for _, a := range accts {
		d := a.d
		if s, ok := share[d.category]; ok {
			a.v = a.v / weight[d.category] * s * rest / run[d.category]
			if d.category != "operational" && b.chance(0.3) {
				d.maturity = date(end.AddDate(0, 1+b.r.IntN(12), b.r.IntN(28)))
			}
		} else {
			a.v *= scale
		}
		d.bal = make([]amount, b.k)
		d.bal[b.k-1] = fromEUR(eur(a.v), b.rateEnd[d.ccy])
		switch d.category {
		case "retail_less_stable":
			d.insured = d.bal[b.k-1] <= 10000000
		case "operational":
			d.insured = d.bal[b.k-1] <= 10000000
		}
		for j := b.k - 2; j >= 0; j-- {
			d.bal[j] = d.bal[j+1].times(math.Max(0, 1+0.04*b.r.NormFloat64()))
			if d.category == "retail_stable" {
				d.bal[j] = min(d.bal[j], 9900000)
			}
		}
		b.deps = append(b.deps, d)
	}
}

// buildPayments books the period's credit transfers on the customers' accounts.
func (b *bank) buildPayments() {
	total := max(40, (b.o.Loans+b.o.Counterparties)/4)
	b.pays = make([]payment, 0, total+2)
	seq := 90001 + b.r.IntN(5000)
	for _, m := range b.monthStart {
		days := m.AddDate(0, 1, -1).Day()
		var ps []payment
		for range total / b.k {
			day := weekday(m.AddDate(0, 0, b.r.IntN(days)), -1)
			if day.Before(m) {
				day = weekday(m, 1)
			}
			at := b.at(day, 8+b.r.IntN(10), b.r.IntN(60)).Add(time.Duration(b.r.IntN(60)) * time.Second)
			ps = append(ps, b.payment(at))
		}
		slices.SortStableFunc(ps, func(x, y payment) int { return x.at.Compare(y.at) })
		for i := range ps {
			ps[i].id = fmt.Sprintf("PMT-%s-%05d", date(ps[i].at), seq)
			seq++
		}
		b.pays = append(b.pays, ps...)
	}
}

// payment draws a credit transfer at time at between a customer's account and an
// account at another bank.
func (b *bank) payment(at time.Time) payment {
	d := b.deps[b.r.IntN(len(b.deps))]
	p := payment{at: at, ccy: d.ccy}
	size := 800.0
	switch b.cps[d.cp].sector {
	case secCorporate:
		size = 30000
	case secInstitution, secFinancial:
		size = 400000
	}
	p.amt = max(eur(size*b.lognormal(1.3)), 100)
	if p.ccy == "EUR" && size > 1000 && b.chance(0.1) {
		p.ccy = []string{"USD", "GBP", "CHF"}[b.r.IntN(3)]
	}
	other := externalIBAN(b.r)
	if b.chance(0.5) {
		p.direction, p.debtor, p.creditor = "inbound", other, d.account
	} else {
		p.direction, p.debtor, p.creditor = "outbound", d.account, other
	}
	return p
}
