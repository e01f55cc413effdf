package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// submissionView is what the CLI prints of a submission.
type submissionView struct {
	ID            string `json:"id"`
	FilingID      string `json:"filing_id"`
	Channel       string `json:"channel"`
	Status        string `json:"status"`
	AmendsReceipt string `json:"amends_receipt,omitempty"`
	ReceiptID     string `json:"receipt_id,omitempty"`
	Attempts      int    `json:"attempts"`
	LastError     string `json:"last_error,omitempty"`
	Final         bool   `json:"final"`
	Feedback      []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Message  string `json:"message"`
	} `json:"feedback"`
	History []struct {
		N       int       `json:"n"`
		At      time.Time `json:"at"`
		Action  string    `json:"action"`
		Outcome string    `json:"outcome"`
		Error   string    `json:"error,omitempty"`
	} `json:"attempts_log,omitempty"`
}

func printSubmission(cmd *cobra.Command, s submissionView, asJSON bool) error {
	if asJSON {
		return printIndented(cmd.OutOrStdout(), s)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "submission %s of filing %s via %s: %s", s.ID, s.FilingID, s.Channel, s.Status)
	if s.ReceiptID != "" {
		fmt.Fprintf(w, ", receipt %s", s.ReceiptID)
	}
	if s.AmendsReceipt != "" {
		fmt.Fprintf(w, ", amends receipt %s", s.AmendsReceipt)
	}
	fmt.Fprintln(w)
	if s.LastError != "" {
		fmt.Fprintf(w, "  last error: %s\n", s.LastError)
	}
	for _, f := range s.Feedback {
		fmt.Fprintf(w, "  regulator %s %s: %s\n", f.Severity, f.Code, f.Message)
	}
	for _, a := range s.History {
		line := fmt.Sprintf("  attempt %d %s %s: %s", a.N, a.At.Format(time.RFC3339), a.Action, a.Outcome)
		if a.Error != "" {
			line += " (" + a.Error + ")"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// waitSubmission polls a submission until it is final, showing progress.
func waitSubmission(ctx context.Context, cmd *cobra.Command, c *client, id string, timeout time.Duration) (submissionView, error) {
	stop := spinner(cmd, "waiting for the regulator's answer to "+id)
	defer stop()
	deadline := time.Now().Add(timeout)
	for {
		var s submissionView
		if err := c.do(ctx, http.MethodGet, "/v1/submissions/"+url.PathEscape(id), "", nil, &s); err != nil {
			return s, err
		}
		if s.Final {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("submission %s is still %s after %s", id, s.Status, timeout)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func submissionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "submissions", Short: "Submit filings to regulators and follow the receipts"}
	var (
		asJSON bool
		wait   bool
		within time.Duration
	)
	create := &cobra.Command{
		Use:   "create FILING",
		Short: "Submit a filing through its template's channel (once: asking again answers the same submission)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var s submissionView
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/filings/"+url.PathEscape(args[0])+"/submissions", "", nil, &s); err != nil {
				return err
			}
			if wait {
				if s, err = waitSubmission(cmd.Context(), cmd, c, s.ID, within); err != nil {
					return err
				}
			}
			return printSubmission(cmd, s, asJSON)
		},
	}
	create.Flags().BoolVar(&wait, "wait", false, "wait until the regulator accepts or rejects it (or it fails)")
	create.Flags().DurationVar(&within, "timeout", 5*time.Minute, "how long --wait waits")
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a submission: status, receipt, regulator feedback, every attempt",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var s submissionView
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/submissions/"+url.PathEscape(args[0]), "", nil, &s); err != nil {
				return err
			}
			return printSubmission(cmd, s, asJSON)
		},
	}
	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List submissions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct {
				Submissions []submissionView `json:"submissions"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/submissions?status="+url.QueryEscape(status), "", nil, &res); err != nil {
				return err
			}
			if asJSON {
				return printIndented(cmd.OutOrStdout(), res.Submissions)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBMISSION\tFILING\tCHANNEL\tSTATUS\tRECEIPT\tATTEMPTS")
			for _, s := range res.Submissions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.FilingID, s.Channel, s.Status, orDash(s.ReceiptID), s.Attempts)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only this status: pending, sending, delivered, accepted, rejected, failed")
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Retry a failed submission with the same idempotency key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var s submissionView
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/submissions/"+url.PathEscape(args[0])+"/retry", "", nil, &s); err != nil {
				return err
			}
			return printSubmission(cmd, s, asJSON)
		},
	}
	for _, c := range []*cobra.Command{create, get, list, retry} {
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	cmd.AddCommand(create, get, list, retry)
	return cmd
}
