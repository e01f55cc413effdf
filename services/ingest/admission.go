package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// minAdmitted is the least a request counts against the bytes in flight: tiny
// requests cost a goroutine, a parse and an answer too, so a flood of them is
// bounded as well.
const minAdmitted = 4 << 10

// admission bounds the work POST /v1/events takes on at once, twice: the request
// bodies by size, before they are read (memory), and their events, once split
// (validation, and the acknowledgements JetStream has outstanding). A request waits in arrival
// order for room, up to a bound for both, and is shed otherwise; the queue itself
// holds at most as many bytes as may be in flight, and a request beyond that is
// shed at once. Under a burst, what is taken in and what waits stay within the
// budgets (a waiting request holds only its connection), and the excess is
// answered at once, cheaply, with "retry later".
type admission struct {
	bytes, events *semaphore.Weighted
	waiting       atomic.Int64 // bytes announced by the requests waiting for room
	maxBytes      int64
	maxEvents     int64
	maxBody       int64
	wait          time.Duration
	metrics       *metrics
}

func newAdmission(maxBytes, maxEvents, maxBody int64, wait time.Duration, m *metrics) *admission {
	return &admission{bytes: semaphore.NewWeighted(maxBytes), events: semaphore.NewWeighted(maxEvents),
		maxBytes: maxBytes, maxEvents: maxEvents, maxBody: maxBody, wait: wait, metrics: m}
}

// Admitted is a request let in; Release gives its room back.
type Admitted struct {
	a        *admission
	deadline time.Time
	bytes    int64
	events   int64
}

// Admit reserves room for a request body of contentLength bytes (negative:
// unknown, counted as ingest.max_body_bytes) before it is read. The error wraps
// httpjson.ErrOverloaded when there was no room within ingest.max_queue_wait.
func (s *Service) Admit(ctx context.Context, contentLength int64) (*Admitted, error) {
	a := s.admit
	n := contentLength
	if n < 0 || n > a.maxBody {
		n = a.maxBody // a longer body is refused 413 once max_body_bytes are read
	}
	n = min(max(n, minAdmitted), a.maxBytes)
	ad := &Admitted{a: a, deadline: time.Now().Add(a.wait)}
	if err := a.acquire(ctx, a.bytes, n, ad.deadline, &a.waiting); err != nil {
		return nil, fmt.Errorf("ingest is working on its limit of %d bytes of requests (ingest.max_in_flight_bytes) and found no room "+
			"for this one within %s: send the same body again after Retry-After: %w", a.maxBytes, a.wait, err)
	}
	ad.bytes = n
	a.metrics.inFlightBytes.Add(float64(n))
	return ad, nil
}

// Events reserves room for the n events of the admitted request, waiting at most
// for what is left of ingest.max_queue_wait.
func (ad *Admitted) Events(ctx context.Context, n int) error {
	a := ad.a
	k := min(max(int64(n), 1), a.maxEvents)
	if err := a.acquire(ctx, a.events, k, ad.deadline, nil); err != nil {
		return fmt.Errorf("ingest is working on its limit of %d events (ingest.max_in_flight_events) and found no room "+
			"for these %d within %s: send the same body again after Retry-After: %w", a.maxEvents, n, a.wait, err)
	}
	ad.events = k
	a.metrics.inFlightEvents.Add(float64(k))
	return nil
}

// Release gives the request's room back.
func (ad *Admitted) Release() {
	a := ad.a
	if ad.events > 0 {
		a.metrics.inFlightEvents.Sub(float64(ad.events))
		a.events.Release(ad.events)
	}
	a.metrics.inFlightBytes.Sub(float64(ad.bytes))
	a.bytes.Release(ad.bytes)
}

// acquire takes n of sem, waiting until deadline. With queue, the bytes waiting
// are bounded too: when as much as the budget waits already, it sheds at once.
func (a *admission) acquire(ctx context.Context, sem *semaphore.Weighted, n int64, deadline time.Time, queue *atomic.Int64) error {
	if sem.TryAcquire(n) {
		return nil
	}
	if queue != nil {
		if queue.Add(n) > a.maxBytes {
			queue.Add(-n)
			a.metrics.shed.Inc()
			return httpjson.ErrOverloaded
		}
		defer queue.Add(-n)
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if err := sem.Acquire(wctx, n); err != nil {
		if ctx.Err() == nil { // shed, rather than given up by the client
			a.metrics.shed.Inc()
		}
		return httpjson.ErrOverloaded
	}
	return nil
}
