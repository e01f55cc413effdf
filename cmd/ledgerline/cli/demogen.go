package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank"
)

// progressFrom is the size of a data set from which generate shows progress.
const progressFrom = 100_000

func demoGenerateCmd() *cobra.Command {
	o := demobank.DefaultOptions()
	var out, lateOut string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write the demo bank's events for a period as NDJSON (the same seed gives the same bytes)",
		Long: "Generates the events of Demo Bank AG for a quarter or a month: counterparty master data, loans, securities,\n" +
			"deposits, general ledger postings, payments and fx rates, with late and out-of-order events, corrections, a\n" +
			"void, events at the period's edges in Europe/Berlin, and a few invalid events for the quarantine. One group of\n" +
			"connected clients is above 25% of Tier 1, two or three are between 10% and 25%, all others below 10%.\n\n" +
			"--late-out writes the events sent after the filings (a correction of a loan of that group and an audit\n" +
			"adjustment), which make a restatement necessary. The summary (counts and the expected figures) goes to stderr\n" +
			"as JSON.",
		Example: "  ledgerline demo generate --seed 7 --period 2026-Q3 --out q3.ndjson --late-out q3-late.ndjson\n" +
			"  ledgerline demo generate --loans 300000 --counterparties 20000 --out big.ndjson   # about a million events",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			events, commit, abort := io.Writer(cmd.OutOrStdout()), func() error { return nil }, func() {}
			if out != "-" {
				var err error
				if events, commit, abort, err = createOutput(out); err != nil {
					return err
				}
			}
			defer abort()
			var late io.Writer
			commitLate := func() error { return nil }
			if lateOut != "" {
				var abortLate func()
				var err error
				if late, commitLate, abortLate, err = createOutput(lateOut); err != nil {
					return err
				}
				defer abortLate()
			}
			var p *progress
			sum, err := demobank.Write(o, events, late, func(done, total int) {
				if total < progressFrom {
					return
				}
				if p == nil {
					p = newCounter(cmd.ErrOrStderr(), int64(total), "generating events", "events")
				}
				p.set(int64(done))
			})
			if p != nil {
				p.finish()
			}
			if err != nil {
				return fmt.Errorf("demo generate: %w", err)
			}
			if err := commit(); err != nil {
				return err
			}
			if err := commitLate(); err != nil {
				return err
			}
			return printIndented(cmd.ErrOrStderr(), sum)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.Seed, "seed", o.Seed, "seed of every random draw: the same options give the same bytes")
	f.IntVar(&o.Counterparties, "counterparties", o.Counterparties, fmt.Sprintf("counterparties in master data (at least %d)", demobank.MinCounterparties))
	f.IntVar(&o.Loans, "loans", o.Loans, fmt.Sprintf("loans and credit facilities (at least %d)", demobank.MinLoans))
	f.StringVar(&o.Period, "period", o.Period, `reporting period: a quarter ("2026-Q3") or a month ("2026-09")`)
	f.StringVar(&out, "out", "-", "file for the events (- for stdout)")
	f.StringVar(&lateOut, "late-out", "", "file for the events sent after the filings (default: not written)")
	return cmd
}
