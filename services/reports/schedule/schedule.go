// Package schedule answers when a report template runs and which reporting
// period a run is for (DESIGN.md, "Report templates": `schedule` is a cron
// expression in the template's `timezone`, run for the period just ended).
// The reports scheduler asks Next for the coming runs, Missed for the runs it
// slept through (catch-up after downtime), and PeriodBefore for the period a
// run files. It is pure: no I/O, no clock; the caller passes the times.
//
// A schedule is the standard five cron fields, minute hour day-of-month month
// day-of-week, parsed by github.com/robfig/cron/v3: "0 6 10 1,4,7,10 *" is
// 06:00 on the 10th of January, April, July and October. Descriptors
// (@monthly, @every 1h) and a TZ= prefix are refused: the time zone is the
// template's, and a filing schedule is a calendar, not an interval. As in
// cron, when both day fields are restricted a day matching either runs.
//
// The fields are matched against the wall clock of the time zone, and daylight
// saving time is handled the way cron handles it:
//   - a wall time the clocks skip (02:30 on the last Sunday of March in
//     Europe/Berlin) runs at the moment of the jump (03:00 CEST), once, even
//     when the schedule also names 03:00;
//   - a wall time the clocks show twice (02:30 on the last Sunday of October)
//     runs once, at its first occurrence (02:30 CEST).
//
// robfig/cron's own SpecSchedule.Next skips the first and runs the second
// twice, which for a filing means a period not filed or filed twice; that is
// why this package uses robfig/cron only to parse.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The frequencies of a template: which period a run files.
const (
	Monthly   = "monthly"   // the month just ended: "2026-10"
	Quarterly = "quarterly" // the quarter just ended: "2026-Q3"
	Annual    = "annual"    // the year just ended: "2025"
)

// MaxRuns bounds the runs Next and Missed return in one call.
const MaxRuns = 1000

// ErrTooManyMissed is wrapped by Missed's error when more than MaxRuns runs
// were missed; the first MaxRuns are returned with it, so the caller can catch
// up in batches from the last one.
var ErrTooManyMissed = errors.New("too many missed runs")

// searchYears bounds the search for the next run: every satisfiable schedule
// runs within 8 years (29 February needs up to 8, across 2100).
const searchYears = 8

// parser reads the five standard fields, without descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// starBit is robfig/cron's mark of a field written as "*" or "?", which
// decides how the two day fields combine (see dayMatches).
const starBit = 1 << 63

// Validate checks a schedule: five fields, no descriptor, no TZ= prefix, and a
// date that exists (not "0 0 30 2 *").
func Validate(spec string) error {
	_, err := parse(spec)
	return err
}

func parse(spec string) (*cron.SpecSchedule, error) {
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return nil, errors.New(`schedule is empty: want five cron fields, e.g. "0 6 10 1,4,7,10 *"`)
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, fmt.Errorf("schedule %q: no TZ= prefix: the schedule runs in the template's timezone", spec)
	case strings.HasPrefix(s, "@"):
		return nil, fmt.Errorf(`schedule %q: descriptors such as @monthly are not supported: write the five fields, e.g. "0 6 5 * *"`, spec)
	}
	sched, err := parser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	ss, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("schedule %q: not a cron schedule", spec)
	}
	// From a leap year's first day, every date that exists comes within the
	// search window.
	if _, ok := next(ss, time.UTC, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); !ok {
		return nil, fmt.Errorf("schedule %q never runs: no such date", spec)
	}
	return ss, nil
}

// Next returns the next n run times strictly after `after`, in tz (nil: UTC),
// in order. n is at most MaxRuns.
func Next(spec string, tz *time.Location, after time.Time, n int) ([]time.Time, error) {
	if n < 0 || n > MaxRuns {
		return nil, fmt.Errorf("next %d runs: n must be between 0 and %d", n, MaxRuns)
	}
	ss, err := parse(spec)
	if err != nil {
		return nil, err
	}
	tz = orUTC(tz)
	out := make([]time.Time, 0, n)
	t := after
	for len(out) < n {
		run, ok := next(ss, tz, t)
		if !ok {
			return out, fmt.Errorf("schedule %q: no run within %d years after %s", spec, searchYears, t.Format(time.RFC3339))
		}
		out = append(out, run)
		t = run
	}
	return out, nil
}

// Missed returns the run times in (since, now], in tz (nil: UTC), in order:
// the runs to catch up on after downtime, since being the last run done. A run
// exactly at now is included, one exactly at since is not. When more than
// MaxRuns were missed it returns the first MaxRuns and an error wrapping
// ErrTooManyMissed.
func Missed(spec string, tz *time.Location, since, now time.Time) ([]time.Time, error) {
	ss, err := parse(spec)
	if err != nil {
		return nil, err
	}
	tz = orUTC(tz)
	var out []time.Time
	for t := since; ; {
		run, ok := next(ss, tz, t)
		if !ok || run.After(now) {
			return out, nil
		}
		if len(out) == MaxRuns {
			return out, fmt.Errorf("schedule %q: %w: more than %d between %s and %s; the first %d are returned",
				spec, ErrTooManyMissed, MaxRuns, since.Format(time.RFC3339), now.Format(time.RFC3339), MaxRuns)
		}
		out = append(out, run)
		t = run
	}
}

// PeriodBefore returns the period just ended at run, in tz (nil: UTC): the
// month, quarter or year before the one run falls in. A run on 2026-11-05 files
// "2026-10" (monthly), one on 2026-10-10 "2026-Q3" (quarterly), one on
// 2026-01-15 "2025" (annual). A run at the very first instant of a period
// (local midnight) files the period ending at that instant. It returns "" for
// an unknown frequency.
func PeriodBefore(frequency string, run time.Time, tz *time.Location) string {
	y, m, _ := run.In(orUTC(tz)).Date()
	switch frequency {
	case Monthly:
		if m == time.January {
			return fmt.Sprintf("%04d-12", y-1)
		}
		return fmt.Sprintf("%04d-%02d", y, int(m)-1)
	case Quarterly:
		q := (int(m)-1)/3 + 1 // the quarter run is in
		if q == 1 {
			return fmt.Sprintf("%04d-Q4", y-1)
		}
		return fmt.Sprintf("%04d-Q%d", y, q-1)
	case Annual:
		return fmt.Sprintf("%04d", y-1)
	}
	return ""
}

func orUTC(tz *time.Location) *time.Location {
	if tz == nil {
		return time.UTC
	}
	return tz
}

// next returns the first run strictly after `after`: it walks the calendar
// days of tz from after's local date and, on each day the schedule matches,
// the matching wall times in order.
func next(ss *cron.SpecSchedule, tz *time.Location, after time.Time) (time.Time, bool) {
	y, m, d := after.In(tz).Date()
	// Calendar arithmetic on UTC noons: no day is 23 or 25 hours long there.
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	limit := day.AddDate(searchYears, 0, 0)
	for ; !day.After(limit); day = day.AddDate(0, 0, 1) {
		if ss.Month&(1<<uint(day.Month())) == 0 {
			// Skip to the first of the next month.
			day = time.Date(day.Year(), day.Month()+1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			continue
		}
		if !dayMatches(ss, day) {
			continue
		}
		for h := 0; h < 24; h++ {
			if ss.Hour&(1<<uint(h)) == 0 {
				continue
			}
			for mi := 0; mi < 60; mi++ {
				if ss.Minute&(1<<uint(mi)) == 0 {
					continue
				}
				if t := wallInstant(day.Year(), day.Month(), day.Day(), h, mi, tz); t.After(after) {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}

// dayMatches is cron's day rule, as robfig/cron applies it: when either day
// field is "*" both must match, otherwise either.
func dayMatches(ss *cron.SpecSchedule, day time.Time) bool {
	dom := ss.Dom&(1<<uint(day.Day())) != 0
	dow := ss.Dow&(1<<uint(day.Weekday())) != 0
	if ss.Dom&starBit != 0 || ss.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

// wallInstant returns the first instant at which the wall clock of tz shows
// y-m-d h:mi, or, when the clocks jump over that time, the instant of the jump.
func wallInstant(y int, m time.Month, d, h, mi int, tz *time.Location) time.Time {
	want := time.Date(y, m, d, h, mi, 0, 0, time.UTC) // the wall time, as a comparable value
	t := time.Date(y, m, d, h, mi, 0, 0, tz)
	switch got := wall(t); {
	case got.After(want): // skipped; time.Date moved past the jump
		start, _ := t.ZoneBounds()
		return start
	case got.Before(want): // skipped; moved before the jump
		_, end := t.ZoneBounds()
		return end
	}
	// When the clocks went back, the wall time may also have occurred in the
	// previous zone period, earlier; time.Date does not say which it picks.
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		_, prevOffset := start.Add(-time.Nanosecond).Zone()
		earlier := want.Add(-time.Duration(prevOffset) * time.Second).In(tz)
		if earlier.Before(t) && wall(earlier).Equal(want) {
			return earlier
		}
	}
	return t
}

// wall is the wall clock reading of t, as a UTC time.
func wall(t time.Time) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, m, d, h, mi, s, t.Nanosecond(), time.UTC)
}
