package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// pages are the parsed templates: web/templates/layout.html around each page.
type pages struct {
	byName map[string]*template.Template
	css    []byte
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	names, err := fs.Glob(web, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(web, "web/templates/layout.html", file)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	if p.css, err = web.ReadFile("web/console.css"); err != nil {
		return nil, err
	}
	return p, nil
}

// navItem is a link of the navigation bar, shown to the roles that may open it.
type navItem struct {
	Href, Text string
	roles      []auth.Role
}

var nav = []navItem{
	{"/filings", "Filings", reportReaders},
	{"/templates", "Templates", reportReaders},
	{"/rulesets", "Rule sets", ruleReaders},
	{"/schedule", "Schedule", reportReaders},
	{"/operations", "Operations", opsReaders},
	{"/quarantine", "Quarantine", opsReaders},
}

// view is what the layout gets: the page's own data in Data.
type view struct {
	Title   string
	User    *auth.Principal
	Roles   string
	CSRF    string
	Nav     []navItem
	Current string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, page, title string, data any) {
	t, ok := c.pages.byName[page]
	if !ok {
		panic("console: no page template " + page)
	}
	v := view{Title: title, Data: data, Current: r.URL.Path}
	if s != nil && s.ok {
		v.User, v.CSRF, v.Roles = &s.principal, s.csrf, rolesText(s.principal.Roles)
		for _, n := range nav {
			if s.principal.Has(n.roles...) {
				v.Nav = append(v.Nav, n)
			}
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		c.log.Error("console page failed to render", "page", page, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><html lang=\"en\"><title>Internal error</title><h1>Internal error</h1><p>The page failed to render; the details are in the server log.</p></html>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorView struct {
	Status  int
	Heading string
	Message string
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, heading, message string) {
	c.render(w, r, s, status, "error", heading, errorView{Status: status, Heading: heading, Message: message})
}

// fail answers err as an HTML page with the status its sentinel maps to (as
// the API would answer it); server-side failures are logged and answered
// without their details.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, _ := httpjson.Status(err)
	msg := err.Error()
	for _, sentinel := range []error{httpjson.ErrBadRequest, httpjson.ErrUnauthorized, httpjson.ErrForbidden, httpjson.ErrNotFound,
		httpjson.ErrConflict, httpjson.ErrInvalid, httpjson.ErrUnavailable, httpjson.ErrOverloaded} {
		msg = strings.ReplaceAll(msg, ": "+sentinel.Error(), "")
	}
	heading := http.StatusText(status)
	switch {
	case status == http.StatusServiceUnavailable:
		c.log.Warn("console page failed: dependency unavailable", "path", r.URL.Path, "err", err)
		msg = "A service Ledgerline depends on (PostgreSQL or JetStream) is unavailable; try again in a moment."
	case status >= 500:
		c.log.Error("console page failed", "path", r.URL.Path, "err", err)
		msg = "The details are in the server log."
	case status == http.StatusForbidden:
		heading = "Refused"
	}
	c.renderError(w, r, s, status, heading, msg)
}

// badRequest is an error answered 400.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), httpjson.ErrBadRequest)
}

var funcs = template.FuncMap{
	"amount":   formatAmount,
	"time":     formatTime,
	"pathq":    url.PathEscape,
	"query":    url.QueryEscape,
	"json":     prettyJSON,
	"dims":     dimsText,
	"add":      func(a, b int) int { return a + b },
	"join":     strings.Join,
	"short":    func(s string) string { return shorten(s, 16) },
	"colName":  colName,
	"wherearg": whereQuery,
	"upper":    strings.ToUpper,
	"list":     func(xs ...string) []string { return xs },
	"dictRate": func(name string, r rate, metric string) rateRow { return rateRow{Name: name, R: r, Metric: metric} },
	"dict2": func(f figureView, filing, code string, row int, top bool) figureNodeView {
		return figureNodeView{F: f, Filing: filing, Code: code, Row: row, Top: top}
	},
}

// rateRow is a row of the operations page's metrics table.
type rateRow struct {
	Name   string
	R      rate
	Metric string
}

// figureNodeView is a figure of a cell's lineage with where it sits: Top for
// the cell's own figure (its contributions are the cell's), else an input of a
// derived figure (its contributions are the figure's under its filter).
type figureNodeView struct {
	F      figureView
	Filing string
	Code   string
	Row    int
	Top    bool
}

// formatAmount writes a decimal string with thousands separators, as the
// regulator's workbook shows amounts ("#,##0.00"); anything else unchanged.
func formatAmount(s string) string {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(digits, ".")
	if intPart == "" || strings.Trim(intPart, "0123456789") != "" || (hasFrac && strings.Trim(frac, "0123456789") != "") {
		return s
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func formatTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v == nil || v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return fmt.Sprint(t)
}

func prettyJSON(v any) string {
	var raw []byte
	switch b := v.(type) {
	case json.RawMessage:
		raw = b
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(out)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// dimsText is "counterparty=CP-1, group=GRP-2" in key order ("" for none).
func dimsText(v any) string {
	m, ok := v.(map[string]string)
	if !ok {
		if a, isAny := v.(map[string]any); isAny {
			m = map[string]string{}
			for k, x := range a {
				m[k] = fmt.Sprint(x)
			}
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

// whereQuery encodes a filter as the query of a figure's contributions page
// (d.<dimension>=<value>).
func whereQuery(where map[string]string) string {
	q := url.Values{}
	for k, v := range where {
		q.Set("d."+k, v)
	}
	return q.Encode()
}

func pathEscape(s string) string { return url.PathEscape(s) }

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (c *Console) css(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(c.pages.css)
}
