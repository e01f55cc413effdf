// Package cli is the ledgerline command line: every subcommand, with the shared
// configuration flags of platform/config.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/logging"
)

// exitError carries a specific exit status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Main runs the CLI with args and returns the exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := Root(os.Stdout, os.Stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "ledgerline:", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintln(os.Stderr, "ledgerline:", err)
		return 1
	}
	return 0
}

// Root builds the command tree writing to stdout and stderr.
func Root(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "ledgerline",
		Short:         "Ledgerline: event-sourced regulatory reporting",
		Long:          "Ledgerline keeps every source event in a JetStream event store and turns them into regulatory filings with full lineage.\n\nConfiguration: flags > LEDGERLINE_* environment > config file (ledgerline.yaml) > defaults.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	config.RegisterFlags(root.PersistentFlags())
	root.AddCommand(serveCmd(), keysCmd(), eventsCmd(), quarantineCmd(), schemasCmd(), rulesCmd(), figuresCmd(), projectionsCmd(),
		templatesCmd(), filingsCmd(), scheduleCmd(), submissionsCmd(), regulatorSimCmd(), demoCmd(),
		lineageCmd(), replayCmd(), restateCmd(), impactCmd(), configCmd(), streamCmd())
	return root
}

// loadConfig reads the configuration with the command's flags.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	return config.Load(cmd.Flags())
}

// logger builds the logger the configuration asks for, on stderr.
func logger(cmd *cobra.Command, cfg config.Config) (*slog.Logger, error) {
	return logging.New(cmd.ErrOrStderr(), cfg.Log.Level, cfg.Log.Format)
}

// commandClient is the API client of a command: its configured server and key.
func commandClient(cmd *cobra.Command) (*client, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	return apiClient(cfg)
}

// apiClient is a client for the configured server and key.
func apiClient(cfg config.Config) (*client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("no API key: pass --api-key or set LEDGERLINE_API_KEY (create one with `ledgerline keys create --role R --name N`)")
	}
	return newClient(cfg.ServerURL(), cfg.APIKey), nil
}
