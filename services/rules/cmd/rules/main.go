// Command rules runs the rules service alone (ledgerline serve runs it together
// with the other services): its stream consumers and its API. Manual adjustments
// are stored through an in-process ingest path (validated, deduplicated, indexed),
// not published raw. It takes the same flags, LEDGERLINE_* variables and config
// file as ledgerline.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/logging"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/batch"
	"github.com/ledgerline/ledgerline/services/rules/service"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rules:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("rules", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(fs)
	if err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	ing, err := ingest.New(cfg, p.DB.Pool, p.Events, log.With("service", "ingest"), nil)
	if err != nil {
		return err
	}
	post := func(ctx context.Context, by string, raw []byte) (uint64, error) {
		res, err := ing.Ingest(ctx, by, "api", []batch.Item{{Raw: raw, Size: len(raw)}})
		if err != nil {
			return 0, err
		}
		if res[0].Status == ingest.StatusRejected {
			return 0, fmt.Errorf("%s: %w", res[0].Error, httpjson.ErrInvalid)
		}
		return res[0].Seq, nil
	}
	srv := p.Server()
	svc, err := service.Start(ctx, p, srv, post)
	if err != nil {
		return err
	}
	defer svc.Stop()
	return srv.Serve(ctx, cfg.HTTPAddr, func(a net.Addr) { log.Info("rules service listening", "addr", a.String()) })
}
