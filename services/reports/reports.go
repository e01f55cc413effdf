// Package reports is Ledgerline's reports service: report templates onboarded by
// the compliance team (YAML, optionally the regulator's own XLSX workbook as
// layout), approved by a second person, and filed for a period as of a knowledge
// watermark into xlsx, csv and json files with their SHA-256, on demand or on
// each template's schedule. See DESIGN.md, "Report templates" and "Filings".
//
// The pure parts live in their own packages: template (parse and check),
// filing (compute a report from figure breakdowns), render (files), layout
// (workbook safety checks), schedule (cron and periods). This package holds the
// use cases; store is the PostgreSQL adapter and api the HTTP handlers.
package reports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports/filing"
	"github.com/ledgerline/ledgerline/services/reports/layout"
	"github.com/ledgerline/ledgerline/services/reports/render"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/reports/template"
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/period"
)

// Rules is what the reports service needs of the rules service.
type Rules interface {
	Breakdown(ctx context.Context, r rules.FigureRequest) (rules.Breakdown, error)
	Figure(ctx context.Context, r rules.FigureRequest) (rules.Figure, error)
	FigureInfo(name string) (kind string, dimensions []string, ok bool)
	WaitFor(ctx context.Context, seq uint64) error
	LastSeq(ctx context.Context) (uint64, error)
}

// Config configures the reports service.
type Config struct {
	// RulesTimeout bounds how long a filing waits for the rules to process the
	// stream up to its watermark.
	RulesTimeout time.Duration
	// SchedulerTick is how often the scheduler looks for due runs (0: no scheduler).
	SchedulerTick time.Duration
	// Instance names this process in claimed scheduled runs.
	Instance string
	// Now is the scheduler's clock (nil: time.Now); tests move it.
	Now func() time.Time
}

// Service is the reports use cases.
type Service struct {
	store *store.Store
	rules Rules
	cfg   Config
	log   *slog.Logger
	now   func() time.Time

	mu        sync.Mutex
	parsed    map[string]*template.Template // "id/version" → parsed source
	submitter Submitter
	lineage   LineageRules
	events    Events
	lineageWG sync.WaitGroup // lineage being stored after filings
}

// Submitter submits a filing to its regulator (the submission service).
type Submitter interface {
	Submit(ctx context.Context, filingID string, by auth.Principal) error
}

// SetSubmitter lets scheduled filings be submitted automatically when their
// template says submission: {auto: true} and they are submittable.
func (s *Service) SetSubmitter(sub Submitter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submitter = sub
}

// SubmissionChannel is the channel a filing's template version names ("" for none).
func (s *Service) SubmissionChannel(ctx context.Context, f store.Filing) (string, error) {
	t, err := s.templateVersion(ctx, f.Template, f.TemplateVersion)
	if err != nil || t.Submission == nil {
		return "", err
	}
	return t.Submission.Channel, nil
}

// New returns the service.
func New(st *store.Store, r Rules, cfg Config, log *slog.Logger) *Service {
	if cfg.RulesTimeout <= 0 {
		cfg.RulesTimeout = 2 * time.Minute
	}
	if cfg.Instance == "" {
		cfg.Instance = "reports"
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, rules: r, cfg: cfg, log: log, now: now, parsed: map[string]*template.Template{}}
}

// Invalid is the answer to a template that cannot be onboarded: every problem,
// each naming the cell code and the field.
type Invalid struct{ Problems []template.Problem }

func (e *Invalid) Error() string {
	msg := fmt.Sprintf("the template has %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == 3 {
			msg += "; ..."
			break
		}
		msg += "; " + p.String()
	}
	return msg
}

func (e *Invalid) Unwrap() error { return httpjson.ErrInvalid }

func invalid(field, format string, args ...any) *Invalid {
	return &Invalid{Problems: []template.Problem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// catalog answers the template checks from the rules service.
type catalog struct{ r Rules }

func (c catalog) Figure(name string) (string, []string, bool) { return c.r.FigureInfo(name) }

// Onboarded is the answer to an onboarding.
type Onboarded struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Status  string `json:"status"`
}

// Onboard checks a template (and its layout workbook, when given), renders it
// once with zero figures (the dry run) and stores it as a new validated version.
func (s *Service) Onboard(ctx context.Context, src, layoutXLSX []byte, by auth.Principal) (Onboarded, error) {
	t, err := template.Parse(src, catalog{s.rules})
	var inv *template.Invalid
	if errors.As(err, &inv) {
		return Onboarded{}, &Invalid{Problems: inv.Problems}
	}
	if err != nil {
		return Onboarded{}, invalid("", "%v", err)
	}
	if err := checkLayout(t, layoutXLSX); err != nil {
		return Onboarded{}, err
	}
	if err := dryRun(t, layoutXLSX); err != nil {
		return Onboarded{}, err
	}
	v, err := s.store.Onboard(ctx, store.Template{ID: t.ID, Name: t.Name, Source: string(src), Layout: layoutXLSX,
		MadeBy: by.Actor(), MadeByKey: by.KeyID})
	if err != nil {
		return Onboarded{}, fmt.Errorf("onboard template %s: %w", t.ID, err)
	}
	s.log.Info("template onboarded", "template", t.ID, "version", v, "by", by.Actor())
	return Onboarded{ID: t.ID, Version: v, Status: "validated"}, nil
}

// checkLayout refuses anything but a real, safe workbook that has every sheet the
// template fills; a template that names a layout must come with it.
func checkLayout(t *template.Template, data []byte) error {
	if data == nil {
		if t.Layout != "" {
			return invalid("layout", "the template names layout %q but no layout workbook was uploaded "+
				"(send multipart/form-data with parts template and layout, or use `ledgerline templates onboard DIR`)", t.Layout)
		}
		return nil
	}
	if t.Layout == "" {
		return invalid("layout", "a layout workbook was uploaded but the template names none: add layout: <file name> to use it")
	}
	info, err := layout.Check(data)
	if err != nil {
		return invalid("layout", "%v", err)
	}
	var problems []template.Problem
	for i, sh := range t.Sheets {
		if !info.HasSheet(sh.Name) {
			problems = append(problems, template.Problem{Field: fmt.Sprintf("sheets[%d].name", i),
				Message: fmt.Sprintf("the layout workbook has no sheet %q (it has %q)", sh.Name, info.SheetNames())})
		}
	}
	if len(problems) > 0 {
		return &Invalid{Problems: problems}
	}
	return nil
}

// dryRun renders every output of the template with zero figures.
func dryRun(t *template.Template, layoutXLSX []byte) error {
	r, err := filing.Build(spec(t, 0), "2026-01", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 0, filing.Zero{})
	if err != nil {
		return invalid("", "dry run: %v", err)
	}
	if _, err := renderFiles(t, r, layoutXLSX); err != nil {
		return invalid("layout", "dry run: %v", err)
	}
	return nil
}

// spec maps a parsed template version onto what filing.Build needs.
func spec(t *template.Template, version int) filing.Spec {
	sp := filing.Spec{Template: t.ID, Version: version, Name: t.Name, Regulator: t.Regulator, Currency: t.ReportingCurrency,
		Decimals: t.Decimals, NumberFormat: t.NumberFormat}
	for _, sh := range t.Sheets {
		ss := filing.SheetSpec{Name: sh.Name}
		for _, c := range sh.Cells {
			ss.Cells = append(ss.Cells, filing.CellSpec{Code: c.Code, At: c.At, Label: c.Label, Figure: c.Figure, Where: c.Where})
		}
		for _, tb := range sh.Tables {
			ts := filing.TableSpec{Code: tb.Code, At: tb.At, Label: tb.Label, Figure: tb.Figure, GroupBy: tb.GroupBy,
				OrderBy: tb.OrderBy, Limit: tb.Limit}
			if prog := tb.HavingProg; prog != nil {
				ts.Having = func(v decimal.Decimal, row map[string]string, figure filing.Lookup) (bool, error) {
					return prog.Having(v, row, figure)
				}
			}
			ss.Tables = append(ss.Tables, ts)
		}
		sp.Sheets = append(sp.Sheets, ss)
	}
	for _, v := range t.Validations {
		prog := v.Program
		sp.Validations = append(sp.Validations, filing.ValidationSpec{ID: v.ID, Severity: v.Severity, Message: v.Message,
			Check: func(cell func(string) (decimal.Decimal, error), rows func(string) ([]decimal.Decimal, error), figure filing.Lookup) (bool, error) {
				return prog.Validate(cell, rows, figure)
			}})
	}
	return sp
}

// renderFiles renders the template's outputs.
func renderFiles(t *template.Template, r filing.Report, layoutXLSX []byte) ([]store.File, error) {
	var files []store.File
	for _, format := range t.Outputs {
		var (
			b   []byte
			err error
		)
		switch format {
		case "xlsx":
			b, err = render.XLSX(r, layoutXLSX)
		case "csv":
			b, err = render.CSV(r)
		case "json":
			b, err = render.JSON(r)
		default:
			err = fmt.Errorf("unknown output %q", format)
		}
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", format, err)
		}
		sum := sha256.Sum256(b)
		files = append(files, store.File{Format: format, Content: b, SHA256: hex.EncodeToString(sum[:]), Size: len(b)})
	}
	return files, nil
}

// Approve approves a validated version as a compliance key other than its maker's;
// it becomes the active version.
func (s *Service) Approve(ctx context.Context, id string, version int, by auth.Principal) (store.Template, error) {
	t, err := s.store.Approve(ctx, id, version, by.Actor(), by.KeyID)
	if err == nil {
		s.log.Info("template approved", "template", id, "version", version, "by", by.Actor())
	}
	return t, err
}

// Templates lists every version.
func (s *Service) Templates(ctx context.Context) ([]store.Template, error) {
	return s.store.Templates(ctx)
}

// Template returns one version, with its source.
func (s *Service) Template(ctx context.Context, id string, version int) (store.Template, error) {
	return s.store.Template(ctx, id, version)
}

// templateVersion is the parsed source of a stored version. Only its first use
// reads the version from PostgreSQL: versions are immutable, and a lineage page
// should not fetch a 5,000-cell source and its layout again to reuse the parse.
func (s *Service) templateVersion(ctx context.Context, id string, version int) (*template.Template, error) {
	if p, ok := s.cachedParse(parseKey(id, version)); ok {
		return p, nil
	}
	st, err := s.store.Template(ctx, id, version)
	if err != nil {
		return nil, err
	}
	return s.parse(st)
}

func parseKey(id string, version int) string { return id + "/" + strconv.Itoa(version) }

func (s *Service) cachedParse(key string) (*template.Template, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.parsed[key]
	return p, ok
}

// parse returns the parsed source of a stored version (cached: versions are immutable).
func (s *Service) parse(t store.Template) (*template.Template, error) {
	key := parseKey(t.ID, t.Version)
	if p, ok := s.cachedParse(key); ok {
		return p, nil
	}
	// Stored sources were checked at onboarding; figures are not checked again
	// (a rule set may have moved on since; the filing reports what is missing).
	p, err := template.Parse([]byte(t.Source), nil)
	if err != nil {
		return nil, fmt.Errorf("template %s v%d no longer parses: %w", t.ID, t.Version, err)
	}
	s.mu.Lock()
	s.parsed[key] = p
	s.mu.Unlock()
	return p, nil
}

// ErrRulesBehind means the rules did not reach the filing's watermark in time.
var ErrRulesBehind = errors.New("the rules have not processed the stream up to the filing's watermark")

// FileRequest asks for a filing.
type FileRequest struct {
	Template string `json:"template"`
	Period   string `json:"period"`
}

// File builds the filing of the active version of a template for a period at
// the stream's current last sequence, waiting (bounded) for the rules to reach
// it. An existing filing of that version and period is answered as it is
// (created false): filing is idempotent; a restatement makes a new one.
func (s *Service) File(ctx context.Context, req FileRequest, by auth.Principal) (store.Filing, bool, error) {
	st, err := s.store.Active(ctx, req.Template)
	if err != nil {
		return store.Filing{}, false, err
	}
	t, err := s.parse(st)
	if err != nil {
		return store.Filing{}, false, err
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return store.Filing{}, false, err
	}
	p, err := period.Parse(req.Period, loc)
	if err != nil {
		return store.Filing{}, false, fmt.Errorf("period: %w: %w", err, httpjson.ErrInvalid)
	}
	if err := periodFits(t.Frequency, p.Text); err != nil {
		return store.Filing{}, false, fmt.Errorf("template %s: %w: %w", t.ID, err, httpjson.ErrInvalid)
	}
	if f, err := s.store.OriginalFiling(ctx, st.ID, st.Version, p.Text); err == nil {
		return f, false, nil
	} else if !errors.Is(err, httpjson.ErrNotFound) {
		return store.Filing{}, false, err
	}
	last, err := s.rules.LastSeq(ctx)
	if err != nil {
		return store.Filing{}, false, fmt.Errorf("event stream: %w: %w", err, httpjson.ErrUnavailable)
	}
	if last == 0 {
		// A filing records the watermark it was built at; with no event there is
		// none to record (and nothing to report).
		return store.Filing{}, false, fmt.Errorf("the event stream is empty: send events before filing: %w", httpjson.ErrConflict)
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.RulesTimeout)
	err = s.rules.WaitFor(wctx, last)
	cancel()
	if err != nil {
		return store.Filing{}, false, fmt.Errorf("%w (seq %d, waited %s): %v", ErrRulesBehind, last, s.cfg.RulesTimeout, err)
	}
	f, err := s.build(ctx, st, t, p, last, by, fmt.Sprintf("%s-%s-v%d", st.ID, p.Text, st.Version), "")
	if errors.Is(err, store.ErrExists) { // another request filed it meanwhile
		f, err = s.store.OriginalFiling(ctx, st.ID, st.Version, p.Text)
		return f, false, err
	}
	return f, err == nil, err
}

// periodFits checks a period against the template's frequency: a quarterly
// template files quarters.
func periodFits(frequency, p string) error {
	want := map[string]string{"monthly": "a month (2026-10)", "quarterly": "a quarter (2026-Q3)", "annual": "a year (2026)"}[frequency]
	ok := true
	switch frequency {
	case "monthly":
		ok = len(p) == 7 && p[4] == '-' && p[5] != 'Q'
	case "quarterly":
		ok = len(p) == 7 && p[5] == 'Q'
	case "annual":
		ok = len(p) == 4
	}
	if !ok {
		return fmt.Errorf("it is filed %s: period %s is not %s", frequency, p, want)
	}
	return nil
}

// build computes, renders and stores a filing of version st for period p as of asOf.
func (s *Service) build(ctx context.Context, st store.Template, t *template.Template, p period.Period, asOf uint64,
	by auth.Principal, id, amends string) (store.Filing, error) {
	r, files, versions, err := s.compute(ctx, st, t, p, asOf, nil)
	if err != nil {
		return store.Filing{}, fmt.Errorf("filing %s: %w", id, err)
	}
	f := store.Filing{ID: id, Template: st.ID, TemplateVersion: st.Version, Period: p.Text, AsOfSeq: asOf, Currency: t.ReportingCurrency,
		RuleVersions: versions, ValidationsOK: r.ValidationsPassed(), SignOff: t.SignOff == "required",
		CreatedBy: by.Actor(), CreatedByKey: by.KeyID, Amends: amends, Files: files, Report: r}
	if err := s.store.CreateFiling(ctx, f, cellRows(t, r)); err != nil {
		return store.Filing{}, err
	}
	s.log.Info("filing created", "filing_id", id, "template", st.ID, "version", st.Version, "period", p.Text, "as_of_seq", asOf,
		"validations_passed", f.ValidationsOK, "amends", amends)
	s.lineageWG.Add(1)
	go func() {
		defer s.lineageWG.Done()
		s.storeLineage(context.WithoutCancel(ctx), t, f, p)
	}()
	return s.store.Filing(ctx, id)
}

// storeLineage stores, after a filing, the contributions behind each figure its
// cells report, so its lineage pages read them instead of recomputing; until it
// is done (or if a crash stops it) they are computed, with the same result.
func (s *Service) storeLineage(ctx context.Context, t *template.Template, f store.Filing, p period.Period) {
	start := time.Now()
	loc, _ := time.LoadLocation(t.Timezone)
	seen := map[string]bool{}
	for _, sh := range t.Sheets {
		var figures []string
		for _, c := range sh.Cells {
			figures = append(figures, c.Figure)
		}
		for _, tb := range sh.Tables {
			figures = append(figures, tb.Figure)
		}
		for _, name := range figures {
			if seen[name] {
				continue
			}
			seen[name] = true
			if kind, _, _ := s.rules.FigureInfo(name); kind == "derived" {
				continue
			}
			_, err := s.rules.Breakdown(ctx, rules.FigureRequest{Name: name, Period: p.Text, Location: loc, AsOfSeq: f.AsOfSeq,
				Currency: t.ReportingCurrency, Versions: f.RuleVersions, Filing: f.ID})
			if err != nil {
				s.log.Warn("storing a filing's lineage failed; its lineage is computed instead", "filing_id", f.ID, "figure", name, "err", err)
				return
			}
		}
	}
	s.log.Debug("filing lineage stored", "filing_id", f.ID, "took", time.Since(start))
}

// WaitLineage waits until the lineage of every filing made so far is stored.
func (s *Service) WaitLineage() { s.lineageWG.Wait() }

// compute derives and renders a report of version st for period p as of asOf,
// with the rule set versions pinned (nil: those effective for the period). It
// answers the report, its files and the rule set versions used.
func (s *Service) compute(ctx context.Context, st store.Template, t *template.Template, p period.Period, asOf uint64,
	pinned map[string]int) (filing.Report, []store.File, map[string]int, error) {
	src := s.source(ctx, t, p, asOf, pinned)
	r, err := filing.Build(spec(t, st.Version), p.Text, p.End, asOf, src)
	if err != nil {
		return filing.Report{}, nil, nil, err
	}
	files, err := renderFiles(t, r, st.Layout)
	if err != nil {
		return filing.Report{}, nil, nil, err
	}
	return r, files, src.versions, nil
}

// source answers figures of template t for period p as of asOf.
func (s *Service) source(ctx context.Context, t *template.Template, p period.Period, asOf uint64, pinned map[string]int) *figureSource {
	loc, _ := time.LoadLocation(t.Timezone)
	return &figureSource{ctx: ctx, rules: s.rules, period: p, loc: loc, currency: t.ReportingCurrency, asOf: asOf,
		pinned: pinned, versions: map[string]int{}, derived: map[string]decimal.Decimal{}}
}

// cellRows flattens a report into its stored amounts: every cell with its
// filter, every table row with its dimension values.
func cellRows(t *template.Template, r filing.Report) []store.CellRow {
	var out []store.CellRow
	for i, sh := range r.Sheets {
		tsh := t.Sheets[i]
		for j, c := range sh.Cells {
			out = append(out, store.CellRow{Code: c.Code, Sheet: sh.Name, At: c.At, Figure: tsh.Cells[j].Figure,
				Filter: tsh.Cells[j].Where, Value: c.Value.StringFixed(int32(r.Decimals))})
		}
		for j, tb := range sh.Tables {
			for k, row := range tb.Rows {
				dims := make(map[string]string, len(tb.GroupBy))
				for d, name := range tb.GroupBy {
					dims[name] = row.Dims[d]
				}
				out = append(out, store.CellRow{Code: tb.Code, Row: k + 1, Sheet: sh.Name, At: rowValueCell(tb, k),
					Figure: tsh.Tables[j].Figure, Filter: dims, Value: row.Value.StringFixed(int32(r.Decimals))})
			}
		}
	}
	return out
}

// rowValueCell is where the value of a table's k-th row (from 0) is: the rows
// start at the table's cell, one column per dimension, then the value.
func rowValueCell(t filing.Table, k int) string {
	col, row, err := excelize.CellNameToCoordinates(t.At)
	if err != nil {
		return t.At
	}
	name, err := excelize.CoordinatesToCellName(col+len(t.GroupBy), row+k)
	if err != nil {
		return t.At
	}
	return name
}

// figureSource answers filing.Build from the rules service at one (period,
// watermark), in the reporting currency, recording the rule set versions used.
type figureSource struct {
	ctx      context.Context
	rules    Rules
	period   period.Period
	loc      *time.Location
	currency string
	asOf     uint64
	pinned   map[string]int // rule set versions to use (nil: those effective for the period)
	versions map[string]int
	derived  map[string]decimal.Decimal // derived figures already computed, by name and filter
}

func (f *figureSource) request(name string, where map[string]string) rules.FigureRequest {
	return rules.FigureRequest{Name: name, Period: f.period.Text, Location: f.loc, AsOfSeq: f.asOf, Currency: f.currency, Where: where,
		Versions: f.pinned}
}

func (f *figureSource) Rows(name string) ([]filing.DimValue, error) {
	kind, _, ok := f.rules.FigureInfo(name)
	if !ok {
		return nil, fmt.Errorf("figure %q: no rule set defines it", name)
	}
	if kind == "derived" {
		return nil, filing.ErrDerived
	}
	b, err := f.rules.Breakdown(f.ctx, f.request(name, nil))
	if err != nil {
		return nil, err
	}
	f.versions[b.Ruleset] = b.Version
	rows := make([]filing.DimValue, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = filing.DimValue{Dims: r.Dims, Value: r.Value}
	}
	return rows, nil
}

func (f *figureSource) Value(name string, where map[string]string) (decimal.Decimal, error) {
	key := name + "\x00" + fmt.Sprint(where) // fmt prints maps in key order
	if v, ok := f.derived[key]; ok {
		return v, nil // a having expression asks once per table row
	}
	fig, err := f.rules.Figure(f.ctx, f.request(name, where))
	if err != nil {
		return decimal.Decimal{}, err
	}
	var record func(rules.Figure)
	record = func(g rules.Figure) {
		f.versions[g.Ruleset] = g.Version
		for _, in := range g.Inputs {
			record(in)
		}
	}
	record(fig)
	v, err := decimal.NewFromString(fig.Value)
	if err == nil {
		f.derived[key] = v
	}
	return v, err
}

// Filing returns a filing.
func (s *Service) Filing(ctx context.Context, id string) (store.Filing, error) {
	return s.store.Filing(ctx, id)
}

// Filings lists filings, newest first.
func (s *Service) Filings(ctx context.Context, template, period string, limit int) ([]store.Filing, error) {
	return s.store.Filings(ctx, template, period, limit)
}

// FileContent returns one of a filing's files.
func (s *Service) FileContent(ctx context.Context, id, format string) (store.File, error) {
	return s.store.FileContent(ctx, id, format)
}

// SignOff signs a filing off as a compliance key other than the one that ran it.
func (s *Service) SignOff(ctx context.Context, id string, by auth.Principal) (store.Filing, error) {
	if err := s.store.SignOff(ctx, id, by.Actor(), by.KeyID); err != nil {
		return store.Filing{}, err
	}
	return s.store.Filing(ctx, id)
}

// Override makes a filing that failed error validations submittable, with the
// operator's written reason.
func (s *Service) Override(ctx context.Context, id, reason string, by auth.Principal) (store.Filing, error) {
	if len([]rune(strings.TrimSpace(reason))) < 10 {
		return store.Filing{}, fmt.Errorf("an override needs a written reason (at least 10 characters): %w", httpjson.ErrInvalid)
	}
	if err := s.store.Override(ctx, id, by.Actor(), reason); err != nil {
		return store.Filing{}, err
	}
	return s.store.Filing(ctx, id)
}
