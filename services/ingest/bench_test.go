package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/envelope"
)

const benchBatch = 500

var benchSenders = 4

// benchEvents makes n distinct, realistic loan.balance events.
func benchEvents(n int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"id":"%s-%08d","source":"core-banking","type":"loan.balance","schema_version":1,`+
			`"subject":"LN-%d","occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d",`+
			`"exposure_class":"corporate","product":"term_loan","outstanding":"%d.%02d","undrawn_commitment":"250000.00",`+
			`"ccf":"0.5","currency":"EUR","maturity_date":"2031-06-30"}}`,
			prefix, i, i%50000, i%50000, i%2000, 100000+i, i%100))
	}
	return out
}

// BenchmarkIngestVsRawJetStream measures, in one run on one machine, events/s
// through POST /v1/events (batches of 500, 4 concurrent senders, real HTTP, real
// PostgreSQL, real JetStream) and JetStream async publish of the same payloads to a
// stream of the same kind on the same server: the limit ingest is measured against.
// b.N is the number of events of each phase (use -benchtime 200000x).
func BenchmarkIngestVsRawJetStream(b *testing.B) {
	s := newStack(b)
	ctx := context.Background()
	n := b.N
	raw := benchEvents(n, "raw")
	events := benchEvents(n, "ev")

	// Raw JetStream: async publish with message ids, same subjects, own connection.
	nc, err := nats.Connect(s.nats.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	subjects := make([]string, n)
	rawIDs := make([]string, n)
	for i := range raw {
		subjects[i] = "raw" + envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", i%50000))[len("events"):]
		rawIDs[i] = fmt.Sprintf("raw-%08d", i)
	}
	b.ResetTimer()
	// Raw JetStream runs in two halves, before and after ingest, so a drift in the
	// machine's speed during the run weighs on both sides of the ratio alike.
	var rawTime time.Duration
	var rawCPU cpuMeter
	rawHalf := func(lo, hi int) {
		if os.Getenv("BENCH_SKIP_RAW") != "" {
			return
		}
		cpu := startCPU()
		start := time.Now()
		for i := lo; i < hi; i++ {
			if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subjects[i], Data: raw[i]}, jetstream.WithMsgID(rawIDs[i])); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(5 * time.Minute):
			b.Fatal("raw publish did not complete")
		}
		rawTime += time.Since(start)
		self, pg := cpu.used()
		rawCPU.self += self
		rawCPU.pg += pg
	}
	rawHalf(0, n/2)

	// Ingest: batches of 500 over HTTP from 4 concurrent senders.
	bodies := make(chan []byte, 64)
	go func() {
		for lo := 0; lo < n; lo += benchBatch {
			hi := min(lo+benchBatch, n)
			bodies <- append(bytes.Join(events[lo:hi], []byte("\n")), '\n')
		}
		close(bodies)
	}()
	var (
		wg       sync.WaitGroup
		accepted atomic.Int64
		failures atomic.Int64
	)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	client := &http.Client{Transport: tr}
	cpu := startCPU()
	start := time.Now()
	for w := 0; w < benchSenders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				req, _ := http.NewRequest("POST", s.http.URL+"/v1/events", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+s.keys[auth.RoleSource])
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
					continue
				}
				accepted.Add(int64(bytes.Count(b, []byte(`"status":"accepted"`))))
			}
		}()
	}
	wg.Wait()
	ingestRate := float64(n) / time.Since(start).Seconds()
	ingestSelf, ingestPG := cpu.perEvent(n)
	rawHalf(n/2, n)
	rawRate := float64(n) / rawTime.Seconds()
	rawSelf := float64(rawCPU.self.Microseconds()) / float64(n)
	b.StopTimer()
	if failures.Load() > 0 || accepted.Load() != int64(n) {
		b.Fatalf("%d of %d events accepted, %d failed requests", accepted.Load(), n, failures.Load())
	}
	b.ReportMetric(rawRate, "raw_js_events/s")
	b.ReportMetric(ingestRate, "ingest_events/s")
	b.ReportMetric(ingestRate/rawRate, "ratio")
	b.ReportMetric(rawSelf, "raw_cpu_µs/event")
	b.ReportMetric(ingestSelf, "ingest_cpu_µs/event")
	b.ReportMetric(ingestPG, "ingest_pg_cpu_µs/event")
	b.ReportMetric(0, "ns/op")
}

func init() {
	if v := os.Getenv("BENCH_SENDERS"); v != "" {
		benchSenders, _ = strconv.Atoi(v)
	}
}

// cpuMeter measures CPU time of this process (Ledgerline, the embedded NATS server
// and the HTTP clients all run in it) and of every PostgreSQL process.
type cpuMeter struct{ self, pg time.Duration }

func startCPU() cpuMeter { return cpuMeter{selfCPU(), postgresCPU()} }

func (c cpuMeter) used() (self, pg time.Duration) {
	return selfCPU() - c.self, postgresCPU() - c.pg
}

func (c cpuMeter) perEvent(n int) (self, pg float64) {
	s, p := c.used()
	return float64(s.Microseconds()) / float64(n), float64(p.Microseconds()) / float64(n)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU sums user+system time of the processes named postgres (clock ticks of 10 ms).
func postgresCPU() time.Duration {
	var total time.Duration
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || s[open+1:close] != "postgres" {
			continue
		}
		f := strings.Fields(s[close+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}
