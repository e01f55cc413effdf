package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// ledgerline builds the CLI once per test run.
func ledgerline(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ledgerline-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "ledgerline")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// env is a configuration for subprocesses.
type env struct {
	t    *testing.T
	vars []string
	addr string
	dir  string // the working directory, "" for the test's
}

func (e env) run(args ...string) (string, string, error) {
	cmd := exec.Command(ledgerline(e.t), args...)
	cmd.Env = append(os.Environ(), e.vars...)
	cmd.Dir = e.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

var keyPattern = regexp.MustCompile(`^ll_[a-z2-7]{52}\n$`)

func (e env) key(role string) string {
	e.t.Helper()
	out, stderr, err := e.run("keys", "create", "--role", role, "--name", "test-"+role)
	if err != nil {
		e.t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	if !keyPattern.MatchString(out) {
		e.t.Fatalf("keys create printed %q on stdout, want the key alone", out)
	}
	return strings.TrimSpace(out)
}

// serve starts `ledgerline serve` and waits until it is ready.
func (e env) serve() *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(ledgerline(e.t), "serve")
	cmd.Env = append(os.Environ(), e.vars...)
	cmd.Dir = e.dir
	logf, err := os.OpenFile(filepath.Join(e.t.TempDir(), "serve.log"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			e.t.Logf("ledgerline serve log:\n%s", b)
		}
	})
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + e.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			e.t.Fatalf("ledgerline serve not ready after 60s:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type result struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Seq    uint64 `json:"seq"`
	Error  string `json:"error"`
}

func (e env) push(ctx context.Context, key string, body []byte) ([]result, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+e.addr+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var rs []result
	return rs, json.Unmarshal(b, &rs)
}

func (e env) get(key, path string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+e.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func batch(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"id":"%s-%04d","source":"fx-feed","type":"fx.rate","schema_version":1,"subject":"USD/EUR",`+
			`"occurred_at":"2026-10-31T18:00:00Z","data":{"base":"USD","quote":"EUR","rate":"0.9%04d"}}`+"\n", prefix, i, i)
	}
	return b.Bytes()
}

// TestKillNineLosesNothingAccepted kills `ledgerline serve` (embedded JetStream,
// PostgreSQL) with SIGKILL while two clients push events, restarts it, and checks
// that every event answered "accepted" is stored at its seq, and that sending
// everything again stores nothing twice.
func TestKillNineLosesNothingAccepted(t *testing.T) {
	e := env{t: t, addr: freeAddr(t)}
	natsAddr := freeAddr(t)
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_NATS_LISTEN=" + natsAddr, "LEDGERLINE_LOG_LEVEL=warn"}
	source, auditor := e.key("source"), e.key("auditor")
	srv := e.serve()

	var (
		mu       sync.Mutex
		accepted = map[string]uint64{}
		sent     [][]byte
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := batch(fmt.Sprintf("g%d-b%04d", g, i), 200)
				mu.Lock()
				sent = append(sent, body)
				mu.Unlock()
				rs, err := e.push(ctx, source, body)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				for _, r := range rs {
					if r.Status == "accepted" {
						accepted[r.ID] = r.Seq
					}
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = srv.Process.Wait()
	cancel()
	wg.Wait()
	if len(accepted) < 1000 {
		t.Fatalf("only %d events accepted before the kill; the test proves little", len(accepted))
	}

	e.serve()
	stored := streamIDs(t, "nats://"+natsAddr)
	for id, seq := range accepted {
		if stored[seq] != id {
			t.Fatalf("%s was accepted at seq %d; after the restart that seq holds %q", id, seq, stored[seq])
		}
	}
	// One of them through the API too.
	for id, seq := range accepted {
		var got struct{ Seq uint64 }
		if code := e.get(auditor, "/v1/events/"+id, &got); code != 200 || got.Seq != seq {
			t.Fatalf("GET /v1/events/%s: status %d, seq %d, want seq %d", id, code, got.Seq, seq)
		}
		break
	}
	// Everything again, including batches whose answer the kill swallowed.
	ids := map[string]bool{}
	for _, body := range sent {
		rs, err := e.push(context.Background(), source, body)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			ids[r.ID] = true
			if seq, ok := accepted[r.ID]; ok && (r.Status != "duplicate" || r.Seq != seq) {
				t.Fatalf("%s resent: %s seq %d, want duplicate of %d", r.ID, r.Status, r.Seq, seq)
			}
		}
	}
	var st struct{ Messages, LastSeq uint64 }
	e.get(auditor, "/v1/stream", &st)
	if st.Messages != uint64(len(ids)) {
		t.Fatalf("stream holds %d events for %d distinct ids sent", st.Messages, len(ids))
	}
	t.Logf("%d accepted before SIGKILL, %d distinct events stored once each after the restart", len(accepted), len(ids))
}

// TestPrivatePostgresFromTheLocalInstallation runs the CLI with no database URL:
// it starts its own PostgreSQL in the data dir (as the postgres user when root).
func TestPrivatePostgresFromTheLocalInstallation(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user must reach the cluster inside it
		t.Fatal(err)
	}
	e := env{t: t, vars: []string{"LEDGERLINE_DATABASE_URL=", "LEDGERLINE_DATA_DIR=" + dir, "LEDGERLINE_LOG_LEVEL=warn"}}
	e.key("operator")
	out, stderr, err := e.run("keys", "list")
	if err != nil || !strings.Contains(out, "test-operator") {
		t.Fatalf("keys list: %v\n%s%s", err, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.password")); err != nil {
		t.Fatalf("no private cluster password file: %v", err)
	}
	out, _, err = e.run("keys", "create", "--role", "nobody", "--name", "x")
	if err == nil {
		t.Fatalf("unknown role accepted: %s", out)
	}
}

// streamIDs reads every event of the EVENTS stream from the embedded server: seq → id.
func streamIDs(t *testing.T, url string) map[uint64]string {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for uint64(len(out)) < info.State.Msgs {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			var ev struct{ ID string }
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			out[md.Sequence.Stream] = ev.ID
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
	}
	return out
}

// TestCLIPushImportQuarantineSchemas drives the CLI against a running server the way
// a source system and an operator would.
func TestCLIPushImportQuarantineSchemas(t *testing.T) {
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_LOG_LEVEL=warn"}
	source, operator, author := e.key("source"), e.key("operator"), e.key("rule-author")
	e.serve()
	as := func(key string) env {
		c := e
		c.vars = append(append([]string{}, e.vars...), "LEDGERLINE_API_KEY="+key)
		return c
	}
	root := filepath.Join("..", "..")

	out, stderr, err := as(source).run("events", "push", filepath.Join(root, "schemas/examples/bank-2026-10.ndjson"))
	if err != nil || !strings.Contains(out, "50 events") || !strings.Contains(out, "50 accepted, 0 duplicate, 0 rejected") {
		t.Fatalf("push: %v\n%s%s", err, out, stderr)
	}
	out, _, err = as(source).run("events", "push", filepath.Join(root, "schemas/examples/bad-events.ndjson"))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, "rejected line 1 bad-float-money: data.outstanding") {
		t.Fatalf("push of bad events: %v, want exit status 2 and the reasons\n%s", err, out)
	}
	out, stderr, err = as(source).run("events", "import", filepath.Join(root, "docs/examples/loans-eod.csv"),
		"--mapping", filepath.Join(root, "docs/examples/loans-eod.mapping.yaml"), "--batch-size", "3")
	if err != nil || !strings.Contains(out, "10 accepted") {
		t.Fatalf("import: %v\n%s%s", err, out, stderr)
	}
	out, _, err = as(source).run("events", "import", filepath.Join(root, "docs/examples/loans-eod.csv"),
		"--mapping", filepath.Join(root, "docs/examples/loans-eod.mapping.yaml"))
	if err != nil || !strings.Contains(out, "0 accepted, 10 duplicate") {
		t.Fatalf("import again: %v\n%s", err, out)
	}
	out, stderr, err = as(source).run("quarantine", "list")
	if err == nil || !strings.Contains(stderr, "HTTP 403, forbidden") {
		t.Fatalf("a source key listing the quarantine: %v %s%s, want the 403 refusal", err, out, stderr)
	}
	out, stderr, err = as(operator).run("quarantine", "list")
	if err != nil || strings.Count(out, "\n") != 11 || !strings.Contains(out, "bad-unknown-type") {
		t.Fatalf("quarantine list: %v\n%s%s", err, out, stderr)
	}
	var entries []struct {
		ID      int64
		EventID string `json:"event_id"`
	}
	out, _, _ = as(operator).run("quarantine", "list", "--json")
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 10 {
		t.Fatalf("quarantine list --json: %v %s", err, out)
	}
	var unknownType int64
	for _, en := range entries {
		if en.EventID == "bad-unknown-type" {
			unknownType = en.ID
		}
	}
	// Register the misspelt type's schema, then resubmit the event unchanged.
	schema := filepath.Join(t.TempDir(), "balanse.json")
	_ = os.WriteFile(schema, []byte(`{"type":"object"}`), 0o644)
	out, stderr, err = as(author).run("schemas", "register", "--type", "loan.balanse", "--version", "1", schema)
	if err != nil || !strings.Contains(out, "registered") {
		t.Fatalf("schemas register: %v\n%s%s", err, out, stderr)
	}
	out, _, err = as(author).run("schemas", "list")
	if err != nil || !strings.Contains(out, "loan.balanse") || !strings.Contains(out, "built-in") {
		t.Fatalf("schemas list: %v\n%s", err, out)
	}
	out, stderr, err = as(operator).run("quarantine", "resubmit", fmt.Sprint(unknownType))
	if err != nil || !strings.Contains(out, "bad-unknown-type: accepted") || !strings.Contains(out, "resolved") {
		t.Fatalf("quarantine resubmit: %v\n%s%s", err, out, stderr)
	}
	out, _, err = as(operator).run("quarantine", "discard", fmt.Sprint(entries[0].ID), "--reason", "test data")
	if err != nil || !strings.Contains(out, "discarded") {
		t.Fatalf("quarantine discard: %v\n%s", err, out)
	}
	out, _, _ = as(operator).run("quarantine", "list")
	if strings.Count(out, "\n") != 9 {
		t.Fatalf("after one resolved and one discarded, want 8 open entries:\n%s", out)
	}
}

// TestKillNineOfARuleWorkerChangesNothing kills `ledgerline serve` with SIGKILL while
// the rules backfill a new rule set, restarts it, and compares the contributions with
// those of a clean rebuild from the stream: same rows, same checksum.
func TestKillNineOfARuleWorkerChangesNothing(t *testing.T) {
	dbURL := pgtest.URL(t)
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + dbURL, "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_LOG_LEVEL=warn", "LEDGERLINE_RULES_BATCH=500"}
	source, author, operator := e.key("source"), e.key("rule-author"), e.key("operator")
	srv := e.serve()
	const events = 60000
	for b := 0; b < events/2000; b++ {
		var body bytes.Buffer
		for i := b * 2000; i < (b+1)*2000; i++ {
			fmt.Fprintf(&body, `{"id":"k-%06d","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-%d",`+
				`"occurred_at":"2026-10-%02dT18:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d","exposure_class":"corporate",`+
				`"product":"term_loan","outstanding":"%d.%02d","currency":"EUR"}}`+"\n", i, i%900, 1+i%28, i%900, i%37, 1000+i, i%100)
		}
		if _, err := e.push(context.Background(), source, body.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	rulesFile := filepath.Join(t.TempDir(), "kill.yaml")
	_ = os.WriteFile(rulesFile, []byte(`
ruleset: kill-test
effective_from: "2026-01"
figures:
  - name: kill_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions: {counterparty: event.data.counterparty_id}
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: kill_flow
    kind: flow
    when: event.type == "loan.balance" && event.data.counterparty_id == "CP-1"
    value: decimal(event.data.outstanding)
`), 0o644)
	as := func(key string) env {
		c := e
		c.vars = append(append([]string{}, e.vars...), "LEDGERLINE_API_KEY="+key)
		return c
	}
	if out, stderr, err := as(author).run("rules", "onboard", rulesFile); err != nil {
		t.Fatalf("rules onboard: %v\n%s%s", err, out, stderr)
	}
	// Kill it while the backfill runs.
	checksum := func() (int64, string) {
		c, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		var (
			n   int64
			sum string
		)
		if err := c.QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(r, '|' ORDER BY r)), '')
			FROM (SELECT concat_ws(',', ruleset, version, figure, dims::text, value::text, currency, event_id, seq, occurred_at, subject) AS r
			FROM contribution_rows) t`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		return n, sum
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, _ := checksum(); n > 2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = srv.Process.Wait()
	partial, _ := checksum()

	e.serve()
	var wm map[string]any
	e.get(operator, "/v1/rules/watermark", &wm)
	t.Logf("after restart: %v", wm)
	if out, stderr, err := as(operator).run("rules", "wait"); err != nil {
		t.Fatalf("rules wait: %v\n%s%s", err, out, stderr)
	}
	n1, sum1 := checksum()
	want := int64(events) // every event for kill_exposure, CP-1's for kill_flow
	for i := 0; i < events; i++ {
		if i%37 == 1 {
			want++
		}
	}
	if n1 != want {
		t.Fatalf("after the kill (%d rows were in) and restart: %d rows, want %d", partial, n1, want)
	}
	if out, stderr, err := as(operator).run("projections", "rebuild"); err != nil {
		t.Fatalf("projections rebuild: %v\n%s%s", err, out, stderr)
	}
	n2, sum2 := checksum()
	if n1 != n2 || sum1 != sum2 {
		t.Fatalf("after kill and restart %d rows (%s); clean rebuild %d rows (%s)", n1, sum1, n2, sum2)
	}
	t.Logf("killed with %d of %d rows committed; after the restart %d rows, identical to a clean rebuild", partial, want, n1)
}

// TestCLITemplatesAndFilings drives the reports through the CLI against a served
// binary: a sample template with its layout is onboarded, refused approval by its
// maker, approved by a second compliance key, filed, signed off and downloaded.
func TestCLITemplatesAndFilings(t *testing.T) {
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_LOG_LEVEL=warn"}
	source, author, maker, checker, operator, auditor := e.key("source"), e.key("rule-author"), e.key("compliance"),
		e.key("compliance"), e.key("operator"), e.key("auditor")
	e.serve()
	as := func(key string) env {
		c := e
		c.vars = append(append([]string{}, e.vars...), "LEDGERLINE_API_KEY="+key)
		return c
	}
	run := func(key string, args ...string) string {
		t.Helper()
		out, stderr, err := as(key).run(args...)
		if err != nil {
			t.Fatalf("ledgerline %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
	run(source, "events", "push", "../../schemas/examples/bank-2026-10.ndjson")
	run(author, "rules", "onboard", "../../rules/own-funds.yaml", "--wait")
	run(author, "rules", "onboard", "../../rules/credit-risk.yaml", "--wait")

	if out := run(maker, "templates", "onboard", "../../reports/corep-own-funds"); !strings.Contains(out, "template corep-own-funds version 1: validated") {
		t.Fatalf("templates onboard:\n%s", out)
	}
	if out, stderr, err := as(maker).run("templates", "approve", "corep-own-funds", "1"); err == nil || !strings.Contains(stderr, "HTTP 403") {
		t.Fatalf("the maker approving: %v\n%s%s", err, out, stderr)
	}
	if out := run(checker, "templates", "approve", "corep-own-funds", "1"); !strings.Contains(out, "active") {
		t.Fatalf("templates approve:\n%s", out)
	}
	if out := run(auditor, "templates", "list"); !strings.Contains(out, "corep-own-funds") || !strings.Contains(out, "active") {
		t.Fatalf("templates list:\n%s", out)
	}
	out := run(operator, "filings", "create", "corep-own-funds", "2026-Q4")
	if !strings.Contains(out, "filing corep-own-funds-2026-Q4-v1") || !strings.Contains(out, "awaiting_sign_off") ||
		!strings.Contains(out, "validation v0001 (error): passed") {
		t.Fatalf("filings create:\n%s", out)
	}
	if out := run(checker, "filings", "sign-off", "corep-own-funds-2026-Q4-v1"); !strings.Contains(out, ": submittable") {
		t.Fatalf("filings sign-off:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "c01.xlsx")
	out = run(auditor, "filings", "download", "corep-own-funds-2026-Q4-v1", "xlsx", "--out", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("filings download: %s, the file's sha256 is %x", out, sum)
	}
	var f struct {
		Files []struct{ Format, SHA256 string }
	}
	if err := json.Unmarshal([]byte(run(auditor, "filings", "get", "corep-own-funds-2026-Q4-v1", "--json")), &f); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, file := range f.Files {
		found = found || (file.Format == "xlsx" && file.SHA256 == hex.EncodeToString(sum[:]))
	}
	if !found {
		t.Fatalf("filings get --json: %+v, want the downloaded xlsx's sha256", f)
	}
	if out := run(auditor, "schedule"); !strings.Contains(out, "corep-own-funds") || !strings.Contains(out, "0 6 10 1,4,7,10 *") {
		t.Fatalf("schedule:\n%s", out)
	}
}

// TestCLILineageReplayRestateImpact traces a filed amount to its figure and events,
// replays the filing byte for byte, restates it after a late event and shows the
// late event's impact, all through the CLI against a served binary.
func TestCLILineageReplayRestateImpact(t *testing.T) {
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_LOG_LEVEL=warn"}
	source, author, maker, checker, operator, auditor := e.key("source"), e.key("rule-author"), e.key("compliance"),
		e.key("compliance"), e.key("operator"), e.key("auditor")
	e.serve()
	as := func(key string) env {
		c := e
		c.vars = append(append([]string{}, e.vars...), "LEDGERLINE_API_KEY="+key)
		return c
	}
	run := func(key string, args ...string) string {
		t.Helper()
		out, stderr, err := as(key).run(args...)
		if err != nil {
			t.Fatalf("ledgerline %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
	run(source, "events", "push", "../../schemas/examples/bank-2026-10.ndjson")
	run(author, "rules", "onboard", "../../rules/own-funds.yaml", "--wait")
	run(author, "rules", "onboard", "../../rules/credit-risk.yaml", "--wait")
	run(maker, "templates", "onboard", "../../reports/corep-own-funds")
	run(checker, "templates", "approve", "corep-own-funds", "1")
	if out := run(operator, "filings", "create", "corep-own-funds", "2026-Q4"); !strings.Contains(out, "filing corep-own-funds-2026-Q4-v1") {
		t.Fatalf("filings create:\n%s", out)
	}
	const filing, cell = "corep-own-funds-2026-Q4-v1", "r0015_c0010"

	// Lineage: the JSON parses, and the human form shows the value and its events.
	var lin struct {
		Code, Sheet, At, Value, Currency string
		Figure                           struct {
			Name          string `json:"figure"`
			Ruleset       string
			Version       int
			Contributions int64
		}
	}
	if out := run(auditor, "lineage", filing, cell, "--json"); json.Unmarshal([]byte(out), &lin) != nil || lin.Value == "" ||
		lin.Figure.Name != "tier1_capital" || lin.Figure.Contributions == 0 {
		t.Fatalf("lineage --json: %+v\n%s", lin, out)
	}
	out := run(auditor, "lineage", filing, cell, "--contributions")
	for _, want := range []string{"value:    " + lin.Value, "currency: EUR", "sheet:    C 01.00", "at:       D9", "Tier 1 capital",
		"tier1_capital  rule set own-funds v1  cumulative", `when: event.type == "gl.posting" && event.data.gl_account in`,
		"value: -decimal(event.data.amount)", fmt.Sprintf("from %d contribution(s)", lin.Figure.Contributions),
		"SEQ", "gl-JE-2026-10-0001-03", "JE-2026-10-0001-03"} {
		if !strings.Contains(out, want) {
			t.Fatalf("lineage --contributions lacks %q:\n%s", want, out)
		}
	}
	var both struct {
		Lineage       struct{ Value string }
		Contributions struct {
			Contributions []struct {
				EventID string          `json:"event_id"`
				Event   json.RawMessage `json:"event"`
			}
		}
	}
	if out := run(auditor, "lineage", filing, cell, "--all", "--limit", "2", "--json"); json.Unmarshal([]byte(out), &both) != nil ||
		both.Lineage.Value != lin.Value || int64(len(both.Contributions.Contributions)) != lin.Figure.Contributions {
		t.Fatalf("lineage --all --limit 2 --json: %d contributions, want %d\n%s", len(both.Contributions.Contributions), lin.Figure.Contributions, out)
	}
	if out := run(auditor, "lineage", filing, cell, "--contributions", "--limit", "2"); !strings.Contains(out, "--cursor ") {
		t.Fatalf("lineage --contributions --limit 2 names no next page:\n%s", out)
	}

	// Replay: every file matches.
	if out := run(auditor, "replay", filing); !strings.Contains(out, "MATCH") || strings.Contains(out, "DIFFERS") ||
		strings.Count(out, "  MATCH\n") != 3 {
		t.Fatalf("replay:\n%s", out)
	}

	// A late retained earnings posting (credit: tier 1 rises), then the restatement.
	const late = "gl-JE-2026-10-LATE-01"
	lateFile := filepath.Join(t.TempDir(), "late.ndjson")
	if err := os.WriteFile(lateFile, []byte(`{"id":"`+late+`","source":"gl","type":"gl.posting","schema_version":1,"subject":"JE-2026-10-LATE-01",`+
		`"occurred_at":"2026-10-30T12:00:00Z","data":{"posting_id":"JE-2026-10-LATE-01","gl_account":"3100","entity":"DEMOBANK-AG",`+
		`"amount":"-1500000.00","currency":"EUR","booking_date":"2026-10-30","description":"Retained earnings, late audit adjustment"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(source, "events", "push", lateFile); !strings.Contains(out, "1 accepted") {
		t.Fatalf("push of the late event:\n%s", out)
	}
	run(operator, "rules", "wait")
	out = run(operator, "restate", filing)
	if !strings.Contains(out, "amended filing "+filing+"-r1: amends "+filing) {
		t.Fatalf("restate names no amended filing:\n%s", out)
	}
	changed := false
	for _, line := range strings.Split(out, "\n") {
		changed = changed || (strings.HasPrefix(line, cell+" ") && strings.Contains(line, late+" contributes") && strings.Contains(line, "1500000.00"))
	}
	if !changed {
		t.Fatalf("restate shows no change of %s by %s:\n%s", cell, late, out)
	}

	// Impact: the original filing's cell would change.
	out = run(auditor, "impact", late)
	_, would, ok := strings.Cut(out, "cells of earlier filings it would change")
	if !ok || !regexp.MustCompile(`(?m)^\s+`+filing+`\s+2026-Q4\s+\d+\s+`+cell+`\s`).MatchString(would) ||
		!regexp.MustCompile(`own-funds v1\s+tier1_capital\s`).MatchString(out) {
		t.Fatalf("impact %s:\n%s", late, out)
	}
}
