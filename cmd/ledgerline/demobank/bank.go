package demobank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ledgerline/ledgerline/services/rules/period"
)

// The model of Demo Bank AG: every counterparty, loan, security, deposit, journal,
// payment and fx fixing, with its true values at each month end of the period.
// Events are rendered from it afterwards (schedule.go, render.go); the expected
// figures of the Summary are computed from it (summary.go).

const (
	entity   = "DEMOBANK-AG"
	bankCode = "51210800" // Demo Bank AG's (fictional) German bank code
)

// Sectors (counterparty.sector).
const (
	secCorporate   = "corporate"
	secRetail      = "retail"
	secInstitution = "institution"
	secSovereign   = "sovereign"
	secPublic      = "public_sector"
	secFinancial   = "other_financial"
)

// Roles of a group in the large-exposure story.
const (
	storyNone = iota
	storyTop  // above 25% of Tier 1: the limit breach
	storyMid  // between 10% and 25% of Tier 1: a large exposure
)

// Shares of Tier 1 that the story keeps to, with room for the restatement.
const (
	otherCap = 0.085 // every group outside the story stays below this share of Tier 1
)

type counterparty struct {
	id, name, lei, group, country, sector string
	xg                                    int    // its exposure group
	typo                                  string // misspelt name of the first master data event, corrected later
}

// xgroup is a group of connected clients, or a counterparty that is its own group.
type xgroup struct {
	id      string // group_id, or the counterparty id
	members []int
	story   int
	share   float64 // story groups: the share of Tier 1 drawn for them
	sec     float64 // EUR market value of securities issued by members
	loans   []int
	secs    []int
}

type loan struct {
	id, product, class, ccy, maturity string
	cp                                int
	ccf                               string // as sent; "" when the product default applies
	ccf4                              int64  // the factor applied, in ten-thousandths
	undrawn                           bool   // the event carries undrawn_commitment
	w                                 float64
	target                            float64  // EUR exposure at the period end
	out, und                          []amount // per month of the period
	priorOut, priorUnd                amount   // the month end before the period (monthly periods' out-of-order snapshot)
}

type security struct {
	id, isin, portfolio, level, ccy string
	issuer                          int
	encumbered, flagged             bool // flagged: the event says "encumbered" explicitly
	units                           bool // fund units, not a nominal amount of bonds
	qty                             int64
	mv                              []amount
}

type deposit struct {
	account, category, ccy, maturity string
	cp                               int
	insured                          bool
	bal                              []amount
}

type posting struct {
	account string
	amt     amount
	text    string
}

type journal struct {
	no      string
	at      time.Time
	lines   []posting
	wrong   []amount // amounts of the first version, corrected by the true ones (nil: never corrected)
	late    bool     // sent at the end of the file
	restate bool     // in Dataset.Late
}

type payment struct {
	id, debtor, creditor, ccy, direction string
	at                                   time.Time
	amt                                  amount
}

type fixing struct {
	at   time.Time
	ccy  string
	rate rate
}

type bank struct {
	o   Options
	r   *rand.Rand
	per period.Period
	loc *time.Location
	k   int // months in the period

	monthStart []time.Time // local midnight of the 1st of each month
	monthEnd   []time.Time // 18:00 local on the last day: the snapshot time

	fx      []fixing
	rateEnd map[string]rate // latest rate as of the period end, EUR per unit

	cps    []counterparty
	groups []xgroup
	loans  []loan
	secs   []security
	deps   []deposit
	jes    []journal
	pays   []payment

	t1f   float64 // Tier 1 at the period end in EUR (summary.go has it exact)
	names *namer

	sp specials
}

func newBank(o Options, p period.Period) *bank {
	b := &bank{o: o, per: p, loc: Location, rateEnd: map[string]rate{"EUR": one},
		r: rand.New(rand.NewPCG(uint64(o.Seed), 0x6c65646765726c6e))}
	b.names = newNamer(b.r)
	for t := p.Start; t.Before(p.End); t = t.AddDate(0, 1, 0) {
		b.monthStart = append(b.monthStart, t)
		last := t.AddDate(0, 1, -1)
		b.monthEnd = append(b.monthEnd, b.at(last, 18, 0))
	}
	b.k = len(b.monthStart)
	return b
}

// at is hh:mm local on day's date.
func (b *bank) at(day time.Time, hh, mm int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), hh, mm, 0, 0, b.loc)
}

func (b *bank) uniform(lo, hi float64) float64 { return lo + (hi-lo)*b.r.Float64() }

func (b *bank) chance(p float64) bool { return b.r.Float64() < p }

// pareto draws a heavy-tailed factor ≥ 1 with tail index alpha, capped at 40.
func (b *bank) pareto(alpha float64) float64 {
	return math.Min(40, math.Pow(1-b.r.Float64(), -1/alpha))
}

// lognormal draws exp(N(0, sigma²)).
func (b *bank) lognormal(sigma float64) float64 { return math.Exp(sigma * b.r.NormFloat64()) }

// weekday moves a date off the weekend: back (dir −1) or forward (+1).
func weekday(d time.Time, dir int) time.Time {
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, dir)
	}
	return d
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

func build(o Options) (*bank, error) {
	p, err := o.validate()
	if err != nil {
		return nil, err
	}
	b := newBank(o, p)
	b.buildFX()
	b.buildCounterparties()
	b.buildLedger()
	b.buildSecurities()
	if err := b.buildLoans(); err != nil {
		return nil, err
	}
	b.buildDeposits()
	b.buildPayments()
	b.pickSpecials()
	return b, nil
}

// buildFX draws the USD, GBP and CHF reference rates against EUR: on the 10th and the
// 20th and on the last business day of every month, at 14:15 Berlin time.
func (b *bank) buildFX() {
	ccys := []string{"USD", "GBP", "CHF"}
	level := []float64{b.uniform(0.84, 0.90), b.uniform(1.13, 1.19), b.uniform(1.03, 1.09)}
	for _, m := range b.monthStart {
		days := []time.Time{weekday(m.AddDate(0, 0, 9), 1), weekday(m.AddDate(0, 0, 19), 1), weekday(m.AddDate(0, 1, -1), -1)}
		for _, d := range days {
			for i, c := range ccys {
				level[i] *= 1 + 0.005*b.r.NormFloat64()
				f := fixing{at: b.at(d, 14, 15), ccy: c, rate: rate(math.Round(level[i] * float64(one)))}
				b.fx = append(b.fx, f)
				b.rateEnd[c] = f.rate
			}
		}
	}
}

func (b *bank) addCounterparty(c counterparty) int {
	b.cps = append(b.cps, c)
	return len(b.cps) - 1
}

// buildCounterparties draws the master data: sector by sector, with the story's
// groups of connected clients among the corporates.
func (b *bank) buildCounterparties() {
	n := b.o.Counterparties
	nSov := min(len(sovereigns), max(6, n/25))
	nPub := min(len(publicSector), max(2, n/60))
	nInst := max(8, n*6/100)
	nFin := max(6, n*5/100)
	nCorp := max(40, n*35/100)
	nRet := n - nSov - nPub - nInst - nFin - nCorp

	// Corporates: the story's groups first, then other groups, then companies on
	// their own; shuffled before they get ids, so the story is anywhere in the book.
	type proto struct {
		c     counterparty
		story int
		gi    int // index into groups below, -1 for none
	}
	var corps []proto
	type grp struct {
		id    string
		story int
	}
	var grps []grp
	group := func(story, size int) {
		brand := b.names.brand(true)
		gi := len(grps)
		grps = append(grps, grp{id: "GRP-" + asciiUpper(brand), story: story})
		home := []string{"DE", "DE", "DE", "DE", "AT", "NL", "FR"}[b.r.IntN(7)]
		for k := 0; k < size; k++ {
			country := home
			switch {
			case story == storyTop && k == size-1:
				country = []string{"US", "GB", "CH"}[b.r.IntN(3)] // a foreign subsidiary: a loan in its currency
			case k > 0 && b.chance(0.2):
				country = []string{"CH", "AT", "NL", "US", "GB", "LU"}[b.r.IntN(6)]
			}
			c := counterparty{name: b.names.corporate(brand, country, k == 0), country: country, sector: secCorporate,
				lei: newLEI(b.r)}
			corps = append(corps, proto{c: c, story: story, gi: gi})
		}
	}
	group(storyTop, 3+b.r.IntN(3))
	for range 2 + b.r.IntN(2) {
		group(storyMid, 2+b.r.IntN(4))
	}
	for len(corps) < nCorp/2 && len(grps) < 4+nCorp/14 {
		group(storyNone, min(2+b.r.IntN(3), nCorp-len(corps)))
	}
	for len(corps) < nCorp {
		country := []string{"DE", "DE", "DE", "DE", "DE", "DE", "AT", "FR", "NL", "CH", "IT", "ES", "LU", "GB", "US"}[b.r.IntN(15)]
		c := counterparty{name: b.names.corporate(b.names.brand(false), country, false), country: country, sector: secCorporate}
		if b.chance(0.85) {
			c.lei = newLEI(b.r)
		}
		corps = append(corps, proto{c: c, gi: -1})
	}
	b.r.Shuffle(len(corps), func(i, j int) { corps[i], corps[j] = corps[j], corps[i] })
	storyOf := map[string]int{}
	for i, p := range corps {
		p.c.id = fmt.Sprintf("CP-1%05d", i+1)
		if p.gi >= 0 {
			p.c.group = grps[p.gi].id
			storyOf[p.c.group] = grps[p.gi].story
		}
		b.addCounterparty(p.c)
	}
	for i := range nRet {
		c := counterparty{id: fmt.Sprintf("CP-2%05d", i+1), sector: secRetail,
			country: []string{"DE", "DE", "DE", "DE", "DE", "DE", "DE", "DE", "AT", "CH"}[b.r.IntN(10)]}
		if b.chance(0.25) {
			c.name = b.names.smallBusiness()
		} else {
			c.name = b.names.person()
		}
		b.addCounterparty(c)
	}
	for i := range nInst {
		name, country := b.names.bank()
		b.addCounterparty(counterparty{id: fmt.Sprintf("CP-3%05d", i+1), name: name, country: country,
			sector: secInstitution, lei: newLEI(b.r)})
	}
	for i := range nSov {
		s := sovereigns[i]
		b.addCounterparty(counterparty{id: fmt.Sprintf("CP-4%05d", i+1), name: s.name, country: s.country, sector: secSovereign})
	}
	for i := range nPub {
		b.addCounterparty(counterparty{id: fmt.Sprintf("CP-4%05d", nSov+i+1), name: publicSector[i], country: "DE",
			sector: secPublic, lei: newLEI(b.r)})
	}
	for i := range nFin {
		name, country := b.names.financial()
		b.addCounterparty(counterparty{id: fmt.Sprintf("CP-5%05d", i+1), name: name, country: country,
			sector: secFinancial, lei: newLEI(b.r)})
	}

	// Exposure groups, in the order of their first member.
	index := map[string]int{}
	for i := range b.cps {
		c := &b.cps[i]
		key := c.group
		if key == "" {
			key = c.id
		}
		g, ok := index[key]
		if !ok {
			g = len(b.groups)
			index[key] = g
			b.groups = append(b.groups, xgroup{id: key, story: storyOf[c.group]})
		}
		c.xg = g
		b.groups[g].members = append(b.groups[g].members, i)
	}
}

// storyGroups lists the story's groups, the top one first.
func (b *bank) storyGroups() []int {
	var top, mids []int
	for i, g := range b.groups {
		switch g.story {
		case storyTop:
			top = append(top, i)
		case storyMid:
			mids = append(mids, i)
		}
	}
	return append(top, mids...)
}
