// Package period parses Ledgerline reporting periods and answers which business
// times fall inside one.
//
// A period is written as a month ("2026-10"), a quarter ("2026-Q3") or a year
// ("2026"), the same forms POST /v1/filings, the figures API, adjustment events
// and a rule set's effective_from accept. It covers the half-open interval
// [Start, End) of wall-clock time in a location: the boundaries are local
// midnights, so "2026-10" in Europe/Berlin starts at 2026-09-30T22:00:00Z and,
// because daylight saving time ends on 25 October, ends at 2026-10-31T23:00:00Z.
// An event belongs to the period when its occurred_at is inside that interval.
//
// The package is pure: no I/O, no clock.
package period

import (
	"fmt"
	"time"
)

// Period is a reporting period: the half-open interval [Start, End) of local
// midnights in the location it was parsed in.
type Period struct {
	// Text is the period as written, e.g. "2026-Q3"; it is always in one of the
	// three canonical forms, since Parse accepts nothing else.
	Text string
	// Start is the first instant of the period, End the first instant after it.
	Start, End time.Time
}

const forms = `a month "2026-10", a quarter "2026-Q3" or a year "2026"`

// Parse reads a month ("2026-10"), a quarter ("2026-Q3") or a year ("2026") in
// loc; a nil loc means UTC. Years run from 0001 to 9999 and are written with four
// digits, months with two.
func Parse(s string, loc *time.Location) (Period, error) {
	if loc == nil {
		loc = time.UTC
	}
	bad := func() (Period, error) {
		return Period{}, fmt.Errorf("period %q: want %s", s, forms)
	}
	if len(s) < 4 {
		return bad()
	}
	year, ok := digits(s[:4])
	if !ok || year == 0 {
		return bad()
	}
	var first time.Month
	var months int
	switch rest := s[4:]; {
	case rest == "":
		first, months = time.January, 12
	case len(rest) == 3 && rest[0] == '-' && rest[1] == 'Q' && rest[2] >= '1' && rest[2] <= '4':
		first, months = time.Month(3*int(rest[2]-'1')+1), 3
	case len(rest) == 3 && rest[0] == '-':
		m, ok := digits(rest[1:])
		if !ok || m < 1 || m > 12 {
			return bad()
		}
		first, months = time.Month(m), 1
	default:
		return bad()
	}
	start := time.Date(year, first, 1, 0, 0, 0, 0, loc)
	return Period{Text: s, Start: start, End: start.AddDate(0, months, 0)}, nil
}

// digits parses a string of ASCII digits only (no sign, no spaces).
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// String returns the period as written.
func (p Period) String() string { return p.Text }

// Contains reports whether t lies in [Start, End).
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.Start) && t.Before(p.End)
}

// Compare orders periods by start, then by end, so that the shorter of two
// periods starting together comes first ("2026-01" < "2026-Q1" < "2026"). It
// returns -1, 0 or +1. Periods parsed in different locations compare by the
// instants they denote.
func (p Period) Compare(q Period) int {
	if c := p.Start.Compare(q.Start); c != 0 {
		return c
	}
	return p.End.Compare(q.End)
}

// Before reports whether p sorts before q (Compare < 0); used to order rule set
// versions by effective_from.
func (p Period) Before(q Period) bool { return p.Compare(q) < 0 }
