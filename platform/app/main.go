package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/logging"
	"github.com/ledgerline/ledgerline/platform/server"
)

// Mount starts a service on a running platform and mounts its routes on srv; the
// returned func (may be nil) stops it.
type Mount func(ctx context.Context, p *Platform, srv *server.Server) (stop func(), err error)

// Main is the whole main of a service binary (services/<name>/cmd/<name>): the
// same flags, LEDGERLINE_* variables and config file as ledgerline, the platform,
// the service, and the HTTP server until SIGINT or SIGTERM.
func Main(name string, mount Mount) {
	TuneGC()
	if err := run(name, mount); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(name string, mount Mount) error {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
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
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	p, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	srv := p.Server()
	stop, err := mount(ctx, p, srv)
	if err != nil {
		return err
	}
	if stop != nil {
		defer stop()
	}
	return srv.Serve(ctx, cfg.HTTPAddr, func(a net.Addr) { log.Info(name+" service listening", "addr", a.String()) })
}
