// Package service wires the submission service onto a running platform: its
// channels (or the bundled regulator simulator), its HTTP routes and its workers.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/submission"
	"github.com/ledgerline/ledgerline/services/submission/api"
	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/dirchan"
	"github.com/ledgerline/ledgerline/services/submission/channel/httpchan"
	"github.com/ledgerline/ledgerline/services/submission/channel/sftpchan"
	"github.com/ledgerline/ledgerline/services/submission/sim"
	"github.com/ledgerline/ledgerline/services/submission/store"
)

// SimChannel is the channel defined when none is configured: the bundled
// regulator simulator.
const SimChannel = "regulator-sim"

// Running is the started submission service.
type Running struct {
	*submission.Service
	// SimURL is the bundled simulator's address ("" when channels are configured).
	SimURL string
	// Sim is the bundled simulator (nil when channels are configured).
	Sim *sim.Simulator
}

// Start builds the channels, the service and its routes, and runs the workers
// until ctx ends.
func Start(ctx context.Context, p *app.Platform, srv *server.Server, filings submission.Filings) (*Running, error) {
	log := p.Log.With("service", "submission")
	channels, r, err := Channels(ctx, p.Config.Submission, log)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	cfg := p.Config.Submission
	r.Service = submission.New(store.New(p.DB.Pool), filings, channels, submission.Config{Workers: cfg.Workers,
		PollInterval: cfg.PollInterval, MaxAttempts: cfg.MaxAttempts, Lease: cfg.Lease, DefaultChannel: cfg.DefaultChannel,
		Instance: host + "/" + strconv.Itoa(os.Getpid())}, log, p.Metrics)
	srv.Handle(api.New(r.Service).Routes()...)
	go r.Service.Run(ctx)
	return r, nil
}

// Channels builds the configured channels. With none configured it starts the
// regulator simulator on a free loopback port (until ctx ends) and defines the
// channel regulator-sim pointing at it, so a first filing can be submitted.
func Channels(ctx context.Context, cfg config.SubmissionConfig, log *slog.Logger) ([]channel.Channel, *Running, error) {
	r := &Running{}
	if len(cfg.Channels) == 0 {
		r.Sim = sim.New(sim.Config{})
		url, stop, err := r.Sim.Start("127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("start the regulator simulator: %w", err)
		}
		go func() {
			<-ctx.Done()
			stop()
		}()
		r.SimURL = url
		log.Info("no submission channels configured: the regulator simulator serves channel "+SimChannel, "url", url)
		ch, err := httpchan.New(httpchan.Config{Name: SimChannel, URL: url})
		if err != nil {
			return nil, nil, err
		}
		return []channel.Channel{ch}, r, nil
	}
	names := make([]string, 0, len(cfg.Channels))
	for n := range cfg.Channels {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []channel.Channel
	for _, name := range names {
		c := cfg.Channels[name]
		var (
			ch  channel.Channel
			err error
		)
		switch c.Type {
		case "http":
			ch, err = httpchan.New(httpchan.Config{Name: name, URL: c.URL, Token: c.Token, CAFile: c.CAFile, CertFile: c.CertFile,
				KeyFile: c.KeyFile, Timeout: c.Timeout})
		case "sftp":
			ch, err = sftpchan.New(sftpchan.Config{Name: name, Addr: c.Addr, User: c.User, Dir: c.Dir, Password: c.Password,
				KeyFile: c.KeyFile, HostKey: c.HostKey, Timeout: c.Timeout})
		case "directory":
			ch, err = dirchan.New(dirchan.Config{Name: name, Dir: c.Dir})
		default:
			err = fmt.Errorf("type %q: want http, sftp or directory", c.Type)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("submission channel %s: %w", name, err)
		}
		out = append(out, ch)
	}
	return out, r, nil
}

// AutoSubmitter adapts the service to what the reports scheduler calls.
type AutoSubmitter struct{ Service *submission.Service }

// Submit submits a filing.
func (a AutoSubmitter) Submit(ctx context.Context, filingID string, by auth.Principal) error {
	_, _, err := a.Service.Submit(ctx, filingID, by)
	return err
}
