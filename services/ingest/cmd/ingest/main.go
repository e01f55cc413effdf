// Command ingest runs the ingest service alone (ledgerline serve runs it together
// with the other services). It takes the same flags, LEDGERLINE_* variables and
// config file as ledgerline.
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
	"github.com/ledgerline/ledgerline/platform/logging"
	"github.com/ledgerline/ledgerline/services/ingest/service"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("ingest", pflag.ContinueOnError)
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
	srv := p.Server()
	if _, err := service.Start(ctx, p, srv); err != nil {
		return err
	}
	return srv.Serve(ctx, cfg.HTTPAddr, func(a net.Addr) { log.Info("ingest service listening", "addr", a.String()) })
}
