package csvmap

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

var decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// decimal normalises a decimal written with the mapping's separators to the
// envelope's form ("-1234.56"). Digits are never changed, only separators, so
// the value stays exact. Thousands separators must sit between groups of three
// digits: "1234,56" read with decimal_comma: false is an error, not 123456.
func (m *Mapping) decimal(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, string(m.decimalSep))
	if m.thousands != "" && strings.Contains(intPart, m.thousands) {
		groups := strings.Split(intPart, m.thousands)
		for i, g := range groups {
			if (i == 0 && (len(g) < 1 || len(g) > 3)) || (i > 0 && len(g) != 3) {
				return "", fmt.Errorf("invalid decimal %q: thousands separator %q must separate groups of three digits%s", raw, m.thousands, m.separatorHint(raw))
			}
		}
		intPart = strings.Join(groups, "")
	}
	out := sign + intPart
	if hasFrac {
		out += "." + frac
	}
	if !decimalRE.MatchString(out) {
		return "", fmt.Errorf("invalid decimal %q: want digits with an optional leading \"-\" and decimal %s%s", raw, m.separatorName(), m.separatorHint(raw))
	}
	return out, nil
}

func (m *Mapping) separatorName() string {
	if m.decimalSep == ',' {
		return `comma ","`
	}
	return `point "."`
}

// separatorHint points at decimal_comma when the value looks like it was
// written in the other convention, the usual cause of these errors.
func (m *Mapping) separatorHint(raw string) string {
	if m.decimalSep == '.' && strings.Contains(raw, ",") {
		return ` (if the file writes 1.234,56 set decimal_comma: true)`
	}
	if m.decimalSep == ',' && strings.Contains(raw, ".") && !strings.Contains(raw, ",") {
		return ` (decimal_comma is true: the decimal separator is ",")`
	}
	return ""
}

// integer parses a whole number without ever going through a float.
func integer(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return "", fmt.Errorf("integer %q out of range", raw)
		}
		return "", fmt.Errorf("invalid integer %q", raw)
	}
	return strconv.FormatInt(n, 10), nil
}

func boolean(raw string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "true", "yes", "y", "1":
		return "true", nil
	case "false", "no", "n", "0":
		return "false", nil
	}
	return "", fmt.Errorf("invalid boolean %q: want true/false, yes/no, y/n or 1/0", raw)
}

// Built-in occurred_at forms without an offset; RFC 3339 is tried first.
const (
	localDateTime = "2006-01-02T15:04:05" // also accepts fractional seconds
	localDate     = "2006-01-02"
)

// occurred returns the rendered occurred_at as an RFC 3339 UTC timestamp.
func (m *Mapping) occurred(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	var (
		wall     time.Time // wall clock in the mapping's timezone, held as UTC
		dateOnly bool
	)
	if m.occurredAtFormat != "" {
		t, err := time.ParseInLocation(m.occurredAtFormat, s, time.UTC)
		if err != nil {
			return "", fmt.Errorf("%q does not match occurred_at_format %q", raw, m.occurredAtFormat)
		}
		if t2, err := time.ParseInLocation(m.occurredAtFormat, s, probeZone); err == nil && t.Equal(t2) {
			// The value carries its own offset. Parse again in the
			// mapping's zone so that abbreviations like CET resolve there.
			if m.loc != nil {
				t, _ = time.ParseInLocation(m.occurredAtFormat, s, m.loc)
			}
			return formatUTC(t), nil
		}
		wall, dateOnly = t, m.formatDateOnly
	} else {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return formatUTC(t), nil
		}
		if t, err := time.Parse(localDateTime, s); err == nil {
			wall = t
		} else if t, err := time.Parse(localDate, s); err == nil {
			wall, dateOnly = t, true
		} else {
			return "", fmt.Errorf("invalid time %q: want RFC 3339 (2006-01-02T15:04:05Z or +01:00), a local date-time 2006-01-02T15:04:05 or a date 2006-01-02, or set occurred_at_format", raw)
		}
	}
	if m.loc == nil {
		return "", fmt.Errorf("time %q has no UTC offset and the mapping sets no timezone", raw)
	}
	t, err := inZone(wall, m.loc, dateOnly)
	if err != nil {
		return "", fmt.Errorf("time %q: %w", raw, err)
	}
	return formatUTC(t), nil
}

func formatUTC(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// inZone finds the instant at which loc's clocks show wall (held as UTC).
// time.Date silently picks one answer when clocks jump; a filing must not
// depend on that choice, so a local time skipped or repeated by a daylight
// saving change is an error, except for a bare date, which means the first
// instant of that day.
func inZone(wall time.Time, loc *time.Location, dateOnly bool) (time.Time, error) {
	// Every offset loc uses within a day of wall; real zones change offset
	// at most once in that span.
	var offsets []int
	for _, probe := range []time.Time{wall.Add(-24 * time.Hour), wall, wall.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		if len(offsets) == 0 || offsets[len(offsets)-1] != off {
			offsets = append(offsets, off)
		}
	}
	var found []time.Time
	for _, off := range offsets {
		t := wall.Add(-time.Duration(off) * time.Second)
		if wallClock(t.In(loc)).Equal(wall) {
			found = append(found, t)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Before(found[j]) })
	switch {
	case len(found) == 1, len(found) > 1 && dateOnly:
		return found[0], nil
	case len(found) == 0 && dateOnly:
		// Midnight was skipped: the day starts when the clocks jump,
		// which is wall read with the offset in force before the jump.
		return wall.Add(-time.Duration(offsets[0]) * time.Second), nil
	case len(found) == 0:
		return time.Time{}, fmt.Errorf("local time does not exist in %s (clocks go forward); give an explicit UTC offset", loc)
	default:
		return time.Time{}, fmt.Errorf("local time occurs twice in %s (clocks go back); give an explicit UTC offset", loc)
	}
}

// wallClock returns t's wall clock reading as a UTC time.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}
