package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// Query asks for one figure of one rule set version as of (period, AsOf).
type Query struct {
	Figure  string
	Ruleset string
	Version int
	Kind    string // stock, flow or cumulative
	Period  string // the period's text, to match manual adjustments
	Start   time.Time
	End     time.Time
	AsOf    uint64
	Where   map[string]string // dimension filter; the figure is summed over the rest
}

// Sum is the part of a figure in one currency ("" for none).
type Sum struct {
	Currency string
	Value    decimal.Decimal
	Count    int64
}

// live is the condition for a contribution to count at watermark $3: known by
// then, and not superseded or voided by an event known by then.
const live = `c.seq <= $3 AND NOT EXISTS (
	SELECT 1 FROM supersessions s WHERE s.superseded_id = c.event_id AND s.by_seq <= $3)`

// Sums computes the figure per currency. Stock: for each subject, the latest live
// event the figure concerns with occurred_at before the period end (ties by
// seq), unless that event is a tombstone (its `when` was false). Flow:
// every live event inside the period. Cumulative: every live event before the
// period end. Manual adjustments count for exactly their period.
func (s *Store) Sums(ctx context.Context, q Query) ([]Sum, error) {
	rows, err := s.sums(ctx, q, false)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanSum)
}

// scanSum reads a (currency, sum as text, count) row.
func scanSum(r pgx.CollectableRow) (Sum, error) {
	var (
		sm  Sum
		txt string
	)
	if err := r.Scan(&sm.Currency, &txt, &sm.Count); err != nil {
		return sm, err
	}
	v, err := decimal.NewFromString(txt)
	sm.Value = v
	return sm, err
}

// DimSum is the part of a figure with one set of dimension values in one currency.
type DimSum struct {
	Dims map[string]string
	Sum
}

// SumsByDims is Sums broken down by dimension set: what reports group, filter
// and sum in one query per figure instead of one per cell.
func (s *Store) SumsByDims(ctx context.Context, q Query) ([]DimSum, error) {
	rows, err := s.sums(ctx, q, true)
	if err != nil {
		return nil, err
	}
	return collectDimSums(rows)
}

func collectDimSums(rows pgx.Rows) ([]DimSum, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DimSum, error) {
		var (
			ds   DimSum
			txt  string
			dims []byte
		)
		if err := r.Scan(&ds.Currency, &txt, &ds.Count, &dims); err != nil {
			return ds, err
		}
		if err := json.Unmarshal(dims, &ds.Dims); err != nil {
			return ds, err
		}
		v, err := decimal.NewFromString(txt)
		ds.Value = v
		return ds, err
	})
}

func (s *Store) sums(ctx context.Context, q Query, byDims bool) (pgx.Rows, error) {
	where, err := json.Marshal(q.Where)
	if err != nil {
		return nil, err
	}
	if q.Where == nil {
		where = []byte("{}")
	}
	// $1 figure id, $2/$4 the period, $3 the watermark, $5 the period text, $6 the dimension filter.
	var sel string
	switch q.Kind {
	case "stock":
		// One row per (figure, event), a contribution or a tombstone: the latest
		// live event of each subject that the figure concerns is its latest row,
		// whatever its dimensions, and it counts unless it is a tombstone.
		sel = `SELECT h.currency, h.value, h.dim_set FROM (
			SELECT DISTINCT ON (c.subject) c.currency, c.value, c.dim_set, c.stops_counting FROM contributions c
			WHERE c.figure_id = $1 AND c.adj_period IS NULL AND c.occurred_at < $4 AND ` + live + `
			ORDER BY c.subject, c.occurred_at DESC, c.seq DESC) h WHERE h.stops_counting IS NULL`
	case "flow":
		sel = `SELECT c.currency, c.value, c.dim_set FROM contributions c
			WHERE c.figure_id = $1 AND c.adj_period IS NULL
			  AND c.occurred_at >= $2 AND c.occurred_at < $4 AND ` + live
	case "cumulative":
		sel = `SELECT c.currency, c.value, c.dim_set FROM contributions c
			WHERE c.figure_id = $1 AND c.adj_period IS NULL
			  AND c.occurred_at < $4 AND ` + live
	default:
		return nil, fmt.Errorf("figure %s: kind %q is not computed from contributions", q.Figure, q.Kind)
	}
	filter := ""
	if len(q.Where) > 0 {
		filter = "dim_set IN (SELECT id FROM dim_sets WHERE dims @> $6::jsonb) AND "
	}
	sql := `SELECT coalesce(currency, ''), sum(value)::text, count(*) FROM ((` + sel + `)
		UNION ALL
		SELECT c.currency, c.value, c.dim_set FROM contributions c
		WHERE c.figure_id = $1 AND c.adj_period = $5 AND ` + live + `
	) x WHERE ` + filter + `$2::timestamptz < $4::timestamptz GROUP BY 1 ORDER BY 1`
	if byDims {
		sql = `SELECT g.currency, g.total, g.n, d.dims FROM (
			SELECT coalesce(currency, '') AS currency, dim_set, sum(value)::text AS total, count(*) AS n FROM ((` + sel + `)
				UNION ALL
				SELECT c.currency, c.value, c.dim_set FROM contributions c
				WHERE c.figure_id = $1 AND c.adj_period = $5 AND ` + live + `
			) x WHERE ` + filter + `$2::timestamptz < $4::timestamptz GROUP BY 1, 2
		) g JOIN dim_sets d ON d.id = g.dim_set ORDER BY g.dim_set, g.currency`
	}
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, err
	}
	args := []any{figureID, q.Start, int64(q.AsOf), q.End, q.Period}
	if filter != "" {
		args = append(args, where)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("figure %s: %w", q.Figure, err)
	}
	return rows, nil
}

// figureID is the key of q's figure in q's rule set version.
func (s *Store) figureID(ctx context.Context, q Query) (int32, error) {
	var id int32
	err := s.pool.QueryRow(ctx, `SELECT id FROM ruleset_figures WHERE ruleset = $1 AND version = $2 AND figure = $3`,
		q.Ruleset, q.Version, q.Figure).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("figure %s is not defined by rule set %s v%d: %w", q.Figure, q.Ruleset, q.Version, httpjson.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("figure %s: %w", q.Figure, err)
	}
	return id, nil
}

// Rate is the fx rate used to convert From into To.
type Rate struct {
	From, To string
	Rate     decimal.Decimal // the event's rate: 1 From = Rate To, or 1 To = Rate From when Inverse
	EventID  string
	Seq      uint64
	Inverse  bool // the event quoted To/From
}

// DivisionDigits is the precision of a conversion by an inverse quote.
const DivisionDigits = 20

// Convert turns an amount in From into To: multiplied by the rate, or divided by it
// when the event quoted the pair the other way round (no rounded reciprocal).
func (r Rate) Convert(amount decimal.Decimal) decimal.Decimal {
	if r.Inverse {
		return amount.DivRound(r.Rate, DivisionDigits)
	}
	return amount.Mul(r.Rate)
}

// ErrNoRate means no fx.rate event converts the currency as of the period end.
var ErrNoRate = errors.New("no fx rate")

// FXRate finds the latest live fx.rate between from and to (either direction)
// with occurred_at before end and known by asOf.
func (s *Store) FXRate(ctx context.Context, from, to string, end time.Time, asOf uint64) (Rate, error) {
	var (
		r       = Rate{From: from, To: to}
		base    string
		rateTxt string
		seq     int64
	)
	err := s.pool.QueryRow(ctx, `
		SELECT c.event_id, c.seq, c.base, c.rate::text FROM fx_rates c
		WHERE ((c.base = $1 AND c.quote = $2) OR (c.base = $2 AND c.quote = $1))
		  AND c.occurred_at < $4 AND `+live+`
		ORDER BY c.occurred_at DESC, c.seq DESC LIMIT 1`, from, to, int64(asOf), end).Scan(&r.EventID, &seq, &base, &rateTxt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("%w: no fx.rate event converts %s into %s before %s (as of seq %d): send one: %w",
			ErrNoRate, from, to, end.Format(time.RFC3339), asOf, httpjson.ErrInvalid)
	}
	if err != nil {
		return r, err
	}
	rate, err := decimal.NewFromString(rateTxt)
	if err != nil {
		return r, err
	}
	r.Seq, r.Rate, r.Inverse = uint64(seq), rate, base != from
	return r, nil
}
