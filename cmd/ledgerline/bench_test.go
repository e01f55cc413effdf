package main_test

import (
	"context"
	"encoding/csv"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/postgres"
	"github.com/ledgerline/ledgerline/platform/proctest"
	"github.com/ledgerline/ledgerline/services/ingest/ingesttest"
	"github.com/ledgerline/ledgerline/services/rules/rulestest"
)

// sampleEvery is how often the end-to-end benchmark samples its progress.
const sampleEvery = 250 * time.Millisecond

// BenchmarkEndToEnd measures ingest → all contributions committed, sustained over
// b.N events (use -benchtime 1000000x): the events are POSTed to /v1/events of the
// ingest service, the ingest binary in a process of its own (batches of 500 from 4
// concurrent senders, as in the ingest benchmark), while the rule worker, the rules
// binary in another process, consumes them live with 3 rules matching each event.
// The time runs from the first POST until the consumer's committed position in
// PostgreSQL covers the last event. The limit, in the same run, on the same
// JetStream server: raw async publish of the same payloads, half before and half
// after, as in the ingest benchmark.
//
// Every 250 ms it samples the events accepted by ingest and the events covered by
// committed contributions; with BENCH_SAMPLES set to a path it writes them there as
// CSV (cmd/ledgerline/benchplot draws them). It reports the peak RSS of each service
// process and the CPU per event of each process (what to look at when the target is
// missed); with BENCH_CPUPROFILE set to a path it also writes a CPU profile of this
// process (the JetStream server and the senders) over the measured span.
func BenchmarkEndToEnd(b *testing.B) {
	// This process holds the JetStream server, as `ledgerline serve` does with
	// its embedded one: the same garbage collector setting (the raw baseline runs
	// on the same server, so it has it too).
	defer debug.SetGCPercent(debug.SetGCPercent(app.DefaultGCPercent))
	ctx := context.Background()
	n := b.N
	cfg := apitest.Config(b)
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	keys := apitest.Keys(b, pool)
	ingest := proctest.Start(b, proctest.Build(b, "github.com/ledgerline/ledgerline/services/ingest/cmd/ingest"), cfg)
	worker := rulestest.StartWorker(b, cfg, keys)
	worker.Onboard(rulestest.ThreeFigures)

	nc, err := nats.Connect(cfg.NATSURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	events := ingesttest.LoanBalances(n, "ev")
	raw, err := ingesttest.NewRaw(ctx, nc, ingesttest.LoanBalances(n, "raw"))
	if err != nil {
		b.Fatal(err)
	}
	first := lastSeq(b, js, cfg.Stream.Name)
	senders := 4
	if v, _ := strconv.Atoi(os.Getenv("BENCH_SENDERS")); v > 0 {
		senders = v
	}
	sender := &ingesttest.Sender{URL: ingest.URL, Key: keys[auth.RoleSource], Batch: 500, Senders: senders}
	bodies := sender.Bodies(events)
	b.ResetTimer()

	if err := raw.Publish(0, n/2); err != nil {
		b.Fatal(err)
	}
	rawBefore := raw.Rate()
	// committed is how many of the events the consumer's committed positions cover
	// (the lowest partition's, with one partition exactly the watermark).
	committed := func() int64 {
		var seq int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(min(seq), 0) FROM rule_positions`).Scan(&seq); err != nil {
			return -1
		}
		return max(0, seq-int64(first))
	}
	var (
		samples []sample // read once stopped is closed
		done    = make(chan struct{})
		stopped = make(chan struct{})
	)
	stopProfile := profile(b, os.Getenv("BENCH_CPUPROFILE"))
	cpu := startCPU(b, ingest, worker.Process)
	start := time.Now()
	go func() {
		defer close(stopped)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if s := (sample{at: time.Since(start), accepted: sender.Accepted(), committed: committed()}); s.committed >= 0 {
				samples = append(samples, s)
			}
		}
	}()
	if err := sender.SendBodies(bodies, n); err != nil {
		b.Fatal(err)
	}
	ingested := time.Since(start)
	last := lastSeq(b, js, cfg.Stream.Name)
	worker.WaitFor(last)
	took := time.Since(start)
	close(done)
	<-stopped
	used := cpu.used()
	stopProfile()
	samples = append(samples, sample{at: took, accepted: sender.Accepted(), committed: committed()})
	if err := raw.Publish(n/2, n); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()

	if got := last - first; got != uint64(n) {
		b.Fatalf("%d events stored, want %d", got, n)
	}
	var rows int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM contributions`).Scan(&rows); err != nil || rows != int64(3*n) {
		b.Fatalf("%d contribution rows, want %d (%v)", rows, 3*n, err)
	}
	rate := float64(n) / took.Seconds()
	if path := os.Getenv("BENCH_SAMPLES"); path != "" {
		if err := writeSamples(path, samples, raw.Rate()); err != nil {
			b.Fatal(err)
		}
	}
	perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	b.ReportMetric(rate, "e2e_events/s")
	b.ReportMetric(raw.Rate(), "raw_js_events/s")
	// The halves apart: the one after the run is often the slower (the server
	// holds the run's million events, PostgreSQL writes out its rows).
	b.ReportMetric(rawBefore, "raw_js_before_events/s")
	b.ReportMetric(float64(n-n/2)/(float64(n)/raw.Rate()-float64(n/2)/rawBefore), "raw_js_after_events/s")
	b.ReportMetric(rate/raw.Rate(), "ratio")
	b.ReportMetric(float64(n)/ingested.Seconds(), "ingest_events/s")
	b.ReportMetric((took - ingested).Seconds(), "drain_s")
	b.ReportMetric(float64(sender.Shed()), "shed_requests")
	b.ReportMetric(float64(ingest.PeakRSS())/(1<<20), "ingest_peak_rss_MB")
	b.ReportMetric(float64(worker.PeakRSS())/(1<<20), "worker_peak_rss_MB")
	b.ReportMetric(float64(proctest.PeakRSS(os.Getpid()))/(1<<20), "bench_peak_rss_MB")
	b.ReportMetric(perEvent(used.ingest), "ingest_cpu_µs/event")
	b.ReportMetric(perEvent(used.worker), "worker_cpu_µs/event")
	b.ReportMetric(perEvent(used.self), "bench_cpu_µs/event")
	b.ReportMetric(perEvent(used.pg), "pg_cpu_µs/event")
	b.ReportMetric(0, "ns/op")
}

// profile starts a CPU profile of this process written to path ("" for none) and
// returns the function that stops it.
func profile(b *testing.B, path string) func() {
	b.Helper()
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

func lastSeq(b *testing.B, js jetstream.JetStream, stream string) uint64 {
	b.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.LastSeq
}

// sample is the end-to-end benchmark's progress at one moment.
type sample struct {
	at        time.Duration // since the first POST
	accepted  int64         // events accepted by ingest
	committed int64         // events covered by committed contributions
}

// writeSamples writes the samples as CSV, with the rates over each interval and
// the raw publish rate of the same run.
func writeSamples(path string, samples []sample, rawRate float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"t_s", "accepted", "committed", "accepted_per_s", "committed_per_s", "raw_publish_per_s"})
	var prev sample
	for _, s := range samples {
		dt := (s.at - prev.at).Seconds()
		_ = w.Write([]string{fmtFloat(s.at.Seconds()), strconv.FormatInt(s.accepted, 10), strconv.FormatInt(s.committed, 10),
			fmtFloat(float64(s.accepted-prev.accepted) / dt), fmtFloat(float64(s.committed-prev.committed) / dt), fmtFloat(rawRate)})
		prev = s
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// cpuMeter measures the CPU time of the ingest and rules processes, of this one
// (the JetStream server, the HTTP senders, the sampler) and of PostgreSQL.
type cpuMeter struct {
	t                                testing.TB
	ingest, worker                   *proctest.Process
	atIngest, atWorker, atSelf, atPG time.Duration
}

type cpuUsed struct{ ingest, worker, self, pg time.Duration }

func startCPU(t testing.TB, ingest, worker *proctest.Process) cpuMeter {
	return cpuMeter{t: t, ingest: ingest, worker: worker, atIngest: ingest.CPU(), atWorker: worker.CPU(),
		atSelf: proctest.SelfCPU(), atPG: proctest.PostgresCPU(t)}
}

func (c cpuMeter) used() cpuUsed {
	return cpuUsed{ingest: c.ingest.CPU() - c.atIngest, worker: c.worker.CPU() - c.atWorker,
		self: proctest.SelfCPU() - c.atSelf, pg: proctest.PostgresCPU(c.t) - c.atPG}
}
