package demobank

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Dataset is one generated data set.
type Dataset struct {
	// Events are NDJSON lines (without the newline) in the order the bank's
	// systems send them.
	Events [][]byte
	// Late are sent after the filings: the late correction of a loan of the top
	// large-exposure group and an audit adjustment, both inside the period, that
	// force a restatement.
	Late [][]byte
	// Invalid are the indexes into Events of the lines meant to be refused.
	Invalid []int
	Summary Summary
}

// Generate builds the data set that o describes, in memory.
func Generate(o Options) (Dataset, error) {
	var ds Dataset
	var arena []byte
	keep := func(line []byte) []byte {
		if cap(arena)-len(arena) < len(line) {
			arena = make([]byte, 0, max(1<<20, len(line)))
		}
		n := len(arena)
		arena = append(arena, line...)
		return arena[n:len(arena):len(arena)]
	}
	sum, err := run(o, func(p plan) { ds.Events = make([][]byte, 0, len(p.events)) },
		func(line []byte, _ bool) error {
			ds.Events = append(ds.Events, keep(line))
			return nil
		},
		func(line []byte) error {
			ds.Late = append(ds.Late, keep(line))
			return nil
		})
	if err != nil {
		return Dataset{}, err
	}
	for _, inv := range sum.Invalids {
		ds.Invalid = append(ds.Invalid, inv.Index)
	}
	ds.Summary = sum
	return ds, nil
}

// Write streams the data set that o describes without holding it: Events as
// NDJSON to events and, when late is not nil, Dataset.Late to late. progress, when
// not nil, is called now and then with the number of events written so far and
// the total.
func Write(o Options, events, late io.Writer, progress func(done, total int)) (Summary, error) {
	ew := bufio.NewWriterSize(events, 1<<20)
	var lw *bufio.Writer
	if late != nil {
		lw = bufio.NewWriter(late)
	}
	total, done := 0, 0
	line := func(w *bufio.Writer, b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		return w.WriteByte('\n')
	}
	sum, err := run(o, func(p plan) { total = len(p.events) },
		func(b []byte, _ bool) error {
			done++
			if progress != nil && done%20000 == 0 {
				progress(done, total)
			}
			return line(ew, b)
		},
		func(b []byte) error {
			if lw == nil {
				return nil
			}
			return line(lw, b)
		})
	if err != nil {
		return Summary{}, err
	}
	if progress != nil {
		progress(done, total)
	}
	if err := ew.Flush(); err != nil {
		return Summary{}, err
	}
	if lw != nil {
		if err := lw.Flush(); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// run builds the model, plans the events and renders them in order.
func run(o Options, planned func(plan), event func(line []byte, invalid bool) error, late func(line []byte) error) (Summary, error) {
	b, err := build(o)
	if err != nil {
		return Summary{}, err
	}
	p := b.schedule()
	planned(p)
	sum := b.summarize(p)
	buf := make([]byte, 0, 1024)
	for n, r := range p.events {
		buf = b.render(buf[:0], r)
		if r.k == kInvalid {
			inv := b.sp.invalid[r.i]
			sum.Invalids = append(sum.Invalids, Invalid{Index: n, ID: eventID(buf), What: inv.what})
		}
		if err := event(buf, r.k == kInvalid); err != nil {
			return Summary{}, err
		}
	}
	for _, r := range p.late {
		buf = b.render(buf[:0], r)
		sum.LateIDs = append(sum.LateIDs, eventID(buf))
		if err := late(buf); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// eventID reads the id of a rendered event.
func eventID(line []byte) string {
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		panic(fmt.Sprintf("demobank: rendered an event that is not JSON: %v: %s", err, line))
	}
	return e.ID
}
