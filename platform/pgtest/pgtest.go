// Package pgtest gives each test a fresh, migrated PostgreSQL database of its own.
//
// The server is LEDGERLINE_TEST_DATABASE_URL when set (a superuser URL; databases are
// created and dropped there), otherwise a private cluster started from the local
// PostgreSQL binaries in a temporary directory, once per test binary. Migrations run
// once into a template database named after their content; each test then gets
// CREATE DATABASE ... TEMPLATE, which takes milliseconds. There is no skipping: with
// no server and no binaries, tests fail and say how to fix it.
//
// Use it from TestMain so the private server is stopped and removed:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/migrations"
	"github.com/ledgerline/ledgerline/platform/postgres"
)

var (
	once     sync.Once
	adminURL string
	local    *postgres.Local
	tmpDir   string
	startErr error

	templates sync.Map // migration hash → template database name
)

// Main runs the tests and stops the private server afterwards.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops and removes the private server, if one was started.
func Shutdown() {
	if local != nil {
		_ = local.Stop()
		local = nil
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
}

// Local is the private server of this test binary (nil with an external server);
// fault tests use it to stop and restart PostgreSQL.
func Local(t testing.TB) *postgres.Local {
	t.Helper()
	server(t)
	return local
}

func server(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("LEDGERLINE_TEST_DATABASE_URL"); u != "" {
			adminURL = u
			return
		}
		startErr = startPrivate()
	})
	if startErr != nil {
		t.Fatalf("pgtest: no PostgreSQL for tests: %v", startErr)
	}
	return adminURL
}

func startPrivate() error {
	bin, err := postgres.FindBinaries(os.Getenv("LEDGERLINE_POSTGRES_BIN_DIR"))
	if err != nil {
		return fmt.Errorf("%w (or set LEDGERLINE_TEST_DATABASE_URL to a superuser URL)", err)
	}
	removeStale()
	tmpDir, err = os.MkdirTemp("", "ledgerline-pgtest-")
	if err != nil {
		return err
	}
	// The server may run as the postgres user: let it through the directory.
	if err := os.Chmod(tmpDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmpDir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	local = &postgres.Local{Dir: filepath.Join(tmpDir, "data"), BinDir: bin, Fast: true,
		LogFile: filepath.Join(tmpDir, "postgres.log")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := local.Init(ctx); err != nil {
		return err
	}
	if err := local.Start(ctx); err != nil {
		return err
	}
	adminURL = local.URL("postgres")
	return nil
}

// removeStale deletes private clusters left by test binaries that were killed.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ledgerline-pgtest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid > 0 && !alive(pid) {
			_ = os.RemoveAll(d)
		}
	}
}

func alive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

// URL creates a fresh database migrated with the project's migrations and returns
// its URL; the database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	return URLWith(t, migrations.FS)
}

// NewPool is URL plus a pool on it, closed when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	u := URL(t)
	pool, err := postgres.Connect(context.Background(), u, 16)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// URLWith is URL with another set of migrations.
func URLWith(t testing.TB, migs fs.FS) string {
	t.Helper()
	admin := server(t)
	ctx := context.Background()
	tmpl, err := template(ctx, admin, migs)
	if err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	name := "test_" + randomHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(admin, name)
}

// template returns the name of a database holding the migrated schema, creating it
// once per server (an advisory lock keeps concurrent test binaries out of each other's way).
func template(ctx context.Context, admin string, migs fs.FS) (string, error) {
	hash, err := hashFS(migs)
	if err != nil {
		return "", err
	}
	if v, ok := templates.Load(hash); ok {
		return v.(string), nil
	}
	name := "ledgerline_tmpl_" + hash[:16]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	lock := int64(0x4c65646765726c) // "Ledgerl"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lock) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		building := name + "_building"
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
			return "", err
		}
		mc, err := pgx.Connect(ctx, withDatabase(admin, building))
		if err != nil {
			return "", err
		}
		err = postgres.MigrateConn(ctx, mc, migs)
		mc.Close(ctx)
		if err != nil {
			return "", err
		}
		// Renamed only when complete, so a half-migrated template is never used.
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
			return "", err
		}
	}
	templates.Store(hash, name)
	return name, nil
}

func hashFS(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".sql") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withDatabase(u, db string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + db
	return p.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
