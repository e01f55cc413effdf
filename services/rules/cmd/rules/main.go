// Command rules runs the rules service alone (ledgerline serve runs it together
// with the other services): its stream consumers and its API. Manual adjustments
// are stored through an in-process ingest path (validated, deduplicated, indexed),
// not published raw. It takes the same flags, LEDGERLINE_* variables and config
// file as ledgerline.
package main

import (
	"context"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/rules/service"
)

func main() {
	app.Main("rules", func(ctx context.Context, p *app.Platform, srv *server.Server) (func(), error) {
		ing, err := ingest.New(p.Config, p.DB.Pool, p.Events, p.Log.With("service", "ingest"), nil)
		if err != nil {
			return nil, err
		}
		svc, err := service.Start(ctx, p, srv, ing.Post)
		if err != nil {
			return nil, err
		}
		return svc.Stop, nil
	})
}
