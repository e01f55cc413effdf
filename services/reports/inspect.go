package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports/layout"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/reports/template"
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/period"
)

// FigureContributions pages the contributions of any stock, flow or
// cumulative figure under a filter at a filing's watermark, with its rule set
// versions and in its reporting currency, newest seq first, each with its
// event: the inputs of a derived figure a cell reports, which have no cell of
// their own. cursor is a page's NextCursor ("" for the first).
func (s *Service) FigureContributions(ctx context.Context, id, figure string, where map[string]string, cursor string, limit int) (ContributionPage, error) {
	lr, ev, err := s.lineageDeps()
	if err != nil {
		return ContributionPage{}, err
	}
	var before uint64
	if cursor != "" {
		if before, err = strconv.ParseUint(cursor, 10, 64); err != nil || before == 0 {
			return ContributionPage{}, fmt.Errorf("cursor %q is not a page cursor: %w", cursor, httpjson.ErrBadRequest)
		}
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	f, err := s.store.FilingHead(ctx, id)
	if err != nil {
		return ContributionPage{}, err
	}
	t, err := s.templateVersion(ctx, f.Template, f.TemplateVersion)
	if err != nil {
		return ContributionPage{}, err
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return ContributionPage{}, err
	}
	if kind, _, ok := s.rules.FigureInfo(figure); !ok {
		return ContributionPage{}, fmt.Errorf("figure %s: no rule set defines it: %w", figure, httpjson.ErrNotFound)
	} else if kind == "derived" {
		return ContributionPage{}, fmt.Errorf("figure %s is derived: it has no contributions of its own, see its inputs: %w", figure, httpjson.ErrInvalid)
	}
	rows, err := lr.Contributions(ctx, rules.FigureRequest{Name: figure, Period: f.Period, Location: loc, AsOfSeq: f.AsOfSeq,
		Currency: f.Currency, Where: where, Versions: f.RuleVersions, Filing: f.ID}, before, limit+1)
	if err != nil {
		return ContributionPage{}, fmt.Errorf("figure %s: %w", figure, err)
	}
	page := ContributionPage{Filing: id, Figure: figure, AsOfSeq: f.AsOfSeq}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = strconv.FormatUint(rows[len(rows)-1].Seq, 10)
	}
	if page.Contributions, err = withEvents(ctx, ev, rows); err != nil {
		return ContributionPage{}, err
	}
	return page, nil
}

// filedFigures is what the rules service offers beyond Rules for a filed
// amount: the figure summed from the lineage stored with its filing.
type filedFigures interface {
	FiledFigure(ctx context.Context, r rules.FigureRequest) (rules.Figure, error)
}

// FiledCell is Cell with the figure read from the lineage stored with the
// filing when the rules service can (the same contributions, summed from a few
// rows instead of from every contribution of the figure): what the API's and
// the web console's cell pages answer over millions of contributions. Cell is
// the reference it is tested against.
func (s *Service) FiledCell(ctx context.Context, id, code string, row int) (CellLineage, error) {
	fr, ok := s.rules.(filedFigures)
	if !ok {
		return s.Cell(ctx, id, code, row)
	}
	return s.traceCell(ctx, id, code, row, func(ctx context.Context, c cellContext) (rules.Figure, error) {
		return fr.FiledFigure(ctx, c.lineageRequest())
	})
}

// EventImpact is Impact with the filed amounts of each contribution selected
// by PostgreSQL from the contribution's dimension values, instead of reading
// every filed amount of its figures: the same figures, cells and cells a
// restatement would change, fast when a figure is filed in thousands of cells.
// The API, the CLI and the console answer with it; Impact is the reference it
// is tested against.
func (s *Service) EventImpact(ctx context.Context, eventID string) (Impact, error) {
	out, err := s.eventContributions(ctx, eventID)
	if err != nil {
		return Impact{}, err
	}
	cs := out.Contributions
	seen := map[string]bool{}
	periods := map[string]period.Period{}
	for _, c := range cs {
		cells, err := s.store.CellsWithin(ctx, c.Figure, c.Dims)
		if err != nil {
			return Impact{}, err
		}
		for _, fc := range cells {
			key := fmt.Sprintf("%s\x00%s\x00%d", fc.FilingID, fc.Cell.Code, fc.Cell.Row)
			if seen[key] {
				continue
			}
			pkey := fc.Template + "\x00" + fc.Period
			p, ok := periods[pkey]
			if !ok {
				if p, err = s.filingPeriod(ctx, fc); err != nil {
					return Impact{}, err
				}
				periods[pkey] = p
			}
			if !counts(c, s.kind(c.Figure), p) {
				continue
			}
			seen[key] = true
			out.add(fc)
		}
	}
	return out, nil
}

// FiledReport is a filing's report as its stored amounts hold it: each sheet
// with its cells and table rows in the template's order, amounts as reported
// (text, rounded). It is read from the filing's amounts, not from its report,
// which for a large filing is megabytes of JSON.
type FiledReport struct {
	Name         string
	Regulator    string
	Decimals     int
	RuleVersions map[string]int
	Sheets       []FiledSheet
}

// FiledSheet is one sheet of a FiledReport.
type FiledSheet struct {
	Name   string
	Cells  []FiledAmount
	Tables []FiledTable
}

// FiledAmount is a cell and its reported amount.
type FiledAmount struct {
	Code, At, Label, Value string
}

// FiledTable is a table and its rows, in the filed order.
type FiledTable struct {
	Code, At, Label string
	GroupBy         []string
	Rows            []FiledRow
}

// FiledRow is a table row: its dimension values (in GroupBy order) and amount.
type FiledRow struct {
	Dims  []string
	Value string
}

// FiledSheets reads a filing's sheets from its stored amounts.
func (s *Service) FiledSheets(ctx context.Context, id string) (FiledReport, error) {
	f, err := s.store.FilingHead(ctx, id)
	if err != nil {
		return FiledReport{}, err
	}
	t, err := s.templateVersion(ctx, f.Template, f.TemplateVersion)
	if err != nil {
		return FiledReport{}, err
	}
	cells, err := s.store.FilingCells(ctx, id)
	if err != nil {
		return FiledReport{}, err
	}
	type key struct {
		code string
		row  int
	}
	byKey := make(map[key]store.CellRow, len(cells))
	rowsOf := map[string]int{}
	for _, c := range cells {
		byKey[key{c.Code, c.Row}] = c
		rowsOf[c.Code] = max(rowsOf[c.Code], c.Row)
	}
	out := FiledReport{Name: t.Name, Regulator: t.Regulator, Decimals: t.Decimals, RuleVersions: f.RuleVersions}
	for _, sh := range t.Sheets {
		fs := FiledSheet{Name: sh.Name}
		for _, c := range sh.Cells {
			if v, ok := byKey[key{c.Code, 0}]; ok {
				fs.Cells = append(fs.Cells, FiledAmount{Code: c.Code, At: v.At, Label: c.Label, Value: v.Value})
			}
		}
		for _, tb := range sh.Tables {
			ft := FiledTable{Code: tb.Code, At: tb.At, Label: tb.Label, GroupBy: tb.GroupBy}
			for n := 1; n <= rowsOf[tb.Code]; n++ {
				v, ok := byKey[key{tb.Code, n}]
				if !ok {
					continue
				}
				dims := make([]string, len(tb.GroupBy))
				for i, g := range tb.GroupBy {
					dims[i] = v.Filter[g]
				}
				ft.Rows = append(ft.Rows, FiledRow{Dims: dims, Value: v.Value})
			}
			fs.Tables = append(fs.Tables, ft)
		}
		out.Sheets = append(out.Sheets, fs)
	}
	return out, nil
}

// withEvents reads the event of each contribution from the stream, side by side.
func withEvents(ctx context.Context, ev Events, rows []rules.ContributionRow) ([]Contribution, error) {
	out := make([]Contribution, len(rows))
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
			out[i] = Contribution{ContributionRow: r, RecordedAt: e.RecordedAt, SentBy: e.SentBy, Event: e.Envelope}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// TemplateCheck is a template version's validation report: the checks its
// onboarding passed, as the audit log recorded them (every figure defined,
// every expression compiled, the layout's sheets present, a dry run rendered:
// a version that fails any is never stored), the figures it needs as the rule
// sets onboarded now define them, and what the version holds.
type TemplateCheck struct {
	Template    store.Template // without source and layout
	Parsed      *template.Template
	History     []store.AuditEntry // onboarded, validated, approved, activated
	Problems    []template.Problem // figures no rule set defines now; empty when all are
	Figures     []CheckedFigure
	Sheets      []CheckedSheet
	Validations []template.Validation
	CheckedAt   time.Time
}

// CheckedFigure is a figure a template version needs, as the rules know it now.
type CheckedFigure struct {
	Name       string
	Kind       string // "" when no rule set defines it
	Dimensions []string
}

// CheckedSheet is one sheet of a template version.
type CheckedSheet struct {
	Name     string
	Cells    int
	Tables   int
	InLayout bool // the layout workbook has it (true without a layout: the workbook is generated)
}

// CheckTemplate reports a stored template version's validation: what its
// onboarding checked, and whether every figure it needs is still defined. It
// changes nothing.
func (s *Service) CheckTemplate(ctx context.Context, id string, version int) (TemplateCheck, error) {
	st, err := s.store.Template(ctx, id, version)
	if err != nil {
		return TemplateCheck{}, err
	}
	out := TemplateCheck{Template: st, CheckedAt: s.now()}
	out.Template.Source, out.Template.Layout = "", nil
	parsed, err := s.parse(st)
	if err != nil {
		return TemplateCheck{}, err
	}
	if out.History, err = s.store.TemplateHistory(ctx, id, version); err != nil {
		return TemplateCheck{}, err
	}
	out.Parsed, out.Validations = parsed, parsed.Validations
	for _, name := range parsed.Figures() {
		kind, dims, ok := s.rules.FigureInfo(name)
		out.Figures = append(out.Figures, CheckedFigure{Name: name, Kind: kind, Dimensions: dims})
		if !ok {
			out.Problems = append(out.Problems, template.Problem{Field: "figure", Message: fmt.Sprintf("no rule set onboarded now defines figure %q", name)})
		}
	}
	var info *layout.Info
	if st.Layout != nil {
		if info, err = layout.Check(st.Layout); err != nil {
			out.Problems = append(out.Problems, template.Problem{Field: "layout", Message: err.Error()})
		}
	}
	for _, sh := range parsed.Sheets {
		out.Sheets = append(out.Sheets, CheckedSheet{Name: sh.Name, Cells: len(sh.Cells), Tables: len(sh.Tables),
			InLayout: st.Layout == nil || (info != nil && info.HasSheet(sh.Name))})
	}
	return out, nil
}

// LayoutText is the text of every non-empty cell of a template version's
// layout workbook, by sheet name and A1 reference (nil without a layout): the
// regulator's own labels around the amounts, to show a filing as the
// regulator sees it.
func (s *Service) LayoutText(ctx context.Context, id string, version int) (map[string]map[string]string, error) {
	st, err := s.store.Template(ctx, id, version)
	if err != nil || st.Layout == nil {
		return nil, err
	}
	if _, err := layout.Check(st.Layout); err != nil {
		return nil, fmt.Errorf("template %s v%d layout: %w", id, version, err)
	}
	wb, err := excelize.OpenReader(bytes.NewReader(st.Layout), excelize.Options{UnzipSizeLimit: layout.MaxUncompressedSize})
	if err != nil {
		return nil, fmt.Errorf("template %s v%d layout: %w", id, version, err)
	}
	defer wb.Close()
	out := map[string]map[string]string{}
	for _, sheet := range wb.GetSheetList() {
		rows, err := wb.GetRows(sheet)
		if err != nil {
			return nil, fmt.Errorf("template %s v%d layout sheet %q: %w", id, version, sheet, err)
		}
		cells := map[string]string{}
		for r, row := range rows {
			for c, text := range row {
				if text == "" {
					continue
				}
				if ref, err := excelize.CoordinatesToCellName(c+1, r+1); err == nil {
					cells[ref] = text
				}
			}
		}
		out[sheet] = cells
	}
	return out, nil
}
