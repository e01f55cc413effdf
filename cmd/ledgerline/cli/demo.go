package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank"
)

// demoMarker marks a data dir the demo created, so --fresh never deletes anything else.
const demoMarker = ".ledgerline-demo"

func demoCmd() *cobra.Command {
	var (
		fresh bool
		exit  bool
		stay  bool
		opt   = demoOptions{Options: demobank.Options{Seed: 1, Counterparties: 200, Loans: 1500, Period: "2026-Q3"}, Timeout: 2 * time.Minute}
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the platform and walk through a quarter of the demo bank's reporting",
		Long: "Starts the platform (embedded JetStream, private or configured PostgreSQL), creates keys, onboards the sample\n" +
			"rule sets and templates (one compliance key makes, another approves), generates the demo bank's events (see\n" +
			"`ledgerline demo generate`) and pushes them, files the quarter's three reports, submits them to the bundled\n" +
			"regulator simulator, then sends a late correction, restates, and prints the lineage of a large exposure, the\n" +
			"restatement diff, the replay check and the receipts. Then it keeps serving for you to explore (Ctrl-C stops it)\n" +
			"when run from a terminal, and exits otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-level") && os.Getenv("LEDGERLINE_LOG_LEVEL") == "" {
				cfg.Log.Level = "warn" // the walkthrough is the output; the services' info logs would drown it
			}
			if fresh {
				if err := resetDemoDir(cfg.DataDir); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
				return err
			}
			_ = os.WriteFile(filepath.Join(cfg.DataDir, demoMarker), []byte("created by ledgerline demo\n"), 0o644)
			if ln, err := net.Listen("tcp", cfg.HTTPAddr); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s is busy; the demo serves on a free port instead\n", cfg.HTTPAddr)
				cfg.HTTPAddr = "127.0.0.1:0"
			} else {
				ln.Close()
			}
			interactive := term.IsTerminal(int(os.Stdin.Fd()))
			keepServing := stay || (interactive && !exit)
			var storyErr error
			err = serve(cmd.Context(), cmd, cfg, func(ctx context.Context, r running) bool {
				storyErr = demoStory(ctx, cmd, r, cfg.DataDir, opt)
				if storyErr != nil {
					return false
				}
				if keepServing {
					fmt.Fprintf(cmd.OutOrStdout(), "\nServing at http://%s until you press Ctrl-C.\n", r.addr)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "\nThe walkthrough is over and the platform stops. To explore with the commands above, serve the same data again:\n"+
						"  bin/ledgerline serve --data-dir %s --http-addr %s\n(or run `bin/ledgerline demo --serve` to keep it serving after the walkthrough).\n", cfg.DataDir, r.addr)
				}
				return keepServing
			})
			if storyErr != nil {
				return storyErr
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&fresh, "fresh", false, "start from an empty data dir (only one the demo created)")
	cmd.Flags().BoolVar(&exit, "exit", false, "exit after the walkthrough even on a terminal")
	cmd.Flags().BoolVar(&stay, "serve", false, "keep serving after the walkthrough even without a terminal")
	cmd.Flags().Int64Var(&opt.Seed, "seed", opt.Seed, "seed of the generated demo bank (the same seed gives the same events)")
	cmd.Flags().IntVar(&opt.Counterparties, "counterparties", opt.Counterparties, "counterparties of the demo bank")
	cmd.Flags().IntVar(&opt.Loans, "loans", opt.Loans, "loans of the demo bank")
	cmd.Flags().StringVar(&opt.Period, "period", opt.Period, "the quarter the demo files (its last month for monthly templates)")
	cmd.Flags().DurationVar(&opt.Timeout, "timeout", opt.Timeout, "how long to wait for the rules and the regulator at each step")
	cmd.AddCommand(demoGenerateCmd())
	return cmd
}

func resetDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
		return fmt.Errorf("--fresh: %s was not created by the demo; refusing to delete it (choose another --data-dir)", dir)
	}
	return os.RemoveAll(dir)
}

func demoPush(ctx context.Context, cmd *cobra.Command, c *client, name string, body []byte) error {
	counter := &countingReader{r: bytes.NewReader(body)}
	f, err := newEventFile(counter)
	if err != nil {
		return err
	}
	_, err = pushAll(ctx, cmd, c, f.next, counter, int64(len(body)), name, 500, false)
	return err
}
