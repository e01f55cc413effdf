package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/service"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsservice "github.com/ledgerline/ledgerline/services/reports/service"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesservice "github.com/ledgerline/ledgerline/services/rules/service"
	submissionservice "github.com/ledgerline/ledgerline/services/submission/service"
)

func serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run every Ledgerline service in one process",
		Long: "Runs the platform: with no --nats-url an embedded nats-server with JetStream, with no --database-url a private\n" +
			"PostgreSQL, both in --data-dir; then the services (ingest, rules, reports, submission; with no submission channels configured, the\n" +
			"bundled regulator simulator as channel regulator-sim) behind the HTTP API on --http-addr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cmd, cfg, nil)
		},
	}
}

// running is a started platform, handed to callers that drive it (the demo).
type running struct {
	platform *app.Platform
	ingest   *ingest.Service
	rules    *rules.Service
	reports  *reports.Service
	submit   *submissionservice.Running
	addr     string
}

// serve starts the platform and serves until ctx ends. onReady, if set, runs once
// the API listens; serving stops when it returns false.
func serve(ctx context.Context, cmd *cobra.Command, cfg config.Config, onReady func(ctx context.Context, r running) bool) error {
	log, err := logger(cmd, cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	srv := p.Server()
	ing, err := service.Start(ctx, p, srv)
	if err != nil {
		return err
	}
	rs, err := rulesservice.Start(ctx, p, srv, ing.Post)
	if err != nil {
		return err
	}
	defer rs.Stop()
	reps := reportsservice.Start(ctx, p, srv, rs, ing)
	subs, err := submissionservice.Start(ctx, p, srv, reps)
	if err != nil {
		return err
	}
	reps.SetSubmitter(submissionservice.AutoSubmitter{Service: subs.Service})
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- srv.Serve(ctx, cfg.HTTPAddr, func(a net.Addr) {
			log.Info("ledgerline serving", "api", "http://"+a.String(), "data_dir", cfg.DataDir)
			ready <- a.String()
		})
	}()
	select {
	case err := <-errc:
		return err
	case addr := <-ready:
		if onReady != nil && !onReady(ctx, running{platform: p, ingest: ing, rules: rs, reports: reps, submit: subs, addr: addr}) {
			cancel()
		}
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
