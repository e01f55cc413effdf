package demobank

import (
	"fmt"
	"time"
)

// The awkward cases the product must handle, each drawn from the model.

type fix struct {
	i     int    // loan, deposit or security
	m     int    // month of the period
	wrong amount // first value sent (outstanding, balance or market value)
}

// invalid is an event the ingest service must refuse, and why.
type invalid struct {
	code  string // what is wrong: one of the inv* constants
	what  string // the same in words, e.g. "a float for money"
	batch string // "mdm", "loans", "deposits", "securities" or "payments"
	m     int    // month of the period
	id    string
	cp    int
	pay   payment // the payments'
}

const (
	invFloat    = "float"
	invNegative = "negative"
	invMissing  = "missing"
	invCurrency = "currency"
	invLevel    = "hqla_level"
	invLEI      = "lei"
	invOffset   = "offset"
)

type specials struct {
	typo       int // counterparty first sent with a misspelt name
	loanFixes  []fix
	depFix     fix
	secFix     fix
	outOfOrder []int // loans whose older month-end snapshot is sent after the newer one
	edgeLoan   int   // loan with a snapshot just after the period end (Berlin)
	edgeOut    amount
	edgeUnd    amount
	lateLoan   int // the top group's loan corrected after the filings
	lateOut    amount
	dup        int   // payment sent twice; the second one is voided
	latePays   []int // payments of the period sent at the end of the file
	startEdge  int   // payment just after the period start in Berlin (still the month before in UTC)
	endEdge    int   // payment just after the period end in Berlin
	invalid    []invalid
}

func (b *bank) pickSpecials() {
	sp := &b.sp
	story := func(cp int) bool { return b.groups[b.cps[cp].xg].story != storyNone }

	// Loans outside the story, each used for one case only.
	var plain []int
	for _, i := range b.r.Perm(len(b.loans)) {
		l := &b.loans[i]
		if !story(l.cp) && l.out[b.k-1] > 0 {
			plain = append(plain, i)
		}
	}
	next := func() int {
		i := plain[0]
		plain = plain[1:]
		return i
	}
	for _, m := range []int{b.k - 1, 0} {
		i := next()
		sp.loanFixes = append(sp.loanFixes, fix{i: i, m: m, wrong: b.loans[i].out[m].times(b.uniform(0.82, 0.95))})
	}
	for range 3 {
		sp.outOfOrder = append(sp.outOfOrder, next())
	}
	sp.edgeLoan = next()
	el := &b.loans[sp.edgeLoan]
	sp.edgeOut = el.out[b.k-1].times(b.uniform(1.05, 1.25))
	sp.edgeUnd = max(0, el.und[b.k-1]-(sp.edgeOut-el.out[b.k-1]))

	// The restatement: the top group's biggest term loan was understated.
	top := b.groups[b.storyGroups()[0]]
	sp.lateLoan = -1
	for _, i := range top.loans {
		if b.loans[i].product == "term_loan" && (sp.lateLoan < 0 || b.loans[i].target > b.loans[sp.lateLoan].target) {
			sp.lateLoan = i
		}
	}
	sp.lateOut = b.loans[sp.lateLoan].out[b.k-1].times(b.uniform(1.15, 1.30))

	d := b.r.IntN(len(b.deps))
	sp.depFix = fix{i: d, m: b.k - 1, wrong: b.deps[d].bal[b.k-1].times(b.uniform(1.05, 1.2))}
	var secs []int
	for i, s := range b.secs {
		if !story(s.issuer) && !s.encumbered {
			secs = append(secs, i)
		}
	}
	s := secs[b.r.IntN(len(secs))]
	sp.secFix = fix{i: s, m: b.k - 1, wrong: b.secs[s].mv[b.k-1].times(b.uniform(0.97, 0.995))}

	sp.typo = -1
	for _, i := range b.r.Perm(len(b.cps)) {
		c := &b.cps[i]
		if c.sector == secCorporate && !story(i) {
			sp.typo = i
			// Two letters swapped, as typed in a hurry.
			r := []rune(c.name)
			for k := 1; k+1 < len(r); k++ {
				if r[k] != r[k+1] && r[k] != ' ' && r[k+1] != ' ' {
					r[k], r[k+1] = r[k+1], r[k]
					break
				}
			}
			c.typo = string(r)
			break
		}
	}

	// Payments: one sent twice, two sent late, one at each edge of the period.
	first := b.monthStart[0]
	var early []int
	for i, p := range b.pays {
		if p.at.Before(first.AddDate(0, 0, 20)) {
			early = append(early, i)
		}
	}
	perm := b.r.Perm(len(early))
	sp.dup = early[perm[0]]
	sp.latePays = []int{early[perm[1]], early[perm[2]]}
	seq := 99001
	edge := func(at time.Time) int {
		p := b.payment(at)
		p.id = fmt.Sprintf("PMT-%s-%05d", date(at), seq)
		seq++
		b.pays = append(b.pays, p)
		return len(b.pays) - 1
	}
	sp.startEdge = edge(b.per.Start.Add(30 * time.Minute))
	sp.endEdge = edge(b.per.End.Add(30 * time.Minute))

	// Invalid events: new objects, so refusing them changes no figure.
	last, mid := b.k-1, min(1, b.k-1)
	corp := func() int {
		for {
			if i := b.r.IntN(len(b.cps)); b.cps[i].sector == secCorporate {
				return i
			}
		}
	}
	inMonth := func(m int) time.Time {
		return b.at(weekday(b.monthStart[m].AddDate(0, 0, 3+b.r.IntN(20)), 1), 9+b.r.IntN(8), b.r.IntN(60))
	}
	loanID := func() string { return fmt.Sprintf("LN-9%05d", 1+b.r.IntN(99999)) }
	pay := func(m int) payment {
		p := b.payment(inMonth(m))
		p.id = fmt.Sprintf("PMT-%s-%05d", date(p.at), seq)
		seq++
		return p
	}
	sp.invalid = []invalid{
		{code: invFloat, what: "a float for money (outstanding as a JSON number)", batch: "loans", m: mid, id: loanID(), cp: corp()},
		{code: invNegative, what: "a negative outstanding", batch: "loans", m: last, id: loanID(), cp: corp()},
		{code: invMissing, what: "a missing required field (insured)", batch: "deposits", m: 0, cp: corp(),
			id: iban("DE", bankCode+fmt.Sprintf("9%09d", 1+b.r.IntN(999999)))},
		{code: invCurrency, what: `an unknown currency ("EURO")`, batch: "payments", m: 0, pay: pay(0)},
		{code: invLevel, what: `an HQLA level that does not exist ("3")`, batch: "securities", m: last,
			id: fmt.Sprintf("POS-LB-9%03d", b.r.IntN(1000))},
		{code: invLEI, what: "an LEI of the wrong length", batch: "mdm", id: fmt.Sprintf("CP-6%05d", 1+b.r.IntN(99999))},
		{code: invOffset, what: "an occurred_at without a time zone offset", batch: "payments", m: last, pay: pay(last)},
	}
}
