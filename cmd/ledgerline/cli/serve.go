package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	ingestapi "github.com/ledgerline/ledgerline/services/ingest/api"
	"github.com/ledgerline/ledgerline/services/ingest/service"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsapi "github.com/ledgerline/ledgerline/services/reports/api"
	reportsservice "github.com/ledgerline/ledgerline/services/reports/service"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesapi "github.com/ledgerline/ledgerline/services/rules/api"
	rulesservice "github.com/ledgerline/ledgerline/services/rules/service"
	"github.com/ledgerline/ledgerline/services/submission"
	submissionapi "github.com/ledgerline/ledgerline/services/submission/api"
	"github.com/ledgerline/ledgerline/services/submission/channel"
	submissionservice "github.com/ledgerline/ledgerline/services/submission/service"
	submissionstore "github.com/ledgerline/ledgerline/services/submission/store"
)

func serveCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Ledgerline services: all in one process, or those of --role",
		Long: "Runs the platform: with no --nats-url an embedded nats-server with JetStream, with no --database-url a private\n" +
			"PostgreSQL, both in --data-dir; then the services (ingest, rules, reports, submission; with no submission channels configured, the\n" +
			"bundled regulator simulator as channel regulator-sim) behind the HTTP API on --http-addr.\n\n" +
			"--role runs only some of the services, each serving only its own routes (plus /healthz, /readyz, /metrics): any\n" +
			"number of processes of each role share one PostgreSQL and one JetStream (docs/scaling.md). A process started on the\n" +
			"data dir of a running one uses that one's embedded nats-server.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := parseRoles(role)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return serveRoles(cmd.Context(), cmd, cfg, rs, nil)
		},
	}
	cmd.Flags().StringVar(&role, "role", "all", "services this process runs: all, or a comma list of "+strings.Join(serviceRoles, ", "))
	return cmd
}

// The roles of `ledgerline serve --role`: one per service.
const (
	roleIngest     = "ingest"
	roleRules      = "rules"
	roleReports    = "reports"
	roleSubmission = "submission"
)

var serviceRoles = []string{roleIngest, roleRules, roleReports, roleSubmission}

// roles is the set of services a process runs.
type roles map[string]bool

// allRoles is every service: `ledgerline serve` with no --role, and the demo.
func allRoles() roles {
	r := roles{}
	for _, name := range serviceRoles {
		r[name] = true
	}
	return r
}

// parseRoles reads --role: "all", or a comma list of service names.
func parseRoles(s string) (roles, error) {
	r := roles{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "all":
			return allRoles(), nil
		case routesOf(name) != nil:
			r[name] = true
		default:
			return nil, fmt.Errorf("--role %q: unknown role %q (want all, or a comma list of %s)", s, name, strings.Join(serviceRoles, ", "))
		}
	}
	return r, nil
}

// String is "all" or the roles in the order of serviceRoles.
func (r roles) String() string {
	var names []string
	for _, name := range serviceRoles {
		if r[name] {
			names = append(names, name)
		}
	}
	if len(names) == len(serviceRoles) {
		return "all"
	}
	return strings.Join(names, ",")
}

// routesOf lists a role's routes (nil for an unknown role). Only the patterns
// are used: the handlers are never called, so they need no service.
func routesOf(role string) []server.Route {
	switch role {
	case roleIngest:
		return ingestapi.New(nil).Routes()
	case roleRules:
		return rulesapi.New(nil).Routes()
	case roleReports:
		return reportsapi.New(nil).Routes()
	case roleSubmission:
		return submissionapi.New(nil).Routes()
	}
	return nil
}

// refuseOthers answers the routes of the roles this process does not run with a
// 404 naming the role that serves them, so a request sent to the wrong process
// (a load balancer's misrouting, a script's wrong URL) says where to go.
func refuseOthers(srv *server.Server, here roles) {
	for _, role := range serviceRoles {
		if here[role] {
			continue
		}
		var patterns []string
		for _, rt := range routesOf(role) {
			patterns = append(patterns, rt.Pattern)
		}
		srv.HandleElsewhere(func(w http.ResponseWriter, r *http.Request) {
			httpjson.WriteError(w, http.StatusNotFound, "not_served",
				fmt.Sprintf("%s %s is served by the %s role (ledgerline serve --role %s); this process runs --role %s",
					r.Method, r.URL.Path, role, role, here), map[string]string{"role": role, "this_process": here.String()})
		}, patterns...)
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

// serve starts the platform with every service and serves until ctx ends.
// onReady, if set, runs once the API listens; serving stops when it returns false.
func serve(ctx context.Context, cmd *cobra.Command, cfg config.Config, onReady func(ctx context.Context, r running) bool) error {
	return serveRoles(ctx, cmd, cfg, allRoles(), onReady)
}

// serveRoles starts the platform and the services of rs, and serves their
// routes until ctx ends. A service a role needs but does not run is built
// in-process without its routes and background work, on the same database and
// stream:
//   - rules without ingest: adjustments are stored through the ingest code
//     (validated, de-duplicated, published, indexed) in this process;
//   - reports without rules: a query-only rules service (no consumers) answers
//     figures and the watermark from what the rules processes commit; events
//     for lineage are read through the ingest code;
//   - reports without submission: scheduled filings of templates with
//     submission: {auto: true} are recorded as pending submissions, which the
//     submission processes deliver;
//   - submission without reports: filings and their files are read from the
//     database.
func serveRoles(ctx context.Context, cmd *cobra.Command, cfg config.Config, rs roles, onReady func(ctx context.Context, r running) bool) error {
	app.TuneGC() // a serving process, not a one-shot command
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
	var ing *ingest.Service
	if rs[roleIngest] {
		if ing, err = service.Start(ctx, p, srv); err != nil {
			return err
		}
	}
	events := ing
	if events == nil && (rs[roleRules] || rs[roleReports]) {
		if events, err = ingest.New(p.Config, p.DB.Pool, p.Events, p.Log.With("service", "ingest"), nil); err != nil {
			return err
		}
	}
	var rulesSvc *rules.Service
	switch {
	case rs[roleRules]:
		rulesSvc, err = rulesservice.Start(ctx, p, srv, events.Post)
	case rs[roleReports]:
		rulesSvc, err = rulesservice.Query(ctx, p)
	}
	if err != nil {
		return err
	}
	if rulesSvc != nil {
		defer rulesSvc.Stop()
	}
	var reps *reports.Service
	switch {
	case rs[roleReports]:
		reps = reportsservice.Start(ctx, p, srv, rulesSvc, events)
	case rs[roleSubmission]:
		// Only the stored-filing reads (Filing, FileContent, SubmissionChannel)
		// are used, and they need no rules.
		reps = reports.New(reportsstore.New(p.DB.Pool), nil, reports.Config{}, p.Log.With("service", "reports"))
	}
	var subs *submissionservice.Running
	switch {
	case rs[roleSubmission]:
		if subs, err = submissionservice.Start(ctx, p, srv, reps); err != nil {
			return err
		}
		if rs[roleReports] {
			reps.SetSubmitter(submissionservice.AutoSubmitter{Service: subs.Service})
		}
	case rs[roleReports]:
		reps.SetSubmitter(submissionservice.AutoSubmitter{Service: recordingSubmitter(p, reps)})
	}
	refuseOthers(srv, rs)
	if rs[roleReports] { // the web console at /: it reads filings and lineage in-process (cli/console.go)
		if err := mountConsole(ctx, p, srv, reps, rulesSvc, events); err != nil {
			return err
		}
	}
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- srv.Serve(ctx, cfg.HTTPAddr, func(a net.Addr) {
			log.Info("ledgerline serving", "api", "http://"+a.String(), "roles", rs.String(), "data_dir", cfg.DataDir)
			ready <- a.String()
		})
	}()
	select {
	case err := <-errc:
		return err
	case addr := <-ready:
		if onReady != nil && !onReady(ctx, running{platform: p, ingest: ing, rules: rulesSvc, reports: reps, submit: subs, addr: addr}) {
			cancel()
		}
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// recordingSubmitter is the submission service of a process with the reports
// role and not the submission role: it records submissions (pending, in
// PostgreSQL) and runs no worker; the workers of the submission processes,
// which look for pending submissions every 200 ms, deliver them. It knows the
// configured channels by name only, which is all Submit checks.
func recordingSubmitter(p *app.Platform, filings submission.Filings) *submission.Service {
	cfg := p.Config.Submission
	var channels []channel.Channel
	for name := range cfg.Channels {
		channels = append(channels, channelElsewhere(name))
	}
	if len(channels) == 0 {
		channels = append(channels, channelElsewhere(submissionservice.SimChannel))
	}
	sort.Slice(channels, func(i, j int) bool { return channels[i].Name() < channels[j].Name() })
	host, _ := os.Hostname()
	return submission.New(submissionstore.New(p.DB.Pool), filings, channels, submission.Config{Workers: cfg.Workers,
		PollInterval: cfg.PollInterval, MaxAttempts: cfg.MaxAttempts, DefaultChannel: cfg.DefaultChannel,
		Instance: host + "/" + strconv.Itoa(os.Getpid())}, p.Log.With("service", "submission"), nil)
}

// channelElsewhere is a channel that the submission processes deliver through.
type channelElsewhere string

var errChannelElsewhere = errors.New("this process does not deliver submissions: the submission role's processes do")

func (c channelElsewhere) Name() string { return string(c) }

func (c channelElsewhere) Find(context.Context, string) (channel.Receipt, bool, error) {
	return channel.Receipt{}, false, errChannelElsewhere
}

func (c channelElsewhere) Deliver(context.Context, channel.Delivery) (channel.Receipt, error) {
	return channel.Receipt{}, errChannelElsewhere
}

func (c channelElsewhere) Status(context.Context, string) (channel.Status, error) {
	return channel.Status{}, errChannelElsewhere
}
