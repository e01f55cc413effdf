package submission_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/reportstest"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/submission"
	"github.com/ledgerline/ledgerline/services/submission/api"
	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/dirchan"
	"github.com/ledgerline/ledgerline/services/submission/channel/httpchan"
	"github.com/ledgerline/ledgerline/services/submission/channel/sftpchan"
	"github.com/ledgerline/ledgerline/services/submission/service"
	"github.com/ledgerline/ledgerline/services/submission/sftptest"
	"github.com/ledgerline/ledgerline/services/submission/sim"
	"github.com/ledgerline/ledgerline/services/submission/store"
)

func TestMain(m *testing.M) {
	if os.Getenv("LEDGERLINE_TEST_CRASHING_SUBMITTER") != "" {
		crashingSubmitter()
		return
	}
	pgtest.Main(m)
}

const testRules = `
ruleset: test-credit
effective_from: "2026-01"
figures:
  - name: loan_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
    value: decimal(event.data.outstanding)
    currency: event.data.currency
`

// testTemplate files loan_exposure; validation v1 passes unless blocked is set.
func testTemplate(channelName string, blocked bool) string {
	return testTemplateAuto(channelName, blocked, false)
}

func testTemplateAuto(channelName string, blocked, auto bool) string {
	expr := `cell("total") >= decimal("0")`
	if blocked {
		expr = `cell("total") < decimal("0")`
	}
	return fmt.Sprintf(`
id: test-sub
name: Submission test
regulator: demo-nca
frequency: monthly
schedule: "0 6 5 * *"
timezone: UTC
reporting_currency: EUR
sheets:
  - name: S
    cells:
      - {code: total, at: B2, figure: loan_exposure}
validations:
  - {id: v1, expr: '%s', severity: error}
outputs: [xlsx, csv, json]
submission: {channel: %s, auto: %v}
`, expr, channelName, auto)
}

// env is the reports stack, the regulator simulator and the submission service.
type env struct {
	*reportstest.Stack
	sim    *sim.Simulator
	simURL string
	svc    *submission.Service
}

// newEnv starts everything; extra channels join regulator-sim (the simulator,
// with a client timeout of timeout).
func newEnv(t testing.TB, timeout time.Duration, extra ...channel.Channel) *env {
	return newEnvWith(t, 4, timeout, extra...)
}

func newEnvWith(t testing.TB, workers int, timeout time.Duration, extra ...channel.Channel) *env {
	t.Helper()
	s := reportstest.New(t)
	e := &env{Stack: s, sim: sim.New(sim.Config{HangFor: 5 * time.Second})}
	url, stop, err := e.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.simURL = url
	hc, err := httpchan.New(httpchan.Config{Name: "regulator-sim", URL: url, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = submission.New(store.New(s.DB.Pool), s.Reports, append([]channel.Channel{hc}, extra...),
		submission.Config{Workers: workers, PollInterval: 20 * time.Millisecond, BaseBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			Lease: 2 * time.Second, Instance: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	s.Server.Handle(api.New(e.svc).Routes()...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s.OnboardRules(testRules)
	s.Publish(reportstest.Loan("e1", "L1", "CP1", "100.00", "EUR", "2026-10-10T12:00:00Z"))
	s.Settle()
	return e
}

// filing onboards, approves and files the test template for period.
func (e *env) filing(t testing.TB, channelName string, blocked bool, period string) reportsstore.Filing {
	t.Helper()
	if code, body := e.OnboardTemplate("maker", testTemplate(channelName, blocked), nil); code != 201 {
		t.Fatalf("onboard: %d %s", code, body)
	}
	var list struct{ Templates []reportsstore.Template }
	e.Do("GET", "/v1/templates", "auditor", nil, &list)
	v := list.Templates[len(list.Templates)-1].Version
	if code := e.Do("POST", fmt.Sprintf("/v1/templates/test-sub/versions/%d/approve", v), "checker", nil, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	var f reportsstore.Filing
	if code := e.Do("POST", "/v1/filings", "operator", []byte(`{"template":"test-sub","period":"`+period+`"}`), &f); code != 201 {
		t.Fatalf("file: %d", code)
	}
	return f
}

func (e *env) submit(t *testing.T, filingID string) store.Submission {
	t.Helper()
	var sub store.Submission
	if code := e.Do("POST", "/v1/filings/"+filingID+"/submissions", "operator", nil, &sub); code != 202 {
		t.Fatalf("submit: %d %+v", code, sub)
	}
	return sub
}

// wait polls the submission until it is final.
func (e *env) wait(t *testing.T, id string) store.Submission {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sub store.Submission
		if code := e.Do("GET", "/v1/submissions/"+id, "auditor", nil, &sub); code != 200 {
			t.Fatalf("get submission: %d", code)
		}
		if sub.Final {
			return sub
		}
		if time.Now().After(deadline) {
			t.Fatalf("submission still %s: %+v", sub.Status, sub)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func outcomes(sub store.Submission) string {
	var parts []string
	for _, a := range sub.History {
		parts = append(parts, a.Action+":"+a.Outcome)
	}
	return strings.Join(parts, " ")
}

func TestHappyPathToAccepted(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", false, "2026-10")
	sub := e.wait(t, e.submit(t, f.ID).ID)
	if sub.Status != store.Accepted || sub.ReceiptID == "" || sub.ReceivedAt == nil || e.sim.Deliveries()[sub.ID] != 1 {
		t.Fatalf("submission %+v, deliveries %v", sub, e.sim.Deliveries())
	}
	if got := outcomes(sub); !strings.HasPrefix(got, "deliver:delivered status:") || !strings.HasSuffix(got, "status:accepted") {
		t.Fatalf("attempts %s", got)
	}
	// Submitting again answers the same submission: a filing is delivered once.
	var again store.Submission
	if code := e.Do("POST", "/v1/filings/"+f.ID+"/submissions", "operator", nil, &again); code != 200 || again.ID != sub.ID {
		t.Fatalf("submitting again: %d %+v", code, again)
	}
	if code := e.Do("POST", "/v1/filings/"+f.ID+"/submissions", "auditor", nil, nil); code != 403 {
		t.Fatalf("an auditor submitting: %d, want 403", code)
	}
	var list struct{ Submissions []store.Submission }
	if code := e.Do("GET", "/v1/submissions?status=accepted", "auditor", nil, &list); code != 200 || len(list.Submissions) != 1 {
		t.Fatalf("list accepted: %d %+v", code, list)
	}
	if r, ok := e.sim.Receipt(sub.ReceiptID); !ok || r.FilingID != f.ID || len(r.Files) != 3 {
		t.Fatalf("the regulator's receipt %+v", r)
	}
}

func TestServerErrorsThenSuccessDeliverOnce(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", false, "2026-10")
	e.sim.Inject(sim.Fault5xx, 2)
	sub := e.wait(t, e.submit(t, f.ID).ID)
	if sub.Status != store.Accepted || e.sim.Deliveries()[sub.ID] != 1 || e.sim.Attempts()[sub.ID] != 3 {
		t.Fatalf("submission %s; deliveries %d, uploads %d", sub.Status, e.sim.Deliveries()[sub.ID], e.sim.Attempts()[sub.ID])
	}
	if got := outcomes(sub); !strings.HasPrefix(got, "deliver:retry find:not_found deliver:retry find:not_found deliver:delivered") {
		t.Fatalf("attempts %s", got)
	}
}

// TestTimeoutAfterTheRegulatorReceivedIt: the upload reaches the regulator but
// the answer does not come back in time; the next attempt finds the receipt by
// the idempotency key instead of uploading again.
func TestTimeoutAfterTheRegulatorReceivedIt(t *testing.T) {
	for _, fault := range []sim.Fault{sim.FaultTimeout, sim.FaultDrop} {
		t.Run(string(fault), func(t *testing.T) {
			e := newEnv(t, 300*time.Millisecond)
			f := e.filing(t, "regulator-sim", false, "2026-10")
			e.sim.Inject(fault, 1)
			sub := e.wait(t, e.submit(t, f.ID).ID)
			if sub.Status != store.Accepted || e.sim.Deliveries()[sub.ID] != 1 || e.sim.Attempts()[sub.ID] != 1 {
				t.Fatalf("submission %s; deliveries %d, uploads %d", sub.Status, e.sim.Deliveries()[sub.ID], e.sim.Attempts()[sub.ID])
			}
			if got := outcomes(sub); !strings.HasPrefix(got, "deliver:retry find:found status:") {
				t.Fatalf("attempts %s", got)
			}
		})
	}
}

func TestRejectionIsStoredWithFeedback(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", false, "2026-10")
	e.sim.Inject(sim.FaultReject, 1)
	sub := e.wait(t, e.submit(t, f.ID).ID)
	if sub.Status != store.Rejected || len(sub.Feedback) == 0 || sub.Feedback[0].Severity != "error" || sub.Feedback[0].Message == "" {
		t.Fatalf("submission %+v", sub)
	}
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'submissions.rejected' AND target = $1`,
		"submission:"+sub.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit records of the rejection: %d (%v)", n, err)
	}
}

func TestBlockedFilingIsRefused(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", true, "2026-10")
	var resp struct {
		Error struct{ Code, Message string }
	}
	if code := e.Do("POST", "/v1/filings/"+f.ID+"/submissions", "operator", nil, &resp); code != 409 || resp.Error.Code != "not_submittable" ||
		!strings.Contains(resp.Error.Message, "blocked") {
		t.Fatalf("submitting a blocked filing: %d %+v", code, resp)
	}
	if len(e.sim.Receipts()) != 0 {
		t.Fatal("the regulator received a blocked filing")
	}
	// Overridden, it goes.
	if code := e.Do("POST", "/v1/filings/"+f.ID+"/override", "operator", []byte(`{"reason":"confirmed with the supervisor by phone"}`), nil); code != 200 {
		t.Fatalf("override: %d", code)
	}
	if sub := e.wait(t, e.submit(t, f.ID).ID); sub.Status != store.Accepted {
		t.Fatalf("after the override: %+v", sub)
	}
}

// TestAmendmentReferencesTheOriginal: an amended filing (a restatement) is
// submitted as an amendment carrying the original's receipt.
func TestAmendmentReferencesTheOriginal(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", false, "2026-10")
	orig := e.wait(t, e.submit(t, f.ID).ID)
	// The amended filing, as a restatement stores it: the same template version
	// and period, at a later watermark, amending the original.
	st := reportsstore.New(e.DB.Pool)
	amended := f
	amended.ID, amended.Amends, amended.AsOfSeq = f.ID+"-r1", f.ID, f.AsOfSeq+1
	full, err := st.Filing(context.Background(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	amended.Report = full.Report
	amended.Files = nil
	for _, file := range f.Files {
		c, err := st.FileContent(context.Background(), f.ID, file.Format)
		if err != nil {
			t.Fatal(err)
		}
		amended.Files = append(amended.Files, c)
	}
	if err := st.CreateFiling(context.Background(), amended, nil); err != nil {
		t.Fatal(err)
	}
	sub := e.wait(t, e.submit(t, amended.ID).ID)
	if sub.Status != store.Accepted || sub.AmendsReceipt != orig.ReceiptID {
		t.Fatalf("amendment %+v, original receipt %s", sub, orig.ReceiptID)
	}
	if r, ok := e.sim.Receipt(sub.ReceiptID); !ok || r.Amends != orig.ReceiptID {
		t.Fatalf("the regulator's receipt of the amendment %+v", r)
	}
}

// TestSFTPAndDirectoryChannels: the file-drop channels deliver the filing's
// files, under a temporary name then renamed, and end at delivered.
func TestSFTPAndDirectoryChannels(t *testing.T) {
	root := t.TempDir()
	srv := sftptest.Start(t, root)
	if err := os.MkdirAll(filepath.Join(root, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	sc, err := sftpchan.New(sftpchan.Config{Name: "nca-sftp", Addr: srv.Addr, User: srv.User, Password: srv.Password, HostKey: srv.HostKey,
		Dir: "inbox", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dropDir := t.TempDir()
	dc, err := dirchan.New(dirchan.Config{Name: "nca-dir", Dir: dropDir})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 5*time.Second, sc, dc)
	for i, c := range []struct{ channel, dir string }{{"nca-sftp", filepath.Join(root, "inbox")}, {"nca-dir", dropDir}} {
		f := e.filing(t, c.channel, false, fmt.Sprintf("2026-%02d", 10+i))
		sub := e.wait(t, e.submit(t, f.ID).ID)
		if sub.Status != store.Delivered || sub.ReceiptID == "" {
			t.Fatalf("%s: %+v", c.channel, sub)
		}
		entries, err := os.ReadDir(c.dir)
		if err != nil || len(entries) != 1 || strings.HasPrefix(entries[0].Name(), ".") {
			t.Fatalf("%s: the drop directory holds %v (%v)", c.channel, entries, err)
		}
		files, _ := os.ReadDir(filepath.Join(c.dir, entries[0].Name()))
		var names []string
		for _, fi := range files {
			names = append(names, fi.Name())
		}
		if len(files) != 4 { // xlsx, csv, json, manifest.json
			t.Fatalf("%s: delivered %v", c.channel, names)
		}
	}
}

// TestCrashBetweenUploadAndReceipt kills a submitter process (SIGKILL) right
// after the regulator took the upload and before the receipt was recorded; the
// submitter that takes over finds the receipt by the idempotency key and
// uploads nothing again.
func TestCrashBetweenUploadAndReceipt(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", false, "2026-10")
	// The submission is created while no worker of this process may take it:
	// only the crashing subprocess works it.
	sub, _, err := store.New(e.DB.Pool).Create(context.Background(), store.Submission{ID: "sub-crash-test", FilingID: f.ID,
		Channel: "regulator-sim", CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Hold the submission so the in-process workers leave it to the subprocess.
	if _, err := e.DB.Pool.Exec(context.Background(), `UPDATE submissions SET next_attempt_at = now() + interval '1 hour' WHERE id = $1`, sub.ID); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "LEDGERLINE_TEST_CRASHING_SUBMITTER=1", "CRASH_DB="+e.Cfg.DatabaseURL, "CRASH_SIM="+e.simURL, "CRASH_SUB="+sub.ID)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errorsAs(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the submitter was meant to die by SIGKILL: %v\n%s", err, out)
	}
	if e.sim.Deliveries()[sub.ID] != 1 {
		t.Fatalf("the regulator has %d deliveries before the restart, want 1", e.sim.Deliveries()[sub.ID])
	}
	var status string
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT status FROM submissions WHERE id = $1`, sub.ID).Scan(&status); err != nil || status != store.Sending {
		t.Fatalf("after the crash the submission is %q, want sending (%v)", status, err)
	}
	// The restart: this process's workers take it once the dead one's lease ends.
	if _, err := e.DB.Pool.Exec(context.Background(), `UPDATE submissions SET next_attempt_at = now() WHERE id = $1`, sub.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Wake()
	got := e.wait(t, sub.ID)
	if got.Status != store.Accepted || e.sim.Deliveries()[sub.ID] != 1 || e.sim.Attempts()[sub.ID] != 1 {
		t.Fatalf("after the restart: %s; deliveries %d, uploads %d", got.Status, e.sim.Deliveries()[sub.ID], e.sim.Attempts()[sub.ID])
	}
	if o := outcomes(got); !strings.HasPrefix(o, "find:found status:") {
		t.Fatalf("attempts after the restart: %s", o)
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// killAfterDeliver is a channel that dies (SIGKILL to its own process) as soon
// as the regulator answered an upload, before anything is recorded.
type killAfterDeliver struct{ channel.Channel }

func (k killAfterDeliver) Deliver(ctx context.Context, d channel.Delivery) (channel.Receipt, error) {
	r, err := k.Channel.Deliver(ctx, d)
	if err == nil {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	return r, err
}

// crashingSubmitter is the subprocess of TestCrashBetweenUploadAndReceipt: a
// submission worker on the test's database whose channel kills it mid-way.
func crashingSubmitter() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CRASH_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := pool.Exec(ctx, `UPDATE submissions SET next_attempt_at = now() WHERE id = $1`, os.Getenv("CRASH_SUB")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	hc, err := httpchan.New(httpchan.Config{Name: "regulator-sim", URL: os.Getenv("CRASH_SIM")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	svc := submission.New(store.New(pool), storeFilings{reportsstore.New(pool)}, []channel.Channel{killAfterDeliver{hc}},
		submission.Config{Workers: 1, Lease: time.Second, Instance: "crashing"}, slog.New(slog.NewTextHandler(os.Stderr, nil)), nil)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	svc.Run(ctx)
	fmt.Fprintln(os.Stderr, "the crashing submitter did not crash")
	os.Exit(3)
}

// storeFilings reads filings straight from the reports store (the subprocess
// runs no reports service); the channel is the simulator's.
type storeFilings struct{ *reportsstore.Store }

func (storeFilings) SubmissionChannel(context.Context, reportsstore.Filing) (string, error) {
	return "regulator-sim", nil
}

// TestScheduledFilingIsSubmittedAutomatically: a template with submission
// auto: true has its scheduled filings submitted when they are submittable.
func TestScheduledFilingIsSubmittedAutomatically(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	if code, body := e.OnboardTemplate("maker", testTemplateAuto("regulator-sim", false, true), nil); code != 201 {
		t.Fatalf("onboard: %d %s", code, body)
	}
	if code := e.Do("POST", "/v1/templates/test-sub/versions/1/approve", "checker", nil, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	// Two months on, the run of the 5th at 06:00 UTC has passed at least once.
	later := time.Now().AddDate(0, 2, 0)
	rep := e.NewReports(reports.Config{RulesTimeout: 20 * time.Second, Instance: "scheduler", Now: func() time.Time { return later }})
	rep.SetSubmitter(service.AutoSubmitter{Service: e.svc})
	if err := rep.ScheduleOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	fs, err := rep.Filings(context.Background(), "test-sub", "", 10)
	if err != nil || len(fs) == 0 {
		t.Fatalf("scheduled filings: %v (%v)", fs, err)
	}
	for _, f := range fs {
		sub, err := store.New(e.DB.Pool).ByFiling(context.Background(), f.ID)
		if err != nil {
			t.Fatalf("filing %s was not submitted: %v", f.ID, err)
		}
		if got := e.wait(t, sub.ID); got.Status != store.Accepted || !strings.HasPrefix(got.CreatedBy, "key:scheduler") {
			t.Fatalf("automatic submission of %s: %+v", f.ID, got)
		}
	}
}

// TestAnAuditorChangesNothing: every mutating submission endpoint answers an
// auditor 403; reading is allowed.
func TestAnAuditorChangesNothing(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	f := e.filing(t, "regulator-sim", false, "2026-10")
	sub := e.wait(t, e.submit(t, f.ID).ID)
	mutating := 0
	for _, r := range api.New(nil).Routes() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		path = strings.NewReplacer("{id}", sub.ID).Replace(path)
		if method == "GET" {
			if code := e.Do(method, path, "auditor", nil, nil); code != 200 {
				t.Errorf("auditor %s %s: %d, want 200", method, path, code)
			}
			continue
		}
		mutating++
		if code := e.Do(method, path, "auditor", nil, nil); code != 403 {
			t.Errorf("auditor %s %s: %d, want 403", method, path, code)
		}
	}
	if mutating != 2 {
		t.Fatalf("%d mutating submission routes, want 2", mutating)
	}
}
