package submission_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/proctest"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/httpchan"
	"github.com/ledgerline/ledgerline/services/submission/store"
)

// BenchmarkSubmit1000 submits 1,000 filings at once (1,000 concurrent POST
// /v1/filings/{id}/submissions) to the regulator simulator and measures, until
// every one is accepted, submissions/s; it checks each was delivered exactly once
// (one stored upload per idempotency key, one upload attempt each). The baseline
// in the same run: the same 1,000 uploads sent straight to the simulator with the
// http channel, concurrently, without PostgreSQL or the state machine.
func BenchmarkSubmit1000(b *testing.B) {
	const n = 1000
	e := newEnvWith(b, 16, 30*time.Second)
	e.filing(b, "regulator-sim", false, "2026-10") // onboards and approves the template
	// 1,000 filings: one per month from 2027-01.
	by := auth.Principal{KeyID: e.IDs["operator"], Name: "bench"}
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		f, _, err := e.Reports.File(context.Background(), reports.FileRequest{Template: "test-sub",
			Period: fmt.Sprintf("%04d-%02d", 2027+i/12, 1+i%12)}, by)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = f.ID
	}

	// The baseline: the same uploads, straight.
	hc, err := httpchan.New(httpchan.Config{Name: "raw", URL: e.simURL})
	if err != nil {
		b.Fatal(err)
	}
	deliveries := make([]channel.Delivery, n)
	for i, id := range ids {
		d, err := e.delivery(id)
		if err != nil {
			b.Fatal(err)
		}
		d.SubmissionID = "raw-" + id
		deliveries[i] = d
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range deliveries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := hc.Deliver(context.Background(), deliveries[i]); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	raw := float64(n) / time.Since(start).Seconds()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	b.ResetTimer()
	start = time.Now()
	subs := make([]string, n)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sub store.Submission
			if code := e.Do("POST", "/v1/filings/"+id+"/submissions", "operator", nil, &sub); code != 202 {
				b.Errorf("submit %s: %d", id, code)
			}
			subs[i] = sub.ID
		}()
	}
	wg.Wait()
	submitted := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	var delivered time.Duration
	for {
		var counts map[string]int
		rows, err := e.DB.Pool.Query(context.Background(), `SELECT status, count(*) FROM submissions WHERE id = ANY($1) GROUP BY 1`, subs)
		if err != nil {
			b.Fatal(err)
		}
		counts = map[string]int{}
		for rows.Next() {
			var s string
			var c int
			_ = rows.Scan(&s, &c)
			counts[s] = c
		}
		rows.Close()
		if delivered == 0 && counts[store.Delivered]+counts[store.Accepted] == n {
			delivered = time.Since(start)
		}
		if counts[store.Accepted] == n {
			break
		}
		if counts[store.Failed]+counts[store.Rejected] > 0 || time.Now().After(deadline) {
			b.Fatalf("submissions %v", counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	accepted := time.Since(start)
	b.StopTimer()
	dels, atts := e.sim.Deliveries(), e.sim.Attempts()
	for _, id := range subs {
		if dels[id] != 1 || atts[id] != 1 {
			b.Fatalf("submission %s: %d deliveries, %d uploads; want exactly one", id, dels[id], atts[id])
		}
	}
	b.ReportMetric(float64(n)/delivered.Seconds(), "delivered_submissions/s")
	b.ReportMetric(float64(n)/accepted.Seconds(), "accepted_submissions/s")
	b.ReportMetric(raw, "raw_uploads/s")
	b.ReportMetric(float64(n)/delivered.Seconds()/raw, "ratio_delivered_to_raw")
	b.ReportMetric(submitted.Seconds(), "submit_calls_s")
	b.ReportMetric(n, "delivered_exactly_once")
	// The service runs in this process with the rest of its stack (reportstest):
	// its peak RSS is at most this.
	b.ReportMetric(float64(proctest.PeakRSS(os.Getpid()))/(1<<20), "bench_peak_rss_MB")
	b.ReportMetric(0, "ns/op")
}

// delivery is what the submitter sends for a filing.
func (e *env) delivery(id string) (channel.Delivery, error) {
	st := reportsstore.New(e.DB.Pool)
	f, err := st.Filing(context.Background(), id)
	if err != nil {
		return channel.Delivery{}, err
	}
	d := channel.Delivery{SubmissionID: id, FilingID: id, Template: f.Template, Period: f.Period}
	for _, file := range f.Files {
		c, err := st.FileContent(context.Background(), id, file.Format)
		if err != nil {
			return d, err
		}
		d.Files = append(d.Files, channel.File{Name: id + "." + file.Format, Format: file.Format, SHA256: c.SHA256, Content: c.Content})
	}
	return d, nil
}
