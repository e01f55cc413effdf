// Package store is the ingest service's PostgreSQL adapter: the event index
// (every accepted id for ever), its watermark, the quarantine and the schemas
// registered at run time.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/audit"
	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// Store runs the ingest queries.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Indexed is what the index knows of one event.
type Indexed struct {
	ID               string
	Seq              uint64
	Type             string
	Supersedes       string
	SupersededBy     string // "" unless a later event supersedes this one
	SupersededByType string
}

// Lookup returns the indexed events among ids. For the ids in targets (the events
// named by supersedes) it also fills SupersededBy.
func (s *Store) Lookup(ctx context.Context, ids, targets []string) (map[string]Indexed, error) {
	out := make(map[string]Indexed, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// One primary-key probe per id, whatever the planner thinks of the table's size:
	// a LATERAL subquery with LIMIT cannot be flattened into a join, which (without
	// statistics, or with disk-era cost settings) would be planned as a scan of the
	// whole index table, a cost that grows with every event ever accepted.
	rows, err := s.pool.Query(ctx, `
		SELECT i.id, i.seq, i.type, coalesce(i.supersedes, '')
		FROM unnest($1::text[]) AS q(id)
		CROSS JOIN LATERAL (SELECT * FROM event_index e WHERE e.id = q.id LIMIT 1) i`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up event ids: %w", err)
	}
	for rows.Next() {
		var x Indexed
		var seq int64
		if err := rows.Scan(&x.ID, &seq, &x.Type, &x.Supersedes); err != nil {
			rows.Close()
			return nil, err
		}
		x.Seq = uint64(seq)
		out[x.ID] = x
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up event ids: %w", err)
	}
	if len(targets) == 0 {
		return out, nil
	}
	rows, err = s.pool.Query(ctx, `
		SELECT q.id, i.id, i.type
		FROM unnest($1::text[]) AS q(id)
		CROSS JOIN LATERAL (SELECT e.id, e.type FROM event_index e WHERE e.supersedes = q.id ORDER BY e.seq LIMIT 1) i`, targets)
	if err != nil {
		return nil, fmt.Errorf("look up superseding events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var target, by, byType string
		if err := rows.Scan(&target, &by, &byType); err != nil {
			return nil, err
		}
		if x, ok := out[target]; ok {
			x.SupersededBy, x.SupersededByType = by, byType
			out[target] = x
		}
	}
	return out, rows.Err()
}

// Index records accepted events; ids already present are left as they are.
func (s *Store) Index(ctx context.Context, events []Indexed) error {
	if len(events) == 0 {
		return nil
	}
	// COPY is the cheap way in. It fails as a whole if one id is already there (the
	// catch-up may have indexed it a moment earlier); then the merging insert runs.
	// The index is a projection of the stream that the catch-up repairs (at start,
	// before serving, and periodically), so its commit need not wait for the WAL
	// flush: a crash can lose the last index writes, never an event.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"event_index"},
			[]string{"id", "seq", "type", "supersedes"},
			pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
				e := &events[i]
				var sup *string
				if e.Supersedes != "" {
					sup = &e.Supersedes
				}
				return []any{e.ID, int64(e.Seq), e.Type, sup}, nil
			}))
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return s.merge(ctx, events)
	}
	if err != nil {
		return fmt.Errorf("index %d events: %w", len(events), err)
	}
	return nil
}

// merge inserts events, skipping ids already indexed.
func (s *Store) merge(ctx context.Context, events []Indexed) error {
	ids := make([]string, len(events))
	seqs := make([]int64, len(events))
	types := make([]string, len(events))
	supersedes := make([]*string, len(events))
	for i, e := range events {
		ids[i], seqs[i], types[i] = e.ID, int64(e.Seq), e.Type
		if e.Supersedes != "" {
			supersedes[i] = &events[i].Supersedes
		}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO event_index (id, seq, type, supersedes)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])
		ON CONFLICT DO NOTHING`, ids, seqs, types, supersedes)
	if err != nil {
		return fmt.Errorf("index %d events: %w", len(events), err)
	}
	return nil
}

// IndexedThrough is the event index watermark: every seq at or below it is indexed.
func (s *Store) IndexedThrough(ctx context.Context, stream string) (uint64, error) {
	var w int64
	err := s.pool.QueryRow(ctx, `SELECT indexed_through FROM event_index_watermark WHERE stream = $1`, stream).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(w), err
}

// SetIndexedThrough moves the watermark forward (never back).
func (s *Store) SetIndexedThrough(ctx context.Context, stream string, seq uint64) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO event_index_watermark (stream, indexed_through) VALUES ($1, $2)
		ON CONFLICT (stream) DO UPDATE SET indexed_through = greatest(event_index_watermark.indexed_through, excluded.indexed_through)`,
		stream, int64(seq))
	return err
}

// CountSeqs counts indexed events with first <= seq <= last.
func (s *Store) CountSeqs(ctx context.Context, first, last uint64) (uint64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM event_index WHERE seq BETWEEN $1 AND $2`, int64(first), int64(last)).Scan(&n)
	return uint64(n), err
}

// IndexedSeqs returns which seqs in [first, last] are indexed.
func (s *Store) IndexedSeqs(ctx context.Context, first, last uint64) (map[uint64]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq FROM event_index WHERE seq BETWEEN $1 AND $2`, int64(first), int64(last))
	if err != nil {
		return nil, err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]bool, len(seqs))
	for _, q := range seqs {
		out[uint64(q)] = true
	}
	return out, nil
}

// Rejected is one piece of bad input to keep in quarantine.
type Rejected struct {
	ReceivedFrom string
	Channel      string
	EventID      string
	EventType    string
	Raw          []byte
	RawTruncated bool
	Code         string
	Field        string
	Reason       string
}

// Quarantine keeps rejected input and returns the quarantine ids, in order.
func (s *Store) Quarantine(ctx context.Context, rs []Rejected) ([]int64, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, r := range rs {
		b.Queue(`INSERT INTO quarantine (received_from, channel, event_id, event_type, raw, raw_truncated, code, field, reason)
			VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6, $7, $8, $9) RETURNING id`,
			r.ReceivedFrom, r.Channel, r.EventID, r.EventType, r.Raw, r.RawTruncated, r.Code, r.Field, r.Reason)
	}
	ids := make([]int64, len(rs))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		for i := range rs {
			if err := br.QueryRow().Scan(&ids[i]); err != nil {
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("quarantine %d rejected events: %w", len(rs), err)
	}
	return ids, nil
}

// QuarantineEntry is a quarantined piece of input.
type QuarantineEntry struct {
	ID           int64      `json:"id"`
	ReceivedAt   time.Time  `json:"received_at"`
	ReceivedFrom string     `json:"received_from"`
	Channel      string     `json:"channel"`
	EventID      string     `json:"event_id,omitempty"`
	EventType    string     `json:"event_type,omitempty"`
	Code         string     `json:"code"`
	Field        string     `json:"field,omitempty"`
	Reason       string     `json:"reason"`
	Status       string     `json:"status"`
	Raw          string     `json:"raw"`
	RawTruncated bool       `json:"raw_truncated,omitempty"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy   string     `json:"resolved_by,omitempty"`
	ResolvedSeq  uint64     `json:"resolved_seq,omitempty"`
	Resolution   string     `json:"resolution,omitempty"`
}

const quarantineColumns = `id, received_at, received_from, channel, coalesce(event_id, ''), coalesce(event_type, ''),
	code, field, reason, status, raw, raw_truncated, resolved_at, coalesce(resolved_by, ''), coalesce(resolved_seq, 0), coalesce(resolution, '')`

func scanQuarantine(row pgx.Row) (QuarantineEntry, error) {
	var (
		e   QuarantineEntry
		raw []byte
		seq int64
	)
	err := row.Scan(&e.ID, &e.ReceivedAt, &e.ReceivedFrom, &e.Channel, &e.EventID, &e.EventType,
		&e.Code, &e.Field, &e.Reason, &e.Status, &raw, &e.RawTruncated, &e.ResolvedAt, &e.ResolvedBy, &seq, &e.Resolution)
	e.Raw, e.ResolvedSeq = string(raw), uint64(seq)
	return e, err
}

// QuarantineFilter selects quarantine entries, newest first.
type QuarantineFilter struct {
	Status string // "" for every status
	Code   string
	Before int64 // keyset cursor: entries with id < Before; 0 for the newest
	Limit  int
}

// ListQuarantine returns a page of entries and the cursor of the next page (0 at the end).
func (s *Store) ListQuarantine(ctx context.Context, f QuarantineFilter) ([]QuarantineEntry, int64, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+quarantineColumns+` FROM quarantine
		WHERE id < $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR code = $3)
		ORDER BY id DESC LIMIT $4`, before, f.Status, f.Code, f.Limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("list quarantine: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QuarantineEntry, error) { return scanQuarantine(r) })
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(entries) > f.Limit {
		entries = entries[:f.Limit]
		next = entries[len(entries)-1].ID
	}
	return entries, next, nil
}

// GetQuarantine returns one entry.
func (s *Store) GetQuarantine(ctx context.Context, id int64) (QuarantineEntry, error) {
	e, err := scanQuarantine(s.pool.QueryRow(ctx, `SELECT `+quarantineColumns+` FROM quarantine WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("quarantine entry %d: %w", id, httpjson.ErrNotFound)
	}
	return e, err
}

// Resolve closes an open entry as resolved (its event got in at seq) or discarded,
// and records it in the audit log.
func (s *Store) Resolve(ctx context.Context, id int64, status, by, resolution string, seq uint64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE quarantine SET status = $2, resolved_at = now(), resolved_by = $3,
			resolution = $4, resolved_seq = nullif($5, 0) WHERE id = $1 AND status = 'open'`,
			id, status, by, resolution, int64(seq))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var st string
			if err := tx.QueryRow(ctx, `SELECT status FROM quarantine WHERE id = $1`, id).Scan(&st); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("quarantine entry %d: %w", id, httpjson.ErrNotFound)
			}
			return fmt.Errorf("quarantine entry %d is %s, not open: %w", id, st, httpjson.ErrConflict)
		}
		return audit.Record(ctx, tx, by, "quarantine."+status, fmt.Sprintf("quarantine:%d", id),
			map[string]any{"resolution": resolution, "seq": seq})
	})
}

// SchemaInfo describes a registered schema.
type SchemaInfo struct {
	Type         string    `json:"type"`
	Version      int       `json:"version"`
	Builtin      bool      `json:"builtin"`
	RegisteredBy string    `json:"registered_by,omitempty"`
	RegisteredAt time.Time `json:"registered_at,omitzero"`
}

// ErrSchemaExists means the (type, version) holds a different schema already.
var ErrSchemaExists = fmt.Errorf("schema version exists with different content; versions are immutable, register a new version: %w", httpjson.ErrConflict)

// RegisterSchema stores a schema version. It reports created=false when the very
// same document was registered before, and ErrSchemaExists when a different one was.
func (s *Store) RegisterSchema(ctx context.Context, typ string, version int, doc []byte, by string) (created bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO event_schemas (type, version, schema, registered_by)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, typ, version, doc, by)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var same bool
			if err := tx.QueryRow(ctx, `SELECT schema = $3::jsonb FROM event_schemas WHERE type = $1 AND version = $2`,
				typ, version, doc).Scan(&same); err != nil {
				return err
			}
			if !same {
				return ErrSchemaExists
			}
			return nil
		}
		created = true
		return audit.Record(ctx, tx, by, "schemas.register", fmt.Sprintf("schema:%s/v%d", typ, version), nil)
	})
	return created, err
}

// Schema returns a registered schema document (nil when absent) and the versions
// registered for its type.
func (s *Store) Schema(ctx context.Context, typ string, version int) ([]byte, []int, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, CASE WHEN version = $2 THEN schema::text END
		FROM event_schemas WHERE type = $1 ORDER BY version`, typ, version)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		doc      []byte
		versions []int
	)
	for rows.Next() {
		var (
			v int
			d *string
		)
		if err := rows.Scan(&v, &d); err != nil {
			return nil, nil, err
		}
		versions = append(versions, v)
		if d != nil {
			doc = []byte(*d)
		}
	}
	return doc, versions, rows.Err()
}

// Schemas lists registered schemas.
func (s *Store) Schemas(ctx context.Context) ([]SchemaInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT type, version, registered_by, registered_at FROM event_schemas ORDER BY type, version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SchemaInfo, error) {
		var si SchemaInfo
		err := r.Scan(&si.Type, &si.Version, &si.RegisteredBy, &si.RegisteredAt)
		return si, err
	})
}

// IsUnavailable reports whether err means PostgreSQL could not be reached (as
// opposed to a statement it refused).
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && !errors.As(err, &pgErr)
}
