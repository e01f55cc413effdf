package period

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // period edges must not depend on the host's zone database
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	tests := []struct {
		in         string
		loc        *time.Location
		start, end string // RFC 3339, UTC
	}{
		// The October 2026 DST change (25 Oct, 03:00 CEST → 02:00 CET) makes the
		// month one hour longer and moves its end to 23:00 UTC.
		{"2026-10", berlin, "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		// March: DST starts on 29 March 2026.
		{"2026-03", berlin, "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"},
		{"2026-02", berlin, "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z"},
		{"2028-02", berlin, "2028-01-31T23:00:00Z", "2028-02-29T23:00:00Z"}, // leap year
		{"2026-12", berlin, "2026-11-30T23:00:00Z", "2026-12-31T23:00:00Z"},
		{"2026-Q1", berlin, "2025-12-31T23:00:00Z", "2026-03-31T22:00:00Z"},
		{"2026-Q2", berlin, "2026-03-31T22:00:00Z", "2026-06-30T22:00:00Z"},
		{"2026-Q3", berlin, "2026-06-30T22:00:00Z", "2026-09-30T22:00:00Z"},
		{"2026-Q4", berlin, "2026-09-30T22:00:00Z", "2026-12-31T23:00:00Z"},
		{"2026", berlin, "2025-12-31T23:00:00Z", "2026-12-31T23:00:00Z"},
		{"2026-10", nil, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"},
		{"2026-Q4", time.UTC, "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"9999", time.UTC, "9999-01-01T00:00:00Z", "10000-01-01T00:00:00Z"},
		{"0001-01", time.UTC, "0001-01-01T00:00:00Z", "0001-02-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if p.Text != tt.in || p.String() != tt.in {
				t.Errorf("Text = %q, want %q", p.Text, tt.in)
			}
			if got := p.Start.UTC().Format(time.RFC3339); got != tt.start {
				t.Errorf("Start = %s, want %s", got, tt.start)
			}
			if got := p.End.UTC().Format(time.RFC3339); got != tt.end {
				t.Errorf("End = %s, want %s", got, tt.end)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "2026-", "2026-1", "2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-q3",
		"26-10", "0000", "20261", "2026-10-01", "2026/10", " 2026", "2026 ", "+026",
		"2026-H1", "2026-Q", "2026-1a", "２０２６",
	} {
		_, err := Parse(in, time.UTC)
		if err == nil {
			t.Errorf("Parse(%q): no error", in)
			continue
		}
		// The message names the input and the accepted forms.
		want := `period "` + in + `": want a month "2026-10", a quarter "2026-Q3" or a year "2026"`
		if err.Error() != want {
			t.Errorf("Parse(%q) error = %q, want %q", in, err, want)
		}
	}
}

func TestContainsEdges(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	oct, _ := Parse("2026-10", berlin)
	q4, _ := Parse("2026-Q4", berlin)
	tests := []struct {
		at      string
		oct, q4 bool
		because string
	}{
		{"2026-09-30T21:59:59Z", false, false, "23:59:59 CEST on 30 Sep"},
		{"2026-09-30T22:00:00Z", true, true, "local midnight, 1 Oct"},
		{"2026-10-25T00:59:59Z", true, true, "just before the clocks go back"},
		{"2026-10-31T18:00:00Z", true, true, "month-end snapshot"},
		{"2026-10-31T22:59:59Z", true, true, "23:59:59 CET on 31 Oct"},
		{"2026-10-31T23:00:00Z", false, true, "local midnight, 1 Nov"},
		{"2026-10-31T23:30:00+00:00", false, true, "an offset other than Z"},
		{"2026-12-31T22:59:59Z", false, true, "last second of the year in Berlin"},
		{"2026-12-31T23:00:00Z", false, false, "new year in Berlin, still 2026 in UTC"},
	}
	for _, tt := range tests {
		at := utc(tt.at)
		if got := oct.Contains(at); got != tt.oct {
			t.Errorf("2026-10 contains %s (%s) = %v, want %v", tt.at, tt.because, got, tt.oct)
		}
		if got := q4.Contains(at); got != tt.q4 {
			t.Errorf("2026-Q4 contains %s (%s) = %v, want %v", tt.at, tt.because, got, tt.q4)
		}
	}
	// The same instant in another zone's representation is the same instant.
	if !oct.Contains(utc("2026-10-31T23:59:00+01:00")) {
		t.Error("2026-10-31T23:59:00+01:00 should be in Berlin's October")
	}
}

func TestCompare(t *testing.T) {
	var ps []Period
	for _, s := range []string{"2027", "2026-Q4", "2026-10", "2026", "2026-01", "2026-Q1", "2025-12", "2026-11"} {
		p, err := Parse(s, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	slices.SortFunc(ps, Period.Compare)
	var got []string
	for _, p := range ps {
		got = append(got, p.Text)
	}
	want := "2025-12 2026-01 2026-Q1 2026 2026-10 2026-Q4 2026-11 2027"
	if strings.Join(got, " ") != want {
		t.Errorf("sorted = %s, want %s", strings.Join(got, " "), want)
	}

	a, _ := Parse("2026-01", time.UTC)
	b, _ := Parse("2026-02", time.UTC)
	if !a.Before(b) || b.Before(a) || a.Before(a) {
		t.Error("Before is not a strict order")
	}
	if a.Compare(a) != 0 || a.Compare(b) != -1 || b.Compare(a) != 1 {
		t.Error("Compare does not return -1, 0, +1")
	}
}
