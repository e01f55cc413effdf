package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/platform/config"
)

func configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Print the configuration reference or the configuration in effect"}
	reference := &cobra.Command{
		Use:   "reference",
		Short: "Print the Markdown reference of every setting (docs/configuration.md)",
		Long: "Prints every configuration key with its environment variable, type, default and description, by section, as\n" +
			"Markdown generated from the Config struct: docs/configuration.md is this output\n" +
			"(go run ./cmd/ledgerline config reference > docs/configuration.md).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return config.WriteReference(cmd.OutOrStdout())
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the configuration in effect (flags, environment, config file, defaults), secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, v := range cfg.Effective() {
				fmt.Fprintf(tw, "%s\t%s\n", v.Key, v.Value)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(reference, show)
	return cmd
}
