// Package app opens what every Ledgerline service runs on: the logger, PostgreSQL
// (migrated), the JetStream event store, the API keys and the metrics registry.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ledgerline/ledgerline/migrations"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/postgres"
	"github.com/ledgerline/ledgerline/platform/server"
)

// Platform is the shared runtime of a Ledgerline process.
type Platform struct {
	Config  config.Config
	Log     *slog.Logger
	DB      *postgres.DB
	Events  *eventstore.Store
	Keys    *auth.Keys
	Metrics *prometheus.Registry
}

// Open starts or connects to PostgreSQL and JetStream.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Platform, error) {
	slog.SetDefault(log)
	db, err := postgres.Open(ctx, cfg, log, migrations.FS)
	if err != nil {
		return nil, err
	}
	events, err := eventstore.Open(ctx, cfg, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Platform{Config: cfg, Log: log, DB: db, Events: events, Keys: auth.NewKeys(db.Pool), Metrics: reg}, nil
}

// Server returns an HTTP server with readiness checks on PostgreSQL and JetStream.
func (p *Platform) Server() *server.Server {
	srv := server.New(p.Log, p.Keys, p.Metrics,
		server.ReadyCheck{Name: "postgres", Check: func(ctx context.Context) error { return p.DB.Pool.Ping(ctx) }},
		server.ReadyCheck{Name: "jetstream", Check: func(ctx context.Context) error {
			if !p.Events.Conn.IsConnected() {
				return fmt.Errorf("nats connection is %s", p.Events.Conn.Status())
			}
			_, err := p.Events.Stream.Info(ctx)
			return err
		}},
	)
	srv.MaxConnections = p.Config.HTTPMaxConnections
	return srv
}

// Close stops the event store and the database (and the servers Ledgerline started).
func (p *Platform) Close() {
	p.Events.Close()
	p.DB.Close()
}
