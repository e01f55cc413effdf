package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestCopyEncodingRoundTrips writes rows with the hand-made binary COPY encoder
// and reads them back through PostgreSQL's own text output: every numeric exact
// (scale kept), times to the microsecond on both sides of 2000-01-01, NULLs,
// non-ASCII text, and the tombstone flag (a batch with tombstones has the
// column, one without is written as before).
func TestCopyEncodingRoundTrips(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()

	values := []string{"0", "0.00", "-0.00", "1", "-1", "9999", "10000", "10001", "12345.6789", "0.0001", "0.00001",
		"0.1", "-0.5", "100000000", "1234567.89", "-987654321.123456", "0.000000000000000000000000000001",
		"123456789012345678901234567890.123456789012345678901234567890", "-9223372036854775808", "9223372036854775807",
		"18446744073709551616.5", "250000.00", "1E+3", "5E+7", "7e-3"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		values = append(values, fmt.Sprintf("%d.%0*d", rng.Int64N(1e12)-5e11, rng.IntN(12), rng.Int64N(1e6)))
	}
	times := []time.Time{
		time.Date(2026, 10, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 1000, time.FixedZone("CET", 3600)),
	}
	var cs []Contribution
	for i, v := range values {
		d, err := decimal.NewFromString(v)
		if err != nil {
			t.Fatal(err)
		}
		c := Contribution{Seq: uint64(i + 1), OccurredAt: times[i%len(times)], Value: d, EventID: fmt.Sprintf("ev-%d", i),
			Subject: "Zürich loan ★ " + v}
		if i%3 == 0 {
			c.Currency = "EUR"
		}
		if i%5 == 0 {
			c.AdjPeriod = "2026-Q3"
		}
		if i >= len(values)/2 && i%7 == 0 {
			c.StopsCounting = true // only in the second batch: the first goes without the column
		}
		cs = append(cs, c)
	}
	figs, dims := make([]int32, len(cs)), make([]int32, len(cs))
	for i := range cs {
		figs[i], dims[i] = int32(i*7), int32(-i)
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `TRUNCATE contributions`); err != nil {
			return err
		}
		h := len(cs) / 2
		if err := copyContributionRows(ctx, tx, cs[:h], figs[:h], dims[:h]); err != nil {
			return err
		}
		return copyContributionRows(ctx, tx, cs[h:], figs[h:], dims[h:])
	}); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT seq, occurred_at, figure_id, dim_set, value::text, coalesce(currency, '<null>'),
		event_id, subject, coalesce(adj_period, '<null>'), coalesce(stops_counting::text, '<null>') FROM contributions ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var (
			seq                        int64
			at                         time.Time
			fig, dim                   int32
			value, cur, id, subj, adjp string
			stops                      string
		)
		if err := rows.Scan(&seq, &at, &fig, &dim, &value, &cur, &id, &subj, &adjp, &stops); err != nil {
			t.Fatal(err)
		}
		c := cs[i]
		wantCur, wantAdj := c.Currency, c.AdjPeriod
		if wantCur == "" {
			wantCur = "<null>"
		}
		if wantAdj == "" {
			wantAdj = "<null>"
		}
		wantStops := "<null>"
		if c.StopsCounting {
			wantStops = "true"
		}
		// PostgreSQL prints a numeric with exactly its scale: the decimal's own digits.
		wantValue := c.Value.StringFixed(max(0, -c.Value.Exponent()))
		if seq != int64(c.Seq) || !at.Equal(c.OccurredAt) || fig != figs[i] || dim != dims[i] || value != wantValue ||
			cur != wantCur || id != c.EventID || subj != c.Subject || adjp != wantAdj || stops != wantStops {
			t.Errorf("row %d: got (%d %s %d %d %s %s %s %s %s %s), want (%d %s %d %d %s %s %s %s %s %s)", i,
				seq, at, fig, dim, value, cur, id, subj, adjp, stops,
				c.Seq, c.OccurredAt, figs[i], dims[i], wantValue, wantCur, c.EventID, c.Subject, wantAdj, wantStops)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(cs) {
		t.Fatalf("%d rows read back, want %d", i, len(cs))
	}
}
