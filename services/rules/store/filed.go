package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// FiledSums is Sums read from the lineage stored with filing at q's watermark
// (MaterializeByDims): the same contributions, a few rows instead of every
// contribution of the figure. ok is false while that lineage is not stored.
func (s *Store) FiledSums(ctx context.Context, q Query, filing string) ([]Sum, bool, error) {
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, false, err
	}
	var stored bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lineage_done WHERE filing_id = $1 AND figure_id = $2 AND as_of_seq = $3)`,
		filing, figureID, int64(q.AsOf)).Scan(&stored); err != nil || !stored {
		return nil, false, err
	}
	sql := `SELECT coalesce(currency, ''), sum(value)::text, count(*) FROM lineage_rows
		WHERE filing_id = $1 AND figure_id = $2 AND as_of_seq = $3 GROUP BY 1 ORDER BY 1`
	args := []any{filing, figureID, int64(q.AsOf)}
	if len(q.Where) > 0 {
		sets, err := s.dimSetsOf(ctx, q.Where)
		if err != nil || len(sets) == 0 {
			return []Sum{}, err == nil, err
		}
		sql = `SELECT coalesce(currency, ''), sum(value)::text, count(*) FROM lineage_rows
			WHERE filing_id = $1 AND figure_id = $2 AND as_of_seq = $3 AND dim_set = ANY($4::int[]) GROUP BY 1 ORDER BY 1`
		args = append(args, sets)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("figure %s lineage in %s: %w", q.Figure, filing, err)
	}
	sums, err := pgx.CollectRows(rows, scanSum)
	return sums, err == nil, err
}
