package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Row is one contribution as lineage shows it.
type Row struct {
	Seq        uint64
	EventID    string
	Subject    string
	OccurredAt time.Time
	Value      decimal.Decimal
	Currency   string // "" for none
	Dims       map[string]string
	AdjPeriod  string // set for a manual adjustment
}

// liveOf is the live condition of alias at watermark $3.
func liveOf(alias string) string {
	return alias + `.seq <= $3 AND NOT EXISTS (
		SELECT 1 FROM supersessions s WHERE s.superseded_id = ` + alias + `.event_id AND s.by_seq <= $3)`
}

// Rows pages the contributions Sums adds up for q — for a stock figure only each
// subject's latest live row — newest seq first, below before (0: from the
// watermark down), at most limit. The seq of the last row is the next page's
// before: a keyset cursor, stable while the watermark is fixed.
func (s *Store) Rows(ctx context.Context, q Query, before uint64, limit int) ([]Row, error) {
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, err
	}
	if before == 0 || before > q.AsOf+1 {
		before = q.AsOf + 1
	}
	rowsOf, err := countingRows(q)
	if err != nil {
		return nil, err
	}
	args := []any{figureID, q.Start, int64(q.AsOf), q.End, q.Period, int64(before), limit}
	filter := ""
	if len(q.Where) > 0 {
		sets, err := s.dimSetsOf(ctx, q.Where)
		if err != nil || len(sets) == 0 {
			return []Row{}, err
		}
		filter = "AND c.dim_set = ANY($8::int[])"
		args = append(args, sets)
	}
	rows, err := s.pool.Query(ctx, `SELECT c.seq, c.event_id, c.subject, c.occurred_at, c.value::text, coalesce(c.currency, ''), d.dims,
			coalesce(c.adj_period, '')
		FROM (`+rowsOf+`) c
		JOIN dim_sets d ON d.id = c.dim_set
		WHERE c.seq < $6 `+filter+` AND $2::timestamptz < $4::timestamptz
		ORDER BY c.seq DESC LIMIT $7`, args...)
	if err != nil {
		return nil, fmt.Errorf("figure %s contributions: %w", q.Figure, err)
	}
	return collectRows(rows)
}

func collectRows(rows pgx.Rows) ([]Row, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var (
			row  Row
			seq  int64
			val  string
			dims []byte
		)
		if err := r.Scan(&seq, &row.EventID, &row.Subject, &row.OccurredAt, &val, &row.Currency, &dims, &row.AdjPeriod); err != nil {
			return row, err
		}
		row.Seq = uint64(seq)
		if err := json.Unmarshal(dims, &row.Dims); err != nil {
			return row, err
		}
		v, err := decimal.NewFromString(val)
		row.Value = v
		return row, err
	})
}

// countingRows is the SQL of the contributions that count for q's figure ($1
// figure id, $2/$4 the period, $3 the watermark, $5 the period text): a stock
// figure's are each subject's latest live row before the period end (the heads
// Sums adds up) unless it is a tombstone, and every figure's manual adjustments
// for the period.
func countingRows(q Query) (string, error) {
	var rowsOf string
	switch q.Kind {
	case "flow":
		rowsOf = `SELECT c.* FROM contributions c WHERE c.figure_id = $1 AND c.adj_period IS NULL
			AND c.occurred_at >= $2 AND c.occurred_at < $4 AND ` + liveOf("c")
	case "stock":
		// The latest row of a subject may be a tombstone: then nothing of it counts.
		rowsOf = `SELECT h.* FROM (SELECT DISTINCT ON (c.subject) c.* FROM contributions c WHERE c.figure_id = $1 AND c.adj_period IS NULL
			AND c.occurred_at < $4 AND ` + liveOf("c") + ` ORDER BY c.subject, c.occurred_at DESC, c.seq DESC) h
			WHERE h.stops_counting IS NULL`
	case "cumulative":
		rowsOf = `SELECT c.* FROM contributions c WHERE c.figure_id = $1 AND c.adj_period IS NULL
			AND c.occurred_at < $4 AND ` + liveOf("c")
	default:
		return "", fmt.Errorf("figure %s: kind %q has no contributions", q.Figure, q.Kind)
	}
	return `(` + rowsOf + `) UNION ALL (SELECT c.* FROM contributions c WHERE c.figure_id = $1 AND c.adj_period = $5 AND ` + liveOf("c") + `)`, nil
}

// MaterializeByDims stores the contributions that count for q's figure as the
// lineage of filing at q's watermark (once: a second call stores nothing new)
// and answers the figure by dimension set from them, as SumsByDims does.
func (s *Store) MaterializeByDims(ctx context.Context, q Query, filing string) ([]DimSum, error) {
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, err
	}
	rowsOf, err := countingRows(q)
	if err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO lineage_rows (filing_id, figure_id, as_of_seq, seq, dim_set, value, currency, event_id, subject,
			occurred_at, adj_period)
		SELECT $6, c.figure_id, $3, c.seq, c.dim_set, c.value, c.currency, c.event_id, c.subject, c.occurred_at, c.adj_period
		FROM (`+rowsOf+`) c WHERE $2::timestamptz < $4::timestamptz
		ON CONFLICT DO NOTHING`, figureID, q.Start, int64(q.AsOf), q.End, q.Period, filing); err != nil {
		return nil, fmt.Errorf("figure %s: store the lineage of %s: %w", q.Figure, filing, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO lineage_done (filing_id, figure_id, as_of_seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		filing, figureID, int64(q.AsOf)); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT g.currency, g.total, g.n, d.dims FROM (
			SELECT coalesce(currency, '') AS currency, dim_set, sum(value)::text AS total, count(*) AS n FROM lineage_rows
			WHERE filing_id = $1 AND figure_id = $2 AND as_of_seq = $3 GROUP BY 1, 2
		) g JOIN dim_sets d ON d.id = g.dim_set ORDER BY g.dim_set, g.currency`, filing, figureID, int64(q.AsOf))
	if err != nil {
		return nil, fmt.Errorf("figure %s: %w", q.Figure, err)
	}
	return collectDimSums(rows)
}

// lineageStored reports whether filing's lineage of a figure at asOf is stored
// in full (false for no filing).
func (s *Store) lineageStored(ctx context.Context, filing string, figureID int32, asOf uint64) (bool, error) {
	if filing == "" {
		return false, nil
	}
	var stored bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lineage_done WHERE filing_id = $1 AND figure_id = $2 AND as_of_seq = $3)`,
		filing, figureID, int64(asOf)).Scan(&stored)
	return stored, err
}

// LineageRows pages the stored lineage of q's figure in filing, newest seq
// first below before (0: from the top), under q.Where; while it is not stored
// (yet), the same rows computed from the contributions.
func (s *Store) LineageRows(ctx context.Context, q Query, filing string, before uint64, limit int) ([]Row, error) {
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, err
	}
	stored, err := s.lineageStored(ctx, filing, figureID, q.AsOf)
	if err != nil {
		return nil, err
	}
	if !stored {
		return s.Rows(ctx, q, before, limit)
	}
	if before == 0 {
		before = 1<<63 - 1
	}
	args := []any{filing, figureID, int64(before), limit, int64(q.AsOf)}
	const cols = `l.seq, l.event_id, l.subject, l.occurred_at, l.value::text, coalesce(l.currency, ''), l.dim_set, coalesce(l.adj_period, '')`
	sql := `SELECT ` + cols + ` FROM lineage_rows l
		WHERE l.filing_id = $1 AND l.figure_id = $2 AND l.as_of_seq = $5 AND l.seq < $3 ORDER BY l.seq DESC LIMIT $4`
	if len(q.Where) > 0 {
		sets, err := s.dimSetsOf(ctx, q.Where)
		if err != nil || len(sets) == 0 {
			return []Row{}, err
		}
		args = append(args, sets)
		if len(sets) <= 200 {
			// A narrow filter: the newest rows of each of its dimension sets by the
			// (..., dim_set, seq) index, merged - not a walk through every row of
			// the figure looking for them.
			sql = `SELECT x.* FROM unnest($6::int[]) AS w(id), LATERAL (
				SELECT ` + cols + ` FROM lineage_rows l
				WHERE l.filing_id = $1 AND l.figure_id = $2 AND l.as_of_seq = $5 AND l.dim_set = w.id AND l.seq < $3
				ORDER BY l.seq DESC LIMIT $4) x ORDER BY x.seq DESC LIMIT $4`
		} else {
			sql = `SELECT ` + cols + ` FROM lineage_rows l
				WHERE l.filing_id = $1 AND l.figure_id = $2 AND l.as_of_seq = $5 AND l.seq < $3 AND l.dim_set = ANY($6::int[])
				ORDER BY l.seq DESC LIMIT $4`
		}
	}
	sql = `SELECT r.seq, r.event_id, r.subject, r.occurred_at, r.value, r.currency, d.dims, r.adj_period
		FROM (` + sql + `) AS r(seq, event_id, subject, occurred_at, value, currency, dim_set, adj_period)
		JOIN dim_sets d ON d.id = r.dim_set ORDER BY r.seq DESC`
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("figure %s lineage in %s: %w", q.Figure, filing, err)
	}
	return collectRows(rows)
}

// dimSetsOf lists the dimension sets a filter matches.
func (s *Store) dimSetsOf(ctx context.Context, where map[string]string) ([]int32, error) {
	doc, err := json.Marshal(where)
	if err != nil {
		return nil, err
	}
	var sets []int32
	err = s.pool.QueryRow(ctx, `SELECT coalesce(array_agg(id), '{}') FROM dim_sets WHERE dims @> $1::jsonb`, doc).Scan(&sets)
	return sets, err
}

// EventContribution is what one event contributed to one figure.
type EventContribution struct {
	Ruleset    string
	Version    int
	Figure     string
	Dims       map[string]string
	Value      decimal.Decimal
	Currency   string
	OccurredAt time.Time
	AdjPeriod  string
	// StopsCounting marks what a stock figure's later event took out instead
	// of a contribution: Replaces is the subject's contribution that counted
	// before it ("" when none did), whose dimensions and currency Dims and
	// Currency are; Value is 0. The event is a tombstone (`when` was false for
	// it), or it contributes under other dimension values, in an entry of its own.
	StopsCounting bool   `json:",omitempty"`
	Replaces      string `json:",omitempty"`
}

// EventContributions lists every contribution of the event at seq, by every
// rule set version. For a stock figure it also says what the event stopped
// counting: the subject's latest live contribution known before it, with
// occurred_at not after its own, when the event is a tombstone or that
// contribution has other dimension values.
func (s *Store) EventContributions(ctx context.Context, seq uint64) ([]EventContribution, error) {
	rows, err := s.pool.Query(ctx, `SELECT f.ruleset, f.version, f.figure, d.dims, c.value::text, coalesce(c.currency, ''), c.occurred_at,
			coalesce(c.adj_period, ''), c.stops_counting IS NOT NULL, coalesce(p.event_id, ''), p.stops_counting IS NOT NULL,
			coalesce(pd.dims, '{}'), coalesce(p.currency, '')
		FROM contributions c JOIN ruleset_figures f ON f.id = c.figure_id JOIN dim_sets d ON d.id = c.dim_set
		LEFT JOIN LATERAL (
			-- The subject's latest live row just before this event arrived.
			SELECT o.event_id, o.dim_set, o.currency, o.stops_counting FROM contributions o
			WHERE f.kind = 'stock' AND c.adj_period IS NULL AND o.figure_id = c.figure_id AND o.subject = c.subject
			  AND o.adj_period IS NULL AND o.seq < c.seq AND o.occurred_at <= c.occurred_at
			  AND NOT EXISTS (SELECT 1 FROM supersessions s WHERE s.superseded_id = o.event_id AND s.by_seq < c.seq)
			ORDER BY o.occurred_at DESC, o.seq DESC LIMIT 1
		) p ON true
		LEFT JOIN dim_sets pd ON pd.id = p.dim_set
		WHERE c.seq = $1
		ORDER BY f.ruleset, f.version, f.figure`, int64(seq))
	if err != nil {
		return nil, err
	}
	var out []EventContribution
	var (
		c                   EventContribution
		dims, prevDims      []byte
		val, prev, prevCur  string
		tombstone, prevTomb bool
	)
	_, err = pgx.ForEachRow(rows, []any{&c.Ruleset, &c.Version, &c.Figure, &dims, &val, &c.Currency, &c.OccurredAt, &c.AdjPeriod,
		&tombstone, &prev, &prevTomb, &prevDims, &prevCur}, func() error {
		c.Dims, c.StopsCounting, c.Replaces = nil, false, ""
		if err := json.Unmarshal(dims, &c.Dims); err != nil {
			return err
		}
		var err error
		if c.Value, err = decimal.NewFromString(val); err != nil {
			return err
		}
		counted := prev != "" && !prevTomb // the subject counted before this event
		var before map[string]string
		if counted {
			if err := json.Unmarshal(prevDims, &before); err != nil {
				return err
			}
		}
		stops := EventContribution{Ruleset: c.Ruleset, Version: c.Version, Figure: c.Figure, Dims: before, Value: decimal.Zero,
			Currency: prevCur, OccurredAt: c.OccurredAt, StopsCounting: true, Replaces: prev}
		switch {
		case tombstone && counted:
			out = append(out, stops)
		case tombstone: // it stops nothing (yet): shown with its own dimensions
			c.StopsCounting = true
			out = append(out, c)
		case counted && !maps.Equal(before, c.Dims):
			out = append(out, c, stops)
		default:
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// LateRows are the rows that count for q's figure at q.AsOf with seq above
// after, under every filter (q.Where is not used), newest first: the late
// events that contribute, which a restatement then filters by each changed
// cell's dimensions. They are filing's stored lineage when it is stored, as
// LineageRows pages it, else computed from the contributions.
func (s *Store) LateRows(ctx context.Context, q Query, filing string, after uint64) ([]Row, error) {
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, err
	}
	stored, err := s.lineageStored(ctx, filing, figureID, q.AsOf)
	if err != nil {
		return nil, err
	}
	var rows pgx.Rows
	if stored {
		rows, err = s.pool.Query(ctx, `SELECT l.seq, l.event_id, l.subject, l.occurred_at, l.value::text, coalesce(l.currency, ''), d.dims,
				coalesce(l.adj_period, '')
			FROM lineage_rows l JOIN dim_sets d ON d.id = l.dim_set
			WHERE l.filing_id = $1 AND l.figure_id = $2 AND l.as_of_seq = $3 AND l.seq > $4
			ORDER BY l.seq DESC`, filing, figureID, int64(q.AsOf), int64(after))
	} else {
		rowsOf, err := countingRows(q)
		if err != nil {
			return nil, err
		}
		rows, err = s.pool.Query(ctx, `SELECT c.seq, c.event_id, c.subject, c.occurred_at, c.value::text, coalesce(c.currency, ''), d.dims,
				coalesce(c.adj_period, '')
			FROM (`+rowsOf+`) c
			JOIN dim_sets d ON d.id = c.dim_set
			WHERE c.seq > $6 AND $2::timestamptz < $4::timestamptz
			ORDER BY c.seq DESC`, figureID, q.Start, int64(q.AsOf), q.End, q.Period, int64(after))
	}
	if err != nil {
		return nil, fmt.Errorf("figure %s late rows: %w", q.Figure, err)
	}
	return collectRows(rows)
}

// Under reports whether dims hold every dimension value where asks for, as a
// figure's filter (Query.Where) selects dimension sets.
func Under(dims, where map[string]string) bool {
	for k, v := range where {
		if got, ok := dims[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Superseded lists the events superseded or voided by events with seq in
// (after, through], whose contributions to q's figure (under q.Where) were
// known at after: what a late correction or void took out of a figure. For a
// stock figure it lists too, with StopsCounting, the events with seq in (after,
// through] that became a subject's latest row before the period end and took
// out the contribution that counted under q.Where at after without superseding
// it: a tombstone, or a contribution under dimension values outside q.Where.
// Ordered by BySeq.
func (s *Store) Superseded(ctx context.Context, q Query, after, through uint64) ([]Supersession, error) {
	lc, err := s.LateChanges(ctx, q, after, through)
	if err != nil {
		return nil, err
	}
	return lc.Under(q.Where), nil
}

// LateChanges is what the events with seq in (after, through] took out of one
// figure, under every filter at once: a restatement asks it once per figure
// and then, for each of its changed cells, Under the cell's filter, rather
// than scanning the figure's contributions once per cell.
type LateChanges struct {
	// The corrections and voids, with the dimension set of each contribution
	// they took out.
	superseded []lateSupersession
	// Stock figures: the subjects whose latest row changed, with their latest
	// row at after and at through.
	heads []headChange
	dims  map[int32]map[string]string // the dimension sets named above
}

type lateSupersession struct {
	Supersession
	dimSet int32
}

type headChange struct {
	oldEvent     string
	oldDimSet    int32
	oldTombstone bool
	newEvent     string
	newSeq       uint64
	newDimSet    int32
	newTombstone bool
}

// LateChanges reads what Superseded lists, for q's figure under any filter
// (q.Where is not used).
func (s *Store) LateChanges(ctx context.Context, q Query, after, through uint64) (*LateChanges, error) {
	figureID, err := s.figureID(ctx, q)
	if err != nil {
		return nil, err
	}
	lc := &LateChanges{dims: map[int32]map[string]string{}}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT s.superseded_id, s.by_id, s.by_seq, c.dim_set FROM supersessions s
		JOIN contributions c ON c.event_id = s.superseded_id
		WHERE c.figure_id = $1 AND c.seq <= $2 AND s.by_seq > $2 AND s.by_seq <= $3
		ORDER BY s.by_seq`, figureID, int64(after), int64(through))
	if err != nil {
		return nil, err
	}
	lc.superseded, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (lateSupersession, error) {
		var (
			sp  lateSupersession
			seq int64
		)
		err := r.Scan(&sp.Superseded, &sp.By, &seq, &sp.dimSet)
		sp.BySeq = uint64(seq)
		return sp, err
	})
	if err != nil {
		return nil, err
	}
	if q.Kind == "stock" {
		// Each subject's head (latest live row before the period end) at after
		// and at through. A head that changed is a row with seq in (after,
		// through], so only the subjects with such a row are read: the late
		// events' few, found by seq, not every subject of the figure.
		head := func(mark string) string {
			return `SELECT DISTINCT ON (c.subject) c.subject, c.event_id, c.seq, c.dim_set, c.stops_counting FROM contributions c
				WHERE c.figure_id = $1 AND c.adj_period IS NULL AND c.occurred_at < $4 AND c.seq <= ` + mark + `
				  AND c.subject IN (SELECT subject FROM late) AND NOT EXISTS (
					SELECT 1 FROM supersessions s WHERE s.superseded_id = c.event_id AND s.by_seq <= ` + mark + `)
				ORDER BY c.subject, c.occurred_at DESC, c.seq DESC`
		}
		rows, err := s.pool.Query(ctx, `WITH late AS MATERIALIZED (
				SELECT DISTINCT l.subject FROM contributions l WHERE l.figure_id = $1 AND l.seq > $2 AND l.seq <= $3)
			SELECT o.event_id, o.dim_set, o.stops_counting IS NOT NULL, n.event_id, n.seq, n.dim_set, n.stops_counting IS NOT NULL
			FROM (`+head("$2")+`) o JOIN (`+head("$3")+`) n USING (subject)
			WHERE n.seq > $2 ORDER BY n.seq`, figureID, int64(after), int64(through), q.End)
		if err != nil {
			return nil, err
		}
		lc.heads, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (headChange, error) {
			var (
				h   headChange
				seq int64
			)
			err := r.Scan(&h.oldEvent, &h.oldDimSet, &h.oldTombstone, &h.newEvent, &seq, &h.newDimSet, &h.newTombstone)
			h.newSeq = uint64(seq)
			return h, err
		})
		if err != nil {
			return nil, err
		}
	}
	var ids []int32
	for _, sp := range lc.superseded {
		ids = append(ids, sp.dimSet)
	}
	for _, h := range lc.heads {
		ids = append(ids, h.oldDimSet, h.newDimSet)
	}
	if len(ids) == 0 {
		return lc, nil
	}
	rows, err = s.pool.Query(ctx, `SELECT id, dims FROM dim_sets WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	var (
		id  int32
		doc []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &doc}, func() error {
		var d map[string]string
		if err := json.Unmarshal(doc, &d); err != nil {
			return fmt.Errorf("dimension set %d: %w", id, err)
		}
		lc.dims[id] = d
		return nil
	})
	return lc, err
}

// Under is what the late events took out of the figure under where (the
// dimension values a filter asks for, as in Query.Where), as Superseded lists it.
func (lc *LateChanges) Under(where map[string]string) []Supersession {
	if lc == nil {
		return []Supersession{}
	}
	under := func(dimSet int32) bool { return Under(lc.dims[dimSet], where) }
	type pair struct{ superseded, by string }
	listed := map[pair]bool{} // a total over every subject can list thousands
	out := []Supersession{}
	for _, sp := range lc.superseded {
		if k := (pair{sp.Superseded, sp.By}); under(sp.dimSet) && !listed[k] {
			listed[k] = true
			out = append(out, sp.Supersession)
		}
	}
	// A subject's contribution under where counted at after, and its new head
	// is a tombstone or under other dimension values. A correction that is also
	// the subject's new head is listed once, as the correction.
	for _, h := range lc.heads {
		if h.oldTombstone || !under(h.oldDimSet) || (!h.newTombstone && under(h.newDimSet)) {
			continue
		}
		if k := (pair{h.oldEvent, h.newEvent}); !listed[k] {
			listed[k] = true
			out = append(out, Supersession{Superseded: h.oldEvent, By: h.newEvent, BySeq: h.newSeq, StopsCounting: true})
		}
	}
	slices.SortStableFunc(out, func(a, b Supersession) int { return cmp.Compare(a.BySeq, b.BySeq) })
	return out
}
