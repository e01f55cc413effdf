package demobank

import (
	"fmt"
	"math"
	"slices"
)

// The credit book: securities and loans, sized so that the large-exposure story
// holds.

// addSecurity adds a position worth eurValue at the period end.
func (b *bank) addSecurity(s security, eurValue float64) {
	s.ccy = currencyOf(b.cps[s.issuer].country)
	if s.portfolio == "liquidity_buffer" && s.level != "1" {
		s.ccy = "EUR"
	}
	prefix := "POS-BB-"
	if s.portfolio == "liquidity_buffer" {
		prefix = "POS-LB-"
		s.flagged = true
	}
	s.id = fmt.Sprintf("%s%04d", prefix, len(b.secs)+1)
	s.mv = make([]amount, b.k)
	s.mv[b.k-1] = fromEUR(eur(eurValue), b.rateEnd[s.ccy])
	for j := b.k - 2; j >= 0; j-- {
		s.mv[j] = s.mv[j+1].times(1 + 0.005*b.r.NormFloat64())
	}
	if s.units {
		s.qty = int64(math.Max(1, math.Round(float64(s.mv[b.k-1])/100/b.uniform(50, 150))))
	} else {
		s.qty = int64(math.Max(1, math.Round(float64(s.mv[b.k-1])/100/b.uniform(0.92, 1.04)/1000))) * 1000
	}
	i := len(b.secs)
	b.secs = append(b.secs, s)
	g := &b.groups[b.cps[s.issuer].xg]
	g.secs = append(g.secs, i)
	g.sec += eurValue
}

// pick draws up to n distinct counterparties that satisfy ok.
func (b *bank) pick(n int, ok func(c *counterparty, g *xgroup) bool) []int {
	var all []int
	for i := range b.cps {
		if ok(&b.cps[i], &b.groups[b.cps[i].xg]) {
			all = append(all, i)
		}
	}
	b.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:min(n, len(all))]
}

// buildSecurities fills the liquidity buffer (sovereign bonds at level 1, covered
// bonds at 2A, corporate bonds at 2B) and the banking book, sized to Tier 1 and
// spread so that no issuer comes near 10% of it.
func (b *bank) buildSecurities() {
	t1 := b.t1f
	var l1 []int
	var w, caps []float64
	for i, c := range b.cps {
		if c.sector == secSovereign || c.sector == secPublic {
			l1 = append(l1, i)
			f := b.lognormal(0.6)
			if c.country == "DE" && c.sector == secSovereign {
				f *= 3
			}
			w = append(w, f)
			caps = append(caps, 0.07*t1)
		}
	}
	parts := fill(w, caps, t1*b.uniform(0.30, 0.42))
	for k, i := range l1 {
		if parts[k] < 0.004*t1 {
			continue
		}
		country := b.cps[i].country
		if parts[k] > 0.03*t1 {
			f := b.uniform(0.35, 0.65)
			b.addSecurity(security{isin: newISIN(b.r, country), issuer: i, portfolio: "liquidity_buffer", level: "1"}, parts[k]*f)
			parts[k] *= 1 - f
		}
		b.addSecurity(security{isin: newISIN(b.r, country), issuer: i, portfolio: "liquidity_buffer", level: "1"}, parts[k])
	}
	// A few level 1 positions are pledged (repo collateral): they stay exposures
	// to their issuer but leave the liquidity buffer.
	for _, i := range b.r.Perm(len(b.secs))[:1+b.r.IntN(2)] {
		b.secs[i].encumbered = true
	}
	// Covered bonds (Pfandbriefe and the like) of euro area banks, or of any bank.
	n := 2 + b.r.IntN(2)
	covered := b.pick(n, func(c *counterparty, _ *xgroup) bool {
		return c.sector == secInstitution && currencyOf(c.country) == "EUR"
	})
	if len(covered) < n {
		covered = b.pick(n, func(c *counterparty, _ *xgroup) bool { return c.sector == secInstitution })
	}
	total := t1 * b.uniform(0.06, 0.10)
	for _, i := range covered {
		b.addSecurity(security{isin: newISIN(b.r, b.cps[i].country), issuer: i, portfolio: "liquidity_buffer", level: "2A"},
			total/float64(len(covered))*b.uniform(0.8, 1.2))
	}
	plain := func(c *counterparty, g *xgroup) bool {
		return c.sector == secCorporate && c.lei != "" && g.story == storyNone && len(g.secs) == 0
	}
	for _, i := range b.pick(2, plain) {
		b.addSecurity(security{isin: newISIN(b.r, "XS"), issuer: i, portfolio: "liquidity_buffer", level: "2B"},
			t1*b.uniform(0.01, 0.02))
	}
	for _, i := range b.pick(2+b.r.IntN(3), plain) {
		b.addSecurity(security{isin: newISIN(b.r, []string{"XS", b.cps[i].country}[b.r.IntN(2)]), issuer: i,
			portfolio: "banking_book", level: "none"}, t1*b.uniform(0.02, 0.04))
	}
	for _, i := range b.pick(1+b.r.IntN(2), func(c *counterparty, _ *xgroup) bool { return c.sector == secFinancial }) {
		b.addSecurity(security{isin: newISIN(b.r, "LU"), issuer: i, portfolio: "banking_book", level: "none", units: true},
			t1*b.uniform(0.01, 0.03))
	}
}

// loanKind is what a counterparty borrows.
type loanKind struct {
	product, class string
	w              float64 // relative size
	alpha          float64 // tail of the size distribution
}

func (b *bank) drawKind(c *counterparty) loanKind {
	u := b.r.Float64()
	switch c.sector {
	case secRetail:
		switch {
		case u < 0.55:
			return loanKind{"mortgage", "real_estate", 1, 2.5}
		case u < 0.80:
			return loanKind{"overdraft", "retail", 0.03, 2}
		}
		return loanKind{"term_loan", "retail", 0.15, 2}
	case secInstitution:
		if u < 0.85 {
			return loanKind{"interbank_loan", "institution", 3, 1.5}
		}
		return loanKind{"term_loan", "institution", 2, 1.5}
	case secFinancial:
		if u < 0.6 {
			return loanKind{"term_loan", "corporate", 2, 1.6}
		}
		return loanKind{"revolving_credit", "corporate", 2, 1.6}
	}
	switch {
	case u < 0.45:
		return loanKind{"term_loan", "corporate", 2, 1.5}
	case u < 0.70:
		return loanKind{"revolving_credit", "corporate", 2.5, 1.5}
	case u < 0.85:
		return loanKind{"overdraft", "corporate", 0.3, 2}
	}
	return loanKind{"mortgage", "real_estate", 3, 1.8}
}

// newLoan adds a loan of kind to counterparty cp; its size is set later.
func (b *bank) newLoan(cp int, k loanKind) int {
	c := &b.cps[cp]
	l := loan{cp: cp, product: k.product, class: k.class, ccy: currencyOf(c.country), ccf4: int64(one),
		w: k.w * b.pareto(k.alpha)}
	if c.sector == secRetail && c.country != "CH" {
		l.ccy = "EUR"
	}
	if l.ccy == "EUR" && (c.sector == secCorporate || c.sector == secInstitution) {
		switch u := b.r.Float64(); {
		case u < 0.07:
			l.ccy = "USD"
		case u < 0.09:
			l.ccy = "GBP"
		case u < 0.11:
			l.ccy = "CHF"
		}
	}
	if l.class != "institution" && l.product != "mortgage" && b.chance(0.015) {
		l.class = "defaulted"
	}
	end := b.per.End.AddDate(0, 0, -1)
	years := func(lo, hi int) string {
		return date(end.AddDate(lo+b.r.IntN(hi-lo+1), b.r.IntN(12), b.r.IntN(28)))
	}
	switch l.product {
	case "revolving_credit":
		l.undrawn = true
		l.ccf, l.ccf4 = []string{"", "", "0.5", "0.2"}[b.r.IntN(4)], 5000
		if l.ccf == "0.2" {
			l.ccf4 = 2000
		}
		l.maturity = years(1, 5)
	case "overdraft":
		l.undrawn = true
		l.ccf, l.ccf4 = []string{"", "0.1"}[b.r.IntN(2)], 1000
	case "term_loan":
		l.maturity = years(1, 7)
		if c.sector == secCorporate && b.chance(0.12) {
			l.undrawn = true // a tranche not yet disbursed; the default factor 1 applies
		}
	case "mortgage":
		l.maturity = years(10, 30)
	case "interbank_loan":
		l.maturity = date(end.AddDate(0, 1+b.r.IntN(12), b.r.IntN(28)))
	}
	b.loans = append(b.loans, l)
	i := len(b.loans) - 1
	g := &b.groups[c.xg]
	g.loans = append(g.loans, i)
	return i
}

// buildLoans lends to the story's groups (sized as shares of Tier 1) and then to
// everyone else: a heavy-tailed book spread over the other groups, each below
// otherCap of Tier 1, adding up to the total exposure that puts Tier 1 at about
// 13% of it.
func (b *bank) buildLoans() error {
	t1 := b.t1f
	b.loans = make([]loan, 0, b.o.Loans)
	story := b.storyGroups()
	storyTotal := 0.0
	for n, gi := range story {
		g := &b.groups[gi]
		if n == 0 {
			g.share = b.uniform(0.29, 0.36)
		} else {
			g.share = b.uniform(0.12, 0.21)
		}
		budget := g.share * t1
		storyTotal += budget
		hold := g.members[0]
		switch n {
		case 0: // the top group's corporate bond is in the liquidity buffer
			v := budget * b.uniform(0.10, 0.18)
			b.addSecurity(security{isin: newISIN(b.r, "XS"), issuer: hold, portfolio: "liquidity_buffer", level: "2B"}, v)
			budget -= v
		case 1: // and one of the others has a bond in the banking book
			v := budget * b.uniform(0.08, 0.15)
			b.addSecurity(security{isin: newISIN(b.r, "XS"), issuer: g.members[len(g.members)-1],
				portfolio: "banking_book", level: "none"}, v)
			budget -= v
		}
		rc := b.newLoan(hold, loanKind{"revolving_credit", "corporate", 1, 2})
		if n == 0 {
			b.loans[rc].ccf, b.loans[rc].ccf4 = "", 5000 // the product default applies
		}
		b.loans[rc].target = budget * b.uniform(0.35, 0.5)
		rest := budget - b.loans[rc].target
		var terms []int
		for _, m := range g.members[1:] {
			terms = append(terms, b.newLoan(m, loanKind{"term_loan", "corporate", 1, 2}))
		}
		if n == 0 {
			terms = append(terms, b.newLoan(hold, loanKind{"term_loan", "corporate", 1, 2}))
		}
		sum := 0.0
		for _, i := range terms {
			l := &b.loans[i]
			l.class, l.undrawn = "corporate", false
			sum += l.w
		}
		for _, i := range terms {
			b.loans[i].target = rest * b.loans[i].w / sum
		}
	}

	// Everyone who borrows gets a loan, then the rest go mostly to companies.
	var borrowers []int
	var weights []float64
	for i, c := range b.cps {
		if b.groups[c.xg].story != storyNone {
			continue
		}
		switch c.sector {
		case secCorporate:
			weights = append(weights, 3)
		case secRetail:
			weights = append(weights, 1.2)
		case secInstitution:
			weights = append(weights, 1)
		case secFinancial:
			weights = append(weights, 1.5)
		default:
			continue
		}
		borrowers = append(borrowers, i)
	}
	count := make([]int, len(borrowers))
	left := b.o.Loans - len(b.loans)
	for _, k := range b.r.Perm(len(borrowers)) {
		if left == 0 {
			break
		}
		count[k]++
		left--
	}
	cum := make([]float64, len(weights))
	s := 0.0
	for i, w := range weights {
		s += w
		cum[i] = s
	}
	for ; left > 0; left-- {
		k, _ := slices.BinarySearch(cum, b.r.Float64()*s)
		count[min(k, len(count)-1)]++
	}
	for k, cp := range borrowers {
		for range count[k] {
			b.newLoan(cp, b.drawKind(&b.cps[cp]))
		}
	}

	// Size the other groups' loans.
	secTotal := 0.0
	for _, g := range b.groups {
		if g.story == storyNone {
			secTotal += g.sec
		}
	}
	exposure := t1 / b.uniform(0.13, 0.14)
	var gw, gcap []float64
	var gidx []int
	room := 0.0
	for i, g := range b.groups {
		if g.story != storyNone || len(g.loans) == 0 {
			continue
		}
		w := 0.0
		for _, l := range g.loans {
			w += b.loans[l].w
		}
		// Each group has a ceiling of its own, so that the biggest clients spread
		// out below the threshold instead of crowding under one cap.
		c := math.Max(0, otherCap*t1*b.uniform(0.5, 1)-g.sec)
		gidx, gw, gcap = append(gidx, i), append(gw, w), append(gcap, c)
		room += c
	}
	target := exposure - storyTotal - secTotal
	if target > 0.92*room {
		// Too few groups for the book: a smaller book, a higher capital ratio.
		target = 0.92 * room
	}
	if target <= 0 {
		return fmt.Errorf("internal: no room for the loan book (%d counterparties, %d loans)", b.o.Counterparties, b.o.Loans)
	}
	budgets := fill(gw, gcap, target)
	for k, gi := range gidx {
		for _, l := range b.groups[gi].loans {
			b.loans[l].target = budgets[k] * b.loans[l].w / gw[k]
		}
	}

	// Loan numbers follow the order the loans were made in, not their owners.
	order := b.r.Perm(len(b.loans))
	for n, i := range order {
		b.loans[i].id = fmt.Sprintf("LN-%06d", 100001+n)
	}
	for i := range b.loans {
		if b.cps[b.loans[i].cp].country == "CH" && b.groups[b.cps[b.loans[i].cp].xg].story == storyNone {
			// A loan number the way one Swiss branch system writes it: spaces, a dot, non-ASCII.
			b.loans[i].id = fmt.Sprintf("LN %d.A-Zürich", 2000+b.r.IntN(8000))
			break
		}
	}
	for i := range b.loans {
		b.sizeLoan(&b.loans[i])
	}
	return nil
}

// sizeLoan sets the loan's amounts: its exposure at the period end is target
// euros; earlier month ends drift from there.
func (b *bank) sizeLoan(l *loan) {
	k := b.k
	l.out, l.und = make([]amount, k), make([]amount, k)
	x := float64(fromEUR(eur(l.target), b.rateEnd[l.ccy])) // exposure in cents of the loan's currency
	c := float64(l.ccf4) / float64(one)
	var limit float64
	drawn := func() float64 { return b.uniform(0.25, 0.85) }
	switch l.product {
	case "revolving_credit", "overdraft":
		d := drawn()
		if l.product == "overdraft" {
			d = b.uniform(0, 0.9)
			if b.chance(0.1) {
				d = 0
			}
		}
		limit = x / (d + c*(1-d))
		l.out[k-1] = amount(math.Round(limit * d))
		l.und[k-1] = amount(math.Round(limit)) - l.out[k-1]
	default:
		if l.undrawn {
			f := b.uniform(0.1, 0.4)
			l.out[k-1] = amount(math.Round(x / (1 + f)))
			l.und[k-1] = amount(math.Round(x)) - l.out[k-1]
		} else {
			l.out[k-1] = amount(math.Round(x))
		}
	}
	earlier := func(out, und amount) (amount, amount) {
		switch l.product {
		case "revolving_credit", "overdraft":
			o := amount(math.Round(limit * b.uniform(0.1, 0.9)))
			return o, amount(math.Round(limit)) - o
		case "mortgage":
			return out.times(1 + b.uniform(0.002, 0.004)), und
		case "interbank_loan":
			return out.times(math.Max(0.3, 1+0.08*b.r.NormFloat64())), und
		}
		return out.times(1 + b.uniform(0.004, 0.02)), und.times(1 + b.uniform(0, 0.2))
	}
	for j := k - 2; j >= 0; j-- {
		l.out[j], l.und[j] = earlier(l.out[j+1], l.und[j+1])
	}
	l.priorOut, l.priorUnd = earlier(l.out[0], l.und[0])
}
