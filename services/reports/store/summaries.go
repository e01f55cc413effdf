package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports/filing"
)

// FilingSummary is a filing as a list shows it: everything but its report,
// which for a large filing is megabytes of JSON; its validation results are
// read out of the report by PostgreSQL.
type FilingSummary struct {
	ID              string
	Template        string
	TemplateVersion int
	Period          string
	AsOfSeq         uint64
	Currency        string
	Status          string // submittable | blocked | awaiting_sign_off
	Submittable     bool
	ValidationsOK   bool
	Validations     []filing.ValidationResult
	SignOff         bool
	SignedOffBy     string
	OverrideBy      string
	CreatedBy       string
	CreatedAt       time.Time
	Amends          string
	Files           []File // without their content
}

// SummaryFilter selects filings, newest first.
type SummaryFilter struct {
	Template string // "" for every template
	Period   string // "" for every period
	Amends   string // only the amendments of this filing; "" for any filing
	ID       string // only this filing; "" for any
	// After is a keyset cursor: the id of the last filing of the previous page
	// ("" for the first page).
	After string
	Limit int
}

// FilingSummaries lists a page of filings, newest first, and the cursor of
// the next page ("" on the last one).
func (s *Store) FilingSummaries(ctx context.Context, f SummaryFilter) ([]FilingSummary, string, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	args := []any{f.Template, f.Period, f.Amends, f.Limit + 1, f.ID}
	after := ""
	if f.After != "" {
		var at time.Time
		err := s.pool.QueryRow(ctx, `SELECT created_at FROM filings WHERE id = $1`, f.After).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, "", fmt.Errorf("cursor %q is not a filing: %w", f.After, httpjson.ErrBadRequest)
		}
		if err != nil {
			return nil, "", err
		}
		args = append(args, at, f.After)
		after = `AND (created_at, id) < ($6, $7)`
	}
	rows, err := s.pool.Query(ctx, `SELECT id, template, template_version, period, as_of_seq, currency, validations_ok, sign_off,
			coalesce(signed_off_by, ''), coalesce(override_by, ''), created_by, created_at, coalesce(amends, ''),
			coalesce(report->'Validations', '[]')
		FROM filings WHERE ($1 = '' OR template = $1) AND ($2 = '' OR period = $2) AND ($3 = '' OR amends = $3)
			AND ($5 = '' OR id = $5) `+after+`
		ORDER BY created_at DESC, id DESC LIMIT $4`, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FilingSummary, error) {
		var (
			fs   FilingSummary
			asOf int64
			vals []byte
		)
		if err := r.Scan(&fs.ID, &fs.Template, &fs.TemplateVersion, &fs.Period, &asOf, &fs.Currency, &fs.ValidationsOK, &fs.SignOff,
			&fs.SignedOffBy, &fs.OverrideBy, &fs.CreatedBy, &fs.CreatedAt, &fs.Amends, &vals); err != nil {
			return fs, err
		}
		fs.AsOfSeq = uint64(asOf)
		fs.Status, fs.Submittable = status(Filing{ValidationsOK: fs.ValidationsOK, OverrideBy: fs.OverrideBy, SignOff: fs.SignOff,
			SignedOffBy: fs.SignedOffBy})
		return fs, json.Unmarshal(vals, &fs.Validations)
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	ids := make([]string, len(out))
	byID := map[string]int{}
	for i, fs := range out {
		ids[i], byID[fs.ID] = fs.ID, i
	}
	frows, err := s.pool.Query(ctx, `SELECT filing_id, format, sha256, length(content) FROM filing_files
		WHERE filing_id = ANY($1) ORDER BY filing_id, format`, ids)
	if err != nil {
		return nil, "", err
	}
	defer frows.Close()
	for frows.Next() {
		var (
			id   string
			file File
		)
		if err := frows.Scan(&id, &file.Format, &file.SHA256, &file.Size); err != nil {
			return nil, "", err
		}
		out[byID[id]].Files = append(out[byID[id]].Files, file)
	}
	return out, next, frows.Err()
}

// FilingFacets lists the templates and periods that have filings, sorted: the
// choices of a filter.
func (s *Store) FilingFacets(ctx context.Context) (templates, periods []string, err error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT template FROM filings ORDER BY 1`)
	if err != nil {
		return nil, nil, err
	}
	if templates, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT DISTINCT period FROM filings ORDER BY 1 DESC`)
	if err != nil {
		return nil, nil, err
	}
	periods, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return templates, periods, err
}

// CellsWithin lists the filed amounts of figure whose filter the dimension
// values dims pass (each key of the filter has its value in dims), by filing:
// the amounts one contribution is part of, selected by PostgreSQL rather than
// by reading every filed amount of the figure.
func (s *Store) CellsWithin(ctx context.Context, figure string, dims map[string]string) ([]FiledCell, error) {
	doc, err := json.Marshal(dims)
	if err != nil {
		return nil, err
	}
	if dims == nil {
		doc = []byte("{}")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+filedCellCols+`
		FROM filing_cells c JOIN filings f ON f.id = c.filing_id
		WHERE c.figure = $1 AND $2::jsonb @> c.filter ORDER BY f.created_at, f.id, c.code, c.row_n`, figure, doc)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanFiledCell)
}

// AuditEntry is one record of the audit log.
type AuditEntry struct {
	At      time.Time
	Actor   string
	Action  string
	Details json.RawMessage
}

// TemplateHistory is the audit log of one template version, oldest first:
// its onboarding, the checks it passed, its approval and activation.
func (s *Store) TemplateHistory(ctx context.Context, id string, version int) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, actor, action, details FROM audit_log WHERE target = $1 ORDER BY id LIMIT 100`,
		fmt.Sprintf("template:%s/v%d", id, version))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.At, &e.Actor, &e.Action, &e.Details)
		return e, err
	})
}

// FilingCells lists every stored amount of a filing (cells and table rows),
// as reported: what its sheets show, without reading its report.
func (s *Store) FilingCells(ctx context.Context, id string) ([]CellRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT code, row_n, sheet, at, figure, filter, value::text FROM filing_cells WHERE filing_id = $1
		ORDER BY code, row_n`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CellRow, error) {
		var (
			c      CellRow
			filter []byte
		)
		if err := r.Scan(&c.Code, &c.Row, &c.Sheet, &c.At, &c.Figure, &filter, &c.Value); err != nil {
			return c, err
		}
		return c, json.Unmarshal(filter, &c.Filter)
	})
}
