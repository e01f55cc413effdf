// Package service wires the reports service onto a running platform: its HTTP
// routes and its scheduler.
package service

import (
	"context"
	"os"
	"strconv"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/api"
	"github.com/ledgerline/ledgerline/services/reports/store"
)

// Start builds the reports service on the rules service r, mounts its routes on
// srv and runs its scheduler until ctx ends.
func Start(ctx context.Context, p *app.Platform, srv *server.Server, r reports.Rules) *reports.Service {
	host, _ := os.Hostname()
	svc := reports.New(store.New(p.DB.Pool), r, reports.Config{RulesTimeout: p.Config.Reports.RulesTimeout,
		SchedulerTick: p.Config.Reports.SchedulerTick, Instance: host + "/" + strconv.Itoa(os.Getpid())}, p.Log.With("service", "reports"))
	srv.Handle(api.New(svc).Routes()...)
	go svc.RunScheduler(ctx)
	return svc
}
