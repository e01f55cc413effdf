// Package store is the submission service's PostgreSQL adapter: submissions with
// their state, leases and receipts, and every attempt.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/audit"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/submission/channel"
)

// Store runs the submission queries.
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Status values of a submission.
const (
	Pending   = "pending"   // created, not yet sent
	Sending   = "sending"   // an upload was (or is being) attempted: the regulator may have it
	Delivered = "delivered" // the regulator gave a receipt; for channels with feedback, polled until final
	Accepted  = "accepted"
	Rejected  = "rejected"
	Failed    = "failed" // retries exhausted or a permanent error; an operator may retry it (same key)
)

// Submission is a stored submission.
type Submission struct {
	ID            string             `json:"id"`
	FilingID      string             `json:"filing_id"`
	Channel       string             `json:"channel"`
	Status        string             `json:"status"`
	AmendsReceipt string             `json:"amends_receipt,omitempty"`
	ReceiptID     string             `json:"receipt_id,omitempty"`
	ReceivedAt    *time.Time         `json:"received_at,omitempty"`
	Feedback      []channel.Feedback `json:"feedback"`
	Attempts      int                `json:"attempts"`
	// BudgetFrom is Attempts at the last operator retry: the attempts a
	// submission may still make count from there.
	BudgetFrom    int       `json:"-"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	// Final says no more work will happen: accepted, rejected, failed, or
	// delivered through a channel that has no regulator feedback (a file drop).
	Final     bool      `json:"final"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	History   []Attempt `json:"attempts_log,omitempty"`
}

// Attempt is one recorded attempt.
type Attempt struct {
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error,omitempty"`
	Worker  string    `json:"worker"`
}

const cols = `id, filing_id, channel, status, coalesce(amends_receipt, ''), coalesce(receipt_id, ''), received_at, feedback, attempts,
	next_attempt_at, coalesce(last_error, ''), created_by, created_at, updated_at, budget_from`

func scan(row pgx.Row) (Submission, error) {
	var (
		s  Submission
		fb []byte
	)
	err := row.Scan(&s.ID, &s.FilingID, &s.Channel, &s.Status, &s.AmendsReceipt, &s.ReceiptID, &s.ReceivedAt, &fb, &s.Attempts,
		&s.NextAttemptAt, &s.LastError, &s.CreatedBy, &s.CreatedAt, &s.UpdatedAt, &s.BudgetFrom)
	if err == nil {
		err = json.Unmarshal(fb, &s.Feedback)
	}
	if s.Feedback == nil {
		s.Feedback = []channel.Feedback{}
	}
	s.Final = final(s)
	return s, err
}

// Never is the next attempt time of a submission with no more work to do.
var Never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func final(s Submission) bool {
	switch s.Status {
	case Accepted, Rejected, Failed:
		return true
	case Delivered:
		return !s.NextAttemptAt.Before(Never)
	}
	return false
}

// Create stores a pending submission of a filing, audited. A filing has one
// submission: for a filing already submitted it answers that one (created false).
func (s *Store) Create(ctx context.Context, sub Submission) (Submission, bool, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var amends *string
		if sub.AmendsReceipt != "" {
			amends = &sub.AmendsReceipt
		}
		if _, err := tx.Exec(ctx, `INSERT INTO submissions (id, filing_id, channel, status, amends_receipt, created_by)
			VALUES ($1, $2, $3, 'pending', $4, $5)`, sub.ID, sub.FilingID, sub.Channel, amends, sub.CreatedBy); err != nil {
			return err
		}
		return audit.Record(ctx, tx, sub.CreatedBy, "submissions.create", "submission:"+sub.ID,
			map[string]any{"filing": sub.FilingID, "channel": sub.Channel, "amends_receipt": sub.AmendsReceipt})
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		got, err := s.ByFiling(ctx, sub.FilingID)
		return got, false, err
	}
	if err != nil {
		return Submission{}, false, err
	}
	got, err := s.Get(ctx, sub.ID)
	return got, true, err
}

// Get returns a submission with its attempts.
func (s *Store) Get(ctx context.Context, id string) (Submission, error) {
	sub, err := scan(s.pool.QueryRow(ctx, `SELECT `+cols+` FROM submissions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, fmt.Errorf("submission %s: %w", id, httpjson.ErrNotFound)
	}
	if err != nil {
		return sub, err
	}
	rows, err := s.pool.Query(ctx, `SELECT n, at, action, outcome, coalesce(error, ''), worker FROM submission_attempts
		WHERE submission_id = $1 ORDER BY n`, id)
	if err != nil {
		return sub, err
	}
	sub.History, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := r.Scan(&a.N, &a.At, &a.Action, &a.Outcome, &a.Error, &a.Worker)
		return a, err
	})
	return sub, err
}

// ByFiling returns the submission of a filing.
func (s *Store) ByFiling(ctx context.Context, filingID string) (Submission, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM submissions WHERE filing_id = $1`, filingID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Submission{}, fmt.Errorf("filing %s has no submission: %w", filingID, httpjson.ErrNotFound)
	}
	if err != nil {
		return Submission{}, err
	}
	return s.Get(ctx, id)
}

// List lists submissions, newest first, optionally with one status.
func (s *Store) List(ctx context.Context, status string, limit int) ([]Submission, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM submissions WHERE $1 = '' OR status = $1
		ORDER BY created_at DESC, id LIMIT $2`, status, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Submission, error) { return scan(r) })
}

// Claim leases the submission most overdue for work to worker until lease:
// pending, sending (an attempt to repeat or resolve) or delivered (a status to
// poll). A pending one becomes sending in the same statement, committed before
// anything is uploaded: after a crash the submission says the regulator may
// have it, and the next worker looks it up by its key before uploading. was is
// the status before the claim.
func (s *Store) Claim(ctx context.Context, worker string, lease time.Duration) (sub Submission, was string, ok bool, err error) {
	row := s.pool.QueryRow(ctx, `WITH due AS (
			SELECT id, status FROM submissions
			WHERE status IN ('pending', 'sending', 'delivered') AND next_attempt_at <= now()
			  AND (lease_until IS NULL OR lease_until < now())
			ORDER BY next_attempt_at FOR UPDATE SKIP LOCKED LIMIT 1)
		UPDATE submissions s SET lease_by = $1, lease_until = now() + $2::interval,
			status = CASE WHEN s.status = 'pending' THEN 'sending' ELSE s.status END, updated_at = now()
		FROM due WHERE s.id = due.id
		RETURNING due.status, s.id, s.filing_id, s.channel, s.status, coalesce(s.amends_receipt, ''), coalesce(s.receipt_id, ''),
			s.received_at, s.feedback, s.attempts, s.next_attempt_at, coalesce(s.last_error, ''), s.created_by, s.created_at, s.updated_at,
			s.budget_from`,
		worker, fmt.Sprintf("%d milliseconds", lease.Milliseconds()))
	var fb []byte
	err = row.Scan(&was, &sub.ID, &sub.FilingID, &sub.Channel, &sub.Status, &sub.AmendsReceipt, &sub.ReceiptID, &sub.ReceivedAt, &fb,
		&sub.Attempts, &sub.NextAttemptAt, &sub.LastError, &sub.CreatedBy, &sub.CreatedAt, &sub.UpdatedAt, &sub.BudgetFrom)
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, "", false, nil
	}
	if err != nil {
		return sub, "", false, err
	}
	err = json.Unmarshal(fb, &sub.Feedback)
	sub.Final = final(sub)
	return sub, was, err == nil, err
}

// Outcome is what a worker did with a claimed submission.
type Outcome struct {
	// Prior are attempts made before the last one in the same step (a lookup by
	// the idempotency key that found nothing, before the upload).
	Prior    []Attempt
	Action   string // deliver, find, status
	Result   string // the attempt's outcome
	Error    string
	Status   string             // the submission's new status ("" keeps it)
	Receipt  *channel.Receipt   // set when a receipt was obtained
	Feedback []channel.Feedback // set with a final regulator state
	Next     time.Time          // when to look at it again (zero: no more work)
}

// Record stores an attempt and its effect, and releases the lease — only while
// worker still holds it (a worker whose lease ran out records nothing).
func (s *Store) Record(ctx context.Context, id, worker string, o Outcome) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var n int
		err := tx.QueryRow(ctx, `SELECT attempts FROM submissions WHERE id = $1 AND lease_by = $2 FOR UPDATE`, id, worker).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("submission %s: the lease of %s ran out: %w", id, worker, httpjson.ErrConflict)
		}
		if err != nil {
			return err
		}
		for _, a := range append(o.Prior, Attempt{Action: o.Action, Outcome: o.Result, Error: o.Error}) {
			n++
			if _, err := tx.Exec(ctx, `INSERT INTO submission_attempts (submission_id, n, action, outcome, error, worker)
				VALUES ($1, $2, $3, $4, nullif($5, ''), $6)`, id, n, a.Action, a.Outcome, a.Error, worker); err != nil {
				return err
			}
		}
		var errText *string
		if o.Error != "" {
			errText = &o.Error
		}
		var (
			receipt  *string
			received *time.Time
			feedback []byte
		)
		if o.Receipt != nil {
			receipt, received = &o.Receipt.ID, &o.Receipt.ReceivedAt
		}
		if o.Feedback != nil {
			if feedback, err = json.Marshal(o.Feedback); err != nil {
				return err
			}
		}
		next := o.Next
		if next.IsZero() {
			next = time.Now()
		}
		if _, err := tx.Exec(ctx, `UPDATE submissions SET attempts = $8,
				status = coalesce(nullif($2, ''), status), receipt_id = coalesce($3, receipt_id), received_at = coalesce($4, received_at),
				feedback = coalesce($5::jsonb, feedback), last_error = $6, next_attempt_at = $7,
				lease_by = NULL, lease_until = NULL, updated_at = now()
			WHERE id = $1`, id, o.Status, receipt, received, feedback, errText, next, n); err != nil {
			return err
		}
		if o.Status != "" && o.Status != Sending {
			return audit.Record(ctx, tx, "submitter:"+worker, "submissions."+o.Status, "submission:"+id,
				map[string]any{"receipt_id": receiptID(o.Receipt), "error": o.Error})
		}
		return nil
	})
}

func receiptID(r *channel.Receipt) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// Retry puts a failed submission back in the queue with the same idempotency key.
func (s *Store) Retry(ctx context.Context, id, by string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE submissions SET status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'sending' END,
			budget_from = attempts, next_attempt_at = now(), last_error = NULL, updated_at = now() WHERE id = $1 AND status = 'failed'`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if _, err := s.Get(ctx, id); err != nil {
				return err
			}
			return fmt.Errorf("submission %s is not failed: only a failed submission is retried: %w", id, httpjson.ErrConflict)
		}
		return audit.Record(ctx, tx, by, "submissions.retry", "submission:"+id, nil)
	})
}
