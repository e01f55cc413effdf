package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// StoreChanges records the late events behind each changed amount of an
// amended filing (amount key → the events, as JSON), once.
func (s *Store) StoreChanges(ctx context.Context, filingID string, events map[string]json.RawMessage) error {
	keys := make([]string, 0, len(events))
	docs := make([]string, 0, len(events))
	for k, doc := range events {
		keys, docs = append(keys, k), append(docs, string(doc))
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO restatement_changes (filing_id, amount_key, events)
		SELECT $1, k, d::jsonb FROM unnest($2::text[], $3::text[]) AS x(k, d) ON CONFLICT DO NOTHING`, filingID, keys, docs)
	return err
}

// Changes reads the recorded late events of an amended filing's changed
// amounts (ok false when none were recorded: a restatement made before they were).
func (s *Store) Changes(ctx context.Context, filingID string) (map[string]json.RawMessage, bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT amount_key, events FROM restatement_changes WHERE filing_id = $1`, filingID)
	if err != nil {
		return nil, false, err
	}
	out := map[string]json.RawMessage{}
	var (
		key string
		doc []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&key, &doc}, func() error {
		out[key] = append(json.RawMessage(nil), doc...)
		return nil
	}); err != nil {
		return nil, false, err
	}
	return out, len(out) > 0, nil
}
