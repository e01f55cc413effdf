package ingest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/services/ingest"
)

// TestRequestsOverTheInFlightBudgetAreShed holds one request in flight (its body
// still arriving) that fills ingest.max_in_flight_bytes: the next one waits
// ingest.max_queue_wait, is answered 429 overloaded with Retry-After before its
// body is read, and goes in once sent again after the first is done.
func TestRequestsOverTheInFlightBudgetAreShed(t *testing.T) {
	s := newStack(t, func(c *config.Config) {
		c.Ingest.MaxInFlightBytes = 64 << 10
		c.Ingest.MaxQueueWait = 200 * time.Millisecond
	})
	first := ndjson(loan("adm-1", "LN-1", "1"))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.http.URL+"/v1/events", pr)
	req.Header.Set("Authorization", "Bearer "+s.keys[auth.RoleSource])
	req.ContentLength = 64 << 10 // the whole budget, announced; sent slowly
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if _, err := pw.Write(first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first request to be admitted", func() bool {
		return strings.Contains(s.metrics(), "ledgerline_ingest_in_flight_bytes 65536\n")
	})

	second := ndjson(loan("adm-2", "LN-2", "2"))
	start := time.Now()
	req2, _ := http.NewRequest("POST", s.http.URL+"/v1/events", strings.NewReader(string(second)))
	req2.Header.Set("Authorization", "Bearer "+s.keys[auth.RoleSource])
	resp, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	var e apiError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	waited := time.Since(start)
	if resp.StatusCode != http.StatusTooManyRequests || e.Error.Code != "overloaded" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d %+v Retry-After %q, want 429 overloaded with Retry-After", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	if waited < 200*time.Millisecond {
		t.Fatalf("shed after %s, before ingest.max_queue_wait (200ms)", waited)
	}

	// The first request ends (a padded body of the announced length): room again.
	_, _ = pw.Write([]byte(strings.Repeat("\n", 64<<10-len(first))))
	pw.Close()
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the admitted request: %d", code)
	}
	r := s.push(second)
	if r[0].Status != ingest.StatusAccepted {
		t.Fatalf("the shed body sent again: %+v", r[0])
	}
	if m := s.metrics(); !strings.Contains(m, "ledgerline_ingest_shed_requests_total 1\n") ||
		!strings.Contains(m, "ledgerline_ingest_in_flight_bytes 0\n") {
		t.Fatalf("want 1 shed request and 0 bytes in flight:\n%s", m)
	}
	t.Logf("shed with 429 overloaded after %s; accepted when sent again", waited.Round(time.Millisecond))
}

// metrics is the /metrics page.
func (s *stack) metrics() string {
	s.t.Helper()
	resp, err := http.Get(s.http.URL + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
