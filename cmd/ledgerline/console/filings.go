package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	submissionstore "github.com/ledgerline/ledgerline/services/submission/store"
)

// Page sizes: every list is paged.
const (
	filingsPerPage       = 25
	gridRowsPerPage      = 60
	contributionsPerPage = 25
	diffRowsPerPage      = 50
	listPerPage          = 50
)

type homeView struct {
	Recent []filingRow
	Links  []navItem
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s session) error {
	v := homeView{Links: nil}
	for _, n := range nav {
		if s.principal.Has(n.roles...) {
			v.Links = append(v.Links, n)
		}
	}
	if s.principal.Has(reportReaders...) {
		fs, _, err := c.cfg.Reports.FilingSummaries(r.Context(), reportsstore.SummaryFilter{Limit: 5})
		if err != nil {
			return err
		}
		if v.Recent, err = c.withSubmissions(r.Context(), fs); err != nil {
			return err
		}
	}
	c.render(w, r, &s, http.StatusOK, "home", "Ledgerline console", v)
	return nil
}

// filingRow is a filing in a list, with its submission (nil: not submitted).
type filingRow struct {
	reportsstore.FilingSummary
	Failed     int // validations that failed
	Submission *submissionstore.Submission
}

func (c *Console) withSubmissions(ctx context.Context, fs []reportsstore.FilingSummary) ([]filingRow, error) {
	out := make([]filingRow, len(fs))
	subs := map[string]submissionstore.Submission{}
	if c.cfg.Submissions != nil && len(fs) > 0 {
		ids := make([]string, len(fs))
		for i, f := range fs {
			ids[i] = f.ID
		}
		var err error
		if subs, err = c.cfg.Submissions.ForFilings(ctx, ids); err != nil {
			return nil, err
		}
	}
	for i, f := range fs {
		out[i].FilingSummary = f
		for _, v := range f.Validations {
			if !v.Passed {
				out[i].Failed++
			}
		}
		if sub, ok := subs[f.ID]; ok {
			out[i].Submission = &sub
		}
	}
	return out, nil
}

type filingsView struct {
	Templates []string
	Periods   []string
	Template  string
	Period    string
	Filings   []filingRow
	Next      string
	Paged     bool // not the first page
	NoSubs    bool // this process cannot read submissions
}

func (c *Console) filings(w http.ResponseWriter, r *http.Request, s session) error {
	q := r.URL.Query()
	v := filingsView{Template: q.Get("template"), Period: q.Get("period"), Paged: q.Get("after") != "", NoSubs: c.cfg.Submissions == nil}
	var err error
	if v.Templates, v.Periods, err = c.cfg.Reports.FilingFacets(r.Context()); err != nil {
		return err
	}
	fs, next, err := c.cfg.Reports.FilingSummaries(r.Context(), reportsstore.SummaryFilter{Template: v.Template, Period: v.Period,
		After: q.Get("after"), Limit: filingsPerPage})
	if err != nil {
		return err
	}
	v.Next = next
	if v.Filings, err = c.withSubmissions(r.Context(), fs); err != nil {
		return err
	}
	c.render(w, r, &s, http.StatusOK, "filings", "Filings", v)
	return nil
}

// filedReport is what the filing page keeps of a filing's report: it never
// changes, so it is read and indexed once.
type filedReport struct {
	Name         string
	Regulator    string
	RuleVersions map[string]int
	Sheets       []*sheetIndex
}

func (c *Console) filedReport(ctx context.Context, head filingRow) (filedReport, error) {
	id := head.ID
	if rep, ok := c.cache.reports.get(id); ok {
		return rep, nil
	}
	fr, err := c.cfg.Reports.FiledSheets(ctx, id)
	if err != nil {
		return filedReport{}, err
	}
	text, err := c.layoutText(ctx, head.Template, head.TemplateVersion)
	if err != nil {
		return filedReport{}, err
	}
	rep := filedReport{Name: fr.Name, Regulator: fr.Regulator, RuleVersions: fr.RuleVersions}
	for _, sh := range fr.Sheets {
		var lt map[string]string
		if text != nil {
			lt = text[sh.Name]
			if lt == nil {
				lt = map[string]string{}
			}
		}
		rep.Sheets = append(rep.Sheets, indexSheet(sh, lt))
	}
	c.cache.reports.put(id, rep)
	return rep, nil
}

func (c *Console) layoutText(ctx context.Context, template string, version int) (map[string]map[string]string, error) {
	key := template + "/" + strconv.Itoa(version)
	if t, ok := c.cache.layout.get(key); ok {
		return t, nil
	}
	t, err := c.cfg.Reports.LayoutText(ctx, template, version)
	if err != nil {
		return nil, err
	}
	c.cache.layout.put(key, t)
	return t, nil
}

type sheetTab struct {
	Index   int
	Name    string
	Amounts int
}

type filingView struct {
	F          filingRow
	Report     filedReport
	Tabs       []sheetTab
	Sheet      int
	Grid       sheetGrid
	Attempts   []submissionstore.Attempt
	Amendments []reportsstore.FilingSummary
	CanRestate bool
	CanReplay  bool
}

// summary is one filing without its report (404 when there is none).
func (c *Console) summary(ctx context.Context, id string) (filingRow, error) {
	fs, _, err := c.cfg.Reports.FilingSummaries(ctx, reportsstore.SummaryFilter{ID: id, Limit: 1})
	if err != nil {
		return filingRow{}, err
	}
	if len(fs) == 0 {
		return filingRow{}, fmt.Errorf("filing %s: %w", id, httpjson.ErrNotFound)
	}
	rows, err := c.withSubmissions(ctx, fs)
	if err != nil {
		return filingRow{}, err
	}
	return rows[0], nil
}

func (c *Console) filing(w http.ResponseWriter, r *http.Request, s session) error {
	id := r.PathValue("id")
	f, err := c.summary(r.Context(), id)
	if err != nil {
		return err
	}
	rep, err := c.filedReport(r.Context(), f)
	if err != nil {
		return err
	}
	v := filingView{F: f, Report: rep, CanRestate: s.principal.Has(auth.RoleOperator), CanReplay: true}
	for i, sh := range rep.Sheets {
		v.Tabs = append(v.Tabs, sheetTab{Index: i, Name: sh.name, Amounts: sh.amounts})
	}
	q := r.URL.Query()
	if sv := q.Get("sheet"); sv != "" {
		if v.Sheet, err = strconv.Atoi(sv); err != nil || v.Sheet < 0 || v.Sheet >= len(rep.Sheets) {
			return fmt.Errorf("sheet %q: the filing has sheets 0 to %d: %w", sv, len(rep.Sheets)-1, httpjson.ErrNotFound)
		}
	}
	from := 0
	if fv := q.Get("from"); fv != "" {
		if from, err = strconv.Atoi(fv); err != nil || from < 1 {
			return badRequest("from %q must be a spreadsheet row number", fv)
		}
	}
	if len(rep.Sheets) > 0 {
		v.Grid = rep.Sheets[v.Sheet].page(from, gridRowsPerPage)
	}
	if f.Submission != nil && c.cfg.Submissions != nil {
		sub, err := c.cfg.Submissions.Get(r.Context(), f.Submission.ID)
		if err != nil {
			return err
		}
		v.Attempts = sub.History
		if len(v.Attempts) > listPerPage {
			v.Attempts = v.Attempts[len(v.Attempts)-listPerPage:]
		}
	}
	if v.Amendments, _, err = c.cfg.Reports.FilingSummaries(r.Context(), reportsstore.SummaryFilter{Amends: id, Limit: listPerPage}); err != nil {
		return err
	}
	c.render(w, r, &s, http.StatusOK, "filing", "Filing "+id, v)
	return nil
}

var contentTypes = map[string]string{
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"csv":  "text/csv; charset=utf-8",
	"json": "application/json",
}

// file serves one of a filing's files, as GET /v1/filings/{id}/files/{format} does.
func (c *Console) file(w http.ResponseWriter, r *http.Request, _ session) error {
	format := r.PathValue("format")
	ct, ok := contentTypes[format]
	if !ok {
		return fmt.Errorf("format %q: a filing has xlsx, csv and json files: %w", format, httpjson.ErrNotFound)
	}
	f, err := c.cfg.Reports.FileContent(r.Context(), r.PathValue("id"), format)
	if err != nil {
		return err
	}
	name := strings.NewReplacer(`"`, "", "\\", "", "\r", "", "\n", "").Replace(r.PathValue("id")) + "." + format
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	w.Header().Set("X-Checksum-SHA256", f.SHA256)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Content)))
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(f.Content)
	return nil
}

// isNotFound reports whether err maps to 404.
func isNotFound(err error) bool { return errors.Is(err, httpjson.ErrNotFound) }
