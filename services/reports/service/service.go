// Package service wires the reports service onto a running platform: its HTTP
// routes and its scheduler.
package service

import (
	"context"
	"os"
	"strconv"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/api"
	"github.com/ledgerline/ledgerline/services/reports/store"
)

// Rules is the rules service as the reports service uses it: figures and lineage.
type Rules interface {
	reports.Rules
	reports.LineageRules
}

// Start builds the reports service on the rules service r and the ingest
// service ing (stored events for lineage), mounts its routes on srv and runs its
// scheduler until ctx ends.
func Start(ctx context.Context, p *app.Platform, srv *server.Server, r Rules, ing *ingest.Service) *reports.Service {
	host, _ := os.Hostname()
	svc := reports.New(store.New(p.DB.Pool), r, reports.Config{RulesTimeout: p.Config.Reports.RulesTimeout,
		SchedulerTick: p.Config.Reports.SchedulerTick, Instance: host + "/" + strconv.Itoa(os.Getpid())}, p.Log.With("service", "reports"))
	svc.SetLineage(r, IngestEvents{ing})
	srv.Handle(api.New(svc).Routes()...)
	go svc.RunScheduler(ctx)
	return svc
}

// IngestEvents reads stored events through the ingest service.
type IngestEvents struct{ Service *ingest.Service }

// EventAt reads the event at seq.
func (e IngestEvents) EventAt(ctx context.Context, seq uint64) (reports.Event, error) {
	ev, err := e.Service.EventAt(ctx, seq)
	return reports.Event{Seq: ev.Seq, RecordedAt: ev.RecordedAt, SentBy: ev.SentBy, Envelope: ev.Event}, err
}

// EventByID reads an event by its id.
func (e IngestEvents) EventByID(ctx context.Context, id string) (reports.Event, error) {
	ev, err := e.Service.Event(ctx, id)
	return reports.Event{Seq: ev.Seq, RecordedAt: ev.RecordedAt, SentBy: ev.SentBy, Envelope: ev.Event}, err
}
