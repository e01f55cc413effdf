package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/reports/template"
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/period"
)

// DiffRow is one amount of an amended filing beside the original's: a cell,
// or a table row matched by its dimension values.
type DiffRow struct {
	Code       string
	Row        int               // the table row (1..) in the amended filing, or in the original for a row that is gone; 0 for a cell
	Dimensions map[string]string // a table row's
	Sheet      string
	At         string
	Label      string
	Old        string // "" when the original has no such amount
	New        string // "" when the amended filing has no such amount
	Delta      string
	Changed    bool
	// Events are the late events behind a changed amount (those known after
	// the original's watermark), read only for the rows of the page asked.
	Events []LateEvent
}

// Difference is an amended filing compared with the original it amends,
// amount by amount: what a restatement answered when it was made, asked again
// at any time later from the two stored filings.
type Difference struct {
	Original   string
	Amended    string
	OldAsOfSeq uint64
	NewAsOfSeq uint64
	Currency   string
	Rows       []DiffRow // the page asked
	Total      int       // amounts compared (after the changed-only filter)
	Changed    int       // amounts that differ
	Offset     int
}

// Difference compares the amended filing id with its original: every amount of
// both (or only the changed ones), a page of limit from offset, each changed
// amount of the page with the late events that changed it.
//
// Both filings are records that never change, and so are the late events
// recorded with a restatement: the comparison is kept for the next pages (a
// large filing's two reports are megabytes of JSON to read and compare).
func (s *Service) Difference(ctx context.Context, id string, changedOnly bool, offset, limit int) (Difference, error) {
	lr, ev, err := s.lineageDeps()
	if err != nil {
		return Difference{}, err
	}
	cmp, err := s.comparison(ctx, id)
	if err != nil {
		return Difference{}, err
	}
	out := cmp.head
	out.Offset, out.Rows = offset, []DiffRow{}
	var rows []DiffRow
	for _, r := range cmp.rows {
		if r.Changed || !changedOnly {
			rows = append(rows, r)
		}
	}
	out.Total = len(rows)
	if limit <= 0 {
		limit = 100
	}
	offset = min(max(offset, 0), len(rows))
	rows = slices.Clone(rows[offset:min(offset+limit, len(rows))])
	if !cmp.recorded {
		// A restatement made before the late events were recorded: trace them now.
		late := newLateCache()
		for i := range rows {
			if !rows[i].Changed {
				continue
			}
			f := cmp.figures[rows[i].Code]
			where := f.where
			if rows[i].Dimensions != nil {
				where = rows[i].Dimensions
			}
			events, err := s.lateEvents(ctx, lr, ev, late, rules.FigureRequest{Name: f.figure, Period: cmp.period.Text, Location: cmp.loc,
				AsOfSeq: out.NewAsOfSeq, Currency: out.Currency, Where: where, Versions: cmp.versions, Filing: out.Amended}, out.OldAsOfSeq)
			if err != nil {
				return Difference{}, fmt.Errorf("late events of %s: %w", rows[i].Code, err)
			}
			rows[i].Events = events
		}
	}
	out.Rows = rows
	return out, nil
}

// comparison is an amended filing compared with its original, amount by
// amount, with the recorded late events of each change.
type comparison struct {
	head     Difference // without rows
	rows     []DiffRow
	recorded bool // the events are in rows; else they are traced page by page
	figures  map[string]cellFigure
	period   period.Period
	loc      *time.Location
	versions map[string]int
}

// comparisons keeps the last few comparisons, by service and amended filing.
var comparisons = struct {
	sync.Mutex
	byKey map[comparisonKey]*comparison
	order []comparisonKey
}{byKey: map[comparisonKey]*comparison{}}

type comparisonKey struct {
	s  *Service
	id string
}

func (s *Service) comparison(ctx context.Context, id string) (*comparison, error) {
	key := comparisonKey{s, id}
	comparisons.Lock()
	c, ok := comparisons.byKey[key]
	comparisons.Unlock()
	if ok {
		return c, nil
	}
	c, err := s.compare(ctx, id)
	if err != nil || (!c.recorded && c.head.Changed > 0) {
		return c, err // without a record (yet), it is compared again next time
	}
	comparisons.Lock()
	defer comparisons.Unlock()
	if _, ok := comparisons.byKey[key]; !ok {
		comparisons.order = append(comparisons.order, key)
	}
	comparisons.byKey[key] = c
	for len(comparisons.order) > 8 {
		delete(comparisons.byKey, comparisons.order[0])
		comparisons.order = comparisons.order[1:]
	}
	return c, nil
}

func (s *Service) compare(ctx context.Context, id string) (*comparison, error) {
	amended, err := s.store.Filing(ctx, id)
	if err != nil {
		return nil, err
	}
	if amended.Amends == "" {
		return nil, fmt.Errorf("filing %s is an original, not a restatement: it has no difference to show: %w", id, httpjson.ErrNotFound)
	}
	orig, err := s.store.Filing(ctx, amended.Amends)
	if err != nil {
		return nil, err
	}
	t, err := s.templateVersion(ctx, amended.Template, amended.TemplateVersion)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return nil, err
	}
	p, err := period.Parse(amended.Period, loc)
	if err != nil {
		return nil, err
	}
	dec := int32(amended.Report.Decimals)
	labels := map[string]string{}
	for _, sh := range t.Sheets {
		for _, c := range sh.Cells {
			labels[c.Code] = c.Label
		}
		for _, tb := range sh.Tables {
			labels[tb.Code] = tb.Label
		}
	}
	old := map[string]amount{}
	for _, a := range amounts(orig.Report) {
		old[a.key] = a
	}
	var all []DiffRow
	seen := map[string]bool{}
	for _, a := range amounts(amended.Report) {
		seen[a.key] = true
		r := DiffRow{Code: a.code, Row: a.row, Dimensions: a.dims, Sheet: a.sheet, At: a.at, Label: labels[a.code], New: a.value.StringFixed(dec)}
		o, ok := old[a.key]
		before := decimal.Zero
		if ok {
			r.Old, before = o.value.StringFixed(dec), o.value
		}
		r.Changed = !ok || !o.value.Equal(a.value)
		r.Delta = a.value.Sub(before).StringFixed(dec)
		all = append(all, r)
	}
	for _, a := range amounts(orig.Report) {
		if !seen[a.key] { // a table row that is gone
			all = append(all, DiffRow{Code: a.code, Row: a.row, Dimensions: a.dims, Sheet: a.sheet, At: a.at, Label: labels[a.code],
				Old: a.value.StringFixed(dec), Delta: a.value.Neg().StringFixed(dec), Changed: true})
		}
	}
	recorded, haveRecord, err := s.store.Changes(ctx, amended.ID)
	if err != nil {
		return nil, err
	}
	c := &comparison{head: Difference{Original: orig.ID, Amended: amended.ID, OldAsOfSeq: orig.AsOfSeq, NewAsOfSeq: amended.AsOfSeq,
		Currency: amended.Currency}, rows: all, recorded: haveRecord, figures: figuresByCode(t), period: p, loc: loc, versions: amended.RuleVersions}
	for i := range c.rows {
		if c.rows[i].Changed {
			c.head.Changed++
		}
		if !haveRecord || !c.rows[i].Changed {
			continue
		}
		c.rows[i].Events = []LateEvent{} // Restate recorded every changed amount
		if doc, ok := recorded[amountKey(c.rows[i].Code, c.rows[i].Dimensions)]; ok {
			if err := json.Unmarshal(doc, &c.rows[i].Events); err != nil {
				return nil, fmt.Errorf("recorded late events of %s: %w", c.rows[i].Code, err)
			}
		}
	}
	return c, nil
}

// amountKey names an amount of a filing across versions: the cell code, or
// the table code with the row's dimension values (a row's number may change).
func amountKey(code string, dims map[string]string) string {
	if len(dims) == 0 {
		return code
	}
	doc, _ := json.Marshal(dims) // keys sorted
	return code + " " + string(doc)
}

// recordChanges stores the late events behind each change of a restatement
// with the amended filing, for the difference page to read later; a failure
// costs only speed (the page traces them again), so it is logged.
func (s *Service) recordChanges(ctx context.Context, amended string, changes []Change) {
	docs := make(map[string]json.RawMessage, len(changes))
	for _, c := range changes {
		doc, err := json.Marshal(c.Events)
		if err != nil {
			s.log.Warn("restatement changes not recorded", "filing_id", amended, "err", err)
			return
		}
		docs[amountKey(c.Code, c.Dimensions)] = doc
	}
	if err := s.store.StoreChanges(ctx, amended, docs); err != nil {
		s.log.Warn("restatement changes not recorded; the difference page traces them instead", "filing_id", amended, "err", err)
	}
}

type cellFigure struct {
	figure string
	where  map[string]string
}

// figuresByCode maps each cell and table code of t to its figure and filter.
func figuresByCode(t *template.Template) map[string]cellFigure {
	out := map[string]cellFigure{}
	for _, sh := range t.Sheets {
		for _, c := range sh.Cells {
			out[c.Code] = cellFigure{c.Figure, c.Where}
		}
		for _, tb := range sh.Tables {
			out[tb.Code] = cellFigure{tb.Figure, nil}
		}
	}
	return out
}

// FilingSummaries lists a page of filings without their reports, newest first,
// and the cursor of the next page.
func (s *Service) FilingSummaries(ctx context.Context, f store.SummaryFilter) ([]store.FilingSummary, string, error) {
	return s.store.FilingSummaries(ctx, f)
}

// FilingFacets lists the templates and periods that have filings.
func (s *Service) FilingFacets(ctx context.Context) (templates, periods []string, err error) {
	return s.store.FilingFacets(ctx)
}
