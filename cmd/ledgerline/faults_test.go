package main_test

// The fault suite: `make test-faults` runs every TestFault test in its full form
// (LEDGERLINE_FAULTS=full); `make test` runs the same tests in a short form.
// Real service processes (`ledgerline serve --role R`, so SIGKILL is real) run on
// PostgreSQL and a JetStream server of the test's, while clients send events the
// way a source system must: what was not answered 200 is sent again, same ids, after
// Retry-After, to whichever ingest process is up. Random choices come from one
// seed, printed first; LEDGERLINE_FAULTS_SEED=N replays a run's plan.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/natstest"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/platform/postgres"
	"github.com/ledgerline/ledgerline/platform/proctest"
	"github.com/ledgerline/ledgerline/services/ingest/ingesttest"
	rulesstore "github.com/ledgerline/ledgerline/services/rules/store"
	"github.com/ledgerline/ledgerline/services/submission/sim"
)

// faultSize is how much a fault test does: the short form by default, the full
// one with LEDGERLINE_FAULTS=full.
type faultSize struct {
	name    string
	events  int           // events sent while processes are killed or PostgreSQL stops
	flow    time.Duration // how long sending them takes (the clients are paced)
	kills   int           // SIGKILLs in the kill test
	filings int           // filings submitted in the kill test
	burst   time.Duration // how long the burst of 10x the sustained rate lasts
}

func faultSizes(t *testing.T) faultSize {
	t.Helper()
	s := faultSize{name: "short", events: 20000, flow: 8 * time.Second, kills: 6, filings: 6, burst: 500 * time.Millisecond}
	if os.Getenv("LEDGERLINE_FAULTS") == "full" {
		s = faultSize{name: "full", events: 200000, flow: 40 * time.Second, kills: 24, filings: 24, burst: 4 * time.Second}
	}
	t.Logf("%s form: %d events over %s (LEDGERLINE_FAULTS=full for the full form)", s.name, s.events, s.flow)
	return s
}

// faultRand is the seeded source of a test's random choices.
func faultRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEDGERLINE_FAULTS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LEDGERLINE_FAULTS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay: LEDGERLINE_FAULTS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>32))
}

// proc is a service process of a fault test, `ledgerline serve --role ROLE`:
// started, killed with SIGKILL and started again on the same HTTP address, with
// one log over all its lives.
type proc struct {
	t      *testing.T
	name   string
	bin    string
	args   []string
	env    []string
	addr   string
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
	lives  int
}

// startProcs starts `ledgerline serve --role ROLE` for each name (ROLE is the
// name up to a dash: "ingest-2" runs --role ingest) with env(name), and waits
// until all are ready. They are killed when the test ends, and their logs are
// printed if it failed.
func startProcs(t *testing.T, envOf func(name string) []string, names ...string) []*proc {
	t.Helper()
	ps := make([]*proc, len(names))
	for i, name := range names {
		role, _, _ := strings.Cut(name, "-")
		p := &proc{t: t, name: name, bin: ledgerline(t), args: []string{"serve", "--role", role}, env: envOf(name),
			addr: freeAddr(t), log: filepath.Join(t.TempDir(), name+".log")}
		t.Cleanup(func() {
			p.kill()
			if t.Failed() {
				b, _ := os.ReadFile(p.log)
				t.Logf("%s log, its end:\n%s", p.name, tail(b, 3000))
			}
		})
		p.launch()
		ps[i] = p
	}
	for _, p := range ps {
		p.ready()
	}
	return ps
}

// start starts the process again and waits until it is ready.
func (p *proc) start() {
	p.t.Helper()
	p.launch()
	p.ready()
}

func (p *proc) launch() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.lives++
	fmt.Fprintf(f, "==== life %d\n", p.lives)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(append(os.Environ(), p.env...), "LEDGERLINE_HTTP_ADDR="+p.addr)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	f.Close()
	if err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
}

// ready waits until /readyz answers 200.
func (p *proc) ready() {
	p.t.Helper()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.exited:
			b, _ := os.ReadFile(p.log)
			p.t.Fatalf("%s exited while starting:\n%s", p.name, tail(b, 3000))
		default:
		}
		if resp, err := http.Get(p.url() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.log)
			p.t.Fatalf("%s not ready after 90s:\n%s", p.name, tail(b, 3000))
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// running reports whether the process is alive (it did not exit by itself).
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *proc) url() string { return "http://" + p.addr }

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// cli runs the ledgerline CLI against url with key.
func (e env) cli(url, key string, args ...string) string {
	e.t.Helper()
	c := e
	c.vars = append(slices.Clone(e.vars), "LEDGERLINE_SERVER="+url, "LEDGERLINE_API_KEY="+key)
	out, stderr, err := c.run(args...)
	if err != nil {
		e.t.Fatalf("ledgerline %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// withAppName names a process's PostgreSQL sessions (application_name), so a test
// can tell which process holds a lock.
func withAppName(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// source sends batches of events as a source system must: each until it is
// answered 200, again with the same ids after a refusal or a lost answer (after
// Retry-After when given), to the next ingest process in turn.
type source struct {
	key    string
	urls   []string
	client *http.Client

	mu         sync.Mutex
	answered   map[string]uint64 // id → seq, from accepted and duplicate answers
	accepted   map[string]uint64 // id → seq, the "accepted" answers
	conflicts  []string
	refused    map[string]int // "429 overloaded", "503 unavailable", ... → count
	lost       atomic.Int64   // requests without an answer (refused connection, reset, timeout)
	badRefusal []string       // 429/503 answers without Retry-After or an error code
}

func newSource(key string, urls ...string) *source {
	return &source{key: key, urls: urls, answered: map[string]uint64{}, accepted: map[string]uint64{}, refused: map[string]int{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// send posts body until it is answered 200. Any answer but 200, 429 and 503 is
// an error.
func (s *source) send(ctx context.Context, body []byte, first int) error {
	for try := 0; ctx.Err() == nil; try++ {
		wait := 100 * time.Millisecond
		target := s.urls[(first+try)%len(s.urls)]
		req, _ := http.NewRequestWithContext(ctx, "POST", target+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := s.client.Do(req)
		var b []byte
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		switch {
		case err != nil:
			s.lost.Add(1)
		case resp.StatusCode == http.StatusOK:
			var rs []result
			if err := json.Unmarshal(b, &rs); err != nil {
				return fmt.Errorf("POST /v1/events answered 200 with %q: %w", tail(b, 200), err)
			}
			return s.record(rs, true)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			var e struct {
				Error struct {
					Code    string
					Details json.RawMessage
				}
			}
			_ = json.Unmarshal(b, &e)
			ra, raErr := strconv.Atoi(resp.Header.Get("Retry-After"))
			s.mu.Lock()
			s.refused[fmt.Sprintf("%d %s", resp.StatusCode, e.Error.Code)]++
			if raErr != nil || e.Error.Code == "" {
				s.badRefusal = append(s.badRefusal, fmt.Sprintf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), tail(b, 200)))
			}
			s.mu.Unlock()
			if ra > 0 {
				wait = time.Duration(ra) * time.Second
			}
			// A 503's details are the results so far: "accepted" ones are stored.
			var rs []result
			if json.Unmarshal(e.Error.Details, &rs) == nil {
				if err := s.record(rs, false); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("POST /v1/events to %s: %d %s", target, resp.StatusCode, tail(b, 300))
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return ctx.Err()
}

// record keeps the seqs answered; complete says every event must have one.
func (s *source) record(rs []result, complete bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		switch r.Status {
		case "accepted", "duplicate":
		case "failed":
			if !complete {
				continue
			}
			fallthrough
		default:
			return fmt.Errorf("event %s answered %s (%s)", r.ID, r.Status, r.Error)
		}
		if seq, ok := s.answered[r.ID]; ok && seq != r.Seq {
			s.conflicts = append(s.conflicts, fmt.Sprintf("%s answered seq %d and seq %d", r.ID, seq, r.Seq))
		}
		s.answered[r.ID] = r.Seq
		if r.Status == "accepted" {
			s.accepted[r.ID] = r.Seq
		}
	}
	return nil
}

// flow sends events in batches from 4 senders, paced to take about d, and
// returns when every batch was answered 200.
func (s *source) flow(ctx context.Context, events [][]byte, batch int, d time.Duration) error {
	bodies := make(chan []byte)
	batches := (len(events) + batch - 1) / batch
	go func() {
		defer close(bodies)
		tick := time.NewTicker(d / time.Duration(batches))
		defer tick.Stop()
		for lo := 0; lo < len(events); lo += batch {
			select {
			case <-ctx.Done():
				return
			case bodies <- append(bytes.Join(events[lo:min(lo+batch, len(events))], []byte("\n")), '\n'):
			}
			<-tick.C
		}
	}()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for g := range 4 {
		wg.Go(func() {
			for i := g; ; i++ {
				body, ok := <-bodies
				if !ok {
					return
				}
				if err := s.send(ctx, body, i); err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// report is a one-line account of what the source met.
func (s *source) report() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d events answered (%d accepted, %d duplicate), refusals %v, %d requests unanswered",
		len(s.answered), len(s.accepted), len(s.answered)-len(s.accepted), s.refused, s.lost.Load())
}

// checkStream checks that the stream holds each of the events sent exactly once,
// and every answered seq holds its event. It returns the stream's last seq.
func (s *source) checkStream(t *testing.T, natsURL string, sent int) uint64 {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conflicts) > 0 {
		t.Fatalf("an id answered with two seqs: %v", s.conflicts[:min(5, len(s.conflicts))])
	}
	if len(s.badRefusal) > 0 {
		t.Fatalf("%d refusals without Retry-After or an error code, e.g. %s", len(s.badRefusal), s.badRefusal[0])
	}
	stored := streamIDs(t, natsURL)
	for id, seq := range s.answered {
		if stored[seq] != id {
			t.Fatalf("%s was answered seq %d (accepted: %v); that seq holds %q", id, seq, s.accepted[id] == seq, stored[seq])
		}
	}
	if len(stored) != sent || len(s.answered) != sent {
		t.Fatalf("%d events sent, %d answered, %d stored: want each stored once", sent, len(s.answered), len(stored))
	}
	var last uint64
	for seq := range stored {
		last = max(last, seq)
	}
	return last
}

// faultRules are the rule set of the fault tests: every loan.balance event
// contributes to fault_exposure, those of counterparty CP-1 also to fault_flow.
const faultRules = `
ruleset: faults
effective_from: "2025-01"
figures:
  - name: fault_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions: {counterparty: event.data.counterparty_id}
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: fault_flow
    kind: flow
    when: event.type == "loan.balance" && event.data.counterparty_id == "CP-1"
    value: decimal(event.data.outstanding)
`

// faultContributions is how many contribution rows faultRules make of the events
// of ingesttest.LoanBalances(n): one each, plus one for every CP-1 event.
func faultContributions(n int) int64 {
	rows := int64(n)
	for i := range n {
		if i%2000 == 1 {
			rows++
		}
	}
	return rows
}

// contributions are the count and digest of every contribution row, and the
// count of the fault rule set's.
func contributions(t *testing.T, pool *pgxpool.Pool) (int64, string, int64) {
	t.Helper()
	ctx := context.Background()
	n, sum, err := rulesstore.New(pool).Checksum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM contribution_rows WHERE ruleset = 'faults'`).Scan(&mine); err != nil {
		t.Fatal(err)
	}
	return n, sum, mine
}

// waitRules waits until the rules served at url have processed the stream up to seq.
func waitRules(t *testing.T, url, key string, seq uint64, within time.Duration) {
	t.Helper()
	var wm struct {
		Watermark uint64 `json:"watermark"`
	}
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequest("GET", url+"/v1/rules/watermark", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&wm)
			resp.Body.Close()
			if wm.Watermark >= seq {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rules at %s reached seq %d of %d in %s", url, wm.Watermark, seq, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkReplay compares the contributions with a clean rebuild from the stream by
// a single fresh rules process, started once every other process is gone.
func checkReplay(t *testing.T, e env, pool *pgxpool.Pool, procEnv func(string) []string, operator string, want int64) {
	t.Helper()
	n1, sum1, mine := contributions(t, pool)
	if mine != want {
		t.Fatalf("the fault rule set has %d contribution rows, want %d (one per event, one more per CP-1 event)", mine, want)
	}
	start := time.Now()
	clean := startProcs(t, procEnv, "rules-clean")[0]
	e.cli(clean.url(), operator, "projections", "rebuild")
	n2, sum2, _ := contributions(t, pool)
	if n1 != n2 || sum1 != sum2 {
		t.Fatalf("after the faults: %d rows (%s); a clean replay: %d rows (%s)", n1, sum1, n2, sum2)
	}
	t.Logf("contributions: %d rows (%d of the fault rule set), checksum %s, identical to a clean replay (%s)",
		n1, mine, sum1, time.Since(start).Round(time.Millisecond))
}

// TestFaultKillNineWhileEventsFlow kills ingest processes, rule workers and the
// submitter with SIGKILL at random moments while events flow and filings are
// submitted, and starts them again. At the end every event answered accepted is
// in the stream at its seq and each one sent is stored once, the contributions
// equal a clean replay's, and no filing reached the regulator twice.
func TestFaultKillNineWhileEventsFlow(t *testing.T) {
	size, rnd := faultSizes(t), faultRand(t)
	nats := natstest.Start(t)
	dbURL := pgtest.URL(t)
	pool, err := postgres.Connect(context.Background(), dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	regulator := sim.New(sim.Config{HangFor: 3 * time.Second, DecideAfter: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	simURL, stopSim, err := regulator.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopSim)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ledgerline.yaml")
	if err := os.WriteFile(cfgFile, []byte("submission:\n  channels:\n    regulator-sim: {type: http, url: \""+simURL+"\", timeout: 1s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"LEDGERLINE_NATS_URL=" + nats.URL(), "LEDGERLINE_CONFIG=" + cfgFile, "LEDGERLINE_LOG_LEVEL=warn",
		"LEDGERLINE_RULES_BATCH=500", "LEDGERLINE_REPORTS_SCHEDULER_TICK=0",
		"LEDGERLINE_SUBMISSION_LEASE=3s", "LEDGERLINE_SUBMISSION_POLL_INTERVAL=200ms"}
	procEnv := func(name string) []string {
		return append(slices.Clone(base), "LEDGERLINE_DATABASE_URL="+withAppName(dbURL, name), "LEDGERLINE_DATA_DIR="+t.TempDir())
	}
	e := env{t: t, vars: append(slices.Clone(base), "LEDGERLINE_DATABASE_URL="+dbURL, "LEDGERLINE_DATA_DIR="+t.TempDir())}
	keys := faultKeys(t, pool)
	src, author, maker, checker, operator := keys["source"], keys["author"], keys["maker"], keys["checker"], keys["operator"]
	setup := time.Now()

	rulesFile := filepath.Join(dir, "faults.yaml")
	tmplDir := filepath.Join(dir, "template")
	_ = os.WriteFile(rulesFile, []byte(faultRules), 0o644)
	_ = os.Mkdir(tmplDir, 0o755)
	_ = os.WriteFile(filepath.Join(tmplDir, "template.yaml"), []byte(`
id: fault-filing
name: Fault test filing
regulator: demo-nca
frequency: monthly
schedule: "0 6 5 * *"
timezone: UTC
reporting_currency: EUR
sheets:
  - name: S
    cells:
      - {code: total, at: B2, figure: fault_exposure}
validations:
  - {id: v1, expr: 'cell("total") >= decimal("0")', severity: error}
outputs: [csv, json]
submission: {channel: regulator-sim}
`), 0o644)
	// One process per role and instance, each `ledgerline serve --role R`. The rule
	// set and the template are onboarded before the processes that load them at
	// start (the second rule worker, reports) are started.
	workers := startProcs(t, procEnv, "rules-1")
	e.cli(workers[0].url(), author, "rules", "onboard", rulesFile)
	more := startProcs(t, procEnv, "rules-2", "reports")
	workers = append(workers, more[0])
	reports := more[1]
	e.cli(reports.url(), maker, "templates", "onboard", tmplDir)
	e.cli(reports.url(), checker, "templates", "approve", "fault-filing", "1")
	more = startProcs(t, procEnv, "submission", "ingest-1", "ingest-2")
	submitter, ingests := more[0], more[1:]
	all := append(append([]*proc{submitter, reports}, ingests...), workers...)
	byName := map[string]*proc{}
	for _, p := range all {
		byName[p.name] = p
	}
	t.Logf("6 processes started, the rule set and the template onboarded in %s", time.Since(setup).Round(time.Millisecond))

	events := ingesttest.LoanBalances(size.events, "fault")
	s := newSource(src, ingests[0].url(), ingests[1].url())
	ctx, cancel := context.WithTimeout(context.Background(), size.flow+3*time.Minute)
	defer cancel()
	flowDone := make(chan error, 1)
	start := time.Now()
	go func() { flowDone <- s.flow(ctx, events, 250, size.flow) }()

	// The filer files a month and submits it, one after another, through the
	// submitter; some uploads meet a regulator that stores them and then hangs or
	// drops the connection (a timeout after delivery).
	var (
		fmu         sync.Mutex
		submissions = map[string]string{} // filing id → submission id
	)
	filerRand := rand.New(rand.NewPCG(rnd.Uint64(), 0))
	filerDone := make(chan error, 1)
	go func() {
		for answeredCount(s) == 0 { // a filing needs events
			time.Sleep(50 * time.Millisecond)
		}
		for i := range size.filings {
			period := fmt.Sprintf("%d-%02d", 2026-i/12, 12-i%12)
			var f struct{ ID string }
			if err := retryPost(ctx, reports.url()+"/v1/filings", operator, `{"template":"fault-filing","period":"`+period+`"}`, &f); err != nil {
				filerDone <- fmt.Errorf("file %s: %w", period, err)
				return
			}
			switch filerRand.IntN(3) {
			case 0:
				regulator.Inject(sim.FaultTimeout, 1)
			case 1:
				regulator.Inject(sim.FaultDrop, 1)
			}
			var sub struct{ ID string }
			if err := retryPost(ctx, submitter.url()+"/v1/filings/"+f.ID+"/submissions", operator, "", &sub); err != nil {
				filerDone <- fmt.Errorf("submit %s: %w", f.ID, err)
				return
			}
			fmu.Lock()
			submissions[f.ID] = sub.ID
			fmu.Unlock()
			time.Sleep(size.flow / time.Duration(size.filings))
		}
		filerDone <- nil
	}()

	// The kills: at seeded moments within the flow, each kind at least once.
	kinds := []string{"ingest", "rules", "submitter"}
	for len(kinds) < size.kills {
		kinds = append(kinds, []string{"ingest", "rules", "submitter"}[rnd.IntN(3)])
	}
	rnd.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	at := make([]time.Duration, size.kills)
	for i := range at {
		at[i] = time.Duration(float64(size.flow) * (0.05 + 0.85*rnd.Float64()))
	}
	slices.Sort(at)
	for i, kind := range kinds {
		time.Sleep(time.Until(start.Add(at[i])))
		var victim *proc
		what := ""
		switch kind {
		case "ingest":
			victim = ingests[rnd.IntN(2)]
		case "rules":
			// The worker holding the partition's lock, when one does.
			victim = workers[rnd.IntN(2)]
			if holder := lockHolder(pool); byName[holder] != nil {
				victim, what = byName[holder], " (holding the rule partition)"
			}
		case "submitter":
			// Preferably while a submission is being sent: between its upload
			// and its receipt is where a crash could deliver a filing twice.
			victim = submitter
			var sending int
			for wait := time.Now().Add(time.Second); sending == 0 && time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
				_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM submissions WHERE status = 'sending'`).Scan(&sending)
			}
			what = fmt.Sprintf(" (%d submission(s) sending)", sending)
		}
		victim.kill()
		down := time.Duration(rnd.IntN(1000)) * time.Millisecond
		t.Logf("%5.1fs kill -9 %s%s, %d events answered; restart after %s", time.Since(start).Seconds(), victim.name, what, answeredCount(s), down)
		time.Sleep(down)
		victim.start()
	}
	if err := <-flowDone; err != nil {
		t.Fatalf("sending: %v", err)
	}
	if err := <-filerDone; err != nil {
		t.Fatalf("filing: %v", err)
	}
	t.Logf("flow done in %s: %s", time.Since(start).Round(time.Millisecond), s.report())
	for _, p := range all {
		if !p.running() {
			t.Fatalf("%s exited by itself", p.name)
		}
	}

	last := s.checkStream(t, nats.URL(), len(events))
	t.Logf("the stream holds each of the %d events once; every answered seq holds its event", len(events))

	// Every submission ends accepted, each delivered once.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var open int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM submissions WHERE status <> 'accepted'`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d submission(s) not accepted after 90s", open)
		}
		time.Sleep(200 * time.Millisecond)
	}
	deliveries, attempts := regulator.Deliveries(), regulator.Attempts()
	perFiling := map[string]int{}
	for _, r := range regulator.Receipts() {
		perFiling[r.FilingID]++
	}
	uploads := 0
	for filing, sub := range submissions {
		if deliveries[sub] != 1 || perFiling[filing] != 1 {
			t.Fatalf("filing %s (submission %s) reached the regulator %d time(s) under its key, %d receipt(s) in all",
				filing, sub, deliveries[sub], perFiling[filing])
		}
		uploads += attempts[sub]
	}
	if len(submissions) != size.filings || len(regulator.Receipts()) != size.filings {
		t.Fatalf("%d filings submitted, %d receipts, want %d", len(submissions), len(regulator.Receipts()), size.filings)
	}
	t.Logf("%d filings submitted, each delivered once (%d uploads carried their keys)", len(submissions), uploads)

	waitRules(t, workers[0].url(), operator, last, 2*time.Minute)
	for _, p := range all {
		p.kill()
	}
	checkReplay(t, e, pool, procEnv, operator, faultContributions(size.events))
}

func answeredCount(s *source) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.answered)
}

// faultKeys creates the API keys of a fault test by name: source, author,
// maker and checker (two compliance keys), operator.
func faultKeys(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	k := auth.NewKeys(pool)
	for name, role := range map[string]auth.Role{"source": auth.RoleSource, "author": auth.RoleRuleAuthor,
		"maker": auth.RoleCompliance, "checker": auth.RoleCompliance, "operator": auth.RoleOperator} {
		secret, _, err := k.Create(context.Background(), "fault-"+name, []auth.Role{role}, "test")
		if err != nil {
			t.Fatal(err)
		}
		out[name] = secret
	}
	return out
}

// lockHolder is the application_name of a session holding an advisory lock (a
// rule partition's), "" when none does.
func lockHolder(pool *pgxpool.Pool) string {
	var name string
	_ = pool.QueryRow(context.Background(), `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() LIMIT 1`).Scan(&name)
	return name
}

// retryPost posts body until it is answered 200, 201 or 202 (into out), as an
// operator's script would: refusals, lost answers and a filing waiting for the
// rules (504) are tried again.
func retryPost(ctx context.Context, url, key, body string, out any) error {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK, http.StatusCreated, http.StatusAccepted:
				return json.Unmarshal(b, out)
			case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			default:
				return fmt.Errorf("%d %s", resp.StatusCode, tail(b, 300))
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	return ctx.Err()
}

// privatePostgres starts a PostgreSQL cluster of the test's own from the local
// binaries (as the postgres OS user when root), with the durability settings of
// production (fsync on), so that the test may stop it under the services.
func privatePostgres(t *testing.T) (*postgres.Local, string) {
	t.Helper()
	bin, err := postgres.FindBinaries(os.Getenv("LEDGERLINE_POSTGRES_BIN_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ledgerline-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user must reach the cluster
		t.Fatal(err)
	}
	pg := &postgres.Local{Dir: filepath.Join(dir, "data"), BinDir: bin, LogFile: filepath.Join(dir, "postgres.log")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pg.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pg.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(pg.LogFile)
			t.Logf("postgres log, its end:\n%s", tail(b, 3000))
		}
	})
	if err := pg.EnsureDatabase(ctx, "ledgerline"); err != nil {
		t.Fatal(err)
	}
	return pg, pg.URL("ledgerline")
}

// TestFaultPostgresStopsAndRestarts stops the services' PostgreSQL with
// `pg_ctl stop -m immediate` while events flow and starts it again a few seconds
// later: meanwhile ingest answers 503 with Retry-After (JSON, code unavailable);
// the services stay up, reconnect and resume; nothing accepted is lost and the
// contributions are complete and equal a clean replay's.
func TestFaultPostgresStopsAndRestarts(t *testing.T) {
	size := faultSizes(t)
	events := ingesttest.LoanBalances(size.events, "pgfault")
	pg, dbURL := privatePostgres(t)
	nats := natstest.Start(t)
	base := []string{"LEDGERLINE_NATS_URL=" + nats.URL(), "LEDGERLINE_LOG_LEVEL=warn", "LEDGERLINE_RULES_BATCH=500"}
	procEnv := func(name string) []string {
		return append(slices.Clone(base), "LEDGERLINE_DATABASE_URL="+withAppName(dbURL, name), "LEDGERLINE_DATA_DIR="+t.TempDir())
	}
	// The rules process applies the migrations; the keys and the rule set follow,
	// then ingest.
	workers := startProcs(t, procEnv, "rules")[0]
	pool, err := postgres.Connect(context.Background(), dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	keys := faultKeys(t, pool)
	e := env{t: t, vars: append(slices.Clone(base), "LEDGERLINE_DATABASE_URL="+dbURL, "LEDGERLINE_DATA_DIR="+t.TempDir())}
	rulesFile := filepath.Join(t.TempDir(), "faults.yaml")
	_ = os.WriteFile(rulesFile, []byte(faultRules), 0o644)
	e.cli(workers.url(), keys["author"], "rules", "onboard", rulesFile)
	ing := startProcs(t, procEnv, "ingest")[0]

	s := newSource(keys["source"], ing.url())
	ctx, cancel := context.WithTimeout(context.Background(), size.flow+3*time.Minute)
	defer cancel()
	flowDone := make(chan error, 1)
	start := time.Now()
	go func() { flowDone <- s.flow(ctx, events, 250, size.flow) }()

	time.Sleep(size.flow * 3 / 10)
	if err := pg.StopImmediate(); err != nil {
		t.Fatal(err)
	}
	stopped, before := time.Now(), answeredCount(s)
	t.Logf("%5.1fs pg_ctl stop -m immediate, %d events answered", time.Since(start).Seconds(), before)
	time.Sleep(500 * time.Millisecond)
	var ready struct{ Error struct{ Code string } }
	code := getStatus(ing.url()+"/readyz", "", &ready)
	if code != http.StatusServiceUnavailable || ready.Error.Code != "not_ready" {
		t.Fatalf("ingest /readyz with PostgreSQL down: %d %+v, want 503 not_ready", code, ready)
	}
	time.Sleep(time.Until(stopped.Add(3 * time.Second)))
	during := answeredCount(s)
	if err := pg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%5.1fs PostgreSQL started again after %s down (crash recovery included); %d events answered meanwhile",
		time.Since(start).Seconds(), time.Since(stopped).Round(time.Millisecond), during-before)

	if err := <-flowDone; err != nil {
		t.Fatalf("sending: %v", err)
	}
	t.Logf("flow done in %s: %s", time.Since(start).Round(time.Millisecond), s.report())
	for _, p := range []*proc{ing, workers} {
		if !p.running() {
			t.Fatalf("%s exited while PostgreSQL was down", p.name)
		}
	}
	s.mu.Lock()
	unavailable := s.refused["503 unavailable"]
	s.mu.Unlock()
	if unavailable == 0 {
		t.Fatalf("no 503 unavailable while PostgreSQL was down: %s", s.report())
	}
	last := s.checkStream(t, nats.URL(), len(events))
	t.Logf("%d answers 503 unavailable with Retry-After while PostgreSQL was down; the stream holds each of the %d events once",
		unavailable, len(events))
	waitRules(t, workers.url(), keys["operator"], last, 2*time.Minute)
	t.Logf("the rules caught up with seq %d %s after the restart", last, time.Since(stopped).Round(time.Millisecond))
	ing.kill()
	workers.kill()
	checkReplay(t, e, pool, procEnv, keys["operator"], faultContributions(size.events))
}

// getStatus GETs url with key ("" for none) and decodes the JSON answer into out.
func getStatus(url, key string, out any) int {
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// rss is a process's resident set size now (VmRSS), 0 when unknown.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// burstBatches makes batch k of 200 distinct loan.balance events: a copy of the
// first with its ids renamed, cheap enough to keep up with a burst.
func burstBatches(prefix string) func(k int) []byte {
	first := append(bytes.Join(ingesttest.LoanBalances(200, prefix+"-000000"), []byte("\n")), '\n')
	return func(k int) []byte {
		return bytes.ReplaceAll(first, []byte(prefix+"-000000-"), fmt.Appendf(nil, "%s-%06d-", prefix, k))
	}
}

// TestFaultBurstIsShed measures the rate an ingest process (default settings)
// sustains from 4 senders, then offers it 10 times that rate, open loop: it sheds
// the excess with 429 overloaded and Retry-After instead of taking it all in, its
// memory stays bounded, and the senders, resending what was shed, lose nothing.
func TestFaultBurstIsShed(t *testing.T) {
	size := faultSizes(t)
	nats := natstest.Start(t)
	dbURL := pgtest.URL(t)
	pool, err := postgres.Connect(context.Background(), dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	keys := faultKeys(t, pool)
	ing := startProcs(t, func(string) []string {
		return []string{"LEDGERLINE_NATS_URL=" + nats.URL(), "LEDGERLINE_DATABASE_URL=" + dbURL, "LEDGERLINE_DATA_DIR=" + t.TempDir(),
			"LEDGERLINE_LOG_LEVEL=warn"}
	}, "ingest")[0]
	pid := ing.cmd.Process.Pid
	s := newSource(keys["source"], ing.url())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	steadyBatch, burstBatch := burstBatches("steady"), burstBatches("burst")
	// Sustained: 4 senders, each sending its next batch when the last is answered.
	var (
		batches atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range 4 {
		wg.Go(func() {
			for time.Since(start) < 2*time.Second {
				if err := s.send(ctx, steadyBatch(int(batches.Add(1))), 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sustained := float64(answeredCount(s)) / time.Since(start).Seconds()
	steady := rss(pid)

	// The burst: requests launched at 10x the sustained rate for size.burst,
	// each resent until it is answered 200.
	var (
		peak atomic.Int64
		sent atomic.Int64
	)
	peak.Store(steady)
	watching := make(chan struct{})
	go func() {
		for {
			select {
			case <-watching:
				return
			case <-time.After(20 * time.Millisecond):
				if r := rss(pid); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	interval := time.Duration(float64(time.Second) * 200 / (10 * sustained))
	burst := time.Now()
	for k := 0; time.Since(burst) < size.burst; k++ {
		wg.Go(func() {
			sent.Add(200)
			if err := s.send(ctx, burstBatch(k), 0); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(time.Until(burst.Add(time.Duration(k+1) * interval)))
	}
	offered := float64(sent.Load()) / time.Since(burst).Seconds()
	wg.Wait()
	close(watching)
	drained := time.Since(burst)
	if t.Failed() {
		return
	}
	s.mu.Lock()
	shed := s.refused["429 overloaded"]
	s.mu.Unlock()
	t.Logf("sustained %.0f events/s from 4 senders (RSS %d MiB); burst offered %.0f events/s for %s; "+
		"all %d burst events in after %s; %s",
		sustained, steady>>20, offered, size.burst, sent.Load(), drained.Round(time.Millisecond), s.report())
	if shed == 0 {
		t.Fatalf("a burst of %.0fx the sustained rate was not shed: %s", offered/sustained, s.report())
	}
	var metric float64
	var page string
	if resp, err := http.Get(ing.url() + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
	}
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, "ledgerline_ingest_shed_requests_total "); ok {
			metric, _ = strconv.ParseFloat(v, 64)
		}
	}
	if int(metric) != shed {
		t.Fatalf("ledgerline_ingest_shed_requests_total is %v; the senders were answered 429 overloaded %d times", metric, shed)
	}
	// The budgets (ingest.max_in_flight_bytes, 16 MiB, and as much again waiting;
	// ingest.max_in_flight_events, 8192) bound the bodies read and the events in
	// work, each costing a few times its size while parsed and published, with
	// the garbage collector's headroom; the runs measured 140-200 MiB.
	const bound = 384 << 20
	hwm := proctest.PeakRSS(pid)
	t.Logf("ingest RSS: %d MiB sustained, %d MiB peak during the burst (high-water mark %d MiB, bound %d MiB); %d requests shed",
		steady>>20, peak.Load()>>20, hwm>>20, bound>>20, shed)
	if hwm > bound {
		t.Fatalf("ingest's resident set reached %d MiB under the burst, over the bound of %d MiB", hwm>>20, bound>>20)
	}
	s.checkStream(t, nats.URL(), int(batches.Load())*200+int(sent.Load()))
	t.Logf("each of the %d events sent is stored once", len(s.answered))
}
