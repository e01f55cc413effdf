package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesstore "github.com/ledgerline/ledgerline/services/rules/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeReports answers the template pages; any other call panics (the console
// turns that into a 500 page, failing the test).
type fakeReports struct {
	Reports
	mu       sync.Mutex
	tmpl     reportsstore.Template
	approved []auth.Principal
}

func (f *fakeReports) Templates(context.Context) ([]reportsstore.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []reportsstore.Template{f.tmpl}, nil
}

func (f *fakeReports) Template(_ context.Context, id string, v int) (reportsstore.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.tmpl.ID || v != f.tmpl.Version {
		return reportsstore.Template{}, fmt.Errorf("template %s v%d: %w", id, v, httpjson.ErrNotFound)
	}
	return f.tmpl, nil
}

func (f *fakeReports) CheckTemplate(_ context.Context, id string, v int) (reports.TemplateCheck, error) {
	return reports.TemplateCheck{Template: f.tmpl, CheckedAt: time.Now()}, nil
}

// Approve refuses the maker as the reports store does.
func (f *fakeReports) Approve(_ context.Context, id string, v int, by auth.Principal) (reportsstore.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if by.KeyID == f.tmpl.MadeByKey {
		return reportsstore.Template{}, fmt.Errorf("template %s v%d was onboarded by %s: %w: %w", id, v, f.tmpl.MadeBy, reportsstore.ErrSameKey, httpjson.ErrForbidden)
	}
	f.approved = append(f.approved, by)
	f.tmpl.Status, f.tmpl.ApprovedBy = "active", by.Actor()
	return f.tmpl, nil
}

func (f *fakeReports) FilingSummaries(context.Context, reportsstore.SummaryFilter) ([]reportsstore.FilingSummary, string, error) {
	return nil, "", nil
}

func (f *fakeReports) FilingFacets(context.Context) ([]string, []string, error) { return nil, nil, nil }

type fakeRules struct{}

func (fakeRules) Versions(context.Context) ([]rulesstore.Version, error) { return nil, nil }
func (fakeRules) Watermark(context.Context) (rules.Progress, error)      { return rules.Progress{}, nil }

// browser is an HTTP client with its own cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, html string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no anti-forgery token in the page:\n%s", html)
	}
	return m[1]
}

// login logs in with key and answers the session's anti-forgery token.
func (b *browser) login(key string) string {
	b.t.Helper()
	_, page := b.do("GET", "/login", nil, nil)
	resp, _ := b.do("POST", "/login", url.Values{"csrf": {csrfOf(b.t, page)}, "key": {key}, "next": {"/templates"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/templates" {
		b.t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = b.do("GET", "/templates", nil, nil)
	return csrfOf(b.t, page)
}

type consoleFixture struct {
	pool    *pgxpool.Pool
	keys    *auth.Keys
	secrets map[string]string
	ids     map[string]int64
	reports *fakeReports
	url     string
}

func newFixture(t *testing.T, cfg Config) *consoleFixture {
	f := &consoleFixture{pool: pgtest.NewPool(t), secrets: map[string]string{}, ids: map[string]int64{}}
	f.keys = auth.NewKeys(f.pool)
	for name, role := range map[string]auth.Role{"auditor": auth.RoleAuditor, "maker": auth.RoleCompliance, "checker": auth.RoleCompliance,
		"operator": auth.RoleOperator} {
		secret, p, err := f.keys.Create(context.Background(), name, []auth.Role{role}, "test")
		if err != nil {
			t.Fatal(err)
		}
		f.secrets[name], f.ids[name] = secret, p.KeyID
	}
	f.reports = &fakeReports{tmpl: reportsstore.Template{ID: "corep", Version: 2, Name: "COREP", Status: "validated",
		MadeBy: "key:maker#" + fmt.Sprint(f.ids["maker"]), MadeByKey: f.ids["maker"], MadeAt: time.Now()}}
	cfg.Pool, cfg.Keys, cfg.Reports, cfg.Rules = f.pool, f.keys, f.reports, fakeRules{}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLoginSessionCookie(t *testing.T) {
	f := newFixture(t, Config{})
	b := newBrowser(t, f.url)

	resp, _ := b.do("GET", "/filings", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Ffilings" {
		t.Fatalf("without a session: %d to %q, want a redirect to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := b.do("GET", "/login", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, `<label for="key">`) {
		t.Fatalf("login page: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	lc := cookie(resp, loginCookie)
	if lc == nil || !lc.HttpOnly || lc.SameSite != http.SameSiteStrictMode || lc.Secure {
		t.Fatalf("login cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain http", lc)
	}
	token := csrfOf(t, page)

	// The login form's own anti-forgery token (double submit).
	if resp, _ := b.do("POST", "/login", url.Values{"key": {f.secrets["auditor"]}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's token: %d, want 403", resp.StatusCode)
	}
	_, page = b.do("GET", "/login", nil, nil)
	token = csrfOf(t, page)
	resp, page = b.do("POST", "/login", url.Values{"csrf": {token}, "key": {"ll_notakey"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "unknown or revoked") || cookie(resp, sessionCookie) != nil {
		t.Fatalf("an unknown key: %d, session cookie %v\n%s", resp.StatusCode, cookie(resp, sessionCookie), page)
	}
	token = csrfOf(t, page)
	resp, _ = b.do("POST", "/login", url.Values{"csrf": {token}, "key": {f.secrets["auditor"]}, "next": {"//evil.example/x"}}, nil)
	sc := cookie(resp, sessionCookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q, want / (a next outside the site is ignored)", resp.StatusCode, resp.Header.Get("Location"))
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.Path != "/" || sc.MaxAge != int((8*time.Hour).Seconds()) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, 8h, not Secure over plain http", sc)
	}
	// Only the hash of the session id is stored.
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM console_sessions WHERE key_id = $1 AND id_hash = $2 AND expires_at > now() + interval '7 hours'`,
		f.ids["auditor"], hashID(sc.Value)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions of the auditor with the cookie's hash: %d (%v)", n, err)
	}
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM console_sessions WHERE id_hash = $1`, []byte(sc.Value)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the session id is stored in the clear (%d, %v)", n, err)
	}
	resp, page = b.do("GET", "/", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Signed in as <strong>auditor</strong>") {
		t.Fatalf("home: %d\n%s", resp.StatusCode, page)
	}

	// Behind a TLS-terminating proxy the cookies are Secure.
	b2 := newBrowser(t, f.url)
	https := map[string]string{"X-Forwarded-Proto": "https"}
	_, page = b2.do("GET", "/login", nil, https)
	resp, _ = b2.do("POST", "/login", url.Values{"csrf": {csrfOf(t, page)}, "key": {f.secrets["auditor"]}}, https)
	if sc := cookie(resp, sessionCookie); sc == nil || !sc.Secure {
		t.Fatalf("session cookie over https: %+v, want Secure", sc)
	}

	// Logout ends the session in the database, not only in the browser.
	_, page = b.do("GET", "/templates", nil, nil)
	old := &http.Cookie{Name: sessionCookie, Value: sc.Value}
	resp, _ = b.do("POST", "/logout", url.Values{"csrf": {csrfOf(t, page)}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	replay := newBrowser(t, f.url)
	u, _ := url.Parse(f.url)
	replay.c.Jar.SetCookies(u, []*http.Cookie{old})
	if resp, _ := replay.do("GET", "/templates", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the cookie of a closed session still works: %d", resp.StatusCode)
	}
	var actions []string
	rows, err := f.pool.Query(context.Background(), `SELECT action FROM audit_log WHERE action LIKE 'console.%' AND actor = $1 ORDER BY id`,
		fmt.Sprintf("key:auditor#%d", f.ids["auditor"]))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	if strings.Join(actions, ",") != "console.login,console.login,console.logout" {
		t.Errorf("audit log of the auditor: %v", actions)
	}
}

// The server refuses what a disabled button would not send: a POST without the
// session's token, from another origin, by a role without the right, or by the
// maker of a template version.
func TestPostsRefusedByTheServer(t *testing.T) {
	f := newFixture(t, Config{})
	approve := "/templates/corep/versions/2/approve"

	auditor := newBrowser(t, f.url)
	tok := auditor.login(f.secrets["auditor"])
	resp, page := auditor.do("GET", "/templates/corep/versions/2", nil, nil)
	if resp.StatusCode != 200 || !regexp.MustCompile(`<button type="submit" id="approve" disabled`).MatchString(page) ||
		!strings.Contains(page, "Approving needs a compliance key") {
		t.Fatalf("the auditor's template page: %d, the approve button is not disabled with a reason\n%s", resp.StatusCode, page)
	}
	resp, page = auditor.do("POST", approve, url.Values{"csrf": {tok}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "lacks the role") {
		t.Fatalf("an auditor's forged approval: %d\n%s", resp.StatusCode, page)
	}

	maker := newBrowser(t, f.url)
	tok = maker.login(f.secrets["maker"])
	_, page = maker.do("GET", "/templates/corep/versions/2", nil, nil)
	if !strings.Contains(page, `id="approve" disabled`) || !strings.Contains(page, "a second compliance officer must approve it") {
		t.Fatalf("the maker's approve button is not disabled:\n%s", page)
	}
	resp, page = maker.do("POST", approve, url.Values{"csrf": {tok}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "cannot approve it") {
		t.Fatalf("the maker's forged approval: %d\n%s", resp.StatusCode, page)
	}

	checker := newBrowser(t, f.url)
	tok = checker.login(f.secrets["checker"])
	for _, c := range []struct {
		name   string
		form   url.Values
		header map[string]string
		want   string
	}{
		{"no token", url.Values{}, nil, "anti-forgery token is missing"},
		{"another session's token", url.Values{"csrf": {csrfOf(t, page)}}, nil, "anti-forgery token is missing or wrong"},
		{"another origin", url.Values{"csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}, "another site"},
	} {
		resp, page := checker.do("POST", approve, c.form, c.header)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, c.want) {
			t.Errorf("%s: %d, want 403 saying %q\n%s", c.name, resp.StatusCode, c.want, page)
		}
	}
	if len(f.reports.approved) != 0 {
		t.Fatalf("approved by %v before any valid request", f.reports.approved)
	}
	resp, _ = checker.do("POST", approve, url.Values{"csrf": {tok}}, map[string]string{"Origin": f.url})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/templates/corep/versions/2?approved=1" {
		t.Fatalf("the checker's approval: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if len(f.reports.approved) != 1 || f.reports.approved[0].KeyID != f.ids["checker"] {
		t.Fatalf("approved by %v, want the checker", f.reports.approved)
	}
	// A POST after the session ended is refused (401), not redirected.
	anon := newBrowser(t, f.url)
	if resp, _ := anon.do("POST", approve, url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a POST without a session: %d, want 401", resp.StatusCode)
	}
}

func TestSessionEnds(t *testing.T) {
	f := newFixture(t, Config{IdleTimeout: 1500 * time.Millisecond, SessionTTL: time.Hour})
	idle := newBrowser(t, f.url)
	idle.login(f.secrets["auditor"])
	time.Sleep(2 * time.Second)
	if resp, _ := idle.do("GET", "/templates", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the idle limit: %d, want a redirect to the login page", resp.StatusCode)
	}

	revoked := newBrowser(t, f.url)
	revoked.login(f.secrets["operator"])
	if err := f.keys.Revoke(context.Background(), f.ids["operator"], "test"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := revoked.do("GET", "/templates", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the key was revoked: %d, want a redirect to the login page", resp.StatusCode)
	}

	short := newFixture(t, Config{SessionTTL: time.Second})
	b := newBrowser(t, short.url)
	b.login(short.secrets["auditor"])
	time.Sleep(1500 * time.Millisecond)
	if resp, _ := b.do("GET", "/templates", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the session's lifetime: %d, want a redirect to the login page", resp.StatusCode)
	}
}

// Console pages answer errors as HTML pages with the API's status, a panic
// included; the security headers are on every answer.
func TestErrorsAreHTMLPages(t *testing.T) {
	f := newFixture(t, Config{})
	b := newBrowser(t, f.url)
	b.login(f.secrets["auditor"])
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/filings/no-such-filing", http.StatusNotFound, "filing no-such-filing"},
		{"/templates/corep/versions/x", http.StatusBadRequest, "must be a positive number"},
		{"/templates/corep/versions/9", http.StatusNotFound, "template corep v9"},
		{"/schedule", http.StatusInternalServerError, "server log"}, // the fake has no schedule: a panic
	} {
		resp, page := b.do("GET", c.path, nil, nil)
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, c.want) ||
			!strings.Contains(page, `<html lang="en">`) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %s, want %d with %q\n%s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.status, c.want, page)
		}
	}
}
