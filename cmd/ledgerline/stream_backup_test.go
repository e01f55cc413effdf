package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore/backup"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/platform/postgres"
)

// storedMsg is one message as JetStream holds it.
type storedMsg struct {
	Subject string
	Header  nats.Header
	Data    []byte
	Time    time.Time
}

// streamMessages reads every message of the EVENTS stream at url: seq → message.
func streamMessages(t *testing.T, url string) map[uint64]storedMsg {
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
	out := map[uint64]storedMsg{}
	if info.State.Msgs == 0 {
		return out
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for uint64(len(out)) < info.State.Msgs {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			out[md.Sequence.Stream] = storedMsg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Time: md.Timestamp}
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
	}
	return out
}

// contributionsChecksum is the row count and checksum of every contribution, as
// TestKillNineOfARuleWorkerChangesNothing computes them.
func contributionsChecksum(t *testing.T, dbURL string) (int64, string) {
	t.Helper()
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

// pgTool runs pg_dump or pg_restore from the installation the test server runs from.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	bin := name
	if dir, err := postgres.FindBinaries(os.Getenv("LEDGERLINE_POSTGRES_BIN_DIR")); err == nil {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			bin = filepath.Join(dir, name)
		}
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// emptyDatabase creates a database with nothing in it on the server of dbURL
// (as an operator restoring a dump onto a new server would) and returns its URL.
func emptyDatabase(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	name := fmt.Sprintf("restored_%d", time.Now().UnixNano())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dbURL)
		if err == nil {
			defer c.Close(context.Background())
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func loanEvents(from, to int) []byte {
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"id":"bk-%05d","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-%d",`+
			`"occurred_at":"2026-10-%02dT18:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d","exposure_class":"corporate",`+
			`"product":"term_loan","outstanding":"%d.%02d","currency":"EUR"}}`+"\n", i, i%90, 1+i%28, i%90, i%13, 1000+i, i%100)
	}
	return b.Bytes()
}

// TestStreamBackupAndRestore follows the documented procedure: pg_dump, then
// `ledgerline stream backup` of a served instance, then on a fresh data dir and
// a new database: pg_restore, `ledgerline stream restore` (offline), serve.
// Every message comes back at its seq with its subject, headers and data; the
// event index catches up with the events the dump did not know; the rules'
// contributions, caught up and then rebuilt, are those of the original. A
// corrupted backup and a restore into a stream with messages are refused.
func TestStreamBackupAndRestore(t *testing.T) {
	dbURL, natsAddr := pgtest.URL(t), freeAddr(t)
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + dbURL, "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_NATS_LISTEN=" + natsAddr, "LEDGERLINE_LOG_LEVEL=warn"}
	source, author, operator, auditor := e.key("source"), e.key("rule-author"), e.key("operator"), e.key("auditor")
	srv := e.serve()
	as := func(e env, key string) env {
		c := e
		c.vars = append(append([]string{}, e.vars...), "LEDGERLINE_API_KEY="+key)
		return c
	}
	run := func(e env, key string, args ...string) (string, string) {
		t.Helper()
		out, stderr, err := as(e, key).run(args...)
		if err != nil {
			t.Fatalf("ledgerline %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out, stderr
	}
	push := func(e env, body []byte) []result {
		t.Helper()
		rs, err := e.push(context.Background(), source, body)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Status != "accepted" {
				t.Fatalf("%s: %s %s", r.ID, r.Status, r.Error)
			}
		}
		return rs
	}
	rulesFile := filepath.Join(t.TempDir(), "backup.yaml")
	if err := os.WriteFile(rulesFile, []byte(`
ruleset: backup-test
effective_from: "2026-01"
figures:
  - name: bk_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions: {counterparty: event.data.counterparty_id}
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: bk_flow
    kind: flow
    when: event.type == "loan.balance"
    value: decimal(event.data.outstanding)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run(e, author, "rules", "onboard", rulesFile, "--wait")

	// Events the database dump will know, including a void...
	push(e, loanEvents(0, 1500))
	push(e, []byte(`{"id":"bk-void-7","source":"core-banking","type":"void","subject":"LN-7","occurred_at":"2026-10-20T09:00:00Z","supersedes":"bk-00007"}`))
	run(e, operator, "rules", "wait")
	dump := filepath.Join(t.TempDir(), "ledgerline-db.dump")
	pgTool(t, "pg_dump", "--format=custom", "--file="+dump, dbURL)
	// ... and events it will not, including a correction: the stream is a superset.
	push(e, loanEvents(1500, 2500))
	const correction = "bk-corr-1001"
	late := push(e, []byte(`{"id":"`+correction+`","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-11",`+
		`"occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":"LN-11","counterparty_id":"CP-1","exposure_class":"corporate",`+
		`"product":"term_loan","outstanding":"1.00","currency":"EUR"},"supersedes":"bk-01001"}`))
	run(e, operator, "rules", "wait")
	original := streamMessages(t, "nats://"+natsAddr)
	n1, sum1 := contributionsChecksum(t, dbURL)
	if len(original) != 2502 || n1 < 5000 {
		t.Fatalf("%d events stored, %d contributions: the test proves little", len(original), n1)
	}

	// The backup, from the served instance: no NATS URL given, the command finds
	// the embedded server of the `ledgerline serve` on the same data dir.
	file := filepath.Join(t.TempDir(), "events.llbackup.gz")
	out, stderr := run(e, "", "stream", "backup", "--out", file)
	if !strings.Contains(out, "backup of stream EVENTS: 2502 events, seq 1 to 2502") ||
		!strings.Contains(stderr, "the embedded nats-server of process") {
		t.Fatalf("stream backup:\n%s%s", out, stderr)
	}
	if out, _ := run(e, "", "stream", "verify", file); !strings.Contains(out, "intact: stream EVENTS, 2502 events") {
		t.Fatalf("stream verify:\n%s", out)
	}
	_ = srv.Process.Kill()
	_, _ = srv.Process.Wait()

	// A new machine: a fresh data dir (an empty stream) and a new database
	// restored from the dump.
	db2, nats2 := emptyDatabase(t, dbURL), freeAddr(t)
	pgTool(t, "pg_restore", "--no-owner", "--exit-on-error", "--dbname="+db2, dump)
	e2 := env{t: t, addr: freeAddr(t)}
	e2.vars = []string{"LEDGERLINE_DATABASE_URL=" + db2, "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e2.addr, "LEDGERLINE_NATS_LISTEN=" + nats2, "LEDGERLINE_LOG_LEVEL=warn"}

	// A backup with one flipped byte is refused before anything is written.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	corrupt := filepath.Join(t.TempDir(), "corrupt.gz")
	if err := os.WriteFile(corrupt, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err = e2.run("stream", "restore", corrupt)
	if err == nil || !strings.Contains(stderr, "backup is corrupt") || !strings.Contains(stderr, "nothing was restored") {
		t.Fatalf("restore of a corrupted backup: %v\n%s%s", err, out, stderr)
	}

	// The restore, offline: nothing serves the new data dir.
	out, stderr = run(e2, "", "stream", "restore", file)
	if !strings.Contains(out, "restored 2502 events into stream EVENTS, seq 1 to 2502") ||
		!strings.Contains(stderr, "started by this process") {
		t.Fatalf("stream restore:\n%s%s", out, stderr)
	}
	out, stderr, err = e2.run("stream", "restore", file)
	if err == nil || !strings.Contains(stderr, "the stream is not empty: stream EVENTS holds 2502 messages") {
		t.Fatalf("a second restore: %v\n%s%s", err, out, stderr)
	}

	e2.serve()
	restored := streamMessages(t, "nats://"+nats2)
	if len(restored) != len(original) {
		t.Fatalf("%d messages restored of %d", len(restored), len(original))
	}
	for seq, o := range original {
		r := restored[seq]
		extra := r.Header.Get(envelope.HeaderRecordedAt)
		delete(r.Header, envelope.HeaderRecordedAt)
		if r.Subject != o.Subject || !bytes.Equal(r.Data, o.Data) || fmt.Sprint(r.Header) != fmt.Sprint(o.Header) ||
			o.Header.Get("Nats-Msg-Id") == "" {
			t.Fatalf("seq %d: stored %s %v %q, restored %s %v %q", seq, o.Subject, o.Header, o.Data, r.Subject, r.Header, r.Data)
		}
		if at, err := time.Parse(time.RFC3339Nano, extra); err != nil || !at.Equal(o.Time) {
			t.Fatalf("seq %d: %s %q, want the original timestamp %s", seq, envelope.HeaderRecordedAt, extra, o.Time)
		}
	}

	// The event index caught up with the events the dump did not have: the
	// correction is found by id, with its seq and original recorded_at, and sent
	// again it is a duplicate.
	var ev struct {
		Seq        uint64
		RecordedAt time.Time `json:"recorded_at"`
	}
	if code := e2.get(auditor, "/v1/events/"+correction, &ev); code != 200 || ev.Seq != late[0].Seq || !ev.RecordedAt.Equal(original[ev.Seq].Time) {
		t.Fatalf("GET /v1/events/%s after the restore: %d %+v, want seq %d recorded at %s", correction, code, ev, late[0].Seq, original[late[0].Seq].Time)
	}
	// Knowledge time is the original too: as_of_time maps to the same seq.
	var fig struct {
		AsOfSeq uint64 `json:"as_of_seq"`
	}
	at := url.QueryEscape(original[1500].Time.Format(time.RFC3339Nano))
	if code := e2.get(auditor, "/v1/figures/bk_flow?period=2026-10&as_of_time="+at, &fig); code != 200 || fig.AsOfSeq != 1500 {
		t.Fatalf("figure as of the time seq 1500 was recorded: %d, as_of_seq %d", code, fig.AsOfSeq)
	}
	rs, err := e2.push(context.Background(), source, loanEvents(2000, 2001))
	if err != nil || len(rs) != 1 || rs[0].Status != "duplicate" || original[rs[0].Seq].Header.Get("Nats-Msg-Id") != "bk-02000" {
		t.Fatalf("an event of the backup sent again: %+v %v", rs, err)
	}

	// The rules caught up from the dump's positions; then a clean rebuild.
	run(e2, operator, "rules", "wait")
	if n, sum := contributionsChecksum(t, db2); n != n1 || sum != sum1 {
		t.Fatalf("after the restore: %d contributions (%s), before the backup %d (%s)", n, sum, n1, sum1)
	}
	run(e2, operator, "projections", "rebuild")
	if n, sum := contributionsChecksum(t, db2); n != n1 || sum != sum1 {
		t.Fatalf("rebuilt after the restore: %d contributions (%s), before the backup %d (%s)", n, sum, n1, sum1)
	}
}

// TestStreamBackupWhileIngesting takes a backup while two clients push events:
// ingest goes on, and the backup holds every seq from 1 to its recorded last
// seq, no gap, each message as the stream holds it.
func TestStreamBackupWhileIngesting(t *testing.T) {
	natsAddr := freeAddr(t)
	e := env{t: t, addr: freeAddr(t)}
	e.vars = []string{"LEDGERLINE_DATABASE_URL=" + pgtest.URL(t), "LEDGERLINE_DATA_DIR=" + t.TempDir(),
		"LEDGERLINE_HTTP_ADDR=" + e.addr, "LEDGERLINE_NATS_LISTEN=" + natsAddr, "LEDGERLINE_LOG_LEVEL=warn"}
	source := e.key("source")
	e.serve()
	for b := 0; b < 30; b++ {
		if _, err := e.push(context.Background(), source, batch(fmt.Sprintf("pre-%02d", b), 1000)); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu     sync.Mutex
		during int // events accepted by requests that began and ended while the backup ran
		wg     sync.WaitGroup
		window struct{ from, to time.Time }
	)
	ctx, cancel := context.WithCancel(context.Background())
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				began := time.Now()
				rs, err := e.push(ctx, source, batch(fmt.Sprintf("live-%d-%05d", g, i), 100))
				if err != nil {
					return
				}
				ended := time.Now()
				mu.Lock()
				if !window.from.IsZero() && began.After(window.from) && (window.to.IsZero() || ended.Before(window.to)) {
					for _, r := range rs {
						if r.Status == "accepted" {
							during++
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "live.gz")
	mu.Lock()
	window.from = time.Now()
	mu.Unlock()
	out, stderr, err := e.run("stream", "backup", "--out", file)
	mu.Lock()
	window.to = time.Now()
	mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("stream backup: %v\n%s%s", err, out, stderr)
	}

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := backup.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header
	stored := streamMessages(t, "nats://"+natsAddr)
	if h.FirstSeq != 1 || h.Messages != h.LastSeq || h.LastSeq < 30000 || uint64(len(stored)) <= h.LastSeq {
		t.Fatalf("backup header %+v; the stream holds %d messages now", h, len(stored))
	}
	next := uint64(1)
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s := stored[m.Seq]
		if m.Seq != next || m.Subject != s.Subject || !bytes.Equal(m.Data, s.Data) || !m.Time.Equal(s.Time) ||
			nats.Header(m.Headers).Get("Nats-Msg-Id") != s.Header.Get("Nats-Msg-Id") || len(m.Headers) != len(s.Header) {
			t.Fatalf("backup message seq %d (want seq %d): %s %v %q; the stream holds %s %v %q", m.Seq, next, m.Subject, m.Headers, m.Data, s.Subject, s.Header, s.Data)
		}
		var ev struct{ ID string }
		if json.Unmarshal(m.Data, &ev) != nil || ev.ID != s.Header.Get("Nats-Msg-Id") {
			t.Fatalf("seq %d: data %q under Nats-Msg-Id %q", m.Seq, m.Data, s.Header.Get("Nats-Msg-Id"))
		}
		next++
	}
	if next-1 != h.LastSeq {
		t.Fatalf("backup holds seqs 1 to %d, its header says %d", next-1, h.LastSeq)
	}
	if during == 0 {
		t.Fatalf("no event was accepted while the backup ran (%s): the test proves nothing", window.to.Sub(window.from))
	}
	t.Logf("backup of seqs 1 to %d in %s while %d events were accepted; the stream now ends at seq %d",
		h.LastSeq, window.to.Sub(window.from).Round(time.Millisecond), during, len(stored))
}
