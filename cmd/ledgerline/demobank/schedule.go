package demobank

import (
	"slices"
	"time"
)

// The order the bank's systems send the events in: each system's batch when it
// runs, the payments hub as payments settle, plus the awkward cases: corrections,
// a resent payment and its void, older snapshots sent after newer ones, events
// sent late, events just after the period end in Berlin, and invalid events.

type kind uint8

const (
	kCounterparty kind = iota
	kFX
	kLoan
	kSecurity
	kDeposit
	kPosting
	kPayment
	kInvalid
)

var types = [...]string{kCounterparty: "counterparty", kFX: "fx.rate", kLoan: "loan.balance",
	kSecurity: "security.position", kDeposit: "deposit.balance", kPosting: "gl.posting", kPayment: "payment"}

type variant uint8

const (
	vTrue    variant = iota // the model's values
	vWrong                  // the first version of an event corrected later
	vFix                    // the correction of a vWrong event
	vEdge                   // the loan snapshot just after the period end
	vPrior                  // a snapshot of the month end before a monthly period
	vResent                 // a payment sent a second time under a new id
	vVoid                   // the void of the resent payment
	vLateFix                // the loan correction sent after the filings
)

// ref names one event of the model.
type ref struct {
	k    kind
	v    variant
	m    int8  // month of the period (snapshots, corrections)
	line uint8 // journal line
	i    int32 // index into the model's slice of k
}

// block is events sent together, at time send.
type block struct {
	send time.Time
	refs []ref
}

type plan struct {
	events, late           []ref
	corrections, voids     int
	lateInFile, outOfOrder int
	edge                   int
	byType                 map[string]int
}

func (b *bank) schedule() plan {
	var blocks []block
	add := func(send time.Time, refs ...ref) { blocks = append(blocks, block{send, refs}) }
	sp := &b.sp
	journal := func(i int, v variant) []ref {
		var refs []ref
		for n := range b.jes[i].lines {
			refs = append(refs, ref{k: kPosting, v: v, line: uint8(n), i: int32(i)})
		}
		return refs
	}
	insert := func(refs []ref, r ref) []ref {
		return slices.Insert(refs, b.r.IntN(len(refs)+1), r)
	}
	invalids := func(batch string, m int, refs []ref) []ref {
		for n, inv := range sp.invalid {
			if inv.batch == batch && inv.m == m {
				refs = insert(refs, ref{k: kInvalid, i: int32(n)})
			}
		}
		return refs
	}
	var p plan

	// The ledger: everything but the late journals, when it is booked.
	for i, j := range b.jes {
		switch {
		case j.restate:
			p.late = append(p.late, journal(i, vTrue)...)
		case j.late:
			refs := journal(i, vTrue)
			p.lateInFile += len(refs)
			add(b.per.End.AddDate(0, 0, 2).Add(9*time.Hour), refs...)
		case j.wrong != nil:
			add(j.at, journal(i, vWrong)...)
			refs := journal(i, vFix)
			p.corrections += len(refs)
			add(j.at.Add(2*time.Hour), refs...) // re-posted the same evening
		default:
			refs := journal(i, vTrue)
			if !j.at.Before(b.per.End) {
				p.edge += len(refs)
			}
			add(j.at, refs...)
		}
	}

	// Master data, the evening before the period.
	var mdm []ref
	for i := range b.cps {
		v := vTrue
		if i == sp.typo {
			v = vWrong
		}
		mdm = append(mdm, ref{k: kCounterparty, v: v, i: int32(i)})
	}
	add(b.mdmTime(), invalids("mdm", 0, mdm)...)
	add(b.at(weekday(b.monthStart[0].AddDate(0, 0, 2), 1), 9, 0), ref{k: kCounterparty, v: vFix, i: int32(sp.typo)})
	p.corrections++

	for i, f := range b.fx {
		add(f.at, ref{k: kFX, i: int32(i)})
	}

	late := map[int]bool{sp.latePays[0]: true, sp.latePays[1]: true}
	for i, py := range b.pays {
		r := ref{k: kPayment, i: int32(i)}
		switch {
		case late[i]:
			p.lateInFile++
			add(b.per.End.AddDate(0, 0, 2).Add(9*time.Hour), r)
		case i == sp.startEdge || i == sp.endEdge:
			p.edge++
			add(py.at, r)
		default:
			add(py.at, r)
		}
		if i == sp.dup {
			add(py.at.Add(2*time.Minute), ref{k: kPayment, v: vResent, i: int32(i)})
			add(b.at(weekday(py.at.AddDate(0, 0, 1), 1), 7, 45), ref{k: kPayment, v: vVoid, i: int32(i)})
			p.voids++
		}
	}
	for n, inv := range sp.invalid {
		if inv.batch == "payments" {
			add(inv.pay.at, ref{k: kInvalid, i: int32(n)})
		}
	}

	ooo := map[int]bool{}
	for _, i := range sp.outOfOrder {
		ooo[i] = true
	}
	for m := range b.k {
		day := b.monthEnd[m]
		var secs, loans, deps []ref
		for i := range b.secs {
			v := vTrue
			if sp.secFix.i == i && sp.secFix.m == m {
				v = vWrong
			}
			secs = append(secs, ref{k: kSecurity, v: v, m: int8(m), i: int32(i)})
		}
		add(day.Add(time.Hour), invalids("securities", m, secs)...)
		if sp.secFix.m == m {
			add(day.Add(5*time.Hour), ref{k: kSecurity, v: vFix, m: int8(m), i: int32(sp.secFix.i)})
			p.corrections++
		}
		for i := range b.loans {
			if ooo[i] && m == b.k-2 {
				continue // held back: sent after the next month end's batch
			}
			v := vTrue
			for _, f := range sp.loanFixes {
				if f.i == i && f.m == m {
					v = vWrong
				}
			}
			loans = append(loans, ref{k: kLoan, v: v, m: int8(m), i: int32(i)})
		}
		add(day.Add(3*time.Hour), invalids("loans", m, loans)...)
		for _, f := range sp.loanFixes {
			if f.m == m {
				add(day.Add(5*time.Hour+30*time.Minute), ref{k: kLoan, v: vFix, m: int8(m), i: int32(f.i)})
				p.corrections++
			}
		}
		if m == b.k-1 {
			for _, i := range sp.outOfOrder {
				r := ref{k: kLoan, v: vPrior, i: int32(i)}
				if b.k > 1 {
					r = ref{k: kLoan, m: int8(b.k - 2), i: int32(i)}
				}
				p.outOfOrder++
				add(day.Add(3*time.Hour+30*time.Minute), r)
			}
		}
		for i := range b.deps {
			v := vTrue
			if sp.depFix.i == i && sp.depFix.m == m {
				v = vWrong
			}
			deps = append(deps, ref{k: kDeposit, v: v, m: int8(m), i: int32(i)})
		}
		add(day.Add(3*time.Hour+45*time.Minute), invalids("deposits", m, deps)...)
		if sp.depFix.m == m {
			add(day.Add(5*time.Hour+45*time.Minute), ref{k: kDeposit, v: vFix, m: int8(m), i: int32(sp.depFix.i)})
			p.corrections++
		}
	}
	add(b.per.End.Add(45*time.Minute), ref{k: kLoan, v: vEdge, m: int8(b.k - 1), i: int32(sp.edgeLoan)})
	p.edge++
	p.late = append([]ref{{k: kLoan, v: vLateFix, m: int8(b.k - 1), i: int32(sp.lateLoan)}}, p.late...)

	slices.SortStableFunc(blocks, func(x, y block) int { return x.send.Compare(y.send) })
	n := 0
	for _, bl := range blocks {
		n += len(bl.refs)
	}
	p.events = make([]ref, 0, n)
	p.byType = map[string]int{}
	for _, bl := range blocks {
		p.events = append(p.events, bl.refs...)
		for _, r := range bl.refs {
			switch {
			case r.k == kInvalid:
			case r.v == vVoid:
				p.byType["void"]++
			default:
				p.byType[types[r.k]]++
			}
		}
	}
	return p
}

// mdmTime is when master data sends its extract: the evening before the period.
func (b *bank) mdmTime() time.Time { return b.at(b.per.Start.AddDate(0, 0, -1), 20, 0) }
