// Package postgres gives Ledgerline services their PostgreSQL: a pgx pool on the
// configured server, or on a private server started from the local installation,
// with the migrations applied before anything else runs.
//
// Migrations are plain numbered .sql files (migrations/ at the repository root)
// applied with jackc/tern: it is pgx-native (no database/sql shim), takes an advisory
// lock so several starting services migrate once, and records the version in a table.
package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/ledgerline/ledgerline/platform/config"
)

// VersionTable records which migrations ran.
const VersionTable = "schema_version"

// DB is a migrated pool and, when Ledgerline started it, the private server behind it.
type DB struct {
	Pool  *pgxpool.Pool
	local *Local
}

// Close closes the pool and stops a private server we started.
func (d *DB) Close() {
	d.Pool.Close()
	if d.local != nil {
		_ = d.local.Stop()
	}
}

// Local is the private server, or nil when DatabaseURL was configured.
func (d *DB) Local() *Local { return d.local }

// Open connects to cfg.DatabaseURL, or starts the private server in cfg.DataDir, and
// applies migrations.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, migrations fs.FS) (*DB, error) {
	url := cfg.DatabaseURL
	var local *Local
	if url == "" {
		var err error
		local, err = StartLocal(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		url = local.URL("ledgerline")
	}
	pool, err := Connect(ctx, url, cfg.Postgres.MaxConns)
	if err == nil {
		err = Migrate(ctx, pool, migrations)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		if local != nil {
			_ = local.Stop()
		}
		return nil, err
	}
	return &DB{Pool: pool, local: local}, nil
}

// StartLocal initialises (first time) and starts the private server for cfg.DataDir,
// or adopts the one already running there, and makes sure database "ledgerline" exists.
func StartLocal(ctx context.Context, cfg config.Config, log *slog.Logger) (*Local, error) {
	bin, err := FindBinaries(cfg.Postgres.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := ClusterDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	dataDir, _ := filepath.Abs(cfg.DataDir)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	pw, err := passwordFile(filepath.Join(dataDir, "postgres.password"))
	if err != nil {
		return nil, fmt.Errorf("private postgres password: %w", err)
	}
	l := &Local{Dir: dir, BinDir: bin, Password: pw, LogFile: filepath.Join(dataDir, "postgres.log")}
	start := time.Now()
	if err := l.Init(ctx); err != nil {
		return nil, err
	}
	if err := l.Start(ctx); err != nil {
		return nil, err
	}
	if err := l.EnsureDatabase(ctx, "ledgerline"); err != nil {
		_ = l.Stop()
		return nil, fmt.Errorf("create database ledgerline: %w", err)
	}
	log.Info("private postgres ready", "dir", dir, "port", l.Port(), "adopted", !l.owned,
		"took", time.Since(start).Round(time.Millisecond))
	return l, nil
}

// Connect opens a pool and checks it answers.
func Connect(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	// pgx prepares statements and PostgreSQL may then settle on a generic plan made
	// when a table was still empty (a sequential scan for "id = ANY($1)", kept as the
	// table grows to millions of rows). Planning each execution with the actual
	// parameters and statistics costs microseconds and avoids that cliff.
	pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return pool, nil
}

// Migrate applies every migration in fsys not yet applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	return MigrateConn(ctx, conn.Conn(), fsys)
}

// MigrateConn applies migrations on one connection.
func MigrateConn(ctx context.Context, conn *pgx.Conn, fsys fs.FS) error {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(fsys); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}
