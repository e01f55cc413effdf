package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/ingest/stream"
)

// scanChunk is the largest seq range read message by message; larger ranges with
// gaps are halved until they are this small.
const scanChunk = 512

// CatchUp makes the event index complete up to the stream's last sequence and
// moves its watermark there. A range is checked by counting its indexed seqs (one
// index-only query); only ranges with gaps are read from the stream. It returns how
// many events it had to index.
func (s *Service) CatchUp(ctx context.Context) (int, error) {
	w, err := s.store.IndexedThrough(ctx, s.events.Name)
	if err != nil {
		return 0, fmt.Errorf("index watermark: %w", err)
	}
	last, err := s.events.LastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream state: %w", err)
	}
	if last <= w {
		return 0, nil
	}
	n, err := s.fill(ctx, w+1, last)
	if err != nil {
		return n, err
	}
	if n > 0 {
		s.metrics.catchUp.Add(float64(n))
		s.log.Warn("event index repaired from the stream", "events", n, "from_seq", w+1, "to_seq", last)
	}
	return n, s.store.SetIndexedThrough(ctx, s.events.Name, last)
}

func (s *Service) fill(ctx context.Context, first, last uint64) (int, error) {
	have, err := s.store.CountSeqs(ctx, first, last)
	if err != nil {
		return 0, err
	}
	if have == last-first+1 {
		return 0, nil
	}
	if last-first+1 > scanChunk {
		mid := first + (last-first)/2
		a, err := s.fill(ctx, first, mid)
		if err != nil {
			return a, err
		}
		b, err := s.fill(ctx, mid+1, last)
		return a + b, err
	}
	indexed, err := s.store.IndexedSeqs(ctx, first, last)
	if err != nil {
		return 0, err
	}
	var missing []store.Indexed
	for seq := first; seq <= last; seq++ {
		if indexed[seq] {
			continue
		}
		m, err := stream.Get(ctx, s.events.Stream, seq)
		if errors.Is(err, stream.ErrNoMessage) {
			continue
		}
		if err != nil {
			return 0, err
		}
		var ev struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			Supersedes string `json:"supersedes"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.ID == "" {
			s.log.Error("stream message is not an event envelope", "seq", seq, "err", err)
			continue
		}
		missing = append(missing, store.Indexed{ID: ev.ID, Seq: seq, Type: ev.Type, Supersedes: ev.Supersedes})
	}
	return len(missing), s.store.Index(ctx, missing)
}

// RunCatchUp repeats CatchUp every interval until ctx ends.
func (s *Service) RunCatchUp(ctx context.Context) {
	t := time.NewTicker(s.cfg.Ingest.IndexInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("event index catch-up", "err", err)
			}
		}
	}
}
