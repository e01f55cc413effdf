package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
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

func formatAll(ts []time.Time) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Format(time.RFC3339)
	}
	return strings.Join(parts, " ")
}

func TestNext(t *testing.T) {
	loc := berlin(t)
	tests := []struct {
		name  string
		spec  string
		after string
		n     int
		want  string // RFC 3339 in Europe/Berlin
	}{
		{"quarterly COREP, winter and summer time", "0 6 10 1,4,7,10 *", "2026-01-01T00:00:00+01:00", 5,
			"2026-01-10T06:00:00+01:00 2026-04-10T06:00:00+02:00 2026-07-10T06:00:00+02:00 2026-10-10T06:00:00+02:00 2027-01-10T06:00:00+01:00"},
		{"after is exactly a run: not included", "0 6 10 1,4,7,10 *", "2026-04-10T06:00:00+02:00", 1,
			"2026-07-10T06:00:00+02:00"},
		{"a nanosecond before a run: included", "0 6 10 1,4,7,10 *", "2026-04-10T05:59:59.999999999+02:00", 1,
			"2026-04-10T06:00:00+02:00"},
		{"monthly on the 5th", "30 7 5 * *", "2026-11-05T07:30:00+01:00", 3,
			"2026-12-05T07:30:00+01:00 2027-01-05T07:30:00+01:00 2027-02-05T07:30:00+01:00"},
		{"day fields: either matches when both are restricted", "0 6 1 * 1", "2026-06-01T07:00:00+02:00", 3,
			"2026-06-08T06:00:00+02:00 2026-06-15T06:00:00+02:00 2026-06-22T06:00:00+02:00"},
		{"day fields: both must match when one is *", "0 6 * 6 1", "2026-05-31T00:00:00+02:00", 2,
			"2026-06-01T06:00:00+02:00 2026-06-08T06:00:00+02:00"},
		{"29 February", "0 0 29 2 *", "2026-01-01T00:00:00+01:00", 2,
			"2028-02-29T00:00:00+01:00 2032-02-29T00:00:00+01:00"},
		{"last of the year", "59 23 31 12 *", "2026-12-31T23:59:00+01:00", 1,
			"2027-12-31T23:59:00+01:00"},

		// DST starts on 29 March 2026: 02:00 CET becomes 03:00 CEST.
		{"spring forward: a skipped time runs at the jump", "30 2 * * *", "2026-03-27T12:00:00+01:00", 3,
			"2026-03-28T02:30:00+01:00 2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00"},
		{"spring forward: hourly, 02:00 and 03:00 are one run", "0 * * * *", "2026-03-29T00:30:00+01:00", 3,
			"2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00"},
		{"spring forward: a time after the gap is unaffected", "30 3 * * *", "2026-03-28T12:00:00+01:00", 2,
			"2026-03-29T03:30:00+02:00 2026-03-30T03:30:00+02:00"},
		// DST ends on 25 October 2026: 03:00 CEST becomes 02:00 CET.
		{"fall back: a repeated time runs once, at its first occurrence", "30 2 * * *", "2026-10-24T12:00:00+02:00", 3,
			"2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00 2026-10-27T02:30:00+01:00"},
		{"fall back: after the first occurrence, not again", "30 2 * * *", "2026-10-25T02:30:00+02:00", 1,
			"2026-10-26T02:30:00+01:00"},
		{"fall back: from inside the repeated hour", "30 2 * * *", "2026-10-25T02:10:00+01:00", 1,
			"2026-10-26T02:30:00+01:00"},
		{"fall back: hourly does not repeat the hour", "0 * * * *", "2026-10-25T01:30:00+02:00", 3,
			"2026-10-25T02:00:00+02:00 2026-10-25T03:00:00+01:00 2026-10-25T04:00:00+01:00"},
		{"fall back: a daily 06:00 run is unaffected", "0 6 * * *", "2026-10-24T07:00:00+02:00", 2,
			"2026-10-25T06:00:00+01:00 2026-10-26T06:00:00+01:00"},
		{"none", "0 6 * * *", "2026-10-24T07:00:00+02:00", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Next(tt.spec, loc, utc(tt.after), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if s := formatAll(got); s != tt.want {
				t.Errorf("Next\n got %s\nwant %s", s, tt.want)
			}
			for _, r := range got {
				if r.Location() != loc {
					t.Errorf("%v is in %v, want the template's zone", r, r.Location())
				}
			}
		})
	}
}

func TestNextUTCDefault(t *testing.T) {
	got, err := Next("0 6 10 1,4,7,10 *", nil, utc("2026-01-01T00:00:00Z"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s := formatAll(got); s != "2026-01-10T06:00:00Z" {
		t.Errorf("Next = %s", s)
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct{ spec, err string }{
		{"", `schedule is empty: want five cron fields, e.g. "0 6 10 1,4,7,10 *"`},
		{"0 6 10 1,4,7,10", `schedule "0 6 10 1,4,7,10": expected exactly 5 fields, found 4: [0 6 10 1,4,7,10]`},
		{"0 0 6 10 1,4,7,10 *", `schedule "0 0 6 10 1,4,7,10 *": expected exactly 5 fields, found 6: [0 0 6 10 1,4,7,10 *]`},
		{"@monthly", `schedule "@monthly": descriptors such as @monthly are not supported: write the five fields, e.g. "0 6 5 * *"`},
		{"@every 1h", `schedule "@every 1h": descriptors such as @monthly are not supported: write the five fields, e.g. "0 6 5 * *"`},
		{"TZ=Europe/Berlin 0 6 * * *", `schedule "TZ=Europe/Berlin 0 6 * * *": no TZ= prefix: the schedule runs in the template's timezone`},
		{"0 25 * * *", `schedule "0 25 * * *": end of range (25) above maximum (23): 25`},
		{"0 6 31 2 *", `schedule "0 6 31 2 *" never runs: no such date`},
		{"0 6 31 4,6,9,11 *", `schedule "0 6 31 4,6,9,11 *" never runs: no such date`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			err := Validate(tt.spec)
			if err == nil || err.Error() != tt.err {
				t.Errorf("Validate = %v\n want %s", err, tt.err)
			}
			if _, err := Next(tt.spec, nil, time.Time{}, 1); err == nil {
				t.Error("Next: no error")
			}
			if _, err := Missed(tt.spec, nil, time.Time{}, time.Now()); err == nil {
				t.Error("Missed: no error")
			}
		})
	}
	for _, ok := range []string{"0 6 10 1,4,7,10 *", "0 0 29 2 *", "*/15 8-18 * * 1-5", "0 6 1 JAN,APR *", " 0 6 * * * "} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v", ok, err)
		}
	}
	if _, err := Next("0 6 * * *", nil, time.Time{}, MaxRuns+1); err == nil {
		t.Error("Next beyond MaxRuns: no error")
	}
	if _, err := Next("0 6 * * *", nil, time.Time{}, -1); err == nil {
		t.Error("Next(-1): no error")
	}
}

func TestPeriodBefore(t *testing.T) {
	loc := berlin(t)
	tests := []struct {
		frequency, run, want string
	}{
		{Monthly, "2026-11-05T07:30:00+01:00", "2026-10"},
		{Monthly, "2026-01-05T07:30:00+01:00", "2025-12"},
		{Monthly, "2026-03-31T23:59:59+02:00", "2026-02"},
		{Quarterly, "2026-10-10T06:00:00+02:00", "2026-Q3"},
		{Quarterly, "2026-01-10T06:00:00+01:00", "2025-Q4"},
		{Quarterly, "2026-04-10T06:00:00+02:00", "2026-Q1"},
		{Quarterly, "2026-07-01T09:00:00+02:00", "2026-Q2"},
		{Quarterly, "2026-12-31T23:00:00+01:00", "2026-Q3"},
		{Annual, "2026-01-15T06:00:00+01:00", "2025"},
		{Annual, "2026-12-31T06:00:00+01:00", "2025"},

		// At the boundary, the local midnight: the period ending at that very
		// instant. In UTC it is still the day before, which would give the
		// period before.
		{Monthly, "2026-11-01T00:00:00+01:00", "2026-10"},
		{Monthly, "2026-10-31T23:59:59.999+01:00", "2026-09"},
		{Quarterly, "2026-04-01T00:00:00+02:00", "2026-Q1"},
		{Quarterly, "2026-03-31T23:59:59+02:00", "2025-Q4"},
		{Annual, "2026-01-01T00:00:00+01:00", "2025"},
		{Annual, "2025-12-31T23:59:59+01:00", "2024"},

		{"weekly", "2026-11-05T07:30:00+01:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.frequency+" "+tt.run, func(t *testing.T) {
			if got := PeriodBefore(tt.frequency, utc(tt.run), loc); got != tt.want {
				t.Errorf("PeriodBefore = %q, want %q", got, tt.want)
			}
		})
	}
	// The zone decides: 2026-11-01T00:00 in Berlin is 2026-10-31T23:00Z.
	run := utc("2026-11-01T00:00:00+01:00")
	if got := PeriodBefore(Monthly, run, nil); got != "2026-09" {
		t.Errorf("PeriodBefore in UTC = %q, want 2026-09", got)
	}
}

func TestMissed(t *testing.T) {
	loc := berlin(t)
	daily := "0 6 * * *"
	// Down from the morning of 23 October to the morning of the 27th, across
	// the end of summer time; now is exactly the 27th's run, which is due.
	got, err := Missed(daily, loc, utc("2026-10-23T06:00:00+02:00"), utc("2026-10-27T06:00:00+01:00"))
	if err != nil {
		t.Fatal(err)
	}
	want := "2026-10-24T06:00:00+02:00 2026-10-25T06:00:00+01:00 2026-10-26T06:00:00+01:00 2026-10-27T06:00:00+01:00"
	if s := formatAll(got); s != want {
		t.Errorf("Missed\n got %s\nwant %s", s, want)
	}

	// A second before the run, it is not yet missed.
	got, err = Missed(daily, loc, utc("2026-10-23T06:00:00+02:00"), utc("2026-10-27T05:59:59+01:00"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("Missed before the run = %s", formatAll(got))
	}

	// Nothing missed: since after or at now, or no run in between.
	for _, w := range [][2]string{
		{"2026-10-27T06:00:00+01:00", "2026-10-27T06:00:00+01:00"},
		{"2026-10-28T00:00:00+01:00", "2026-10-27T00:00:00+01:00"},
		{"2026-10-27T06:00:00+01:00", "2026-10-28T05:00:00+01:00"},
	} {
		got, err := Missed(daily, loc, utc(w[0]), utc(w[1]))
		if err != nil || len(got) != 0 {
			t.Errorf("Missed(%s, %s) = %s, %v", w[0], w[1], formatAll(got), err)
		}
	}

	// A quarterly template down for a year catches up four quarters.
	got, err = Missed("0 6 10 1,4,7,10 *", loc, utc("2025-10-10T06:00:00+02:00"), utc("2026-10-11T00:00:00+02:00"))
	if err != nil {
		t.Fatal(err)
	}
	var periods []string
	for _, r := range got {
		periods = append(periods, PeriodBefore(Quarterly, r, loc))
	}
	if s := strings.Join(periods, " "); s != "2025-Q4 2026-Q1 2026-Q2 2026-Q3" {
		t.Errorf("periods caught up = %s", s)
	}

	// More than MaxRuns: the first MaxRuns, and an error saying so.
	since := utc("2026-10-24T00:00:00+02:00")
	got, err = Missed("* * * * *", loc, since, since.Add(48*time.Hour))
	if !errors.Is(err, ErrTooManyMissed) {
		t.Fatalf("error = %v, want ErrTooManyMissed", err)
	}
	if len(got) != MaxRuns || !got[0].Equal(since.Add(time.Minute)) || !got[MaxRuns-1].Equal(since.Add(MaxRuns*time.Minute)) {
		t.Errorf("capped runs: %d, first %v, last %v", len(got), got[0], got[len(got)-1])
	}
}
