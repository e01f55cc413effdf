package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/services/submission/sim"
)

func regulatorSimCmd() *cobra.Command {
	var (
		addr    string
		token   string
		formats []string
	)
	cmd := &cobra.Command{
		Use:   "regulator-sim",
		Short: "Run the bundled regulator simulator: an upload portal with receipts, status feedback and injectable faults",
		Long: "Serves the regulator simulator until interrupted. Point an http submission channel at it:\n" +
			"  submission: {channels: {nca: {type: http, url: http://ADDR, token: TOKEN}}}\n" +
			"Faults for demos and tests: POST /_sim/faults {\"mode\": \"5xx|timeout|drop|reject\", \"count\": N};\n" +
			"what it received: GET /_sim/deliveries. (ledgerline serve starts one by itself when no channel is configured.)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer cancel()
			s := sim.New(sim.Config{Token: token, ExpectedFormats: formats})
			url, stop, err := s.Start(addr)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "regulator simulator at %s (faults: POST %s/_sim/faults; deliveries: GET %s/_sim/deliveries)\n", url, url, url)
			<-ctx.Done()
			return context.Cause(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "address to listen on")
	cmd.Flags().StringVar(&token, "token", "", "bearer token uploads must carry (empty: any)")
	cmd.Flags().StringSliceVar(&formats, "expect", []string{"json"}, "formats every delivery must contain")
	return cmd
}
