package ingest_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/proctest"
	"github.com/ledgerline/ledgerline/services/ingest/ingesttest"
)

const benchBatch = 500

var benchSenders = 4

// BenchmarkIngestVsRawJetStream measures, in one run on one machine, events/s
// through POST /v1/events (batches of 500, 4 concurrent senders, real HTTP, real
// PostgreSQL, real JetStream) and JetStream async publish of the same payloads to a
// stream of the same kind on the same server: the limit ingest is measured against.
// b.N is the number of events of each phase (use -benchtime 200000x).
func BenchmarkIngestVsRawJetStream(b *testing.B) {
	s := newStack(b)
	ctx := context.Background()
	n := b.N
	events := ingesttest.LoanBalances(n, "ev")

	// Raw JetStream: async publish with message ids, same subjects, own connection.
	nc, err := nats.Connect(s.nats.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	raw, err := ingesttest.NewRaw(ctx, nc, ingesttest.LoanBalances(n, "raw"))
	if err != nil {
		b.Fatal(err)
	}
	sender := &ingesttest.Sender{URL: s.http.URL, Key: s.keys[auth.RoleSource], Batch: benchBatch, Senders: benchSenders}
	bodies := sender.Bodies(events)
	b.ResetTimer()
	// Raw JetStream runs in two halves, before and after ingest, so a drift in the
	// machine's speed during the run weighs on both sides of the ratio alike.
	var rawSelf time.Duration
	rawHalf := func(lo, hi int) {
		if os.Getenv("BENCH_SKIP_RAW") != "" {
			return
		}
		cpu := proctest.StartMeter(b)
		if err := raw.Publish(lo, hi); err != nil {
			b.Fatal(err)
		}
		self, _ := cpu.Used()
		rawSelf += self
	}
	rawHalf(0, n/2)

	// Ingest: batches of 500 over HTTP from 4 concurrent senders.
	cpu := proctest.StartMeter(b)
	start := time.Now()
	err = sender.SendBodies(bodies, n)
	ingestRate := float64(n) / time.Since(start).Seconds()
	ingestSelf, ingestPG := cpu.PerEvent(n)
	if err != nil {
		b.Fatal(err)
	}
	rawHalf(n/2, n)
	rawRate := raw.Rate()
	b.StopTimer()
	b.ReportMetric(rawRate, "raw_js_events/s")
	b.ReportMetric(ingestRate, "ingest_events/s")
	b.ReportMetric(ingestRate/rawRate, "ratio")
	b.ReportMetric(float64(rawSelf.Microseconds())/float64(n), "raw_cpu_µs/event")
	b.ReportMetric(ingestSelf, "ingest_cpu_µs/event")
	b.ReportMetric(ingestPG, "ingest_pg_cpu_µs/event")
	b.ReportMetric(float64(sender.Shed()), "shed_requests")
	b.ReportMetric(0, "ns/op")
}

func init() {
	if v := os.Getenv("BENCH_SENDERS"); v != "" {
		benchSenders, _ = strconv.Atoi(v)
	}
}
