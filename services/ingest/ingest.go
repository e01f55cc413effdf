// Package ingest is Ledgerline's ingest service: source systems send events, the
// service validates them against their JSON Schemas, stores the good ones durably
// in the JetStream event store and keeps the bad ones in quarantine.
//
// An event is answered "accepted" only after JetStream acknowledged it. Its id is
// its idempotency key for ever: JetStream's duplicate window catches copies sent at
// the same time, and the event index in PostgreSQL catches copies sent any time
// later. The index is written right after the acknowledgement and, should that
// write be lost (a crash), rebuilt from the stream by CatchUp, which runs at start
// and then more often than the duplicate window is long.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/schemas"
	"github.com/ledgerline/ledgerline/services/ingest/batch"
	"github.com/ledgerline/ledgerline/services/ingest/registry"
	"github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/ingest/stream"
)

// Status is the answer for one event.
type Status string

// The statuses of DESIGN.md; StatusFailed appears only in a 503 answer, for events
// that were neither accepted nor rejected because the store was unavailable.
const (
	StatusAccepted  Status = "accepted"
	StatusDuplicate Status = "duplicate"
	StatusRejected  Status = "rejected"
	StatusFailed    Status = "failed"
)

// Result is the answer for one event.
type Result struct {
	Index        int                   `json:"index"`
	ID           string                `json:"id"`
	Status       Status                `json:"status"`
	Seq          uint64                `json:"seq,omitempty"`
	Error        string                `json:"error,omitempty"`
	Code         string                `json:"code,omitempty"`
	Field        string                `json:"field,omitempty"`
	Fields       []registry.FieldError `json:"fields,omitempty"`
	QuarantineID int64                 `json:"quarantine_id,omitempty"`
}

// Channels an event can arrive by, recorded with quarantined input.
const (
	ChannelHTTP     = "http"
	ChannelResubmit = "resubmit"
)

// Service is the ingest use cases.
type Service struct {
	reg     *registry.Registry
	store   *store.Store
	events  *eventstore.Store
	pub     *stream.Publisher
	cfg     config.Config
	log     *slog.Logger
	metrics *metrics
	admit   *admission
}

// New wires the service. reg may be nil (a registry on the built-in schemas and the
// ones registered in PostgreSQL is built); metrics go to reg (nil: not exported).
func New(cfg config.Config, pool *pgxpool.Pool, events *eventstore.Store, log *slog.Logger, promReg prometheus.Registerer) (*Service, error) {
	st := store.New(pool)
	lookup := func(ctx context.Context, k registry.Key) ([]byte, []int, error) {
		return st.Schema(ctx, k.Type, k.Version)
	}
	reg, err := registry.New(schemas.FS, lookup)
	if err != nil {
		return nil, fmt.Errorf("load event schemas: %w", err)
	}
	m := newMetrics(promReg)
	return &Service{
		reg:     reg,
		store:   st,
		events:  events,
		pub:     stream.NewPublisher(events.Conn, events.Name),
		cfg:     cfg,
		log:     log,
		metrics: m,
		admit: newAdmission(cfg.Ingest.MaxInFlightBytes, int64(cfg.Ingest.MaxInFlightEvents), cfg.Ingest.MaxBodyBytes,
			cfg.Ingest.MaxQueueWait, m),
	}, nil
}

// Limits are the body limits from configuration.
func (s *Service) Limits() batch.Limits {
	return batch.Limits{MaxEvents: s.cfg.Ingest.MaxEvents, MaxEventBytes: s.cfg.Ingest.MaxEventBytes}
}

// MaxBodyBytes is the largest request body accepted.
func (s *Service) MaxBodyBytes() int64 { return s.cfg.Ingest.MaxBodyBytes }

// checked is one item after validation.
type checked struct {
	item    batch.Item
	ev      envelope.Event
	problem *registry.Problem
	wave    int // publish segment
	dupOf   int // index of an earlier event with the same id in this batch, or -1
}

// Ingest validates, stores and answers a batch of raw events sent by from (the
// caller's audit name) over channel. The error is non-nil only when the batch could
// not be handled (PostgreSQL or JetStream unavailable); the results then say which
// events got in (accepted) and which did not (failed); sending the batch again is safe.
func (s *Service) Ingest(ctx context.Context, from, channel string, items []batch.Item) ([]Result, error) {
	start := time.Now()
	cs := s.check(ctx, items)
	results := make([]Result, len(cs))
	for i, c := range cs {
		results[i] = Result{Index: c.item.Index, ID: c.ev.ID}
		if c.err != nil {
			return failAll(results), fmt.Errorf("check events: %w: %w", c.err, httpjson.ErrUnavailable)
		}
	}
	checkedItems := make([]checked, len(cs))
	for i, c := range cs {
		checkedItems[i] = checked{item: c.item, ev: c.ev, problem: c.problem, dupOf: -1}
	}
	if err := s.plan(ctx, checkedItems, results); err != nil {
		return failAll(results), err
	}
	if err := s.quarantine(ctx, from, channel, checkedItems, results); err != nil {
		return failAll(results), err
	}
	err := s.publish(ctx, from, checkedItems, results)
	for i, c := range checkedItems {
		if c.dupOf >= 0 && results[c.dupOf].Seq != 0 {
			results[i].Status, results[i].Seq = StatusDuplicate, results[c.dupOf].Seq
		}
	}
	s.metrics.observe(results, time.Since(start))
	return results, err
}

type checkResult struct {
	item    batch.Item
	ev      envelope.Event
	problem *registry.Problem
	err     error
}

// check validates every item, spreading large batches over the CPUs.
func (s *Service) check(ctx context.Context, items []batch.Item) []checkResult {
	out := make([]checkResult, len(items))
	one := func(i int) {
		it := items[i]
		out[i].item = it
		if it.TooLarge {
			out[i].problem = &registry.Problem{Code: registry.CodeTooLarge,
				Message: fmt.Sprintf("event is %d bytes, more than the limit of %d", it.Size, s.cfg.Ingest.MaxEventBytes)}
			return
		}
		out[i].ev, out[i].problem, out[i].err = s.reg.Check(ctx, it.Raw)
	}
	workers := runtime.GOMAXPROCS(0)
	if len(items) < 64 || workers == 1 {
		for i := range items {
			one(i)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(items) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(items))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				one(i)
			}
		}()
	}
	wg.Wait()
	return out
}

// plan decides, for the valid events, which are duplicates and whether their
// supersedes is acceptable, and cuts the batch into publish segments: consecutive
// runs published together, in batch order. A new segment starts at an event that
// supersedes an event of the current segment, so the target is acknowledged (and
// has the lower seq) before anything refers to it.
func (s *Service) plan(ctx context.Context, cs []checked, results []Result) error {
	var ids, targets []string
	for _, c := range cs {
		if c.problem == nil {
			ids = append(ids, c.ev.ID)
			if c.ev.Supersedes != "" {
				ids = append(ids, c.ev.Supersedes)
				targets = append(targets, c.ev.Supersedes)
			}
		}
	}
	known, err := s.store.Lookup(ctx, ids, targets)
	if err != nil {
		return fmt.Errorf("%w: %w", err, httpjson.ErrUnavailable)
	}
	first := map[string]int{}      // id → index of the event in this batch that will be published
	superseded := map[string]int{} // target id → index of the event in this batch superseding it
	segment := 0
	for i := range cs {
		c := &cs[i]
		if c.problem != nil {
			continue
		}
		if k, ok := known[c.ev.ID]; ok {
			results[i].Status, results[i].Seq = StatusDuplicate, k.Seq
			continue
		}
		if j, ok := first[c.ev.ID]; ok {
			c.dupOf = j
			results[i].Status = StatusDuplicate
			continue
		}
		if t := c.ev.Supersedes; t != "" {
			c.problem = s.checkSupersedes(c, known, first, superseded, cs)
			if c.problem != nil {
				continue
			}
			// An event superseding one still waiting for its acknowledgement starts a
			// new segment: it is published only once its target is stored.
			if j, ok := first[t]; ok && cs[j].wave == segment {
				segment++
			}
			superseded[t] = i
		}
		c.wave = segment
		first[c.ev.ID] = i
	}
	return nil
}

func (s *Service) checkSupersedes(c *checked, known map[string]store.Indexed, first, superseded map[string]int, cs []checked) *registry.Problem {
	t := c.ev.Supersedes
	bad := func(code, format string, args ...any) *registry.Problem {
		return &registry.Problem{Code: code, Field: "supersedes", Message: "supersedes: " + fmt.Sprintf(format, args...)}
	}
	if t == c.ev.ID {
		return bad(registry.CodeBadSupersede, "an event cannot supersede itself")
	}
	if j, ok := superseded[t]; ok {
		return bad(registry.CodeBadSupersede, "%q is already superseded by %q in this batch", t, cs[j].ev.ID)
	}
	if k, ok := known[t]; ok {
		if k.Type == envelope.TypeVoid {
			return bad(registry.CodeBadSupersede, "%q is a void; a void cannot be superseded", t)
		}
		if k.SupersededBy != "" && k.SupersededByType == envelope.TypeVoid {
			return bad(registry.CodeBadSupersede, "%q was voided by %q; a voided event cannot be corrected (send a new event)", t, k.SupersededBy)
		}
		if k.SupersededBy != "" {
			return bad(registry.CodeBadSupersede, "%q is already superseded by %q; supersede %q instead", t, k.SupersededBy, k.SupersededBy)
		}
		return nil
	}
	if j, ok := first[t]; ok {
		if cs[j].ev.Type == envelope.TypeVoid {
			return bad(registry.CodeBadSupersede, "%q is a void; a void cannot be superseded", t)
		}
		return nil
	}
	return bad(registry.CodeUnknownSupersede, "no event with id %q has been accepted (send the original first)", t)
}

// quarantine keeps every rejected event before anything is published, so that a
// failure here leaves the whole batch safely retryable.
func (s *Service) quarantine(ctx context.Context, from, channel string, cs []checked, results []Result) error {
	var (
		rejected []store.Rejected
		which    []int
	)
	for i, c := range cs {
		if c.problem == nil {
			continue
		}
		raw, truncated := c.item.Raw, c.item.TooLarge
		rejected = append(rejected, store.Rejected{
			ReceivedFrom: from, Channel: channel, EventID: c.ev.ID, EventType: c.ev.Type,
			Raw: raw, RawTruncated: truncated, Code: c.problem.Code, Field: c.problem.Field, Reason: c.problem.Message,
		})
		which = append(which, i)
		results[i].Status, results[i].Error, results[i].Code = StatusRejected, c.problem.Message, c.problem.Code
		results[i].Field, results[i].Fields = c.problem.Field, c.problem.Fields
	}
	ids, err := s.store.Quarantine(ctx, rejected)
	if err != nil {
		return fmt.Errorf("%w: %w", err, httpjson.ErrUnavailable)
	}
	for n, i := range which {
		results[i].QuarantineID = ids[n]
	}
	return nil
}

// publish stores the planned events wave by wave and indexes what got in.
func (s *Service) publish(ctx context.Context, from string, cs []checked, results []Result) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Ingest.PublishTimeout)
	defer cancel()
	maxWave := -1
	for i, c := range cs {
		if c.problem == nil && results[i].Status == "" && c.wave > maxWave {
			maxWave = c.wave
		}
	}
	var (
		indexed []store.Indexed
		failed  error
	)
	for w := 0; w <= maxWave && failed == nil; w++ {
		var (
			msgs  []stream.Msg
			which []int
		)
		for i, c := range cs {
			if c.problem != nil || results[i].Status != "" || c.wave != w {
				continue
			}
			// Stored as sent (an NDJSON line, an array element): the source's own bytes.
			msgs = append(msgs, stream.Msg{
				Subject: envelope.StreamSubject(c.ev.Type, c.ev.Subject),
				ID:      c.ev.ID,
				Data:    c.item.Raw,
				SentBy:  from,
			})
			which = append(which, i)
		}
		start := time.Now()
		outcomes := s.pub.Publish(ctx, msgs)
		s.metrics.publish.Observe(time.Since(start).Seconds())
		for n, o := range outcomes {
			i := which[n]
			if o.Err != nil {
				results[i].Status = StatusFailed
				results[i].Error = o.Err.Error()
				failed = o.Err
				continue
			}
			results[i].Seq = o.Seq
			results[i].Status = StatusAccepted
			if o.Duplicate {
				results[i].Status = StatusDuplicate
			}
			ev := cs[i].ev
			indexed = append(indexed, store.Indexed{ID: ev.ID, Seq: o.Seq, Type: ev.Type, Supersedes: ev.Supersedes})
		}
	}
	for i, c := range cs {
		if c.problem == nil && results[i].Status == "" && c.dupOf < 0 {
			results[i].Status = StatusFailed
			results[i].Error = "not stored: an event it depends on could not be stored"
		}
	}
	// The events are durable in JetStream now; a failure to index them is repaired
	// by CatchUp and must not turn "accepted" into an error.
	if err := s.store.Index(context.WithoutCancel(ctx), indexed); err != nil {
		s.metrics.indexErrors.Inc()
		s.log.Error("index accepted events; the catch-up will repair it", "events", len(indexed), "err", err)
	}
	if failed != nil {
		return fmt.Errorf("%w: %w", failed, httpjson.ErrUnavailable)
	}
	return nil
}

func failAll(results []Result) []Result {
	for i := range results {
		if results[i].Status == "" || results[i].Status == StatusDuplicate && results[i].Seq == 0 {
			results[i].Status = StatusFailed
		}
	}
	return results
}

// Post stores one event produced inside Ledgerline (a manual adjustment, say)
// through the same path as events from sources: validated, deduplicated, indexed,
// quarantined when bad. It answers the event's seq.
func (s *Service) Post(ctx context.Context, by string, raw []byte) (uint64, error) {
	res, err := s.Ingest(ctx, by, "api", []batch.Item{{Raw: raw, Size: len(raw)}})
	if err != nil {
		return 0, err
	}
	if res[0].Status == StatusRejected {
		return 0, fmt.Errorf("%s: %w", res[0].Error, httpjson.ErrInvalid)
	}
	return res[0].Seq, nil
}
