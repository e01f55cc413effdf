package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// TestAdmissionBoundsBytesAndEvents: a request is let in while its body fits the
// bytes in flight and then its events fit the events in flight; otherwise it waits
// ingest.max_queue_wait in all and is shed, at once when as many bytes as the
// budget wait already.
func TestAdmissionBoundsBytesAndEvents(t *testing.T) {
	const wait = 50 * time.Millisecond
	s := &Service{admit: newAdmission(64<<10, 100, 16<<20, wait, newMetrics(nil))}
	ctx := context.Background()

	first, err := s.Admit(ctx, 40<<10)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Events(ctx, 80); err != nil {
		t.Fatal(err)
	}
	// 20 KiB more fit the 64 KiB, 30 more events do not fit the 100.
	second, err := s.Admit(ctx, 20<<10)
	if err != nil {
		t.Fatalf("a body within the bytes in flight: %v", err)
	}
	start := time.Now()
	if err := second.Events(ctx, 30); !errors.Is(err, httpjson.ErrOverloaded) || time.Since(start) < wait/2 {
		t.Fatalf("30 events over the limit: %v after %s, want ErrOverloaded after waiting", err, time.Since(start))
	}
	second.Release()
	// An unknown length counts as the largest body, capped at the budget: it waits
	// for the whole budget, and gets it once the first is done.
	go func() { time.Sleep(wait / 5); first.Release() }()
	whole, err := s.Admit(ctx, -1)
	if err != nil {
		t.Fatalf("a body of unknown length once the budget is free: %v", err)
	}
	if _, err := s.Admit(ctx, 1); !errors.Is(err, httpjson.ErrOverloaded) {
		t.Fatalf("a tiny body while the whole budget is taken: %v, want ErrOverloaded", err)
	}
	// The queue holds at most the budget: beyond it, a request is shed at once.
	queued := make(chan error, 1)
	go func() {
		ad, err := s.Admit(ctx, 60<<10)
		if err == nil {
			ad.Release()
		}
		queued <- err
	}()
	for s.admit.waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	if _, err := s.Admit(ctx, 8<<10); !errors.Is(err, httpjson.ErrOverloaded) || time.Since(start) > wait/2 {
		t.Fatalf("a body beyond a full queue: %v after %s, want ErrOverloaded at once", err, time.Since(start))
	}
	if err := <-queued; !errors.Is(err, httpjson.ErrOverloaded) {
		t.Fatalf("the queued request: %v, want ErrOverloaded after the wait", err)
	}
	// More events than the limit take all of it rather than waiting for ever.
	if err := whole.Events(ctx, 500); err != nil {
		t.Fatalf("500 events with a limit of 100 and nothing else in flight: %v", err)
	}
	whole.Release()
	if s.admit.bytes.TryAcquire(64<<10) && s.admit.events.TryAcquire(100) {
		return
	}
	t.Fatal("room not given back on Release")
}
