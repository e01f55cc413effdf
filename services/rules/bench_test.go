package rules_test

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/proctest"
	"github.com/ledgerline/ledgerline/services/rules/rulestest"
)

func benchEvent(i int) []byte {
	return []byte(fmt.Sprintf(`{"id":"ev-%08d","source":"core-banking","type":"loan.balance","schema_version":1,`+
		`"subject":"LN-%d","occurred_at":"2026-10-%02dT18:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d",`+
		`"exposure_class":"corporate","product":"term_loan","outstanding":"%d.%02d","undrawn_commitment":"250000.00",`+
		`"ccf":"0.5","currency":"EUR","maturity_date":"2031-06-30"}}`, i, i%50000, 1+i%28, i%50000, i%2000, 100000+i, i%100))
}

// BenchmarkRulesVsRaw measures, in one run: raw JetStream fetch of N events, raw
// COPY of the 3N contribution rows they produce, a rule worker process taking the
// same N events from the stream to committed contributions (3 rules matching
// each), a full rebuild (replay) of them, and the worker's peak RSS. b.N is N (use
// -benchtime 200000x; 1000000x for the replay target).
func BenchmarkRulesVsRaw(b *testing.B) {
	s := newStack(b, func(c *config.Config) {
		c.Rules.Batch = 2000
		if v, _ := strconv.Atoi(os.Getenv("BENCH_PARTITIONS")); v > 0 {
			c.Rules.Partitions = v
		}
		if v, _ := strconv.Atoi(os.Getenv("BENCH_BATCH")); v > 0 {
			c.Rules.Batch = v
		}
	})
	ctx := context.Background()
	n := b.N
	// Store the events (not measured), waiting for room in the async publish window
	// however long a busy machine makes it.
	for i := 0; i < n; i++ {
		raw := benchEvent(i)
		if _, err := s.events.JS.PublishMsgAsync(&nats.Msg{Subject: envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", i%50000)), Data: raw},
			jetstream.WithMsgID(fmt.Sprintf("ev-%08d", i)), jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	<-s.events.JS.PublishAsyncComplete()
	b.ResetTimer()

	// Raw JetStream fetch of every event.
	cpu := proctest.StartMeter(b)
	start := time.Now()
	cons, err := s.events.JS.CreateOrUpdateConsumer(ctx, s.cfg.Stream.Name, jetstream.ConsumerConfig{Durable: "bench_raw", AckPolicy: jetstream.AckAllPolicy, MaxAckPending: -1})
	if err != nil {
		b.Fatal(err)
	}
	got := 0
	for got < n {
		batch, err := cons.Fetch(min(2000, n-got), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		var last jetstream.Msg
		for m := range batch.Messages() {
			got++
			last = m
		}
		if last != nil {
			_ = last.Ack()
		}
	}
	rawFetch := float64(n) / time.Since(start).Seconds()
	fetchSelf, fetchPG := cpu.PerEvent(n)

	// Raw COPY of the same rows (3 per event) into a table shaped like contributions,
	// with its indexes: what a batch's rows cost PostgreSQL without any rules.
	if _, err := s.db.Pool.Exec(ctx, `CREATE TABLE bench_copy (LIKE contributions INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	// The rows' values are made before the clock starts, as a rule worker has
	// them from the event: the limit is the COPY, not formatting ids.
	ids, subjects, values := make([]string, n), make([]string, n), make([]pgtype.Numeric, n)
	for i := range n {
		ids[i], subjects[i] = fmt.Sprintf("ev-%08d", i), fmt.Sprintf("LN-%d", i%50000)
		values[i] = pgtype.Numeric{Int: big.NewInt(int64(100000+i)*100 + int64(i%100)), Exp: -2, Valid: true}
	}
	cpu = proctest.StartMeter(b)
	start = time.Now()
	const chunk = 6000
	for lo := 0; lo < 3*n; lo += chunk {
		hi := min(lo+chunk, 3*n)
		_, err := s.db.Pool.CopyFrom(ctx, pgx.Identifier{"bench_copy"},
			[]string{"seq", "occurred_at", "figure_id", "dim_set", "value", "currency", "event_id", "subject", "adj_period"},
			pgx.CopyFromSlice(hi-lo, func(j int) ([]any, error) {
				i := (lo + j) / 3
				return []any{int64(i + 1), time.Date(2026, 10, 1+i%28, 18, 0, 0, 0, time.UTC), int32(1 + (lo+j)%3), int32(1 + i%2000),
					values[i], "EUR", ids[i], subjects[i], nil}, nil
			}))
		if err != nil {
			b.Fatal(err)
		}
	}
	rawCopy := float64(n) / time.Since(start).Seconds()
	copySelf, copyPG := cpu.PerEvent(n)

	// Rules: the rule worker is a process of its own (the rules binary, as deployed),
	// on the same PostgreSQL and NATS, so its memory is measured alone. Onboard, then
	// wait until every event is committed.
	w := rulestest.StartWorker(b, s.cfg, s.keys)
	start = time.Now()
	w.Onboard(rulestest.ThreeFigures)
	last := uint64(n)
	w.WaitFor(last)
	live := time.Since(start)
	rulesRate := float64(n) / live.Seconds()
	rows, _, err := s.svc.Checksum(ctx)
	if err != nil || rows != int64(3*n) {
		b.Fatalf("%d contribution rows, want %d (%v)", rows, 3*n, err)
	}

	// Replay: drop everything and rebuild from the stream.
	start = time.Now()
	if code := w.Do("POST", "/v1/projections/rebuild", auth.RoleOperator, nil, nil); code != 202 && code != 200 {
		b.Fatalf("rebuild: %d", code)
	}
	w.WaitFor(last)
	replay := time.Since(start)
	if rows, _, err := s.svc.Checksum(ctx); err != nil || rows != int64(3*n) {
		b.Fatalf("after the rebuild: %d contribution rows, want %d (%v)", rows, 3*n, err)
	}
	workerRSS := w.PeakRSS()
	b.StopTimer()

	b.ReportMetric(rulesRate, "rules_events/s")
	b.ReportMetric(rawFetch, "raw_fetch_events/s")
	b.ReportMetric(rawCopy, "raw_copy_events/s")
	// What the raw limits cost per event, this process (the JetStream server and
	// the client) and PostgreSQL together: make bench adds them to raw publish's
	// for the least CPU any end-to-end path must spend on an event.
	b.ReportMetric(fetchSelf+fetchPG, "raw_fetch_cpu_µs/event")
	b.ReportMetric(copySelf+copyPG, "raw_copy_cpu_µs/event")
	b.ReportMetric(rulesRate/min(rawFetch, rawCopy), "ratio_to_limit")
	b.ReportMetric(replay.Seconds(), "replay_s")
	b.ReportMetric(float64(workerRSS)/(1<<20), "worker_peak_rss_MB")
	b.ReportMetric(float64(proctest.PeakRSS(os.Getpid()))/(1<<20), "bench_peak_rss_MB")
	b.ReportMetric(0, "ns/op")
}
