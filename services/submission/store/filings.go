package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ForFilings returns the submissions of the given filings, by filing id (a
// filing without one is absent), without their attempts: one query for a page
// of filings, as the web console lists them.
func (s *Store) ForFilings(ctx context.Context, filingIDs []string) (map[string]Submission, error) {
	out := map[string]Submission{}
	if len(filingIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM submissions WHERE filing_id = ANY($1)`, filingIDs)
	if err != nil {
		return nil, err
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Submission, error) { return scan(r) })
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		out[sub.FilingID] = sub
	}
	return out, nil
}
