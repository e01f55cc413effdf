package pgtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestEachTestGetsItsOwnMigratedDatabase(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.NewPool(t), pgtest.NewPool(t)
	var nameA, nameB string
	if err := a.QueryRow(ctx, "SELECT current_database()").Scan(&nameA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, "SELECT current_database()").Scan(&nameB); err != nil {
		t.Fatal(err)
	}
	if nameA == nameB || !strings.HasPrefix(nameA, "test_") {
		t.Fatalf("databases %q and %q: want two distinct test_ databases", nameA, nameB)
	}
	if _, err := a.Exec(ctx, "INSERT INTO audit_log (actor, action) VALUES ('t', 'x')"); err != nil {
		t.Fatalf("migrated schema missing: %v", err)
	}
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM audit_log").Scan(&n); err != nil || n != 0 {
		t.Fatalf("second database sees %d audit rows (err %v), want 0", n, err)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO audit_log (actor, action) VALUES ('alice', 'keys.create')"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE audit_log SET actor = 'mallory'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
	} {
		_, err := pool.Exec(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", stmt, err)
		}
	}
	var actor string
	if err := pool.QueryRow(ctx, "SELECT actor FROM audit_log").Scan(&actor); err != nil || actor != "alice" {
		t.Fatalf("audit row changed: %q %v", actor, err)
	}
}
