package ingest

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// minAdmitted is the least a request counts against the in-flight budget: tiny
// requests cost a goroutine, a parse and an answer too, so a flood of them is
// bounded as well.
const minAdmitted = 4 << 10

// admission bounds the request bodies being handled at once, by size. A request
// waits (in arrival order) for room up to a bound and is shed otherwise: under a
// burst, memory stays near the budget and the excess is answered at once, cheaply,
// with "retry later", instead of every request being read, parsed and queued.
type admission struct {
	sem     *semaphore.Weighted
	budget  int64
	wait    time.Duration
	metrics *metrics
}

// Admit reserves room for a request body of contentLength bytes (negative:
// unknown, counted as the largest body allowed) before it is read. The error
// wraps httpjson.ErrOverloaded when there was no room within
// ingest.max_queue_wait; otherwise release must be called when the request is done.
func (s *Service) Admit(ctx context.Context, contentLength int64) (release func(), err error) {
	a := &s.admit
	n := contentLength
	if n < 0 || n > s.cfg.Ingest.MaxBodyBytes {
		n = s.cfg.Ingest.MaxBodyBytes // a longer body is refused 413 after MaxBodyBytes
	}
	n = min(max(n, minAdmitted), a.budget)
	if !a.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, a.wait)
		err := a.sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			if ctx.Err() == nil { // shed, rather than given up by the client
				a.metrics.shed.Inc()
			}
			return nil, fmt.Errorf("ingest is at its limit of %d bytes of requests in flight (ingest.max_in_flight_bytes) "+
				"and this one found no room within %s: send the same body again after Retry-After: %w",
				a.budget, a.wait, httpjson.ErrOverloaded)
		}
	}
	a.metrics.inFlight.Add(float64(n))
	return func() {
		a.metrics.inFlight.Sub(float64(n))
		a.sem.Release(n)
	}, nil
}
