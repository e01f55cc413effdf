package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/reports/template"
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/period"
	rulesstore "github.com/ledgerline/ledgerline/services/rules/store"
)

// Event is a stored event as lineage shows it.
type Event struct {
	Seq        uint64          `json:"seq"`
	RecordedAt time.Time       `json:"recorded_at"`
	SentBy     string          `json:"sent_by,omitempty"`
	Envelope   json.RawMessage `json:"envelope"`
}

// Events reads stored events: by seq, and by id (through the event index).
type Events interface {
	EventAt(ctx context.Context, seq uint64) (Event, error)
	EventByID(ctx context.Context, id string) (Event, error)
}

// LineageRules is what lineage needs of the rules service beyond figures.
type LineageRules interface {
	Contributions(ctx context.Context, r rules.FigureRequest, before uint64, limit int) ([]rules.ContributionRow, error)
	EventContributions(ctx context.Context, seq uint64) ([]rulesstore.EventContribution, error)
	LateChanges(ctx context.Context, r rules.FigureRequest, after, through uint64) (*rulesstore.LateChanges, error)
	LateContributions(ctx context.Context, r rules.FigureRequest, after uint64) ([]rulesstore.Row, error)
	FigureDefinition(ruleset string, version int, name string) (rulesstore.FigureDef, bool)
}

// SetLineage gives the service what lineage, impact and restatement read.
func (s *Service) SetLineage(r LineageRules, ev Events) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lineage, s.events = r, ev
}

func (s *Service) lineageDeps() (LineageRules, Events, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lineage == nil || s.events == nil {
		return nil, nil, fmt.Errorf("lineage is not wired in this process: %w", httpjson.ErrUnavailable)
	}
	return s.lineage, s.events, nil
}

// FigureNode is a figure behind a cell: how it is defined and what it came to;
// a derived figure lists the figures it was computed from, recursively.
type FigureNode struct {
	Name          string             `json:"figure"`
	Ruleset       string             `json:"ruleset"`
	Version       int                `json:"version"`
	Kind          string             `json:"kind"`
	Definition    json.RawMessage    `json:"definition,omitempty"` // the figure as onboarded: its CEL expressions
	Where         map[string]string  `json:"where,omitempty"`
	Value         string             `json:"value"`
	Currency      string             `json:"currency,omitempty"`
	Contributions int64              `json:"contributions"`
	Conversions   []rules.Conversion `json:"conversions,omitempty"`
	Inputs        []FigureNode       `json:"inputs,omitempty"`
}

// CellLineage is a reported amount traced to its figure.
type CellLineage struct {
	Filing   string     `json:"filing"`
	Template string     `json:"template"`
	Version  int        `json:"template_version"`
	Period   string     `json:"period"`
	AsOfSeq  uint64     `json:"as_of_seq"`
	Code     string     `json:"code"`
	Row      int        `json:"row,omitempty"` // the table row (1..), 0 for a cell
	Sheet    string     `json:"sheet"`
	At       string     `json:"at"`
	Label    string     `json:"label,omitempty"`
	Value    string     `json:"value"`    // as reported (rounded)
	Currency string     `json:"currency"` // the reporting currency
	Filter   any        `json:"filter"`   // the cell's where, or the row's dimension values
	Figure   FigureNode `json:"figure"`
}

// cellContext is a stored cell with what it takes to recompute its figure.
type cellContext struct {
	filing   store.Filing
	cell     store.CellRow
	template *template.Template
	period   period.Period
	loc      *time.Location
}

func (s *Service) cellContext(ctx context.Context, id, code string, row int) (cellContext, error) {
	f, err := s.store.FilingHead(ctx, id)
	if err != nil {
		return cellContext{}, err
	}
	c, err := s.store.Cell(ctx, id, code, row)
	if err != nil {
		return cellContext{}, err
	}
	t, err := s.templateVersion(ctx, f.Template, f.TemplateVersion)
	if err != nil {
		return cellContext{}, err
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return cellContext{}, err
	}
	p, err := period.Parse(f.Period, loc)
	if err != nil {
		return cellContext{}, err
	}
	return cellContext{filing: f, cell: c, template: t, period: p, loc: loc}, nil
}

func (c cellContext) request() rules.FigureRequest {
	return rules.FigureRequest{Name: c.cell.Figure, Period: c.filing.Period, Location: c.loc, AsOfSeq: c.filing.AsOfSeq,
		Currency: c.filing.Currency, Where: c.cell.Filter, Versions: c.filing.RuleVersions}
}

// lineageRequest reads the cell's contributions from the lineage stored with the filing.
func (c cellContext) lineageRequest() rules.FigureRequest {
	r := c.request()
	r.Filing = c.filing.ID
	return r
}

// Cell traces a filed amount (a cell, or row n of a table) to its figure at the
// filing's watermark with the rule set versions it used.
func (s *Service) Cell(ctx context.Context, id, code string, row int) (CellLineage, error) {
	return s.traceCell(ctx, id, code, row, func(ctx context.Context, c cellContext) (rules.Figure, error) {
		return s.rules.Figure(ctx, c.request())
	})
}

// traceCell is a filed amount traced to the figure that figure computes for it.
func (s *Service) traceCell(ctx context.Context, id, code string, row int,
	figure func(context.Context, cellContext) (rules.Figure, error)) (CellLineage, error) {
	lr, _, err := s.lineageDeps()
	if err != nil {
		return CellLineage{}, err
	}
	c, err := s.cellContext(ctx, id, code, row)
	if err != nil {
		return CellLineage{}, err
	}
	fig, err := figure(ctx, c)
	if err != nil {
		return CellLineage{}, fmt.Errorf("cell %s: %w", code, err)
	}
	return CellLineage{Filing: id, Template: c.filing.Template, Version: c.filing.TemplateVersion, Period: c.filing.Period,
		AsOfSeq: c.filing.AsOfSeq, Code: code, Row: row, Sheet: c.cell.Sheet, At: c.cell.At, Value: c.cell.Value,
		Currency: c.filing.Currency, Filter: nonNilMap(c.cell.Filter), Figure: node(lr, fig), Label: label(c.template, code)}, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// label is a cell's or table's label in the template version the filing used.
func label(t *template.Template, code string) string {
	for _, sh := range t.Sheets {
		for _, c := range sh.Cells {
			if c.Code == code {
				return c.Label
			}
		}
		for _, tb := range sh.Tables {
			if tb.Code == code {
				return tb.Label
			}
		}
	}
	return ""
}

func node(lr LineageRules, f rules.Figure) FigureNode {
	n := FigureNode{Name: f.Name, Ruleset: f.Ruleset, Version: f.Version, Kind: f.Kind, Where: f.Where, Value: f.Value,
		Currency: f.Currency, Contributions: f.Contributions, Conversions: f.Conversions}
	if def, ok := lr.FigureDefinition(f.Ruleset, f.Version, f.Name); ok {
		n.Definition = def.Definition
	}
	for _, in := range f.Inputs {
		n.Inputs = append(n.Inputs, node(lr, in))
	}
	return n
}

// Contribution is one event behind a cell.
type Contribution struct {
	rules.ContributionRow
	RecordedAt time.Time       `json:"recorded_at"`
	SentBy     string          `json:"sent_by,omitempty"`
	Event      json.RawMessage `json:"event"` // the full envelope, as stored
}

// ContributionPage is a page of a cell's contributions, newest seq first.
type ContributionPage struct {
	Filing        string         `json:"filing"`
	Code          string         `json:"code"`
	Row           int            `json:"row,omitempty"`
	Figure        string         `json:"figure"`
	AsOfSeq       uint64         `json:"as_of_seq"`
	Contributions []Contribution `json:"contributions"`
	// NextCursor asks for the next page ("" on the last one).
	NextCursor string `json:"next_cursor,omitempty"`
}

// CellContributions pages the events behind a filed amount, newest seq first:
// each with its full envelope, seq, recorded_at, the value it contributed and,
// converted, the fx rate event. cursor is a page's NextCursor ("" for the first).
func (s *Service) CellContributions(ctx context.Context, id, code string, row int, cursor string, limit int) (ContributionPage, error) {
	lr, ev, err := s.lineageDeps()
	if err != nil {
		return ContributionPage{}, err
	}
	var before uint64
	if cursor != "" {
		if before, err = strconv.ParseUint(cursor, 10, 64); err != nil || before == 0 {
			return ContributionPage{}, fmt.Errorf("cursor %q is not a page cursor of this API: %w", cursor, httpjson.ErrBadRequest)
		}
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	c, err := s.cellContext(ctx, id, code, row)
	if err != nil {
		return ContributionPage{}, err
	}
	rows, err := lr.Contributions(ctx, c.lineageRequest(), before, limit+1)
	if err != nil {
		return ContributionPage{}, fmt.Errorf("cell %s: %w", code, err)
	}
	page := ContributionPage{Filing: id, Code: code, Row: row, Figure: c.cell.Figure, AsOfSeq: c.filing.AsOfSeq, Contributions: []Contribution{}}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = strconv.FormatUint(rows[len(rows)-1].Seq, 10)
	}
	// The envelopes, read from the stream side by side: one round trip each.
	page.Contributions = make([]Contribution, len(rows))
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, r := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e, err := ev.EventAt(ctx, r.Seq)
			if err != nil {
				errs[i] = fmt.Errorf("event at seq %d: %w", r.Seq, err)
				return
			}
			page.Contributions[i] = Contribution{ContributionRow: r, RecordedAt: e.RecordedAt, SentBy: e.SentBy, Event: e.Envelope}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return ContributionPage{}, err
	}
	return page, nil
}

// FileCheck compares one file of a replay with the stored one.
type FileCheck struct {
	Format   string `json:"format"`
	Stored   string `json:"stored_sha256"`
	Replayed string `json:"replayed_sha256"`
	Matches  bool   `json:"matches"`
}

// CellDifference is the first amount that differs between two reports.
type CellDifference struct {
	Code   string `json:"code"`
	Row    int    `json:"row,omitempty"`
	Stored string `json:"stored"`
	Now    string `json:"replayed"`
}

// Replay is the answer to a replay.
type Replay struct {
	Filing       string          `json:"filing"`
	AsOfSeq      uint64          `json:"as_of_seq"`
	RuleVersions map[string]int  `json:"rule_versions"`
	Matches      bool            `json:"matches"` // every file's SHA-256 matches
	Files        []FileCheck     `json:"files"`
	Difference   *CellDifference `json:"first_difference,omitempty"`
	Took         string          `json:"took"`
}

// Replay re-derives every figure of a filing at its stored watermark with the
// rule set versions it used, renders it again and compares every file's SHA-256
// with the stored one; when they differ it names the first differing amount.
// It changes nothing.
func (s *Service) Replay(ctx context.Context, id string) (Replay, error) {
	start := time.Now()
	f, err := s.store.Filing(ctx, id)
	if err != nil {
		return Replay{}, err
	}
	st, err := s.store.Template(ctx, f.Template, f.TemplateVersion)
	if err != nil {
		return Replay{}, err
	}
	t, err := s.parse(st)
	if err != nil {
		return Replay{}, err
	}
	loc, _ := time.LoadLocation(t.Timezone)
	p, err := period.Parse(f.Period, loc)
	if err != nil {
		return Replay{}, err
	}
	// After a rebuild the rules replay the stream: wait (bounded) until they are
	// past the filing's watermark again.
	wctx, cancel := context.WithTimeout(ctx, s.cfg.RulesTimeout)
	err = s.rules.WaitFor(wctx, f.AsOfSeq)
	cancel()
	if err != nil {
		return Replay{}, fmt.Errorf("%w (seq %d): %v", ErrRulesBehind, f.AsOfSeq, err)
	}
	r, files, _, err := s.compute(ctx, st, t, p, f.AsOfSeq, f.RuleVersions)
	if err != nil {
		return Replay{}, fmt.Errorf("replay %s: %w", id, err)
	}
	out := Replay{Filing: id, AsOfSeq: f.AsOfSeq, RuleVersions: f.RuleVersions, Matches: true}
	stored := map[string]string{}
	for _, file := range f.Files {
		stored[file.Format] = file.SHA256
	}
	for _, file := range files {
		fc := FileCheck{Format: file.Format, Stored: stored[file.Format], Replayed: file.SHA256, Matches: stored[file.Format] == file.SHA256}
		out.Matches = out.Matches && fc.Matches
		out.Files = append(out.Files, fc)
	}
	if d := firstDifference(f.Report, r); d != nil {
		out.Matches, out.Difference = false, d
	}
	out.Took = time.Since(start).Round(time.Millisecond).String()
	s.log.Info("filing replayed", "filing_id", id, "as_of_seq", f.AsOfSeq, "matches", out.Matches, "took", out.Took)
	return out, nil
}

// amounts lists a report's amounts by key: the cell code, or the table code
// with the row's dimension values.
type amount struct {
	key   string
	code  string
	row   int
	sheet string
	at    string
	dims  map[string]string
	value decimal.Decimal
}

func amounts(r filing.Report) []amount {
	var out []amount
	for _, sh := range r.Sheets {
		for _, c := range sh.Cells {
			out = append(out, amount{key: c.Code, code: c.Code, sheet: sh.Name, at: c.At, value: c.Value})
		}
		for _, t := range sh.Tables {
			for i, row := range t.Rows {
				dims := map[string]string{}
				for d, name := range t.GroupBy {
					dims[name] = row.Dims[d]
				}
				out = append(out, amount{key: t.Code + "\x00" + strings.Join(row.Dims, "\x00"), code: t.Code, row: i + 1, sheet: sh.Name,
					at: rowValueCell(t, i), dims: dims, value: row.Value})
			}
		}
	}
	return out
}

func firstDifference(stored, now filing.Report) *CellDifference {
	a, b := amounts(stored), amounts(now)
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return &CellDifference{Code: b[i].code, Row: b[i].row, Stored: "(none)", Now: b[i].value.String()}
		case i >= len(b):
			return &CellDifference{Code: a[i].code, Row: a[i].row, Stored: a[i].value.String(), Now: "(none)"}
		case a[i].key != b[i].key || !a[i].value.Equal(b[i].value):
			return &CellDifference{Code: a[i].code, Row: a[i].row, Stored: a[i].value.String(), Now: b[i].value.String()}
		}
	}
	return nil
}

// LateEvent is an event known after a filing's watermark that changed an amount.
type LateEvent struct {
	ID     string `json:"id"`
	Seq    uint64 `json:"seq"`
	Type   string `json:"type,omitempty"`
	Effect string `json:"effect"` // contributes, or supersedes/voids/stops counting <event id>
}

// Change is one amount a restatement changed.
type Change struct {
	Code       string            `json:"code"`
	Row        int               `json:"row,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"` // a table row's
	Sheet      string            `json:"sheet"`
	At         string            `json:"at"`
	Old        string            `json:"old"`
	New        string            `json:"new"`
	Delta      string            `json:"delta"`
	Events     []LateEvent       `json:"events"`
}

// Restatement is an amended filing and its cell-by-cell difference from the original.
type Restatement struct {
	Original   string       `json:"original"`
	OldAsOfSeq uint64       `json:"original_as_of_seq"`
	NewAsOfSeq uint64       `json:"as_of_seq"`
	Amended    store.Filing `json:"amended"`
	Changes    []Change     `json:"changes"`
}

// Restate builds the same template version and period as a filing at the
// stream's current watermark (with the rule set versions in force now), stores
// it as an amended filing that references the original, and answers the
// difference: every changed amount with the events known after the original's
// watermark that caused it.
func (s *Service) Restate(ctx context.Context, id string, by auth.Principal) (Restatement, error) {
	lr, ev, err := s.lineageDeps()
	if err != nil {
		return Restatement{}, err
	}
	orig, err := s.store.Filing(ctx, id)
	if err != nil {
		return Restatement{}, err
	}
	st, err := s.store.Template(ctx, orig.Template, orig.TemplateVersion)
	if err != nil {
		return Restatement{}, err
	}
	t, err := s.parse(st)
	if err != nil {
		return Restatement{}, err
	}
	loc, _ := time.LoadLocation(t.Timezone)
	p, err := period.Parse(orig.Period, loc)
	if err != nil {
		return Restatement{}, err
	}
	last, err := s.rules.LastSeq(ctx)
	if err != nil {
		return Restatement{}, fmt.Errorf("event stream: %w: %w", err, httpjson.ErrUnavailable)
	}
	if last <= orig.AsOfSeq {
		return Restatement{}, fmt.Errorf("no event arrived after filing %s's watermark (seq %d): nothing to restate: %w", id, orig.AsOfSeq, httpjson.ErrConflict)
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.RulesTimeout)
	err = s.rules.WaitFor(wctx, last)
	cancel()
	if err != nil {
		return Restatement{}, fmt.Errorf("%w (seq %d): %v", ErrRulesBehind, last, err)
	}
	n, err := s.store.Amendments(ctx, id)
	if err != nil {
		return Restatement{}, err
	}
	amended, err := s.build(ctx, st, t, p, last, by, fmt.Sprintf("%s-r%d", id, n+1), id)
	if errors.Is(err, store.ErrExists) {
		return Restatement{}, fmt.Errorf("another restatement of %s was made at the same moment: ask again: %w", id, httpjson.ErrConflict)
	}
	if err != nil {
		return Restatement{}, err
	}
	out := Restatement{Original: id, OldAsOfSeq: orig.AsOfSeq, NewAsOfSeq: last, Amended: amended, Changes: []Change{}}
	specByCode := map[string]struct {
		figure string
		where  map[string]string
	}{}
	for _, sh := range t.Sheets {
		for _, c := range sh.Cells {
			specByCode[c.Code] = struct {
				figure string
				where  map[string]string
			}{c.Figure, c.Where}
		}
		for _, tb := range sh.Tables {
			specByCode[tb.Code] = struct {
				figure string
				where  map[string]string
			}{tb.Figure, nil}
		}
	}
	old := map[string]amount{}
	for _, a := range amounts(orig.Report) {
		old[a.key] = a
	}
	seen := map[string]bool{}
	late := newLateCache()
	emit := func(a amount, before, after decimal.Decimal) error {
		sp := specByCode[a.code]
		where := sp.where
		if a.dims != nil {
			where = a.dims
		}
		events, err := s.lateEvents(ctx, lr, ev, late, rules.FigureRequest{Name: sp.figure, Period: p.Text, Location: loc, AsOfSeq: last,
			Currency: t.ReportingCurrency, Where: where, Versions: amended.RuleVersions, Filing: amended.ID}, orig.AsOfSeq)
		if err != nil {
			return err
		}
		out.Changes = append(out.Changes, Change{Code: a.code, Row: a.row, Dimensions: a.dims, Sheet: a.sheet, At: a.at,
			Old: before.StringFixed(int32(amended.Report.Decimals)), New: after.StringFixed(int32(amended.Report.Decimals)),
			Delta: after.Sub(before).StringFixed(int32(amended.Report.Decimals)), Events: events})
		return nil
	}
	for _, a := range amounts(amended.Report) {
		seen[a.key] = true
		o, ok := old[a.key]
		if ok && o.value.Equal(a.value) {
			continue
		}
		if err := emit(a, o.value, a.value); err != nil {
			return Restatement{}, err
		}
	}
	for _, a := range amounts(orig.Report) {
		if !seen[a.key] { // a table row that is gone
			if err := emit(a, a.value, decimal.Zero); err != nil {
				return Restatement{}, err
			}
		}
	}
	s.recordChanges(ctx, amended.ID, out.Changes) // for the web console's difference page (difference.go)
	s.log.Info("filing restated", "filing_id", id, "amended", amended.ID, "changes", len(out.Changes))
	return out, nil
}

// lateCache keeps, for one restatement, what the late events did to each figure
// (rules.Service.LateContributions and LateChanges), read once and then
// filtered for each changed amount, and the type of each late event. Reading
// them per amount scanned a figure's contributions once per changed cell: an
// hour for 2,000 changes over 1,000,000 contributions. A restatement asks with
// the same rule versions and watermarks throughout.
type lateCache struct {
	rows    map[lateKey][]rulesstore.Row
	changes map[lateKey]*rulesstore.LateChanges
	types   map[uint64]string // by seq
}

type lateKey struct {
	figure, period string
	after, through uint64
}

func newLateCache() *lateCache {
	return &lateCache{rows: map[lateKey][]rulesstore.Row{}, changes: map[lateKey]*rulesstore.LateChanges{}, types: map[uint64]string{}}
}

// contributing are the late events that count for r's figure under r.Where.
func (l *lateCache) contributing(ctx context.Context, lr LineageRules, r rules.FigureRequest, after uint64) ([]LateEvent, error) {
	k := lateKey{r.Name, r.Period, after, r.AsOfSeq}
	rows, ok := l.rows[k]
	if !ok {
		var err error
		if rows, err = lr.LateContributions(ctx, r, after); err != nil {
			return nil, err
		}
		l.rows[k] = rows
	}
	var out []LateEvent
	for _, row := range rows {
		if rulesstore.Under(row.Dims, r.Where) {
			out = append(out, LateEvent{ID: row.EventID, Seq: row.Seq, Effect: "contributes"})
		}
	}
	return out, nil
}

// tookOut is what the late events took out of r's figure under r.Where.
func (l *lateCache) tookOut(ctx context.Context, lr LineageRules, r rules.FigureRequest, after uint64) ([]rulesstore.Supersession, error) {
	k := lateKey{r.Name, r.Period, after, r.AsOfSeq}
	lc, ok := l.changes[k]
	if !ok {
		var err error
		if lc, err = lr.LateChanges(ctx, r, after, r.AsOfSeq); err != nil {
			return nil, err
		}
		l.changes[k] = lc
	}
	return lc.Under(r.Where), nil
}

// typeOf is the type of the event at seq.
func (l *lateCache) typeOf(ctx context.Context, ev Events, seq uint64) (string, error) {
	if t, ok := l.types[seq]; ok {
		return t, nil
	}
	e, err := ev.EventAt(ctx, seq)
	if err != nil {
		return "", err
	}
	var head struct{ Type string }
	_ = json.Unmarshal(e.Envelope, &head)
	l.types[seq] = head.Type
	return head.Type, nil
}

// lateEvents are the events with seq above after behind a figure under a
// filter: those contributing now, and the corrections and voids that took an
// earlier contribution out.
func (s *Service) lateEvents(ctx context.Context, lr LineageRules, ev Events, late *lateCache, r rules.FigureRequest, after uint64) ([]LateEvent, error) {
	out := []LateEvent{}
	kind, _, _ := s.rules.FigureInfo(r.Name)
	if kind == "derived" {
		// A derived amount changed because its inputs did: their late events.
		f, err := s.rules.Figure(ctx, r)
		if err != nil {
			return nil, err
		}
		seen := map[LateEvent]bool{}
		for _, in := range f.Inputs {
			ir := r
			ir.Name, ir.Where = in.Name, in.Where
			evs, err := s.lateEvents(ctx, lr, ev, late, ir, after)
			if err != nil {
				return nil, err
			}
			for _, e := range evs {
				if !seen[e] {
					seen[e] = true
					out = append(out, e)
				}
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
		return out, nil
	}
	contributing, err := late.contributing(ctx, lr, r, after)
	if err != nil {
		return nil, err
	}
	out = append(out, contributing...)
	sup, err := late.tookOut(ctx, lr, r, after)
	if err != nil {
		return nil, err
	}
	for _, sp := range sup {
		effect := "supersedes " + sp.Superseded
		if sp.StopsCounting {
			effect = "stops counting " + sp.Superseded
		}
		out = append(out, LateEvent{ID: sp.By, Seq: sp.BySeq, Effect: effect})
	}
	for i := range out {
		typ, err := late.typeOf(ctx, ev, out[i].Seq)
		if err != nil {
			return nil, err
		}
		out[i].Type = typ
		if typ == "void" {
			out[i].Effect = strings.Replace(out[i].Effect, "supersedes", "voids", 1)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	// An event that contributes and supersedes (a correction) is listed once, as the correction.
	dedup := out[:0]
	for i, e := range out {
		if i > 0 && out[i-1].Seq == e.Seq {
			if e.Effect != "contributes" {
				dedup[len(dedup)-1] = e
			}
			continue
		}
		dedup = append(dedup, e)
	}
	return dedup, nil
}

// ImpactedCell is a filed amount an event is behind (or would be).
type ImpactedCell struct {
	Filing  string            `json:"filing"`
	Period  string            `json:"period"`
	AsOfSeq uint64            `json:"as_of_seq"`
	Code    string            `json:"code"`
	Row     int               `json:"row,omitempty"`
	At      string            `json:"at"`
	Figure  string            `json:"figure"`
	Filter  map[string]string `json:"filter"`
	Value   string            `json:"value"`
}

// Impact is what an event contributed to, and what it would change.
type Impact struct {
	Event         string                         `json:"event"`
	Seq           uint64                         `json:"seq"`
	Contributions []rulesstore.EventContribution `json:"contributions"`
	// Cells are the filed amounts it contributed to: filings at or after its seq.
	Cells []ImpactedCell `json:"cells"`
	// WouldChange are filed amounts of filings made before it arrived (a late
	// event) whose period it falls in: a restatement would include it.
	WouldChange []ImpactedCell `json:"would_change"`
}

// Impact lists every figure an event contributed to, every filed cell it is
// behind, and the cells of earlier filings it would change if they were made now.
func (s *Service) Impact(ctx context.Context, eventID string) (Impact, error) {
	out, err := s.eventContributions(ctx, eventID)
	if err != nil {
		return Impact{}, err
	}
	cs := out.Contributions
	figures := map[string][]rulesstore.EventContribution{}
	for _, c := range cs {
		figures[c.Figure] = append(figures[c.Figure], c)
	}
	names := make([]string, 0, len(figures))
	for n := range figures {
		names = append(names, n)
	}
	cells, err := s.store.CellsOfFigures(ctx, names)
	if err != nil {
		return Impact{}, err
	}
	periods := map[string]period.Period{}
	for _, fc := range cells {
		for _, c := range figures[fc.Cell.Figure] {
			if !within(c.Dims, fc.Cell.Filter) {
				continue
			}
			key := fc.Template + "\x00" + fc.Period
			p, ok := periods[key]
			if !ok {
				if p, err = s.filingPeriod(ctx, fc); err != nil {
					return Impact{}, err
				}
				periods[key] = p
			}
			if !counts(c, s.kind(c.Figure), p) {
				continue
			}
			out.add(fc)
			break
		}
	}
	return out, nil
}

// eventContributions is an event's Impact with its contributions and no cells yet.
func (s *Service) eventContributions(ctx context.Context, eventID string) (Impact, error) {
	lr, ev, err := s.lineageDeps()
	if err != nil {
		return Impact{}, err
	}
	e, err := ev.EventByID(ctx, eventID)
	if err != nil {
		return Impact{}, err
	}
	cs, err := lr.EventContributions(ctx, e.Seq)
	if err != nil {
		return Impact{}, err
	}
	out := Impact{Event: eventID, Seq: e.Seq, Contributions: cs, Cells: []ImpactedCell{}, WouldChange: []ImpactedCell{}}
	if out.Contributions == nil {
		out.Contributions = []rulesstore.EventContribution{}
	}
	return out, nil
}

// add files a filed amount under Cells (a filing at or after the event's seq)
// or WouldChange (an earlier filing: a restatement would include the event).
func (im *Impact) add(fc store.FiledCell) {
	ic := ImpactedCell{Filing: fc.FilingID, Period: fc.Period, AsOfSeq: fc.AsOfSeq, Code: fc.Cell.Code, Row: fc.Cell.Row,
		At: fc.Cell.At, Figure: fc.Cell.Figure, Filter: nonNilMap(fc.Cell.Filter), Value: fc.Cell.Value}
	if fc.AsOfSeq >= im.Seq {
		im.Cells = append(im.Cells, ic)
	} else {
		im.WouldChange = append(im.WouldChange, ic)
	}
}

func (s *Service) kind(figure string) string {
	k, _, _ := s.rules.FigureInfo(figure)
	return k
}

func (s *Service) filingPeriod(ctx context.Context, fc store.FiledCell) (period.Period, error) {
	t, err := s.templateVersion(ctx, fc.Template, fc.TemplateVersion)
	if err != nil {
		return period.Period{}, err
	}
	loc, _ := time.LoadLocation(t.Timezone)
	return period.Parse(fc.Period, loc)
}

// within reports whether a contribution's dimensions pass a cell's filter.
func within(dims, filter map[string]string) bool {
	for k, v := range filter {
		if dims[k] != v {
			return false
		}
	}
	return true
}

// counts reports whether a contribution falls in a filing's period by its
// figure's kind (stock and cumulative: before the period end; flow: inside it;
// an adjustment: for exactly that period).
func counts(c rulesstore.EventContribution, kind string, p period.Period) bool {
	if c.AdjPeriod != "" {
		return c.AdjPeriod == p.Text
	}
	if kind == "flow" {
		return p.Contains(c.OccurredAt)
	}
	return c.OccurredAt.Before(p.End)
}
