package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/ingest/stream"
)

// StoredEvent is an event as the store holds it.
type StoredEvent struct {
	Seq          uint64          `json:"seq"`
	RecordedAt   time.Time       `json:"recorded_at"`
	Subject      string          `json:"stream_subject"`
	SentBy       string          `json:"sent_by,omitempty"`
	SupersededBy string          `json:"superseded_by,omitempty"`
	Event        json.RawMessage `json:"event"`
}

// Event reads an accepted event back from the stream by its id.
func (s *Service) Event(ctx context.Context, id string) (StoredEvent, error) {
	known, err := s.store.Lookup(ctx, []string{id}, []string{id})
	if err != nil {
		return StoredEvent{}, err
	}
	k, ok := known[id]
	if !ok {
		return StoredEvent{}, fmt.Errorf("event %q: %w", id, httpjson.ErrNotFound)
	}
	m, err := stream.Get(ctx, s.events.Stream, k.Seq)
	if err != nil {
		return StoredEvent{}, err
	}
	return StoredEvent{Seq: m.Seq, RecordedAt: m.RecordedAt, Subject: m.Subject, SentBy: m.SentBy, SupersededBy: k.SupersededBy, Event: m.Data}, nil
}

// EventAt reads the event stored at seq.
func (s *Service) EventAt(ctx context.Context, seq uint64) (StoredEvent, error) {
	m, err := stream.Get(ctx, s.events.Stream, seq)
	if errors.Is(err, stream.ErrNoMessage) {
		return StoredEvent{}, fmt.Errorf("no event at seq %d: %w", seq, httpjson.ErrNotFound)
	}
	if err != nil {
		return StoredEvent{}, err
	}
	return StoredEvent{Seq: m.Seq, RecordedAt: m.RecordedAt, Subject: m.Subject, SentBy: m.SentBy, Event: m.Data}, nil
}

// StreamState summarises the event store.
type StreamState struct {
	Stream         string    `json:"stream"`
	Messages       uint64    `json:"messages"`
	Bytes          uint64    `json:"bytes"`
	FirstSeq       uint64    `json:"first_seq"`
	LastSeq        uint64    `json:"last_seq"`
	LastRecordedAt time.Time `json:"last_recorded_at,omitzero"`
	Replicas       int       `json:"replicas"`
	IndexedThrough uint64    `json:"indexed_through"`
}

// State reports the stream's state and how far the event index reaches.
func (s *Service) State(ctx context.Context) (StreamState, error) {
	info, err := s.events.Stream.Info(ctx)
	if err != nil {
		return StreamState{}, fmt.Errorf("stream info: %w: %w", err, httpjson.ErrUnavailable)
	}
	w, err := s.store.IndexedThrough(ctx, s.events.Name)
	if err != nil {
		return StreamState{}, err
	}
	return StreamState{Stream: info.Config.Name, Messages: info.State.Msgs, Bytes: info.State.Bytes,
		FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, LastRecordedAt: info.State.LastTime,
		Replicas: info.Config.Replicas, IndexedThrough: w}, nil
}
