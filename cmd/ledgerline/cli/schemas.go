package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/services/ingest/store"
)

func schemasCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schemas", Short: "Register and list event schemas"}
	var (
		typ     string
		version int
	)
	register := &cobra.Command{
		Use:   "register --type T --version N FILE",
		Short: "Register a JSON Schema for an event type's data (versions are immutable)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if !json.Valid(doc) {
				return fmt.Errorf("%s is not valid JSON", args[0])
			}
			body, _ := json.Marshal(map[string]any{"type": typ, "version": version, "schema": json.RawMessage(doc)})
			var res map[string]any
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/schemas", "application/json", body, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s v%d: %v\n", typ, version, res["status"])
			return nil
		},
	}
	register.Flags().StringVar(&typ, "type", "", "event type, e.g. credit.rating")
	register.Flags().IntVar(&version, "version", 0, "schema version (1, 2, ...)")
	_ = register.MarkFlagRequired("type")
	_ = register.MarkFlagRequired("version")

	list := &cobra.Command{
		Use:   "list",
		Short: "List built-in and registered schemas",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct{ Schemas []store.SchemaInfo }
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/schemas", "", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tVERSION\tORIGIN")
			for _, s := range res.Schemas {
				origin := "built-in"
				if !s.Builtin {
					origin = "registered by " + s.RegisteredBy + " at " + s.RegisteredAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\tv%d\t%s\n", s.Type, s.Version, origin)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(register, list)
	return cmd
}
