// Package service wires the rules service onto a running platform: its consumers
// and its HTTP routes.
package service

import (
	"context"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/api"
)

// Start builds the rules service, starts its consumers (until ctx ends) and mounts
// its routes on srv. post stores manual adjustments through the ingest path.
func Start(ctx context.Context, p *app.Platform, srv *server.Server, post rules.Poster) (*rules.Service, error) {
	svc, err := rules.New(ctx, config(p, false), p.DB.Pool, p.Events.JS, post, p.Log.With("service", "rules"), p.Metrics)
	if err != nil {
		return nil, err
	}
	srv.Handle(api.New(svc).Routes()...)
	return svc, nil
}

// Query builds the rules service for a process that only reads figures (the
// reports role of `ledgerline serve`): no consumers, no routes, no metrics; the
// watermark is what the consumers of the rules processes have committed. It
// cannot post adjustments.
func Query(ctx context.Context, p *app.Platform) (*rules.Service, error) {
	return rules.New(ctx, config(p, true), p.DB.Pool, p.Events.JS, nil, p.Log.With("service", "rules"), nil)
}

func config(p *app.Platform, queryOnly bool) rules.Config {
	return rules.Config{Stream: p.Config.Stream.Name, Partitions: p.Config.Rules.Partitions, Batch: p.Config.Rules.Batch, QueryOnly: queryOnly}
}
