// Package consumer runs the rule sets over the event stream.
//
// Every rule set version has its own durable pull consumers, one per partition
// (buckets b with b mod N = i of the subject scheme), all starting at the first
// event: a new version is backfilled by the very code that keeps it live, and a
// rebuild is the same replay after the projections were dropped. A batch's
// contributions and the partition's new position are committed in one PostgreSQL
// transaction and acknowledged to JetStream only afterwards, so redelivery after a
// crash finds the position past it and changes nothing. A PostgreSQL advisory lock
// per partition lets any number of processes share the partitions: one works a
// partition at a time, another takes over when its session ends.
package consumer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/ledgerline/ledgerline/services/rules/ruleset"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

// Version is a compiled rule set version the consumers evaluate.
type Version struct {
	Name    string
	Number  int
	Figures []ruleset.Figure // the figures computed from events (not derived)
	owns    map[string]bool  // every figure of the version, for adjustments
	// concerns[i] says which event types figure i concerns: for a stock figure,
	// an event of one of them that `when` does not match still becomes the
	// subject's latest event, and is written as a tombstone.
	concerns []concern
}

// concern is what a figure's event types are for its tombstones.
type concern struct {
	stock bool     // flow and cumulative figures have no latest event: no tombstones
	all   bool     // `when` does not say which types it matches: every type
	types []string // else these (sorted)
}

func (c concern) of(typ string) bool {
	return c.stock && (c.all || slices.Contains(c.types, typ))
}

// NewVersion keeps the figures of rs that are computed from events.
func NewVersion(name string, number int, rs *ruleset.RuleSet) *Version {
	v := &Version{Name: name, Number: number, owns: map[string]bool{}}
	for _, f := range rs.Figures {
		v.owns[f.Name] = f.Kind != ruleset.KindDerived
		if f.Kind != ruleset.KindDerived {
			// Dimensions in name order: a contribution's dimensions come out sorted.
			f.Dimensions = slices.Clone(f.Dimensions)
			slices.SortFunc(f.Dimensions, func(a, b ruleset.Dimension) int { return strings.Compare(a.Name, b.Name) })
			v.Figures = append(v.Figures, f)
			types, known := f.WhenProg.EventTypes()
			v.concerns = append(v.concerns, concern{stock: f.Kind == ruleset.KindStock, all: !known, types: types})
		}
	}
	return v
}

// envelopeFields are what fx rates and adjustments read of an envelope.
type envelopeFields struct {
	ID         string
	Subject    string
	OccurredAt time.Time
	Data       json.RawMessage `json:"data"`
}

// Evaluate applies the version's rules to one stored event, appending what it
// produces to b. A rule that fails is recorded as a failure; the others go on.
func (v *Version) Evaluate(seq uint64, raw []byte, b *store.Batch) {
	ev, err := celenv.NewEvent(raw)
	if err != nil {
		b.Failures = append(b.Failures, v.failure("*", "event", "", seq, fmt.Errorf("stored event is not an envelope: %w", err)))
		return
	}
	if sup := ev.Supersedes(); sup != "" {
		b.Supersessions = append(b.Supersessions, store.Supersession{Superseded: sup, By: ev.ID(), BySeq: seq})
	}
	switch ev.Type() {
	case "fx.rate", "adjustment":
		env := envelopeFields{ID: ev.ID(), Subject: ev.Subject(), OccurredAt: ev.OccurredAt()}
		if err := json.Unmarshal(raw, &env); err != nil {
			b.Failures = append(b.Failures, v.failure("*", ev.Type(), ev.ID(), seq, err))
			return
		}
		if ev.Type() == "fx.rate" {
			v.fxRate(seq, env, b)
		} else {
			v.adjustment(seq, env, b)
		}
		return
	case "void":
		return
	}
	for i := range v.Figures {
		f := &v.Figures[i]
		ok, err := f.WhenProg.Bool(ev)
		if err != nil {
			b.Failures = append(b.Failures, v.failure(f.Name, "when", ev.ID(), seq, err))
			continue
		}
		if !ok {
			if v.concerns[i].of(ev.Type()) {
				b.Contributions = append(b.Contributions, v.tombstone(f, ev, seq))
			}
			continue
		}
		c := store.Contribution{Ruleset: v.Name, Version: v.Number, Figure: f.Name, EventID: ev.ID(), Seq: seq,
			OccurredAt: ev.OccurredAt(), Subject: ev.Subject(), Dims: make([]store.Dim, len(f.Dimensions))}
		failed := false
		for j, d := range f.Dimensions {
			val, err := d.Program.String(ev)
			if err != nil {
				b.Failures = append(b.Failures, v.failure(f.Name, "dimensions."+d.Name, ev.ID(), seq, err))
				failed = true
				break
			}
			c.Dims[j] = store.Dim{Name: d.Name, Value: val}
		}
		if failed {
			continue
		}
		if c.Value, err = f.ValueProg.Decimal(ev); err != nil {
			b.Failures = append(b.Failures, v.failure(f.Name, "value", ev.ID(), seq, err))
			continue
		}
		if f.CurrencyProg != nil {
			if c.Currency, err = f.CurrencyProg.String(ev); err != nil {
				b.Failures = append(b.Failures, v.failure(f.Name, "currency", ev.ID(), seq, err))
				continue
			}
		}
		b.Contributions = append(b.Contributions, c)
	}
}

// tombstone is the row of an event that a stock figure concerns but whose
// `when` is false: the subject's latest event says it no longer counts. It has
// value 0, no currency, and the dimensions that evaluate on the event (a
// dimension that fails is left out, not recorded as a failure: the rule did not
// match), so that lineage filtered by dimension finds it.
func (v *Version) tombstone(f *ruleset.Figure, ev *celenv.Event, seq uint64) store.Contribution {
	c := store.Contribution{Ruleset: v.Name, Version: v.Number, Figure: f.Name, EventID: ev.ID(), Seq: seq,
		OccurredAt: ev.OccurredAt(), Subject: ev.Subject(), Value: decimal.Zero, StopsCounting: true}
	for _, d := range f.Dimensions {
		if val, err := d.Program.String(ev); err == nil {
			c.Dims = append(c.Dims, store.Dim{Name: d.Name, Value: val})
		}
	}
	return c
}

func (v *Version) failure(figure, field, id string, seq uint64, err error) store.Failure {
	return store.Failure{Ruleset: v.Name, Version: v.Number, Figure: figure, Field: field, EventID: id, Seq: seq, Error: err.Error()}
}

func (v *Version) fxRate(seq uint64, env envelopeFields, b *store.Batch) {
	var d struct{ Base, Quote, Rate string }
	if err := json.Unmarshal(env.Data, &d); err != nil {
		b.Failures = append(b.Failures, v.failure("*", "fx.rate", env.ID, seq, err))
		return
	}
	rate, err := decimal.NewFromString(d.Rate)
	if err != nil || !rate.IsPositive() {
		b.Failures = append(b.Failures, v.failure("*", "fx.rate", env.ID, seq, fmt.Errorf("rate %q is not a positive decimal", d.Rate)))
		return
	}
	b.FXRates = append(b.FXRates, store.FXRate{EventID: env.ID, Seq: seq, OccurredAt: env.OccurredAt, Base: d.Base, Quote: d.Quote, Rate: rate})
}

// adjustment turns a manual adjustment of one of this version's figures into a
// contribution for exactly its period.
func (v *Version) adjustment(seq uint64, env envelopeFields, b *store.Batch) {
	var d struct {
		Figure     string            `json:"figure"`
		Dimensions map[string]string `json:"dimensions"`
		Value      string            `json:"value"`
		Currency   string            `json:"currency"`
		Period     string            `json:"period"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		b.Failures = append(b.Failures, v.failure("*", "adjustment", env.ID, seq, err))
		return
	}
	fromEvents, ok := v.owns[d.Figure]
	if !ok {
		return // a figure of another rule set
	}
	if !fromEvents {
		b.Failures = append(b.Failures, v.failure(d.Figure, "adjustment", env.ID, seq, fmt.Errorf("figure %s is derived; adjust the figures it is computed from", d.Figure)))
		return
	}
	val, err := decimal.NewFromString(d.Value)
	if err != nil {
		b.Failures = append(b.Failures, v.failure(d.Figure, "adjustment", env.ID, seq, fmt.Errorf("value %q is not a decimal", d.Value)))
		return
	}
	b.Contributions = append(b.Contributions, store.Contribution{Ruleset: v.Name, Version: v.Number, Figure: d.Figure,
		Dims: store.SortedDims(d.Dimensions), Value: val, Currency: d.Currency, EventID: env.ID, Seq: seq, OccurredAt: env.OccurredAt,
		Subject: env.Subject, AdjPeriod: d.Period})
}
