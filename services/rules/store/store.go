// Package store is the rules service's PostgreSQL adapter: rule set versions,
// contributions (the lineage grain), supersessions, fx rates, rule failures and the
// consumer positions, and the as-of queries figures are computed from.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/audit"
	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// Store runs the rules queries.
type Store struct {
	pool *pgxpool.Pool
	keys keys
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// FigureDef is a figure of a stored rule set version.
type FigureDef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Definition is the figure as onboarded (expressions included), for lineage.
	Definition json.RawMessage `json:"definition"`
}

// Version is a stored rule set version.
type Version struct {
	Name          string      `json:"ruleset"`
	Version       int         `json:"version"`
	EffectiveFrom string      `json:"effective_from"`
	Description   string      `json:"description,omitempty"`
	Source        string      `json:"source,omitempty"`
	OnboardedBy   string      `json:"onboarded_by"`
	OnboardedAt   time.Time   `json:"onboarded_at"`
	Figures       []FigureDef `json:"figures"`
}

// ErrFigureTaken means another rule set defines the figure.
var ErrFigureTaken = errors.New("figure is defined by another rule set")

// Onboard stores a new version of a rule set (version = previous + 1) and records it
// in the audit log. A figure name may belong to one rule set only.
func (s *Store) Onboard(ctx context.Context, v Version) (int, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One onboarding at a time: versions are numbered and figure owners checked consistently.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7304)"); err != nil {
			return err
		}
		for _, f := range v.Figures {
			var owner string
			err := tx.QueryRow(ctx, `SELECT ruleset FROM ruleset_figures WHERE figure = $1 AND ruleset <> $2 LIMIT 1`, f.Name, v.Name).Scan(&owner)
			if err == nil {
				return fmt.Errorf("figure %q is defined by rule set %q; figure names are global: %w", f.Name, owner, httpjson.ErrConflict)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM rulesets WHERE name = $1`, v.Name).Scan(&v.Version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rulesets (name, version, effective_from, description, source, onboarded_by)
			VALUES ($1, $2, $3, $4, $5, $6)`, v.Name, v.Version, v.EffectiveFrom, v.Description, v.Source, v.OnboardedBy); err != nil {
			return err
		}
		for _, f := range v.Figures {
			if _, err := tx.Exec(ctx, `INSERT INTO ruleset_figures (ruleset, version, figure, kind, definition) VALUES ($1, $2, $3, $4, $5)`,
				v.Name, v.Version, f.Name, f.Kind, []byte(f.Definition)); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, v.OnboardedBy, "rulesets.onboard", fmt.Sprintf("ruleset:%s/v%d", v.Name, v.Version),
			map[string]any{"effective_from": v.EffectiveFrom, "figures": len(v.Figures)})
	})
	return v.Version, err
}

// Versions returns every stored version, oldest first, with their figures and source.
func (s *Store) Versions(ctx context.Context) ([]Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, version, effective_from, description, source, onboarded_by, onboarded_at
		FROM rulesets ORDER BY name, version`)
	if err != nil {
		return nil, err
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		err := r.Scan(&v.Name, &v.Version, &v.EffectiveFrom, &v.Description, &v.Source, &v.OnboardedBy, &v.OnboardedAt)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT ruleset, version, figure, kind, definition FROM ruleset_figures ORDER BY ruleset, version, figure`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := map[string]int{}
	for i, v := range vs {
		idx[fmt.Sprintf("%s/%d", v.Name, v.Version)] = i
	}
	for rows.Next() {
		var (
			name string
			ver  int
			f    FigureDef
		)
		if err := rows.Scan(&name, &ver, &f.Name, &f.Kind, &f.Definition); err != nil {
			return nil, err
		}
		if i, ok := idx[fmt.Sprintf("%s/%d", name, ver)]; ok {
			vs[i].Figures = append(vs[i].Figures, f)
		}
	}
	return vs, rows.Err()
}

// VersionCount is how many rule set versions are stored. Versions are never
// deleted, so a process that has loaded this many has loaded them all.
func (s *Store) VersionCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM rulesets`).Scan(&n)
	return n, err
}

// FigureOwner is the rule set that defines figure ("" when none).
func (s *Store) FigureOwner(ctx context.Context, figure string) (string, error) {
	var owner string
	err := s.pool.QueryRow(ctx, `SELECT ruleset FROM ruleset_figures WHERE figure = $1 LIMIT 1`, figure).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return owner, err
}

// Contribution is one row of the lineage grain.
type Contribution struct {
	Ruleset    string
	Version    int
	Figure     string
	Dims       []Dim // sorted by name, names distinct
	Value      decimal.Decimal
	Currency   string // "" for none
	EventID    string
	Seq        uint64
	OccurredAt time.Time
	Subject    string
	AdjPeriod  string // "" unless a manual adjustment
	// StopsCounting marks a tombstone: an event of a type a stock figure
	// concerns that its `when` does not match. It contributes nothing (Value 0)
	// but, being the subject's latest row, stops the subject's earlier
	// contribution counting.
	StopsCounting bool
}

// Dim is one dimension value of a contribution.
type Dim struct{ Name, Value string }

// SortedDims turns a dimension map into a contribution's sorted dimensions.
func SortedDims(m map[string]string) []Dim {
	ds := make([]Dim, 0, len(m))
	for k, v := range m {
		ds = append(ds, Dim{k, v})
	}
	slices.SortFunc(ds, func(a, b Dim) int { return strings.Compare(a.Name, b.Name) })
	return ds
}

// Supersession says event By (at seq BySeq) supersedes or voids Superseded.
// Superseded lists, with StopsCounting, also the later events of a stock
// subject that took its earlier contribution Superseded out of a figure
// without superseding it: a tombstone, or a contribution under dimension
// values outside the filter asked for.
type Supersession struct {
	Superseded, By string
	BySeq          uint64
	StopsCounting  bool
}

// FXRate is an fx.rate event: 1 Base = Rate Quote.
type FXRate struct {
	EventID     string
	Seq         uint64
	OccurredAt  time.Time
	Base, Quote string
	Rate        decimal.Decimal
}

// Failure is a rule that could not be evaluated on an event.
type Failure struct {
	Ruleset string `json:"ruleset"`
	Version int    `json:"version"`
	Figure  string `json:"figure"`
	Field   string `json:"field"`
	EventID string `json:"event_id"`
	Seq     uint64 `json:"seq"`
	Error   string `json:"error"`
}

// Batch is what one consumer batch produced, committed atomically with the
// partition's new position.
type Batch struct {
	Ruleset       string
	Version       int
	Partitions    int
	Partition     int
	Through       uint64 // the partition's position after this batch
	Contributions []Contribution
	Supersessions []Supersession
	FXRates       []FXRate
	Failures      []Failure
}

// ErrStalePosition means the stored position is already past the batch: another
// worker committed it (the partition lock was lost); the batch must be dropped.
var ErrStalePosition = errors.New("the partition's position moved past this batch")

// Commit writes a batch and moves the partition's position, in one transaction:
// after a crash the batch is either entirely there (and skipped on redelivery) or
// not at all.
func (s *Store) Commit(ctx context.Context, b Batch, from uint64) error {
	figureIDs, dimSets, err := s.resolve(ctx, b.Contributions)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A batch that continues a position needs that position still there: a
		// rebuild run by another process drops every position, and this worker
		// must then start again from the first event, not write its position back.
		q := `UPDATE rule_positions SET seq = $6
			WHERE ruleset = $1 AND version = $2 AND partitions = $3 AND partition = $4 AND seq = $5`
		if from == 0 {
			q = `INSERT INTO rule_positions (ruleset, version, partitions, partition, seq) VALUES ($1, $2, $3, $4, $6)
				ON CONFLICT (ruleset, version, partitions, partition) DO UPDATE SET seq = excluded.seq
				WHERE rule_positions.seq = $5`
		}
		tag, err := tx.Exec(ctx, q, b.Ruleset, b.Version, b.Partitions, b.Partition, int64(from), int64(b.Through))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrStalePosition
		}
		if len(b.Contributions) > 0 {
			if err := copyContributionRows(ctx, tx, b.Contributions, figureIDs, dimSets); err != nil {
				return fmt.Errorf("write %d contributions: %w", len(b.Contributions), err)
			}
		}
		// The rarer rows go in one round trip (a rule failing on every event would
		// otherwise cost a round trip per event).
		rare := &pgx.Batch{}
		for _, sp := range b.Supersessions {
			rare.Queue(`INSERT INTO supersessions (superseded_id, by_id, by_seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				sp.Superseded, sp.By, int64(sp.BySeq))
		}
		for _, r := range b.FXRates {
			rare.Queue(`INSERT INTO fx_rates (event_id, seq, occurred_at, base, quote, rate) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT DO NOTHING`, r.EventID, int64(r.Seq), r.OccurredAt, r.Base, r.Quote, numeric(r.Rate))
		}
		for _, f := range b.Failures {
			rare.Queue(`INSERT INTO rule_failures (ruleset, version, figure, field, event_id, seq, error)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, f.Ruleset, f.Version, f.Figure, f.Field, f.EventID, int64(f.Seq), f.Error)
		}
		if rare.Len() > 0 {
			if err := tx.SendBatch(ctx, rare).Close(); err != nil {
				return fmt.Errorf("write supersessions, fx rates and failures: %w", err)
			}
		}
		return nil
	})
}

// numeric converts a decimal for PostgreSQL NUMERIC without passing through a float.
func numeric(d decimal.Decimal) pgtype.Numeric {
	return pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Position is a partition's committed position (0 when it has none yet, and
// from then on a row at 0: a worker holding the partition finds it gone only
// when a rebuild drops the positions).
func (s *Store) Position(ctx context.Context, ruleset string, version, partitions, partition int) (uint64, error) {
	seq, ok, err := s.StoredPosition(ctx, ruleset, version, partitions, partition)
	if err == nil && !ok {
		_, err = s.pool.Exec(ctx, `INSERT INTO rule_positions (ruleset, version, partitions, partition, seq) VALUES ($1, $2, $3, $4, 0)
			ON CONFLICT DO NOTHING`, ruleset, version, partitions, partition)
	}
	return seq, err
}

// StoredPosition is a partition's committed position as stored, and whether
// there is one (a rebuild drops them all).
func (s *Store) StoredPosition(ctx context.Context, ruleset string, version, partitions, partition int) (uint64, bool, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM rule_positions WHERE ruleset = $1 AND version = $2 AND partitions = $3 AND partition = $4`,
		ruleset, version, partitions, partition).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint64(seq), err == nil, err
}

// MinPosition is the lowest committed position over the given versions'
// partitions (0 for a partition with none yet).
func (s *Store) MinPosition(ctx context.Context, partitions int, versions map[string]int) (uint64, error) {
	low := uint64(1<<63 - 1)
	for name, v := range versions {
		for p := 0; p < partitions; p++ {
			var seq int64
			err := s.pool.QueryRow(ctx, `SELECT seq FROM rule_positions WHERE ruleset = $1 AND version = $2 AND partitions = $3 AND partition = $4`,
				name, v, partitions, p).Scan(&seq)
			if errors.Is(err, pgx.ErrNoRows) {
				return 0, nil
			}
			if err != nil {
				return 0, err
			}
			low = min(low, uint64(seq))
		}
	}
	return low, nil
}

// HasPositions tells whether every partition of a version has a stored
// position (a worker stores one, at 0, before it creates its consumer; a
// rebuild drops them all).
func (s *Store) HasPositions(ctx context.Context, ruleset string, version, partitions int) (bool, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM rule_positions WHERE ruleset = $1 AND version = $2 AND partitions = $3`,
		ruleset, version, partitions).Scan(&n)
	return n >= partitions, err
}

// PartitionCounts lists the partition counts the stored positions were made with.
func (s *Store) PartitionCounts(ctx context.Context) ([]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT partitions FROM rule_positions ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// DropProjections deletes every row the consumers derived from the stream
// (contributions, supersessions, fx rates, failures, positions), for a rebuild.
// Rule set versions stay.
func (s *Store) DropProjections(ctx context.Context, by string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locked in the order a Commit takes them (its position, then its rows):
		// a worker of another process committing meanwhile finishes first
		// instead of deadlocking with the truncation.
		if _, err := tx.Exec(ctx, `LOCK TABLE rule_positions, contributions, supersessions, fx_rates, rule_failures IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `TRUNCATE contributions, supersessions, fx_rates, rule_failures, rule_positions`); err != nil {
			return err
		}
		return audit.Record(ctx, tx, by, "projections.rebuild", "projections", nil)
	})
}

// FreshenStats analyzes contributions and supersessions when the planner has
// no statistics of them yet, or they are behind by more than autovacuum lets
// them drift (50 rows and a tenth of the table changed), rather than waiting
// for autovacuum, which gets to them a minute or minutes later. Every figure
// and lineage query reads contributions and asks supersessions for each of
// them (is this event superseded?); without column statistics the planner
// believes a figure has a few hundred rows and scans supersessions once per
// contribution: right after 1,000,000 contributions and 1,000 corrections, a
// restatement's filing took two minutes instead of three seconds.
// pg_class.reltuples is -1 until a table's first ANALYZE, whatever the
// statistics collector has flushed yet.
func (s *Store) FreshenStats(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_class c LEFT JOIN pg_stat_user_tables t ON t.relid = c.oid
		WHERE c.oid IN ('contributions'::regclass, 'supersessions'::regclass)
		  AND (c.reltuples < 0 AND pg_relation_size(c.oid) > 0
		       OR coalesce(t.n_mod_since_analyze, 0) > 50 + 0.1 * greatest(c.reltuples, 0))`)
	if err != nil {
		return err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(stale) == 0 {
		return err
	}
	_, err = s.pool.Exec(ctx, `ANALYZE `+strings.Join(stale, ", "))
	return err
}

// Checksum summarises the contributions: row count and an order-independent
// digest, to compare a rebuild with live processing.
func (s *Store) Checksum(ctx context.Context) (int64, string, error) {
	var (
		n   int64
		sum string
	)
	err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(r, '|' ORDER BY r)), '')
		FROM (SELECT concat_ws(',', ruleset, version, figure, dims::text, value::text, currency, event_id, seq, occurred_at, subject, adj_period,
		        stops_counting) AS r
		      FROM contribution_rows) t`).Scan(&n, &sum)
	return n, sum, err
}

// Failures lists recorded rule failures, newest first.
func (s *Store) Failures(ctx context.Context, limit int) ([]Failure, error) {
	rows, err := s.pool.Query(ctx, `SELECT ruleset, version, figure, field, event_id, seq, error FROM rule_failures ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failure, error) {
		var f Failure
		var seq int64
		err := r.Scan(&f.Ruleset, &f.Version, &f.Figure, &f.Field, &f.EventID, &seq, &f.Error)
		f.Seq = uint64(seq)
		return f, err
	})
}
