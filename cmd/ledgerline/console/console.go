// Package console is Ledgerline's web console: server-rendered pages for the
// people who look rather than script — compliance officers, operators and
// auditors (docs/console.md). `ledgerline serve` mounts it at / beside the
// /v1 API, on the same server.
//
// It uses the API's keys and roles: a login page takes an API key, checks it
// with platform/auth and opens a server-side session (PostgreSQL table
// console_sessions) carried by an HttpOnly, SameSite=Strict cookie. Every page
// checks the role the matching API endpoint needs, and every form carries the
// session's anti-forgery token, checked on every POST; an auditor sees
// everything and changes nothing, refused by the server and not only by
// disabled buttons. Pages are html/template with one CSS file, both embedded;
// there is no JavaScript. Every list is paged.
//
// The console calls the services' Go APIs in-process through the small
// interfaces below, so it shows exactly what the API answers.
package console

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/services/ingest"
	ingeststore "github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesstore "github.com/ledgerline/ledgerline/services/rules/store"
	submissionstore "github.com/ledgerline/ledgerline/services/submission/store"
)

//go:embed web
var web embed.FS

// Reports is what the console reads and does through the reports service.
type Reports interface {
	FilingSummaries(ctx context.Context, f reportsstore.SummaryFilter) ([]reportsstore.FilingSummary, string, error)
	FilingFacets(ctx context.Context) (templates, periods []string, err error)
	FiledSheets(ctx context.Context, id string) (reports.FiledReport, error)
	FileContent(ctx context.Context, id, format string) (reportsstore.File, error)
	FiledCell(ctx context.Context, id, code string, row int) (reports.CellLineage, error)
	CellContributions(ctx context.Context, id, code string, row int, cursor string, limit int) (reports.ContributionPage, error)
	FigureContributions(ctx context.Context, id, figure string, where map[string]string, cursor string, limit int) (reports.ContributionPage, error)
	Difference(ctx context.Context, id string, changedOnly bool, offset, limit int) (reports.Difference, error)
	Replay(ctx context.Context, id string) (reports.Replay, error)
	Restate(ctx context.Context, id string, by auth.Principal) (reports.Restatement, error)
	EventImpact(ctx context.Context, eventID string) (reports.Impact, error)
	Templates(ctx context.Context) ([]reportsstore.Template, error)
	Template(ctx context.Context, id string, version int) (reportsstore.Template, error)
	CheckTemplate(ctx context.Context, id string, version int) (reports.TemplateCheck, error)
	LayoutText(ctx context.Context, id string, version int) (map[string]map[string]string, error)
	Approve(ctx context.Context, id string, version int, by auth.Principal) (reportsstore.Template, error)
	Schedule(ctx context.Context, n int) ([]reports.Upcoming, error)
}

// Rules is what the console reads of the rules service.
type Rules interface {
	Versions(ctx context.Context) ([]rulesstore.Version, error)
	Watermark(ctx context.Context) (rules.Progress, error)
}

// Ingest is what the console reads and does through the ingest service.
type Ingest interface {
	ListQuarantine(ctx context.Context, f ingeststore.QuarantineFilter) ([]ingeststore.QuarantineEntry, int64, error)
	GetQuarantine(ctx context.Context, id int64) (ingeststore.QuarantineEntry, error)
	Resubmit(ctx context.Context, id int64, by string, corrected []byte) (ingest.Resubmission, error)
	Event(ctx context.Context, id string) (ingest.StoredEvent, error)
	State(ctx context.Context) (ingest.StreamState, error)
}

// Submissions is what the console reads of the submission service.
type Submissions interface {
	ForFilings(ctx context.Context, filingIDs []string) (map[string]submissionstore.Submission, error)
	Get(ctx context.Context, id string) (submissionstore.Submission, error)
}

// Config is what the console runs on. Pool, Keys, Reports and Rules are
// required; the rest may be nil, and the pages that need them say so.
type Config struct {
	// Pool holds the sessions (table console_sessions).
	Pool *pgxpool.Pool
	// Keys checks the API key given at login.
	Keys *auth.Keys
	// The services, in-process.
	Reports     Reports
	Rules       Rules
	Ingest      Ingest
	Submissions Submissions
	// Metrics is the registry /metrics serves: the operations page shows the
	// ingest rate and the rules lag from it.
	Metrics prometheus.Gatherer
	// SessionTTL is how long a session lasts at most (default 8h: a working day).
	SessionTTL time.Duration
	// IdleTimeout ends a session after this long without a request (default 30 min).
	IdleTimeout time.Duration
	// SecureCookies marks the cookies Secure even on plain HTTP requests: for a
	// console behind a TLS-terminating proxy that does not send
	// X-Forwarded-Proto. Requests over TLS, or with X-Forwarded-Proto: https,
	// always get Secure cookies.
	SecureCookies bool
	Log           *slog.Logger
}

// Console serves the pages.
type Console struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessions
	pages    *pages
	mux      *http.ServeMux
	patterns []string
	metrics  *sampler
	cache    *caches
}

// New returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Pool == nil || cfg.Keys == nil || cfg.Reports == nil || cfg.Rules == nil {
		return nil, fmt.Errorf("console: Pool, Keys, Reports and Rules are required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, log: cfg.Log, pages: p, mux: http.NewServeMux(), metrics: newSampler(cfg.Metrics),
		sessions: &sessions{pool: cfg.Pool, ttl: cfg.SessionTTL, idle: cfg.IdleTimeout}, cache: newCaches()}
	c.routes()
	return c, nil
}

// Patterns lists the console's routes, all outside /v1: a server mounts
// Handler on them (server.HandlePages).
func (c *Console) Patterns() []string { return append([]string(nil), c.patterns...) }

// Handler serves the console's routes.
func (c *Console) Handler() http.Handler { return c.mux }

// Run samples the metrics for the operations page until ctx ends.
func (c *Console) Run(ctx context.Context) { c.metrics.run(ctx, 5*time.Second) }

// The roles of the pages: those of the API endpoints they show.
var (
	reportReaders = []auth.Role{auth.RoleCompliance, auth.RoleOperator, auth.RoleAuditor}
	ruleReaders   = []auth.Role{auth.RoleRuleAuthor, auth.RoleAuditor, auth.RoleOperator, auth.RoleCompliance}
	opsReaders    = []auth.Role{auth.RoleOperator, auth.RoleAuditor}
	anyone        = auth.Roles
)

// handlerFunc is a page handler: it renders or writes its answer, or returns
// an error that becomes an HTML error page with the status its sentinel maps to.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s session) error

func (c *Console) routes() {
	c.public("GET /login", c.loginPage)
	c.public("POST /login", c.login)
	c.public("GET /static/console.css", c.css)
	c.public("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	c.page("POST /logout", anyone, c.logout)
	c.page("GET /{$}", anyone, c.home)
	c.page("GET /filings", reportReaders, c.filings)
	c.page("GET /filings/{id}", reportReaders, c.filing)
	c.page("GET /filings/{id}/files/{format}", reportReaders, c.file)
	c.page("GET /filings/{id}/cells/{code}", reportReaders, c.cell)
	c.page("GET /filings/{id}/cells/{code}/contributions", reportReaders, c.cellContributions)
	c.page("GET /filings/{id}/figures/{figure}/contributions", reportReaders, c.figureContributions)
	c.page("GET /filings/{id}/difference", reportReaders, c.difference)
	c.page("POST /filings/{id}/replay", reportReaders, c.replay)
	c.page("POST /filings/{id}/restatements", []auth.Role{auth.RoleOperator}, c.restate)
	c.page("GET /events/{id}", reportReaders, c.event)
	c.page("GET /templates", reportReaders, c.templates)
	c.page("GET /templates/{id}/versions/{version}", reportReaders, c.templateVersion)
	c.page("POST /templates/{id}/versions/{version}/approve", []auth.Role{auth.RoleCompliance}, c.approve)
	c.page("GET /rulesets", ruleReaders, c.rulesets)
	c.page("GET /rulesets/{name}/versions/{version}", ruleReaders, c.rulesetVersion)
	c.page("GET /operations", opsReaders, c.operations)
	c.page("GET /schedule", reportReaders, c.schedule)
	c.page("GET /quarantine", opsReaders, c.quarantine)
	c.page("GET /quarantine/{id}", opsReaders, c.quarantineEntry)
	c.page("POST /quarantine/{id}/resubmit", []auth.Role{auth.RoleOperator}, c.resubmit)
}

// public mounts a page that needs no session (the login page, the CSS).
func (c *Console) public(pattern string, h http.HandlerFunc) {
	c.patterns = append(c.patterns, pattern)
	c.mux.Handle(pattern, c.guard(h))
}

// page mounts a page behind a session holding one of roles; a POST must also
// carry the session's anti-forgery token.
func (c *Console) page(pattern string, roles []auth.Role, h handlerFunc) {
	c.patterns = append(c.patterns, pattern)
	post := strings.HasPrefix(pattern, "POST ")
	c.mux.Handle(pattern, c.guard(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.sessions.current(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if !s.ok {
			if post {
				c.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended", "Log in again, then repeat what you did.")
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if post {
			if msg := c.checkPost(r, s); msg != "" {
				c.renderError(w, r, &s, http.StatusForbidden, "Request refused", msg)
				return
			}
		}
		if !s.principal.Has(roles...) {
			c.renderError(w, r, &s, http.StatusForbidden, "Not allowed for your key",
				fmt.Sprintf("Key %q (%s) lacks the role for %s %s: it needs one of %s.", s.principal.Name, rolesText(s.principal.Roles),
					r.Method, r.URL.Path, rolesText(roles)))
			return
		}
		if err := h(w, r, s); err != nil {
			c.fail(w, r, &s, err)
		}
	}))
}

// guard sets the security headers of every console answer and turns a panic
// into an HTML error page.
func (c *Console) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("panic in console page", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				c.renderError(w, r, nil, http.StatusInternalServerError, "Internal error", "The details are in the server log.")
			}
		}()
		h(w, r)
	})
}

func rolesText(roles []auth.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
