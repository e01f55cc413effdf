// Package store is the reports service's PostgreSQL adapter: template versions
// with their layouts and approvals, filings with every reported amount, their
// files and checksums, and the scheduler's claimed runs.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/audit"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/reports/filing"
)

// Store runs the reports queries.
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Template is a stored template version.
type Template struct {
	ID           string     `json:"id"`
	Version      int        `json:"version"`
	Name         string     `json:"name"`
	Status       string     `json:"status"` // validated, approved, or active (the latest approved)
	Source       string     `json:"source,omitempty"`
	Layout       []byte     `json:"-"`
	LayoutSHA256 string     `json:"layout_sha256,omitempty"`
	MadeBy       string     `json:"made_by"`
	MadeByKey    int64      `json:"-"`
	MadeAt       time.Time  `json:"made_at"`
	ApprovedBy   string     `json:"approved_by,omitempty"`
	ApprovedAt   *time.Time `json:"approved_at,omitempty"`
}

// Onboard stores a new validated version of a template (version = previous + 1),
// audited as onboarded and validated.
func (s *Store) Onboard(ctx context.Context, t Template) (int, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7305, hashtext($1))", t.ID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM templates WHERE id = $1`, t.ID).Scan(&t.Version); err != nil {
			return err
		}
		var layoutSum *string
		if t.Layout != nil {
			sum := sha256.Sum256(t.Layout)
			h := hex.EncodeToString(sum[:])
			layoutSum = &h
		}
		if _, err := tx.Exec(ctx, `INSERT INTO templates (id, version, name, source, layout, layout_sha256, status, made_by, made_by_key)
			VALUES ($1, $2, $3, $4, $5, $6, 'validated', $7, $8)`, t.ID, t.Version, t.Name, t.Source, t.Layout, layoutSum, t.MadeBy, t.MadeByKey); err != nil {
			return err
		}
		target := fmt.Sprintf("template:%s/v%d", t.ID, t.Version)
		if err := audit.Record(ctx, tx, t.MadeBy, "templates.onboard", target, map[string]any{"layout_sha256": layoutSum}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, t.MadeBy, "templates.validate", target, map[string]any{"dry_run": "rendered"})
	})
	return t.Version, err
}

// ErrSameKey means the approver is the maker (maker-checker).
var ErrSameKey = errors.New("the maker of a template version cannot approve it")

// Approve records a compliance key's approval of a validated version, which makes
// it the active one. The maker's own key is refused.
func (s *Store) Approve(ctx context.Context, id string, version int, by string, byKey int64) (Template, error) {
	var out Template
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := s.template(ctx, tx, id, version, "FOR UPDATE")
		if err != nil {
			return err
		}
		if t.MadeByKey == byKey {
			return fmt.Errorf("template %s v%d was onboarded by %s: %w: %w", id, version, t.MadeBy, ErrSameKey, httpjson.ErrForbidden)
		}
		if t.Status != "validated" {
			return fmt.Errorf("template %s v%d is already approved (by %s): %w", id, version, t.ApprovedBy, httpjson.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE templates SET status = 'approved', approved_by = $3, approved_at = now() WHERE id = $1 AND version = $2`,
			id, version, by); err != nil {
			return err
		}
		target := fmt.Sprintf("template:%s/v%d", id, version)
		if err := audit.Record(ctx, tx, by, "templates.approve", target, map[string]any{"maker": t.MadeBy}); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, by, "templates.activate", target, nil); err != nil {
			return err
		}
		out, err = s.template(ctx, tx, id, version, "")
		return err
	})
	return out, err
}

const templateCols = `id, version, name, source, layout, coalesce(layout_sha256, ''), status, made_by, made_by_key, made_at,
	coalesce(approved_by, ''), approved_at,
	status = 'approved' AND version = (SELECT max(version) FROM templates a WHERE a.id = templates.id AND a.status = 'approved')`

func scanTemplate(row pgx.Row) (Template, error) {
	var (
		t      Template
		active bool
	)
	err := row.Scan(&t.ID, &t.Version, &t.Name, &t.Source, &t.Layout, &t.LayoutSHA256, &t.Status, &t.MadeBy, &t.MadeByKey, &t.MadeAt,
		&t.ApprovedBy, &t.ApprovedAt, &active)
	if active {
		t.Status = "active"
	}
	return t, err
}

func (s *Store) template(ctx context.Context, q pgx.Tx, id string, version int, lock string) (Template, error) {
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, `SELECT `+templateCols+` FROM templates WHERE id = $1 AND version = $2 `+lock, id, version)
	} else {
		row = s.pool.QueryRow(ctx, `SELECT `+templateCols+` FROM templates WHERE id = $1 AND version = $2`, id, version)
	}
	t, err := scanTemplate(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("template %s v%d: %w", id, version, httpjson.ErrNotFound)
	}
	return t, err
}

// Template returns one version.
func (s *Store) Template(ctx context.Context, id string, version int) (Template, error) {
	return s.template(ctx, nil, id, version, "")
}

// Active returns the active (latest approved) version of a template.
func (s *Store) Active(ctx context.Context, id string) (Template, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT `+templateCols+` FROM templates
		WHERE id = $1 AND status = 'approved' ORDER BY version DESC LIMIT 1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		var n int
		_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM templates WHERE id = $1`, id).Scan(&n)
		if n == 0 {
			return t, fmt.Errorf("template %s: %w", id, httpjson.ErrNotFound)
		}
		return t, fmt.Errorf("template %s has no approved version yet: a compliance key other than its maker must approve one: %w",
			id, httpjson.ErrConflict)
	}
	return t, err
}

// Templates lists every version (without sources and layouts), by id and version.
func (s *Store) Templates(ctx context.Context) ([]Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateCols+` FROM templates ORDER BY id, version`)
	if err != nil {
		return nil, err
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Template, error) { return scanTemplate(r) })
	for i := range ts {
		ts[i].Source, ts[i].Layout = "", nil
	}
	return ts, err
}

// ActiveTemplates lists the active version of every template.
func (s *Store) ActiveTemplates(ctx context.Context) ([]Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (id) `+templateCols+` FROM templates WHERE status = 'approved' ORDER BY id, version DESC`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Template, error) { return scanTemplate(r) })
}

// File is a rendered file of a filing.
type File struct {
	Format  string `json:"format"`
	SHA256  string `json:"sha256"`
	Size    int    `json:"size"`
	Content []byte `json:"-"`
}

// Filing is a stored filing.
type Filing struct {
	ID              string                    `json:"id"`
	Template        string                    `json:"template"`
	TemplateVersion int                       `json:"template_version"`
	Period          string                    `json:"period"`
	AsOfSeq         uint64                    `json:"as_of_seq"`
	Currency        string                    `json:"currency"`
	RuleVersions    map[string]int            `json:"rule_versions"`
	Status          string                    `json:"status"` // submittable | blocked | awaiting_sign_off
	Submittable     bool                      `json:"submittable"`
	ValidationsOK   bool                      `json:"validations_passed"`
	Validations     []filing.ValidationResult `json:"validations"`
	SignOff         bool                      `json:"sign_off_required"`
	SignedOffBy     string                    `json:"signed_off_by,omitempty"`
	SignedOffAt     *time.Time                `json:"signed_off_at,omitempty"`
	OverrideReason  string                    `json:"override_reason,omitempty"`
	OverrideBy      string                    `json:"override_by,omitempty"`
	CreatedBy       string                    `json:"created_by"`
	CreatedByKey    int64                     `json:"-"`
	CreatedAt       time.Time                 `json:"created_at"`
	Amends          string                    `json:"amends,omitempty"`
	Files           []File                    `json:"files"`
	Report          filing.Report             `json:"-"`
}

// CellRow is one reported amount as stored for lineage.
type CellRow struct {
	Code   string
	Row    int // 0 for a cell, 1.. for table rows
	Sheet  string
	At     string
	Figure string
	Filter map[string]string
	Value  string
}

// ErrExists means a filing for the same template version and period exists.
var ErrExists = errors.New("a filing exists")

// CreateFiling stores a filing, its amounts and files in one transaction,
// audited. For an original (Amends == "") whose (template version, period) is
// already filed it answers ErrExists.
func (s *Store) CreateFiling(ctx context.Context, f Filing, cells []CellRow) error {
	report, err := json.Marshal(f.Report)
	if err != nil {
		return err
	}
	rv, err := json.Marshal(f.RuleVersions)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var amends *string
		if f.Amends != "" {
			amends = &f.Amends
		}
		if _, err := tx.Exec(ctx, `INSERT INTO filings (id, template, template_version, period, as_of_seq, currency, rule_versions, report,
			validations_ok, sign_off, created_by, created_by_key, amends) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			f.ID, f.Template, f.TemplateVersion, f.Period, int64(f.AsOfSeq), f.Currency, rv, report, f.ValidationsOK, f.SignOff,
			f.CreatedBy, f.CreatedByKey, amends); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"filing_cells"}, []string{"filing_id", "code", "row_n", "sheet", "at", "figure", "filter", "value"},
			pgx.CopyFromSlice(len(cells), func(i int) ([]any, error) {
				c := cells[i]
				filter, err := json.Marshal(c.Filter)
				if err != nil {
					return nil, err
				}
				if c.Filter == nil {
					filter = []byte("{}")
				}
				return []any{f.ID, c.Code, c.Row, c.Sheet, c.At, c.Figure, filter, c.Value}, nil
			})); err != nil {
			return fmt.Errorf("store %d cells: %w", len(cells), err)
		}
		for _, file := range f.Files {
			if _, err := tx.Exec(ctx, `INSERT INTO filing_files (filing_id, format, content, sha256) VALUES ($1, $2, $3, $4)`,
				f.ID, file.Format, file.Content, file.SHA256); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, f.CreatedBy, "filings.create", "filing:"+f.ID, map[string]any{
			"template": f.Template, "version": f.TemplateVersion, "period": f.Period, "as_of_seq": f.AsOfSeq,
			"validations_passed": f.ValidationsOK, "amends": f.Amends})
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("filing %s: %w", f.ID, ErrExists)
	}
	return err
}

const filingCols = `id, template, template_version, period, as_of_seq, currency, rule_versions, report, validations_ok, sign_off,
	coalesce(signed_off_by, ''), signed_off_at, coalesce(override_reason, ''), coalesce(override_by, ''), created_by, created_by_key,
	created_at, coalesce(amends, '')`

func (s *Store) scanFiling(ctx context.Context, row pgx.Row) (Filing, error) {
	var (
		f      Filing
		asOf   int64
		rv, rp []byte
	)
	if err := row.Scan(&f.ID, &f.Template, &f.TemplateVersion, &f.Period, &asOf, &f.Currency, &rv, &rp, &f.ValidationsOK, &f.SignOff,
		&f.SignedOffBy, &f.SignedOffAt, &f.OverrideReason, &f.OverrideBy, &f.CreatedBy, &f.CreatedByKey, &f.CreatedAt, &f.Amends); err != nil {
		return f, err
	}
	f.AsOfSeq = uint64(asOf)
	if err := json.Unmarshal(rv, &f.RuleVersions); err != nil {
		return f, err
	}
	if err := json.Unmarshal(rp, &f.Report); err != nil {
		return f, err
	}
	f.Validations = f.Report.Validations
	if f.Validations == nil {
		f.Validations = []filing.ValidationResult{}
	}
	rows, err := s.pool.Query(ctx, `SELECT format, sha256, length(content) FROM filing_files WHERE filing_id = $1 ORDER BY format`, f.ID)
	if err != nil {
		return f, err
	}
	if f.Files, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (File, error) {
		var file File
		err := r.Scan(&file.Format, &file.SHA256, &file.Size)
		return file, err
	}); err != nil {
		return f, err
	}
	f.Status, f.Submittable = status(f)
	return f, nil
}

// status decides whether a filing may be submitted: every error validation
// passed (or an operator overrode them with a reason), and signed off when the
// template requires it.
func status(f Filing) (string, bool) {
	switch {
	case !f.ValidationsOK && f.OverrideBy == "":
		return "blocked", false
	case f.SignOff && f.SignedOffBy == "":
		return "awaiting_sign_off", false
	default:
		return "submittable", true
	}
}

// Filing returns one filing with its file list.
func (s *Store) Filing(ctx context.Context, id string) (Filing, error) {
	f, err := s.scanFiling(ctx, s.pool.QueryRow(ctx, `SELECT `+filingCols+` FROM filings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("filing %s: %w", id, httpjson.ErrNotFound)
	}
	return f, err
}

// FilingHead returns a filing without its report and files: what lineage needs
// on every page (the report of a large filing is megabytes of JSON).
func (s *Store) FilingHead(ctx context.Context, id string) (Filing, error) {
	var (
		f    Filing
		asOf int64
		rv   []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT id, template, template_version, period, as_of_seq, currency, rule_versions, coalesce(amends, '')
		FROM filings WHERE id = $1`, id).Scan(&f.ID, &f.Template, &f.TemplateVersion, &f.Period, &asOf, &f.Currency, &rv, &f.Amends)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("filing %s: %w", id, httpjson.ErrNotFound)
	}
	if err != nil {
		return f, err
	}
	f.AsOfSeq = uint64(asOf)
	return f, json.Unmarshal(rv, &f.RuleVersions)
}

// OriginalFiling returns the original filing of a template version and period.
func (s *Store) OriginalFiling(ctx context.Context, template string, version int, period string) (Filing, error) {
	f, err := s.scanFiling(ctx, s.pool.QueryRow(ctx, `SELECT `+filingCols+` FROM filings
		WHERE template = $1 AND template_version = $2 AND period = $3 AND amends IS NULL`, template, version, period))
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("no filing of %s v%d for %s: %w", template, version, period, httpjson.ErrNotFound)
	}
	return f, err
}

// Filings lists filings, newest first, optionally of one template and/or period.
func (s *Store) Filings(ctx context.Context, template, period string, limit int) ([]Filing, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM filings WHERE ($1 = '' OR template = $1) AND ($2 = '' OR period = $2)
		ORDER BY created_at DESC, id LIMIT $3`, template, period, limit)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]Filing, 0, len(ids))
	for _, id := range ids {
		f, err := s.Filing(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// FileContent returns one rendered file.
func (s *Store) FileContent(ctx context.Context, id, format string) (File, error) {
	file := File{Format: format}
	err := s.pool.QueryRow(ctx, `SELECT content, sha256 FROM filing_files WHERE filing_id = $1 AND format = $2`, id, format).
		Scan(&file.Content, &file.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return file, fmt.Errorf("filing %s has no %s file: %w", id, format, httpjson.ErrNotFound)
	}
	file.Size = len(file.Content)
	return file, err
}

// Cell returns a stored amount of a filing (row 0: a cell).
func (s *Store) Cell(ctx context.Context, id, code string, row int) (CellRow, error) {
	c := CellRow{Code: code, Row: row}
	var filter []byte
	err := s.pool.QueryRow(ctx, `SELECT sheet, at, figure, filter, value::text FROM filing_cells WHERE filing_id = $1 AND code = $2 AND row_n = $3`,
		id, code, row).Scan(&c.Sheet, &c.At, &c.Figure, &filter, &c.Value)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("filing %s has no cell %s: %w", id, code, httpjson.ErrNotFound)
	}
	if err == nil {
		err = json.Unmarshal(filter, &c.Filter)
	}
	return c, err
}

// ErrNotAllowed wraps refusals of sign-off and override.
var ErrNotAllowed = errors.New("not allowed")

// SignOff records a compliance key's sign-off of a filing whose template requires
// one; the key that ran the filing is refused.
func (s *Store) SignOff(ctx context.Context, id, by string, byKey int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			required bool
			runBy    int64
			signed   *string
		)
		err := tx.QueryRow(ctx, `SELECT sign_off, created_by_key, signed_off_by FROM filings WHERE id = $1 FOR UPDATE`, id).Scan(&required, &runBy, &signed)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("filing %s: %w", id, httpjson.ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch {
		case !required:
			return fmt.Errorf("filing %s: its template does not require a sign-off: %w", id, httpjson.ErrConflict)
		case signed != nil:
			return fmt.Errorf("filing %s is already signed off by %s: %w", id, *signed, httpjson.ErrConflict)
		case runBy == byKey:
			return fmt.Errorf("filing %s was run by this key: another compliance key must sign it off: %w", id, httpjson.ErrForbidden)
		}
		if _, err := tx.Exec(ctx, `UPDATE filings SET signed_off_by = $2, signed_off_at = now() WHERE id = $1`, id, by); err != nil {
			return err
		}
		return audit.Record(ctx, tx, by, "filings.sign_off", "filing:"+id, nil)
	})
}

// Override lets a blocked filing (failed error validations) be submitted, with
// the operator's written reason, audited.
func (s *Store) Override(ctx context.Context, id, by, reason string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			ok  bool
			who *string
		)
		err := tx.QueryRow(ctx, `SELECT validations_ok, override_by FROM filings WHERE id = $1 FOR UPDATE`, id).Scan(&ok, &who)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("filing %s: %w", id, httpjson.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("filing %s passed its validations: there is nothing to override: %w", id, httpjson.ErrConflict)
		}
		if who != nil {
			return fmt.Errorf("filing %s was already overridden by %s: %w", id, *who, httpjson.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE filings SET override_reason = $2, override_by = $3, override_at = now() WHERE id = $1`, id, reason, by); err != nil {
			return err
		}
		return audit.Record(ctx, tx, by, "filings.override", "filing:"+id, map[string]any{"reason": reason})
	})
}

// Claim takes the scheduled run of (template, period) for this instance: true
// when it is ours to make — never claimed before, or claimed by an instance that
// did not finish it within stale.
func (s *Store) Claim(ctx context.Context, template, period string, due time.Time, by string, stale time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO schedule_runs (template, period, due_at, claimed_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (template, period) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = now(), error = NULL
		WHERE schedule_runs.filing_id IS NULL AND schedule_runs.claimed_at < now() - $5::interval`,
		template, period, due, by, fmt.Sprintf("%d milliseconds", stale.Milliseconds()))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Finish records the outcome of a claimed run.
func (s *Store) Finish(ctx context.Context, template, period, filingID string, runErr error) error {
	var (
		fid *string
		msg *string
	)
	if filingID != "" {
		fid = &filingID
	}
	if runErr != nil {
		m := runErr.Error()
		msg = &m
	}
	_, err := s.pool.Exec(ctx, `UPDATE schedule_runs SET filing_id = $3, error = $4 WHERE template = $1 AND period = $2`, template, period, fid, msg)
	return err
}

// Run is a scheduled run as recorded.
type Run struct {
	Template  string    `json:"template"`
	Period    string    `json:"period"`
	DueAt     time.Time `json:"due_at"`
	ClaimedBy string    `json:"claimed_by"`
	FilingID  string    `json:"filing_id,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// LastRun is the latest recorded run of a template (ok false when none).
func (s *Store) LastRun(ctx context.Context, template string) (Run, bool, error) {
	r := Run{Template: template}
	err := s.pool.QueryRow(ctx, `SELECT period, due_at, claimed_by, coalesce(filing_id, ''), coalesce(error, '') FROM schedule_runs
		WHERE template = $1 ORDER BY due_at DESC LIMIT 1`, template).Scan(&r.Period, &r.DueAt, &r.ClaimedBy, &r.FilingID, &r.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// LastFinishedRun is the latest run of a template that made its filing.
func (s *Store) LastFinishedRun(ctx context.Context, template string) (Run, bool, error) {
	r := Run{Template: template}
	err := s.pool.QueryRow(ctx, `SELECT period, due_at, claimed_by, filing_id FROM schedule_runs
		WHERE template = $1 AND filing_id IS NOT NULL ORDER BY due_at DESC LIMIT 1`, template).Scan(&r.Period, &r.DueAt, &r.ClaimedBy, &r.FilingID)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// Runs lists the recorded runs of a template, newest first.
func (s *Store) Runs(ctx context.Context, template string) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT template, period, due_at, claimed_by, coalesce(filing_id, ''), coalesce(error, '') FROM schedule_runs
		WHERE template = $1 ORDER BY due_at DESC`, template)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var run Run
		err := r.Scan(&run.Template, &run.Period, &run.DueAt, &run.ClaimedBy, &run.FilingID, &run.Error)
		return run, err
	})
}

// Amendments counts the amended filings of a filing.
func (s *Store) Amendments(ctx context.Context, id string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM filings WHERE amends = $1`, id).Scan(&n)
	return n, err
}

// FiledCell is a stored amount with its filing.
type FiledCell struct {
	FilingID        string
	Template        string
	TemplateVersion int
	Period          string
	AsOfSeq         uint64
	Cell            CellRow
}

// CellsOfFigures lists every filed amount of the given figures, by filing.
func (s *Store) CellsOfFigures(ctx context.Context, figures []string) ([]FiledCell, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+filedCellCols+`
		FROM filing_cells c JOIN filings f ON f.id = c.filing_id
		WHERE c.figure = ANY($1) ORDER BY f.created_at, f.id, c.code, c.row_n`, figures)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanFiledCell)
}

// filedCellCols are the columns scanFiledCell reads, of filing_cells c joined
// with filings f.
const filedCellCols = `f.id, f.template, f.template_version, f.period, f.as_of_seq,
			c.code, c.row_n, c.sheet, c.at, c.figure, c.filter, c.value::text`

func scanFiledCell(r pgx.CollectableRow) (FiledCell, error) {
	var (
		fc     FiledCell
		asOf   int64
		filter []byte
	)
	if err := r.Scan(&fc.FilingID, &fc.Template, &fc.TemplateVersion, &fc.Period, &asOf, &fc.Cell.Code, &fc.Cell.Row, &fc.Cell.Sheet,
		&fc.Cell.At, &fc.Cell.Figure, &filter, &fc.Cell.Value); err != nil {
		return fc, err
	}
	fc.AsOfSeq = uint64(asOf)
	return fc, json.Unmarshal(filter, &fc.Cell.Filter)
}
