package ingest

import (
	"context"
	"fmt"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/ingest/batch"
	"github.com/ledgerline/ledgerline/services/ingest/store"
)

// Codes for quarantined whole bodies (as opposed to single events).
const (
	CodeBodyTooLarge  = "body_too_large"
	CodeBodyMalformed = "malformed_body"
	CodeTooManyEvents = "too_many_events"
)

// keepBody is how much of a rejected whole body is kept in quarantine.
const keepBody = 1 << 20

// QuarantineBody keeps a request body that was rejected as a whole.
func (s *Service) QuarantineBody(ctx context.Context, from, channel string, body []byte, code, reason string) (int64, error) {
	s.metrics.bodies.WithLabelValues(code).Inc()
	truncated := len(body) > keepBody
	if truncated {
		body = body[:keepBody]
	}
	ids, err := s.store.Quarantine(ctx, []store.Rejected{{ReceivedFrom: from, Channel: channel, Raw: body,
		RawTruncated: truncated, Code: code, Reason: reason}})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", err, httpjson.ErrUnavailable)
	}
	return ids[0], nil
}

// ListQuarantine returns a page of quarantined input.
func (s *Service) ListQuarantine(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantineEntry, int64, error) {
	return s.store.ListQuarantine(ctx, f)
}

// GetQuarantine returns one quarantine entry.
func (s *Service) GetQuarantine(ctx context.Context, id int64) (store.QuarantineEntry, error) {
	return s.store.GetQuarantine(ctx, id)
}

// Resubmission is the outcome of sending quarantined input again.
type Resubmission struct {
	Entry   store.QuarantineEntry `json:"entry"`
	Results []Result              `json:"results"`
}

// Resubmit sends quarantined input again: the corrected body when given (one event,
// a JSON array or NDJSON), else the original (useful once a missing schema has been
// registered). When every event in it is accepted or already in the store, the
// entry is resolved; new rejections are quarantined as entries of their own.
func (s *Service) Resubmit(ctx context.Context, id int64, by string, corrected []byte) (Resubmission, error) {
	e, err := s.store.GetQuarantine(ctx, id)
	if err != nil {
		return Resubmission{}, err
	}
	if e.Status != "open" {
		return Resubmission{}, fmt.Errorf("quarantine entry %d is %s: %w", id, e.Status, httpjson.ErrConflict)
	}
	body := corrected
	if len(body) == 0 {
		if e.RawTruncated {
			return Resubmission{}, fmt.Errorf("quarantine entry %d kept only the start of the input: send the corrected input: %w", id, httpjson.ErrBadRequest)
		}
		body = []byte(e.Raw)
	}
	items, err := batch.Split(body, s.Limits())
	if err != nil {
		return Resubmission{}, fmt.Errorf("%w: %w", err, httpjson.ErrBadRequest)
	}
	results, err := s.Ingest(ctx, by, ChannelResubmit, items)
	if err != nil {
		return Resubmission{Entry: e, Results: results}, err
	}
	var seq uint64
	for _, r := range results {
		if r.Status != StatusAccepted && r.Status != StatusDuplicate {
			return Resubmission{Entry: e, Results: results}, nil
		}
		seq = max(seq, r.Seq)
	}
	how := "resubmitted unchanged"
	if len(corrected) > 0 {
		how = "resubmitted corrected"
	}
	if err := s.store.Resolve(ctx, id, "resolved", by, how, seq); err != nil {
		return Resubmission{Entry: e, Results: results}, err
	}
	e, err = s.store.GetQuarantine(ctx, id)
	return Resubmission{Entry: e, Results: results}, err
}

// Discard closes a quarantine entry without resubmitting it, with a reason.
func (s *Service) Discard(ctx context.Context, id int64, by, reason string) (store.QuarantineEntry, error) {
	if reason == "" {
		return store.QuarantineEntry{}, fmt.Errorf("a reason is required to discard quarantined input: %w", httpjson.ErrInvalid)
	}
	if err := s.store.Resolve(ctx, id, "discarded", by, reason, 0); err != nil {
		return store.QuarantineEntry{}, err
	}
	return s.store.GetQuarantine(ctx, id)
}
