package demobank

import (
	"fmt"
	"slices"
	"time"
)

// The general ledger of DEMOBANK-AG: balanced journal entries on the capital
// accounts of the data contract, and the Tier 1 they add up to.

// newJournal adds a balanced journal entry; the last line takes the balance.
func (b *bank) newJournal(at time.Time, lines ...posting) *journal {
	sum := amount(0)
	for _, l := range lines[:len(lines)-1] {
		sum += l.amt
	}
	lines[len(lines)-1].amt = -sum
	// Journal numbers run per month in the ledger, with gaps (other journals).
	n := 1
	for _, j := range b.jes {
		if j.at.Year() == at.Year() && j.at.Month() == at.Month() {
			n++
		}
	}
	no := fmt.Sprintf("JE-%d-%02d-%04d", at.Year(), int(at.Month()), n*37+b.r.IntN(30))
	b.jes = append(b.jes, journal{no: no, at: at, lines: lines})
	return &b.jes[len(b.jes)-1]
}

// buildLedger posts the capital accounts: opening balances before the period,
// then the interim profit of every month of the year, and the period's other
// movements. Tier 1 comes out near the size drawn for the bank, which grows
// with its number of loans.
func (b *bank) buildLedger() {
	t1 := float64(b.o.Loans) * 45000 * b.uniform(0.9, 1.1)
	b.t1f = t1
	year := b.per.Start.Year()
	open := b.at(time.Date(year, 1, 2, 0, 0, 0, 0, b.loc), 6, 0)
	if !open.Before(b.per.Start) {
		open = b.at(b.per.Start.AddDate(0, 0, -1), 6, 0)
	}
	cf := ", balance carried forward"
	b.newJournal(open,
		posting{"3000", -thousands(t1 * b.uniform(0.22, 0.28)), "Subscribed capital" + cf},
		posting{"3010", -thousands(t1 * b.uniform(0.06, 0.10)), "Share premium" + cf},
		posting{"3100", -thousands(t1 * b.uniform(0.40, 0.46)), "Retained earnings" + cf},
		posting{"3200", -thousands(t1 * b.uniform(0.01, 0.04)), "Accumulated other comprehensive income" + cf},
		posting{"3300", -thousands(t1 * b.uniform(0.10, 0.14)), "Additional Tier 1 notes 2025/perp" + cf},
		posting{"2800", -thousands(t1 * b.uniform(0.15, 0.25)), "Subordinated Tier 2 loan 2024/2034" + cf},
		posting{"0400", thousands(t1 * b.uniform(0.02, 0.035)), "Intangible assets (software)" + cf},
		posting{"0450", thousands(t1 * b.uniform(0.005, 0.015)), "Deferred tax assets on tax loss carry-forwards" + cf},
		posting{"1100", 0, "Cash at central bank" + cf},
	)
	last := b.per.End.AddDate(0, -1, 0)
	for m := time.Date(year, 1, 1, 0, 0, 0, 0, b.loc); !m.After(last); m = m.AddDate(0, 1, 0) {
		profit := t1 * b.uniform(0.004, 0.008)
		income := profit * b.uniform(2.6, 3.4)
		month := m.Format("January 2006")
		j := b.newJournal(b.at(m.AddDate(0, 1, -1), 20, 0),
			posting{"4000", eur(income), "Closing of interest and fee income " + month},
			posting{"5000", -eur(income - profit), "Closing of operating expenses " + month},
			posting{"3900", 0, "Interim profit " + month + " (not yet verified by auditors)"},
		)
		if m.Equal(b.per.Start) {
			// First sent with the expenses half booked; re-posted the same evening.
			half := eur((income - profit) * b.uniform(0.4, 0.7))
			j.wrong = []amount{j.lines[0].amt, -half, -(j.lines[0].amt - half)}
		}
	}
	first, mid := b.monthStart[0], b.monthStart[min(1, b.k-1)]
	b.newJournal(b.at(weekday(first.AddDate(0, 0, 14), 1), 10, 0),
		posting{"0400", eur(t1 * b.uniform(0.002, 0.004)), "Capitalised development costs, core banking release"},
		posting{"1100", 0, "Cash at central bank"})
	oci := eur(t1 * b.uniform(0.002, 0.006))
	if b.chance(0.5) {
		oci = -oci
	}
	b.newJournal(b.at(mid.AddDate(0, 1, -1), 20, 30),
		posting{"3200", -oci, "Fair value reserve, FVOCI debt securities"},
		posting{"1200", 0, "Debt securities at fair value through OCI"})
	b.newJournal(b.at(b.per.End.AddDate(0, 0, -1), 20, 45),
		posting{"0450", eur(t1 * b.uniform(0.001, 0.003)), "Deferred tax assets, quarter-end remeasurement"},
		posting{"6000", 0, "Deferred tax income"})
	// A manual journal dated in the period that reaches the ledger feed late.
	lj := b.newJournal(b.at(weekday(mid.AddDate(0, 0, 13), 1), 11, 0),
		posting{"3200", -eur(t1 * b.uniform(0.001, 0.003)), "Manual journal: fair value reserve on FVOCI bonds, booked late"},
		posting{"1200", 0, "Debt securities at fair value through OCI"})
	lj.late = true
	// Just after the period end in Berlin (still the period's last day in UTC).
	b.newJournal(b.per.End.Add(30*time.Minute),
		posting{"3200", eur(t1 * b.uniform(0.002, 0.004)), "Fair value reserve, revaluation at the opening of the new quarter"},
		posting{"1200", 0, "Debt securities at fair value through OCI"})
	// The auditors' adjustment sent after the filings (Dataset.Late).
	aj := b.newJournal(b.at(weekday(b.per.End.AddDate(0, 0, -3), -1), 16, 0),
		posting{"3100", thousands(t1 * b.uniform(0.004, 0.008)), "Audit adjustment: provision for legal risks charged to retained earnings"},
		posting{"2900", 0, "Provisions for legal risks"})
	aj.restate = true

	// Everything else is sized to the Tier 1 the ledger adds up to.
	tier1 := amount(0)
	for _, j := range b.jes {
		if j.at.Before(b.per.End) && !j.restate {
			for _, l := range j.lines {
				if slices.Contains(capitalAccounts, l.account) {
					tier1 -= l.amt
				}
			}
		}
	}
	b.t1f = float64(tier1) / 100
}
