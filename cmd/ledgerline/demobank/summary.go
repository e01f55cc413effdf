package demobank

import (
	"slices"

	"github.com/shopspring/decimal"
)

// Summary says what a data set holds and what the reports built from it must show.
// Amounts are exact decimal strings in EUR (exposures converted at 4-place fx rates
// have up to 6 decimals: round them as the template does); shares of Tier 1 have
// 4 places.
type Summary struct {
	Seed           int64  `json:"seed"`
	Period         string `json:"period"`
	Counterparties int    `json:"counterparties"`
	Loans          int    `json:"loans"`
	Securities     int    `json:"securities,omitempty"`
	Deposits       int    `json:"deposits"`
	Payments       int    `json:"payments"`
	// Events is the number of lines in Dataset.Events, invalid ones included.
	Events int `json:"events"`
	// ByType counts the accepted events (all but the invalid ones) by type; a
	// void counts as "void".
	ByType map[string]int `json:"events_by_type"`
	// Invalid events are refused by the ingest service.
	Invalid int `json:"invalid"`
	// Corrections supersede an earlier event of the same subject with new values.
	Corrections int `json:"corrections"`
	// Voids cancel an event (a payment sent twice).
	Voids int `json:"voids"`
	// Late events have an occurred_at inside the period but come after newer
	// events in the file.
	Late int `json:"late"`
	// OutOfOrder snapshots are older month-end snapshots of a loan sent after the
	// newer one.
	OutOfOrder int `json:"out_of_order"`
	// Edge events are half an hour past a period boundary in Europe/Berlin, which is
	// still the day before in UTC: the one after the start belongs to the period,
	// the ones after the end do not.
	Edge int `json:"edge"`

	// Expected figures at the period end, as the filings must show them.
	Tier1         string `json:"tier1"`
	OwnFunds      string `json:"own_funds"`
	TotalExposure string `json:"total_exposure"`
	Threshold     string `json:"large_exposure_threshold"`
	Limit         string `json:"large_exposure_limit"`
	LCR           string `json:"lcr"`

	// Groups is the large-exposure story, biggest first: TopGroup above the limit
	// (25% of Tier 1), the others between the threshold (10%) and the limit. Every
	// other group and counterparty is below the threshold; MaxOtherShare is the
	// share of the biggest of them.
	Groups        []GroupStory `json:"groups"`
	TopGroup      GroupStory   `json:"top_group"`
	MaxOtherShare string       `json:"max_other_share"`

	// LateLoan is the loan of the top group that Dataset.Late corrects; LateIDs
	// are the ids of Dataset.Late's events, and Restated what the period shows
	// once they are in.
	LateLoan string    `json:"late_loan"`
	LateIDs  []string  `json:"late_ids"`
	Restated Restated  `json:"restated"`
	Invalids []Invalid `json:"invalid_events"`
}

// GroupStory is one group of connected clients of the large-exposure story.
type GroupStory struct {
	GroupID string   `json:"group_id"`
	Members []string `json:"members"`
	// Exposure is the group's exposure value in EUR: loans plus undrawn
	// commitments times their credit conversion factor plus securities.
	Exposure string `json:"exposure_eur"`
	// Share is Exposure over Tier 1, to 4 places.
	Share      string   `json:"share_of_tier1"`
	Loans      []string `json:"loans"`
	Securities []string `json:"securities,omitempty"`
}

// Restated is the period after Dataset.Late's events.
type Restated struct {
	Tier1            string `json:"tier1"`
	TopGroupExposure string `json:"top_group_exposure_eur"`
	TopGroupShare    string `json:"top_group_share_of_tier1"`
}

// Invalid is one event of Dataset.Events meant to be refused.
type Invalid struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	What  string `json:"what"`
}

var capitalAccounts = []string{"3000", "3010", "3100", "3200", "3900", "0400", "0450", "3300"}

// loanExposure is the loan's exposure value in EUR at the period end.
func (b *bank) loanExposure(l *loan, out amount) decimal.Decimal {
	und := int64(0)
	if l.undrawn {
		und = int64(l.und[b.k-1])
	}
	return decimal.New(int64(out)*int64(one)+und*l.ccf4, -6).Mul(b.rateEnd[l.ccy].dec())
}

func (b *bank) secExposure(s *security) decimal.Decimal {
	return s.mv[b.k-1].dec().Mul(b.rateEnd[s.ccy].dec())
}

func share(x, t1 decimal.Decimal) string { return x.DivRound(t1, 4).StringFixed(4) }

// summarize computes the expected figures from the model.
func (b *bank) summarize(p plan) Summary {
	s := Summary{Seed: b.o.Seed, Period: b.o.Period, Counterparties: len(b.cps), Loans: len(b.loans),
		Securities: len(b.secs), Deposits: len(b.deps), Payments: len(b.pays), Events: len(p.events), ByType: p.byType,
		Invalid: len(b.sp.invalid), Corrections: p.corrections, Voids: p.voids, Late: p.lateInFile,
		OutOfOrder: p.outOfOrder, Edge: p.edge}

	t1, t2, adj := decimal.Zero, decimal.Zero, decimal.Zero
	for _, j := range b.jes {
		if !j.at.Before(b.per.End) {
			continue
		}
		for _, l := range j.lines {
			switch {
			case l.account == "2800":
				t2 = t2.Sub(l.amt.dec())
			case slices.Contains(capitalAccounts, l.account) && j.restate:
				adj = adj.Sub(l.amt.dec())
			case slices.Contains(capitalAccounts, l.account):
				t1 = t1.Sub(l.amt.dec())
			}
		}
	}
	s.Tier1, s.OwnFunds = t1.StringFixed(2), t1.Add(t2).StringFixed(2)
	s.Threshold = t1.Mul(decimal.RequireFromString("0.10")).Round(2).StringFixed(2)
	s.Limit = t1.Mul(decimal.RequireFromString("0.25")).Round(2).StringFixed(2)

	exp := make([]decimal.Decimal, len(b.groups))
	total := decimal.Zero
	for i := range b.loans {
		l := &b.loans[i]
		x := b.loanExposure(l, l.out[b.k-1])
		exp[b.cps[l.cp].xg] = exp[b.cps[l.cp].xg].Add(x)
		total = total.Add(x)
	}
	buffer, outflows := decimal.Zero, decimal.Zero
	haircut := map[string]string{"1": "1", "2A": "0.85", "2B": "0.5"}
	for i := range b.secs {
		sc := &b.secs[i]
		x := b.secExposure(sc)
		exp[b.cps[sc.issuer].xg] = exp[b.cps[sc.issuer].xg].Add(x)
		total = total.Add(x)
		if h, ok := haircut[sc.level]; ok && !sc.encumbered {
			buffer = buffer.Add(x.Mul(decimal.RequireFromString(h)))
		}
	}
	s.TotalExposure = total.String()
	run := map[string]string{"retail_stable": "0.05", "retail_less_stable": "0.10", "operational": "0.25",
		"non_operational_corporate": "0.40", "financial_institution": "1.00"}
	for _, d := range b.deps {
		outflows = outflows.Add(d.bal[b.k-1].dec().Mul(b.rateEnd[d.ccy].dec()).Mul(decimal.RequireFromString(run[d.category])))
	}
	s.LCR = buffer.DivRound(outflows, 20).Round(4).StringFixed(4)

	maxOther := decimal.Zero
	for i, g := range b.groups {
		if g.story == storyNone {
			maxOther = decimal.Max(maxOther, exp[i])
			continue
		}
		gs := GroupStory{GroupID: g.id, Exposure: exp[i].String(), Share: share(exp[i], t1)}
		for _, m := range g.members {
			gs.Members = append(gs.Members, b.cps[m].id)
		}
		for _, l := range g.loans {
			gs.Loans = append(gs.Loans, b.loans[l].id)
		}
		for _, sc := range g.secs {
			gs.Securities = append(gs.Securities, b.secs[sc].id)
		}
		slices.Sort(gs.Loans)
		s.Groups = append(s.Groups, gs)
		if g.story == storyTop {
			s.TopGroup = gs
			ll := &b.loans[b.sp.lateLoan]
			top := exp[i].Add(b.loanExposure(ll, b.sp.lateOut)).Sub(b.loanExposure(ll, ll.out[b.k-1]))
			rt1 := t1.Add(adj)
			s.Restated = Restated{Tier1: rt1.StringFixed(2), TopGroupExposure: top.String(), TopGroupShare: share(top, rt1)}
		}
	}
	slices.SortStableFunc(s.Groups, func(x, y GroupStory) int {
		return decimal.RequireFromString(y.Exposure).Cmp(decimal.RequireFromString(x.Exposure))
	})
	s.MaxOtherShare = share(maxOther, t1)
	s.LateLoan = b.loans[b.sp.lateLoan].id
	return s
}
