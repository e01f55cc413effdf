package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ledgerline/ledgerline/platform/pgtest"
)

// artifactsEnv names the directory where tests leave what a person looks at
// afterwards (CI keeps it): the browser tests' screenshots go to its
// console-browser/ folder. Unset, they go to a new temporary directory, whose
// path the test logs.
const artifactsEnv = "LEDGERLINE_ARTIFACTS"

// chromium finds Debian's chromium. The browser tests never skip: without it
// they fail, saying how to install it (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("the web console's browser tests need Chromium: apt-get install -y chromium (Debian's package; .ci/run installs it)")
	return ""
}

// demoServer is `ledgerline demo --serve` on a small bank: the platform with
// three filed and submitted reports, two restatements, a quarantine, and the
// demo's keys.
type demoServer struct {
	e        env
	base     string
	auditor  string
	operator string
	out      *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the writers of a subprocess's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var serveLine = regexp.MustCompile(`Serving at (http://\S+) until`)
var (
	auditorLine  = regexp.MustCompile(`as the auditor:\s+export \S+ LEDGERLINE_API_KEY=(ll_[a-z2-7]+)`)
	operatorLine = regexp.MustCompile(`as an operator:\s+export \S+ LEDGERLINE_API_KEY=(ll_[a-z2-7]+)`)
)

func startDemoServer(t *testing.T) *demoServer {
	t.Helper()
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_HTTP_ADDR=" + e.addr}
	cmd := exec.Command(ledgerline(t), "demo", "--serve", "--fresh", "--data-dir", filepath.Join(t.TempDir(), "demo"),
		"--seed", "5", "--counterparties", "150", "--loans", "300", "--period", "2026-Q3")
	cmd.Env = append(os.Environ(), e.vars...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &demoServer{e: e, out: &syncBuffer{}}
	cmd.Stderr = d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("ledgerline demo --serve:\n%s", d.out.String())
		}
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.out, line)
			if m := auditorLine.FindStringSubmatch(line); m != nil {
				d.auditor = m[1]
			}
			if m := operatorLine.FindStringSubmatch(line); m != nil {
				d.operator = m[1]
			}
			if m := serveLine.FindStringSubmatch(line); m != nil {
				d.base = m[1]
				once.Do(func() { ready <- nil })
			}
		}
		once.Do(func() { ready <- fmt.Errorf("ledgerline demo ended before serving") })
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("%v:\n%s", err, d.out.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("ledgerline demo did not serve within 5 minutes:\n%s", d.out.String())
	}
	if d.auditor == "" || d.operator == "" {
		t.Fatalf("the demo printed no auditor or operator key:\n%s", d.out.String())
	}
	return d
}

// key creates a key on the demo's database.
func (d *demoServer) key(role, name string) string {
	d.e.t.Helper()
	out, stderr, err := d.e.run("keys", "create", "--role", role, "--name", name)
	if err != nil || !keyPattern.MatchString(out) {
		d.e.t.Fatalf("keys create: %v %q\n%s", err, out, stderr)
	}
	return strings.TrimSpace(out)
}

// page is one browser tab on the console, with helpers that fail the test.
type page struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
}

// open navigates and answers the HTTP status of the document.
func (p *page) open(path string) int64 {
	p.t.Helper()
	return p.navigate(chromedp.Navigate(p.base + path))
}

// navigate runs actions that load a page (a click on a link or a button) and
// answers the HTTP status of the new document.
func (p *page) navigate(actions ...chromedp.Action[chromedp.Void]) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
	return resp.Status
}

func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

func (p *page) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v (at %s)", sel, err, p.location())
	}
	return s
}

func eval[T any](p *page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v (at %s)", js, err, p.location())
	}
	return v
}

func (p *page) count(sel string) int {
	p.t.Helper()
	return eval[int](p, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// shot saves a screenshot of the whole page.
func (p *page) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	p.n++
	if err := os.WriteFile(filepath.Join(p.shots, fmt.Sprintf("%02d-%s.png", p.n, name)), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// checkA11y checks the accessibility basics of the page: a language, one h1,
// a label for every field, a name for every link and button, and no sideways
// scrolling of the page itself (wide tables scroll inside their region).
func (p *page) checkA11y() {
	p.t.Helper()
	problems := eval[[]string](p, `(() => {
		const p = [];
		if (!document.documentElement.lang) p.push('the page has no lang');
		const h1 = document.querySelectorAll('h1').length;
		if (h1 !== 1) p.push(h1 + ' h1 headings');
		for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
			const label = el.id && document.querySelector('label[for="' + el.id + '"]');
			if (!label && !el.getAttribute('aria-label') && !el.closest('label')) p.push('a field without a label: ' + el.name);
		}
		for (const el of document.querySelectorAll('a, button')) {
			if (!el.textContent.trim() && !el.getAttribute('aria-label')) p.push('a control without a name: ' + el.outerHTML.slice(0, 80));
		}
		for (const el of document.querySelectorAll('.scroll')) {
			if (el.tabIndex < 0) p.push('a scrolling region keyboard users cannot reach');
		}
		if (document.documentElement.scrollWidth > window.innerWidth + 1)
			p.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + 'px wide in a ' + window.innerWidth + 'px window');
		return p;
	})()`)
	if len(problems) > 0 {
		p.t.Errorf("accessibility of %s: %s", p.location(), strings.Join(problems, "; "))
	}
}

func (p *page) login(key string) {
	p.t.Helper()
	p.open("/login")
	p.do(chromedp.SetValue(chromedp.CSS("#key"), key))
	if status := p.navigate(chromedp.Click(chromedp.CSS("form.login button[type=submit]"))); status != 200 {
		p.t.Fatalf("login: %d", status)
	}
}

func (p *page) logout() {
	p.t.Helper()
	if status := p.navigate(chromedp.Click(chromedp.CSS("header .who button"))); status != 200 || !strings.HasSuffix(p.location(), "/login") {
		p.t.Fatalf("logout: %d, at %s", status, p.location())
	}
}

func (p *page) has(sel, want string) {
	p.t.Helper()
	if got := p.text(sel); !strings.Contains(got, want) {
		p.t.Errorf("%s at %s says %q, want it to contain %q", sel, p.location(), got, want)
	}
}

// TestConsoleInBrowser drives the web console in headless Chromium against a
// served demo: an auditor opens a filing, traces a cell to its events and
// pages through them, opens an event, the restatement difference and the
// replay check; the maker of a template version finds approval refused, by the
// disabled button and by the server when the button is forced; a second
// compliance officer approves it. Screenshots are saved as artifacts.
func TestConsoleInBrowser(t *testing.T) {
	browserPath := chromium(t)
	shots := os.Getenv(artifactsEnv)
	if shots != "" {
		shots = filepath.Join(shots, "console-browser")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if shots, err = os.MkdirTemp("", "ledgerline-console-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", shots)

	started := time.Now()
	d := startDemoServer(t)
	t.Logf("demo served at %s after %s", d.base, time.Since(started).Round(time.Millisecond))
	maker, checker := d.key("compliance", "officer-maker"), d.key("compliance", "officer-checker")
	// The maker onboards a new version of the own funds template.
	e := d.e
	e.vars = append(e.vars, "LEDGERLINE_SERVER="+d.base, "LEDGERLINE_API_KEY="+maker)
	if out, stderr, err := e.run("templates", "onboard", filepath.Join("..", "..", "reports", "corep-own-funds")); err != nil {
		t.Fatalf("templates onboard: %v\n%s\n%s", err, out, stderr)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browserPath),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout (it would stop the browser)
		t.Fatalf("start chromium (%s): %v", browserPath, err)
	}
	p := &page{t: t, ctx: ctx, base: d.base, shots: shots}
	p.do(chromedp.EmulateViewport(1280, 900))

	// Not logged in: the login page, reached and left by keyboard.
	p.open("/filings")
	if loc := p.location(); !strings.Contains(loc, "/login?next=%2Ffilings") {
		t.Fatalf("without a session /filings went to %s, want the login page", loc)
	}
	p.checkA11y()
	p.shot("login")
	p.do(chromedp.SetValue(chromedp.CSS("#key"), d.auditor))
	if status := p.navigate(chromedp.Click(chromedp.CSS("form.login button[type=submit]"))); status != 200 || !strings.HasSuffix(p.location(), "/filings") {
		t.Fatalf("login as the auditor: %d, at %s", status, p.location())
	}

	// The filings, with status, validations, submissions and receipts; the
	// first Tab reaches the skip link, with a visible focus ring.
	p.checkA11y()
	p.do(chromedp.KeyEvent("\t"))
	if focused := eval[string](p, `document.activeElement.className + ':' + getComputedStyle(document.activeElement).outlineStyle`); focused != "skip:solid" {
		t.Errorf("the first Tab focuses %q, want the skip link with a visible outline", focused)
	}
	for _, want := range []string{"corep-own-funds-2026-Q3-v1", "corep-own-funds-2026-Q3-v1-r1", "corep-large-exposures-2026-Q3-v1",
		"lcr-2026-09-v1", "receipt rcpt-", "amends corep-own-funds-2026-Q3-v1", "1 of 3 failed"} {
		p.has("main table", want)
	}
	if n := p.count(`main table tbody tr`); n != 6 {
		t.Errorf("%d filings listed, want the demo's 6 (3 originals, 3 restatements)", n)
	}
	p.shot("filings")

	// A filing: the grid as in the regulator's workbook, validations, files.
	p.navigate(chromedp.Click(chromedp.CSS(`a[href="/filings/lcr-2026-09-v1"]`)))
	p.checkA11y()
	p.has("table.grid", "c72_r0010_c0010")
	p.has("table.grid", "TOTAL UNADJUSTED LIQUID ASSETS") // the regulator's own label, from the layout
	p.has("#validations + .scroll", "passed")
	p.navigate(chromedp.Click(chromedp.CSS(`nav.tabs a[href$="?sheet=1#report"]`)))
	if n := p.count(`table.grid td.amount a[data-code]`); n < 10 {
		t.Errorf("the LCR outflows sheet shows %d amounts", n)
	}
	p.has("table.grid", "c73_r0010_c0010")
	if n := p.count(`a[href="/filings/lcr-2026-09-v1/files/xlsx"]`); n < 1 {
		t.Error("no download link for the xlsx file")
	}
	if n := p.count(`form[action$="/restatements"]`); n != 0 {
		t.Error("the auditor is offered the restatement (operators only)")
	}
	p.shot("filing-lcr")

	// Click a cell: its figure, filter, rule set version and CEL.
	p.navigate(chromedp.Click(chromedp.CSS(`table.grid a[data-code="c73_r0010_c0010"]`)))
	p.checkA11y()
	p.has("h1", "Cell c73_r0010_c0010")
	p.has("main", "deposits")
	p.has("main", "liquidity v1")
	p.has("table.def", "when")
	p.has("table.def", "event.type")
	p.shot("cell")

	// Its contributions, page by page, newest first, each with its envelope.
	p.navigate(chromedp.Click(chromedp.CSS(`section.figure a[href*="/contributions"]`)))
	p.checkA11y()
	seqs := func() []int {
		return eval[[]int](p, `[...document.querySelectorAll('table.contributions tbody tr td:nth-child(2)')].map(td => +td.textContent)`)
	}
	first := seqs()
	if len(first) != 25 {
		t.Fatalf("the first page has %d contributions, want 25", len(first))
	}
	p.do(chromedp.Click(chromedp.CSS(`table.contributions tbody tr:first-child details summary`)))
	p.has(`table.contributions tbody tr:first-child details pre`, `"type": "deposit.balance"`)
	p.navigate(chromedp.Click(chromedp.CSS(`nav.pages a[rel=next]`)))
	p.has("main", "from number 26")
	second := seqs()
	if len(second) == 0 || second[0] >= first[len(first)-1] {
		t.Fatalf("page 2 (%v) does not continue below page 1 (%v)", second, first)
	}
	p.shot("contributions-page-2")
	p.navigate(chromedp.Click(chromedp.CSS(`nav.pages a[rel=next]`)))
	p.has("main", "from number 51")
	if third := seqs(); len(third) == 0 || third[0] >= second[len(second)-1] {
		t.Fatalf("page 3 (%v) does not continue below page 2", third)
	}

	// An event: its envelope and its impact.
	p.navigate(chromedp.Click(chromedp.CSS(`table.contributions tbody tr:first-child td:nth-child(3) > a`)))
	p.checkA11y()
	p.has("main", "Envelope, as stored")
	p.has("main", "lcr-2026-09-v1")
	p.shot("event")

	// A table row, traced by keyboard: focus its amount and press Enter.
	p.open("/filings/corep-large-exposures-2026-Q3-v1")
	p.do(chromedp.Focus(chromedp.CSS(`table.grid a[data-code="large_exposures"][data-row="1"]`)))
	p.navigate(chromedp.KeyEvent("\r"))
	p.has("h1", "Cell large_exposures row 1")
	p.has("main", "large_exposure")
	p.has("main", "group=")

	// A derived figure expands to its inputs, each with its contributions.
	p.open("/filings/corep-own-funds-2026-Q3-v1/cells/r0010_c0010")
	p.has("main", "Derived from 2 figure(s)")
	p.do(chromedp.Click(chromedp.CSS(`ul.inputs > li:first-child > details > summary`)))
	p.shot("cell-derived")
	p.navigate(chromedp.Click(chromedp.CSS(`ul.inputs > li:first-child a[href*="/figures/"]`)))
	p.has("h1", "Contributions of")
	if n := p.count(`table.contributions tbody tr`); n == 0 {
		t.Error("the input of a derived figure lists no contribution")
	}

	// The restatement: side by side, the changed cells marked, each with the
	// late events that changed it.
	p.open("/filings/corep-own-funds-2026-Q3-v1-r1")
	p.navigate(chromedp.Click(chromedp.CSS(`a[href="/filings/corep-own-funds-2026-Q3-v1-r1/difference"]`)))
	p.checkA11y()
	changed := p.count(`table.diff tr.changed`)
	if changed == 0 {
		t.Fatal("the restatement shows no changed cell")
	}
	if withEvents := p.count(`table.diff tr.changed td:last-child a[href^="/events/"]`); withEvents < changed {
		t.Errorf("%d changed cells but only %d late event links", changed, withEvents)
	}
	p.shot("restatement-difference")
	p.navigate(chromedp.Click(chromedp.CSS(`a[href="?all=1"]`)))
	if all := p.count(`table.diff tbody tr`); all <= changed || p.count(`table.diff tr.changed`) != changed {
		t.Errorf("every amount: %d rows, %d changed (of %d)", all, p.count(`table.diff tr.changed`), changed)
	}

	// The replay check, a POST with the session's token.
	p.navigate(chromedp.Click(chromedp.CSS(`form[action="/filings/corep-own-funds-2026-Q3-v1/replay"] button`)))
	p.has("#verdict", "MATCH")
	p.shot("replay")

	// A narrow screen: the page does not scroll sideways, tables scroll in place.
	p.do(chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/filings", "/filings/lcr-2026-09-v1", "/filings/corep-own-funds-2026-Q3-v1-r1/difference", "/operations"} {
		p.open(path)
		p.checkA11y()
	}
	p.open("/filings/corep-own-funds-2026-Q3-v1-r1/difference")
	p.shot("narrow-difference")
	p.do(chromedp.EmulateViewport(1280, 900))

	// Operations: ingest rate and rules lag from the metrics, the quarantine.
	p.open("/operations")
	p.has("main", "ledgerline_rules_lag_events")
	p.has("#watermark-lag", "events not yet committed")
	p.shot("operations")
	p.open("/quarantine")
	p.checkA11y()
	if n := p.count(`main table tbody tr`); n == 0 {
		t.Error("the quarantine lists nothing; the demo sends invalid events")
	}
	p.navigate(chromedp.Click(chromedp.CSS(`main table tbody tr:first-child a`)))
	if eval[bool](p, `document.getElementById('resubmit').disabled`) != true {
		t.Error("the auditor's re-submit button is enabled")
	}

	// The auditor changes nothing: a forced approve button is refused by the server.
	p.open("/templates/corep-own-funds/versions/2")
	if !eval[bool](p, `document.getElementById('approve').disabled`) {
		t.Error("the auditor's approve button is enabled")
	}
	eval[bool](p, `(document.getElementById('approve').disabled = false, true)`)
	if status := p.navigate(chromedp.Click(chromedp.CSS("#approve"))); status != 403 {
		t.Errorf("the auditor's forced approval answered %d, want 403", status)
	}
	p.has("main", "lacks the role")
	p.logout()

	// An operator re-submits a quarantined event as it was (refused again: it
	// is invalid) and restates a filing, both forms posted with the token.
	p.login(d.operator)
	p.open("/quarantine")
	p.navigate(chromedp.Click(chromedp.CSS(`main table tbody tr:first-child a`)))
	if eval[bool](p, `document.getElementById('resubmit').disabled`) {
		t.Fatal("the operator's re-submit button is disabled")
	}
	if status := p.navigate(chromedp.Click(chromedp.CSS("#resubmit"))); status != 200 {
		t.Fatalf("re-submit: %d", status)
	}
	p.has("main", "Re-submitted")
	p.has("main", "rejected")
	p.shot("operator-resubmitted")
	p.open("/filings/corep-own-funds-2026-Q3-v1")
	if status := p.navigate(chromedp.Click(chromedp.CSS(`form[action$="/restatements"] button`))); status != 200 ||
		!strings.HasSuffix(p.location(), "/filings/corep-own-funds-2026-Q3-v1-r2/difference") {
		t.Fatalf("restate: %d, at %s", status, p.location())
	}
	if p.count(`table.diff tr.changed`) != changed {
		t.Errorf("the second restatement shows %d changed cells, the first %d", p.count(`table.diff tr.changed`), changed)
	}
	p.logout()

	// The maker: the approve button is disabled, and the server refuses it too.
	p.login(maker)
	p.open("/templates/corep-own-funds/versions/2")
	p.checkA11y()
	if !eval[bool](p, `document.getElementById('approve').disabled`) {
		t.Fatal("the maker's approve button is enabled")
	}
	p.has("#approve-why", "You onboarded this version")
	p.has("#template-status", "validated")
	p.shot("maker-approve-disabled")
	eval[bool](p, `(document.getElementById('approve').disabled = false, true)`)
	if status := p.navigate(chromedp.Click(chromedp.CSS("#approve"))); status != 403 {
		t.Errorf("the maker's forced approval answered %d, want 403", status)
	}
	p.has("main", "cannot approve it")
	p.shot("maker-approve-refused")
	p.open("/templates/corep-own-funds/versions/2")
	p.has("#template-status", "validated")
	p.logout()

	// A second compliance officer approves it.
	p.login(checker)
	p.open("/templates/corep-own-funds/versions/2")
	if eval[bool](p, `document.getElementById('approve').disabled`) {
		t.Fatal("the checker's approve button is disabled")
	}
	p.navigate(chromedp.Click(chromedp.CSS("#approve")))
	p.has("#template-status", "active")
	p.shot("checker-approved")
	p.logout()
	p.open("/filings")
	if loc := p.location(); !strings.Contains(loc, "/login") {
		t.Errorf("after logout /filings went to %s, want the login page", loc)
	}
}
