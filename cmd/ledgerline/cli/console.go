package cli

import (
	"context"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/console"
	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/rules"
	submissionstore "github.com/ledgerline/ledgerline/services/submission/store"
)

// mountConsole serves the web console (docs/console.md) at / beside the API on
// srv, in a process that runs the reports role: the console reads filings and
// their lineage through the reports service in-process, the rules and the
// quarantine through the services this process built for it, and
// submissions from the database (they are written by whichever process
// delivers them).
func mountConsole(ctx context.Context, p *app.Platform, srv *server.Server, reps *reports.Service, rulesSvc *rules.Service, events *ingest.Service) error {
	cfg := console.Config{Pool: p.DB.Pool, Keys: p.Keys, Reports: reps, Rules: rulesSvc,
		Submissions: submissionstore.New(p.DB.Pool), Metrics: p.Metrics, Log: p.Log.With("service", "console")}
	if events != nil {
		cfg.Ingest = events
	}
	c, err := console.New(cfg)
	if err != nil {
		return err
	}
	srv.HandlePages(c.Handler(), c.Patterns()...)
	go c.Run(ctx)
	return nil
}
