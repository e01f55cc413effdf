// Package service wires the ingest service onto a running platform: the use cases,
// the event index catch-up (once before serving, then in the background) and the
// HTTP routes. Both `ledgerline serve` and cmd/ingest start it this way.
package service

import (
	"context"
	"fmt"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/api"
)

// Start builds the ingest service, brings its event index up to date with the
// stream, keeps it so until ctx ends, and mounts the routes on srv.
func Start(ctx context.Context, p *app.Platform, srv *server.Server) (*ingest.Service, error) {
	svc, err := ingest.New(p.Config, p.DB.Pool, p.Events, p.Log.With("service", "ingest"), p.Metrics)
	if err != nil {
		return nil, err
	}
	// Before answering anything, the index must hold every event in the stream:
	// otherwise a copy of an event whose index write was lost would be accepted again.
	n, err := svc.CatchUp(ctx)
	if err != nil {
		return nil, fmt.Errorf("bring the event index up to date: %w", err)
	}
	if n > 0 {
		p.Log.Info("event index caught up with the stream", "events", n)
	}
	go svc.RunCatchUp(ctx)
	srv.Handle(api.New(svc).Routes()...)
	return svc, nil
}
