package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func rulesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Onboard and list rule sets"}
	var wait bool
	onboard := &cobra.Command{
		Use:   "onboard FILE",
		Short: "Onboard a rule set YAML as a new immutable version (it is backfilled from the first event)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var out struct {
				Ruleset       string   `json:"ruleset"`
				Version       int      `json:"version"`
				EffectiveFrom string   `json:"effective_from"`
				Figures       []string `json:"figures"`
			}
			err = c.do(cmd.Context(), http.MethodPost, "/v1/rulesets", "application/yaml", src, &out)
			var apiErr *apiError
			if errors.As(err, &apiErr) && apiErr.Code == "invalid_ruleset" {
				var problems []struct {
					Figure, Field, Message string
					Line, Column           int
				}
				_ = json.Unmarshal(apiErr.Details, &problems)
				for _, p := range problems {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d:%d: figure %s, %s: %s\n", args[0], p.Line, p.Column, orDash(p.Figure), p.Field, p.Message)
				}
				return &exitError{code: 2, msg: fmt.Sprintf("%s was refused: %d problem(s)", args[0], len(problems))}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rule set %s version %d (effective from %s): %s\n", out.Ruleset, out.Version, out.EffectiveFrom, strings.Join(out.Figures, ", "))
			if wait {
				return waitForRules(cmd, c, "backfilling "+out.Ruleset)
			}
			return nil
		},
	}
	onboard.Flags().BoolVar(&wait, "wait", false, "wait, with progress, until the new version has processed the whole stream")

	list := &cobra.Command{
		Use:   "list",
		Short: "List rule set versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct {
				Rulesets []struct {
					Ruleset       string `json:"ruleset"`
					Version       int    `json:"version"`
					EffectiveFrom string `json:"effective_from"`
					OnboardedBy   string `json:"onboarded_by"`
					Figures       []struct{ Name, Kind string }
				}
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/rulesets", "", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RULESET\tVERSION\tEFFECTIVE\tBY\tFIGURES")
			for _, r := range res.Rulesets {
				var fs []string
				for _, f := range r.Figures {
					fs = append(fs, f.Name+" ("+f.Kind+")")
				}
				fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%s\n", r.Ruleset, r.Version, r.EffectiveFrom, r.OnboardedBy, strings.Join(fs, ", "))
			}
			return tw.Flush()
		},
	}
	failures := &cobra.Command{
		Use:   "failures",
		Short: "List rule evaluations recorded as failed (the stream went on)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct {
				Failures []struct {
					Ruleset, Figure, Field, Error string
					EventID                       string `json:"event_id"`
					Version                       int
					Seq                           uint64
				}
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/rules/failures", "", nil, &res); err != nil {
				return err
			}
			for _, f := range res.Failures {
				fmt.Fprintf(cmd.OutOrStdout(), "seq %d %s: %s v%d %s.%s: %s\n", f.Seq, f.EventID, f.Ruleset, f.Version, f.Figure, f.Field, f.Error)
			}
			return nil
		},
	}
	wait2 := &cobra.Command{
		Use:   "wait",
		Short: "Wait, with progress, until the rules have processed the whole stream",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			return waitForRules(cmd, c, "rules catching up")
		},
	}
	cmd.AddCommand(onboard, list, failures, wait2)
	return cmd
}

// waitForRules shows progress until the rules watermark reaches the end of the
// stream as it was when the wait began.
func waitForRules(cmd *cobra.Command, c *client, what string) error {
	var p struct {
		Watermark uint64 `json:"watermark"`
		LastSeq   uint64 `json:"last_seq"`
		Lag       uint64 `json:"lag"`
	}
	if err := c.do(cmd.Context(), http.MethodGet, "/v1/rules/watermark", "", nil, &p); err != nil {
		return err
	}
	target := p.LastSeq
	prog := newProgress(cmd.ErrOrStderr(), int64(target), what)
	defer prog.finish()
	for {
		if err := c.do(cmd.Context(), http.MethodGet, "/v1/rules/watermark", "", nil, &p); err == nil {
			prog.set(int64(min(p.Watermark, target)))
			if p.Watermark >= target {
				fmt.Fprintf(cmd.OutOrStdout(), "rules processed the stream up to seq %d\n", p.Watermark)
				return nil
			}
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func figuresCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "figures", Short: "Compute figures as of a period and a watermark"}
	var (
		periodText, currency, tz string
		asOf                     uint64
		dims                     []string
		asJSON                   bool
	)
	get := &cobra.Command{
		Use:   "get NAME --period P",
		Short: "Compute a figure as of (period, watermark), optionally filtered by dimensions and converted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{"period": {periodText}}
			if currency != "" {
				q.Set("currency", currency)
			}
			if tz != "" {
				q.Set("tz", tz)
			}
			if asOf > 0 {
				q.Set("as_of_seq", fmt.Sprint(asOf))
			}
			for _, d := range dims {
				k, v, ok := strings.Cut(d, "=")
				if !ok {
					return fmt.Errorf("--dim %q: want name=value", d)
				}
				q.Set(k, v)
			}
			var f json.RawMessage
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/figures/"+url.PathEscape(args[0])+"?"+q.Encode(), "", nil, &f); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(f))
				return err
			}
			var fig struct {
				Figure, Ruleset, Kind, Period, Currency, Value string
				Version                                        int
				AsOfSeq                                        uint64 `json:"as_of_seq"`
				Contributions                                  int64
			}
			_ = json.Unmarshal(f, &fig)
			fmt.Fprintf(cmd.OutOrStdout(), "%s = %s %s  (%s, %s v%d, period %s, as of seq %d, %d contributions)\n",
				fig.Figure, fig.Value, fig.Currency, fig.Kind, fig.Ruleset, fig.Version, fig.Period, fig.AsOfSeq, fig.Contributions)
			return nil
		},
	}
	get.Flags().StringVar(&periodText, "period", "", "2026-10, 2026-Q3 or 2026")
	get.Flags().StringVar(&currency, "currency", "", "reporting currency to convert into")
	get.Flags().StringVar(&tz, "tz", "", "time zone of the period edges (default UTC)")
	get.Flags().Uint64Var(&asOf, "as-of-seq", 0, "knowledge watermark (default: what the rules have processed)")
	get.Flags().StringSliceVar(&dims, "dim", nil, "dimension filter name=value (repeatable)")
	get.Flags().BoolVar(&asJSON, "json", false, "print the JSON answer")
	_ = get.MarkFlagRequired("period")
	cmd.AddCommand(get)
	return cmd
}

func projectionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Manage what the rules derived from the stream"}
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Drop every contribution and rebuild them from the stream, with progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/projections/rebuild", "application/json", nil, nil); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			cmd.SetContext(ctx)
			return waitForRules(cmd, c, "rebuilding")
		},
	}
	cmd.AddCommand(rebuild)
	return cmd
}
