// Package ingesttest makes the event loads of the ingest benchmark and of the
// end-to-end one: realistic loan.balance events, a sender that POSTs them to
// /v1/events the way a source system does (NDJSON batches from concurrent
// requests), and the raw baseline: the same payloads published asynchronously
// straight to JetStream.
package ingesttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/envelope"
)

// loans is the number of distinct loans (subjects) the events are spread over.
const loans = 50000

// LoanBalances makes n distinct loan.balance events of about 400 bytes, with ids
// prefix-00000000 upwards, over 50,000 loans and 2,000 counterparties.
func LoanBalances(n int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"id":"%s-%08d","source":"core-banking","type":"loan.balance","schema_version":1,`+
			`"subject":"LN-%d","occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":"LN-%d","counterparty_id":"CP-%d",`+
			`"exposure_class":"corporate","product":"term_loan","outstanding":"%d.%02d","undrawn_commitment":"250000.00",`+
			`"ccf":"0.5","currency":"EUR","maturity_date":"2031-06-30"}}`,
			prefix, i, i%loans, i%loans, i%2000, 100000+i, i%100))
	}
	return out
}

// Sender posts events to an ingest service's POST /v1/events.
type Sender struct {
	URL     string // the service's base URL
	Key     string // a key with the source role
	Batch   int    // events per request
	Senders int    // concurrent requests

	accepted atomic.Int64
	failures atomic.Int64
	shed     atomic.Int64
}

// Bodies makes the request bodies Send posts: events in NDJSON batches of
// s.Batch. A benchmark makes them before its clock starts, as the raw baseline
// makes its messages: a source system has its batch in hand when it sends it.
func (s *Sender) Bodies(events [][]byte) [][]byte {
	out := make([][]byte, 0, (len(events)+s.Batch-1)/s.Batch)
	for lo := 0; lo < len(events); lo += s.Batch {
		hi := min(lo+s.Batch, len(events))
		out = append(out, append(bytes.Join(events[lo:hi], []byte("\n")), '\n'))
	}
	return out
}

// Send posts events in NDJSON batches from concurrent requests and returns when
// every request has been answered; it fails unless every event was accepted.
func (s *Sender) Send(events [][]byte) error {
	return s.SendBodies(s.Bodies(events), len(events))
}

// SendBodies posts bodies made by Bodies, n events in all, as Send does.
func (s *Sender) SendBodies(all [][]byte, n int) error {
	bodies := make(chan []byte)
	go func() {
		for _, body := range all {
			bodies <- body
		}
		close(bodies)
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * s.Senders}}
	before := s.accepted.Load()
	var wg sync.WaitGroup
	for range s.Senders {
		wg.Go(func() {
			for body := range bodies {
				s.post(client, body)
			}
		})
	}
	wg.Wait()
	if got := s.accepted.Load() - before; s.failures.Load() > 0 || got != int64(n) {
		return fmt.Errorf("%d of %d events accepted, %d failed requests", got, n, s.failures.Load())
	}
	return nil
}

// post sends one body; a request shed with 429 or 503 is sent again after its
// Retry-After, as a source system must.
func (s *Sender) post(client *http.Client, body []byte) {
	for {
		req, err := http.NewRequest("POST", s.URL+"/v1/events", bytes.NewReader(body))
		if err != nil {
			s.failures.Add(1)
			return
		}
		req.Header.Set("Authorization", "Bearer "+s.Key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			s.failures.Add(1)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			s.accepted.Add(int64(bytes.Count(b, []byte(`"status":"accepted"`))))
			return
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			s.shed.Add(1)
			wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || wait < 0 {
				wait = 1
			}
			time.Sleep(time.Duration(wait) * time.Second)
		default:
			s.failures.Add(1)
			return
		}
	}
}

// Accepted is the number of events accepted so far; safe to call while Send runs.
func (s *Sender) Accepted() int64 { return s.accepted.Load() }

// Shed is the number of requests answered 429 or 503 (and sent again) so far.
func (s *Sender) Shed() int64 { return s.shed.Load() }

// Raw is the limit ingest is measured against: JetStream async publish of the same
// payloads, with the subjects ingest would give them (under raw. instead of
// events.) and message ids, to a file-stored stream of its own on the same server.
type Raw struct {
	js       jetstream.JetStream
	msgs     []*nats.Msg
	ids      []string
	took     time.Duration
	finished int
}

// NewRaw creates the stream RAW on nc's server for payloads made by LoanBalances.
func NewRaw(ctx context.Context, nc *nats.Conn, payloads [][]byte) (*Raw, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		return nil, fmt.Errorf("create stream RAW: %w", err)
	}
	r := &Raw{js: js, msgs: make([]*nats.Msg, len(payloads)), ids: make([]string, len(payloads))}
	for i, p := range payloads {
		subject := "raw" + envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", i%loans))[len("events"):]
		r.msgs[i] = &nats.Msg{Subject: subject, Data: p}
		r.ids[i] = fmt.Sprintf("raw-%08d", i)
	}
	return r, nil
}

// Publish publishes payloads[lo:hi] and waits until the server has acknowledged
// them all; the time it took adds to Rate's. With 8,192 acknowledgements
// outstanding a publish waits for room (on a busy machine longer than the
// client's default 200 ms stall wait, after which it would fail).
func (r *Raw) Publish(lo, hi int) error {
	start := time.Now()
	for i := lo; i < hi; i++ {
		if _, err := r.js.PublishMsgAsync(r.msgs[i], jetstream.WithMsgID(r.ids[i]), jetstream.WithStallWait(time.Minute)); err != nil {
			return err
		}
	}
	select {
	case <-r.js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("raw publish of %d events did not complete in 5 minutes", hi-lo)
	}
	r.took += time.Since(start)
	r.finished += hi - lo
	return nil
}

// Rate is the events per second of the Publish calls so far.
func (r *Raw) Rate() float64 { return float64(r.finished) / r.took.Seconds() }
