package demobank

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Berlin on machines without a zoneinfo database

	"github.com/ledgerline/ledgerline/services/rules/period"
)

// Options choose the data set. The same Options always give the same bytes.
type Options struct {
	// Seed drives every random draw.
	Seed int64
	// Counterparties is the number of counterparties in master data (at least
	// MinCounterparties): corporates, retail customers, banks, sovereigns and public
	// sector entities, insurers and funds.
	Counterparties int
	// Loans is the number of loans and credit facilities (at least MinLoans).
	Loans int
	// Period is the reporting period: a quarter ("2026-Q3", snapshots at its three
	// month ends) or a month ("2026-09").
	Period string
}

// DefaultOptions is the data set of `ledgerline demo generate` without flags.
func DefaultOptions() Options {
	return Options{Seed: 1, Counterparties: 200, Loans: 1500, Period: "2026-Q3"}
}

const (
	// MinCounterparties is the fewest counterparties the large-exposure story fits:
	// with Tier 1 at about 13% of all exposures and every group outside the story
	// below 10% of Tier 1 (1.3% of the exposures), the book has to be spread over
	// a hundred and more groups of clients.
	MinCounterparties = 150
	// MinLoans is the fewest loans that spread the book over enough groups.
	MinLoans = 300
	// maxCount bounds both counts (a billion events is not a demo).
	maxCount = 5_000_000
)

// Location is the demo bank's time zone: month ends, period boundaries and
// booking dates are Europe/Berlin wall-clock times.
var Location = mustLocation("Europe/Berlin")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// validate checks the options and parses the period in Location.
func (o Options) validate() (period.Period, error) {
	var errs []error
	if o.Counterparties < MinCounterparties || o.Counterparties > maxCount {
		errs = append(errs, fmt.Errorf("counterparties: %d is out of range: the large-exposure story needs at least %d (and at most %d)",
			o.Counterparties, MinCounterparties, maxCount))
	}
	if o.Loans < MinLoans || o.Loans > maxCount {
		errs = append(errs, fmt.Errorf("loans: %d is out of range: the large-exposure story needs at least %d (and at most %d)",
			o.Loans, MinLoans, maxCount))
	}
	p, err := period.Parse(o.Period, Location)
	if err != nil || len(o.Period) == 4 {
		errs = append(errs, fmt.Errorf(`period: %q is not a quarter ("2026-Q3") or a month ("2026-09")`, o.Period))
	}
	if err == nil && (p.Start.Year() < 1900 || p.Start.Year() > 9000) {
		errs = append(errs, fmt.Errorf("period: %q is too far from today for believable data", o.Period))
	}
	return p, errors.Join(errs...)
}
