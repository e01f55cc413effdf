// Package audit appends to the audit log, a table the database keeps append-only.
package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer is what Record needs: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Record appends one audit entry: who did what to which target, with details.
func Record(ctx context.Context, db Execer, actor, action, target string, details any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if details == nil {
		b = []byte("{}")
	}
	if _, err := db.Exec(ctx,
		"INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4)",
		actor, action, target, b); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
