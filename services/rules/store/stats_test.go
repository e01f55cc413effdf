package store

import (
	"context"
	"testing"

	"github.com/ledgerline/ledgerline/platform/pgtest"
)

// TestFreshenStatsAnalyzesWhatWasNeverAnalyzed: supersessions with rows but no
// statistics yet (as right after a burst of corrections, before autovacuum) are
// analyzed; an empty table is left alone.
func TestFreshenStatsAnalyzesWhatWasNeverAnalyzed(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	s := New(pool)
	reltuples := func(table string) float64 {
		t.Helper()
		var n float64
		if err := pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := pool.Exec(ctx, `INSERT INTO supersessions (superseded_id, by_id, by_seq)
		SELECT 'ev-' || i, 'fix-' || i, 1000 + i FROM generate_series(1, 300) i`); err != nil {
		t.Fatal(err)
	}
	if n := reltuples("supersessions"); n >= 0 {
		t.Fatalf("supersessions analyzed already (reltuples %v): the test shows nothing", n)
	}
	if err := s.FreshenStats(ctx); err != nil {
		t.Fatal(err)
	}
	if n := reltuples("supersessions"); n != 300 {
		t.Fatalf("after FreshenStats, the planner believes supersessions has %v rows, want 300", n)
	}
	// contributions is empty: nothing to analyze, and nothing analyzed.
	if n := reltuples("contributions"); n >= 0 {
		t.Fatalf("the empty contributions were analyzed (reltuples %v)", n)
	}
}
