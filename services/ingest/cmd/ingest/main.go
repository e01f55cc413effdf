// Command ingest runs the ingest service alone (ledgerline serve runs it together
// with the other services). It takes the same flags, LEDGERLINE_* variables and
// config file as ledgerline.
package main

import (
	"context"

	"github.com/ledgerline/ledgerline/platform/app"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest/service"
)

func main() {
	app.Main("ingest", func(ctx context.Context, p *app.Platform, srv *server.Server) (func(), error) {
		_, err := service.Start(ctx, p, srv)
		return nil, err
	})
}
