package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/natstest"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	ingestservice "github.com/ledgerline/ledgerline/services/ingest/service"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesservice "github.com/ledgerline/ledgerline/services/rules/service"
)

// TestFaultJetStreamClusterNodeLoss runs ingest and rules, as two processes
// would (each its own platform and NATS connection), against a 3-node
// JetStream cluster with stream.replicas 3, while two sources send events; it
// shuts down the node leading the stream, then the node the ingest process is
// connected to, each for 2 s, and starts each again on its store. Ingest keeps
// answering (a request caught by the election may be answered 503 and is sent
// again with the same ids, as a source system does), events are accepted
// while a node is down, nothing accepted is lost (every id answered accepted
// or duplicate is in the stream at its seq; nothing is stored twice), the
// rules' contributions match the stream event for event, and the stream and
// the rule consumer report 3 replicas, all current again.
func TestFaultJetStreamClusterNodeLoss(t *testing.T) {
	began := time.Now()
	cluster := natstest.StartCluster(t, 3)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = pgtest.URL(t)
	cfg.NATSURL = cluster.URL()
	cfg.Stream.Replicas = 3
	cfg.Ingest.PublishTimeout = 4 * time.Second
	cfg.Rules.Batch = 500
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The ingest process.
	ip, err := app.Open(ctx, cfg, log.With("process", "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	defer ip.Close()
	isrv := ip.Server()
	ing, err := ingestservice.Start(ctx, ip, isrv)
	if err != nil {
		t.Fatal(err)
	}
	ingestHTTP := httptest.NewServer(isrv.Handler())
	defer ingestHTTP.Close()
	// The rules process.
	rp, err := app.Open(ctx, cfg, log.With("process", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	rsrv := rp.Server()
	rs, err := rulesservice.Start(ctx, rp, rsrv, ing.Post)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Stop()
	rulesHTTP := httptest.NewServer(rsrv.Handler())
	defer rulesHTTP.Close()

	keys := apitest.Keys(t, ip.DB.Pool)
	var onboarded rules.Onboarded
	if code := apitest.Do(t, rulesHTTP.URL, keys[auth.RoleRuleAuthor], "POST", "/v1/rulesets", []byte(`
ruleset: cluster-test
effective_from: "2026-01"
figures:
  - name: cluster_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions: {counterparty: event.data.counterparty_id}
    value: decimal(event.data.outstanding)
    currency: event.data.currency
`), &onboarded); code != 201 && code != 200 {
		t.Fatalf("onboard the rule set: status %d", code)
	}

	// Two sources, each sending batches of 200 events and sending a batch again
	// until it is answered 200 (what a source does with a 503 or a dropped
	// connection), until the faults are over.
	const size = 200
	var (
		mu        sync.Mutex
		stored    = map[string]uint64{} // id → seq: accepted, or answered duplicate of a stored event
		next      int                   // the first event of the next batch
		accepted  int
		retries   int
		slowest   time.Duration
		down      bool
		duringOut int // events accepted while a node is down
		wg        sync.WaitGroup
	)
	post := func(body []byte) ([]result, time.Duration, error) {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", ingestHTTP.URL+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+keys[auth.RoleSource])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, time.Since(start), err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		took := time.Since(start)
		if resp.StatusCode == http.StatusServiceUnavailable {
			return nil, took, errRetry
		}
		if resp.StatusCode != http.StatusOK {
			return nil, took, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		var rs []result
		return rs, took, json.Unmarshal(b, &rs)
	}
	stop := make(chan struct{})
	errc := make(chan error, 2)
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				first := next
				next += size
				mu.Unlock()
				body := clusterEvents(first, size)
				for attempt := 0; ; attempt++ {
					rs, took, err := post(body)
					mu.Lock()
					slowest = max(slowest, took)
					mu.Unlock()
					if errors.Is(err, errRetry) && attempt < 20 {
						mu.Lock()
						retries++
						mu.Unlock()
						time.Sleep(200 * time.Millisecond)
						continue
					}
					if err != nil {
						errc <- fmt.Errorf("events %d-%d, attempt %d: %w", first, first+size-1, attempt, err)
						return
					}
					mu.Lock()
					for _, r := range rs {
						switch r.Status {
						case "accepted":
							accepted++
							if down {
								duringOut++
							}
							stored[r.ID] = r.Seq
						case "duplicate":
							stored[r.ID] = r.Seq // a batch sent again whose first answer was lost
						default:
							mu.Unlock()
							errc <- fmt.Errorf("%s: %s %s", r.ID, r.Status, r.Error)
							return
						}
					}
					mu.Unlock()
					break
				}
				time.Sleep(10 * time.Millisecond) // a steady flow, not a flood: this test is about faults
			}
		}()
	}
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return accepted, duringOut
	}

	// Two faults mid-ingest: the node leading the stream, then the node the
	// ingest process is connected to. Each stays down for at least 2 s and until
	// 1,000 events were accepted without it, then starts again on its store; the
	// next fault waits for it to be current.
	nodeNamed := func(name string) int {
		for i, n := range cluster.Nodes {
			if n.Name == name {
				return i
			}
		}
		t.Fatalf("no node %q", name)
		return -1
	}
	for f, which := range []string{"the stream's leader", "ingest's server"} {
		before, _ := count()
		waitUntil(t, 30*time.Second, "events accepted before the fault", func() bool { a, _ := count(); return a >= before+2000 })
		waitUntil(t, 30*time.Second, "every replica current", func() bool { return replicasCurrent(ctx, ip) })
		info, err := ip.Events.Stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		victim := nodeNamed(info.Cluster.Leader)
		if f == 1 {
			victim = nodeNamed(ip.Events.Conn.ConnectedServerName())
		}
		_, out := count()
		mu.Lock()
		down = true
		mu.Unlock()
		cluster.Shutdown(victim)
		shutAt := time.Now()
		waitUntil(t, 30*time.Second, "events accepted while a node is down", func() bool {
			_, d := count()
			return d >= out+1000 && time.Since(shutAt) >= 2*time.Second
		})
		mu.Lock()
		down = false
		mu.Unlock()
		cluster.Start(victim)
		t.Logf("fault %d: node %s (%s) down %.1fs", f+1, cluster.Nodes[victim].Name, which, time.Since(shutAt).Seconds())
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if slowest > cfg.Ingest.PublishTimeout+5*time.Second {
		t.Fatalf("a request took %s: ingest stopped answering", slowest)
	}

	// Nothing accepted is lost, nothing is stored twice.
	waitUntil(t, 30*time.Second, "every replica current", func() bool { return replicasCurrent(ctx, ip) })
	sent := next
	if len(stored) != sent {
		t.Fatalf("%d of %d ids answered accepted or duplicate", len(stored), sent)
	}
	ids, err := storedIDs(ctx, ip.Events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != sent {
		t.Fatalf("the stream holds %d events for %d ids sent", len(ids), sent)
	}
	for id, seq := range stored {
		if ids[seq] != id {
			t.Fatalf("%s was answered at seq %d; the stream holds %q there", id, seq, ids[seq])
		}
	}

	// The rules caught up with every event, one contribution each.
	last, err := ip.Events.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := rs.WaitFor(wctx, last); err != nil {
		t.Fatal(err)
	}
	var contributions, distinct int
	if err := ip.DB.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM contribution_rows WHERE ruleset = 'cluster-test'`).
		Scan(&contributions, &distinct); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	if contributions != sent || distinct != sent {
		t.Fatalf("%d contributions from %d events, want one from each of the %d events", contributions, distinct, sent)
	}

	// Three replicas, the restarted one current again.
	info, err := ip.Events.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 {
		t.Fatalf("the stream has %d replicas, want 3", info.Config.Replicas)
	}
	// The rules' durable consumer takes the stream's replicas.
	cons, err := ip.Events.Stream.Consumer(ctx, "rules_cluster-test_v1_p0of1")
	if err != nil {
		t.Fatal(err)
	}
	if ci, err := cons.Info(ctx); err != nil || ci.Cluster == nil || len(ci.Cluster.Replicas) != 2 {
		t.Fatalf("the rule consumer: %+v %v, want 3 replicas", ci, err)
	}
	var st struct{ Replicas int }
	if code := apitest.Do(t, ingestHTTP.URL, keys[auth.RoleOperator], "GET", "/v1/stream", nil, &st); code != 200 || st.Replicas != 3 {
		t.Fatalf("GET /v1/stream: status %d, replicas %d, want 3", code, st.Replicas)
	}
	t.Logf("%d events, %d requests answered 503 and sent again; slowest answer %s; %d accepted while a node was down; "+
		"the rule worker started again %d times (%d for a delivery gap); leader now %s; %.1fs",
		sent, retries, slowest.Round(time.Millisecond), duringOut, strings.Count(logs.String(), "rule consumer stopped"),
		strings.Count(logs.String(), "did not receive"), info.Cluster.Leader, time.Since(began).Seconds())
}

var errRetry = errors.New("503: send again")

// clusterEvents is n loan balances from event first on, as NDJSON.
func clusterEvents(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"id":"cl-%07d","source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-%d",`+
			`"occurred_at":"2026-10-%02dT18:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d","exposure_class":"corporate",`+
			`"product":"term_loan","outstanding":"%d.%02d","currency":"EUR"}}`+"\n", i, i%500, 1+i%28, i%500, i%13, 1000+i, i%100)
	}
	return b.Bytes()
}

// storedIDs reads the id of every event in the stream: seq → id. A node just
// started again may answer "no responders" for a while (its routes' interest
// is still settling); the reader then starts again after the last seq it read.
func storedIDs(ctx context.Context, st jetstream.Stream) (map[uint64]string, error) {
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	out := map[uint64]string{}
	var last uint64
	for attempt := 0; uint64(len(out)) < info.State.Msgs; attempt++ {
		if err := readFrom(ctx, st, last+1, info.State.Msgs, out, &last); err != nil {
			if attempt == 20 {
				return nil, fmt.Errorf("read after %d of %d events: %w", len(out), info.State.Msgs, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return out, nil
}

func readFrom(ctx context.Context, st jetstream.Stream, from, total uint64, out map[uint64]string, last *uint64) error {
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return err
	}
	for uint64(len(out)) < total {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			var ev struct{ ID string }
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return err
			}
			out[md.Sequence.Stream] = ev.ID
			*last = md.Sequence.Stream
		}
		if err := batch.Error(); err != nil {
			return err
		}
	}
	return nil
}

// replicasCurrent tells whether the stream has a leader and two replicas, both
// online and current.
func replicasCurrent(ctx context.Context, p *app.Platform) bool {
	info, err := p.Events.Stream.Info(ctx)
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
		return false
	}
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline {
			return false
		}
	}
	return true
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer collects logs from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
