package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/store"
)

func quarantineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "quarantine", Short: "Look at, resubmit and discard rejected input"}
	var (
		status string
		asJSON bool
		file   string
		reason string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List quarantined input, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var entries []store.QuarantineEntry
			cursor := ""
			for {
				var page struct {
					Entries    []store.QuarantineEntry `json:"entries"`
					NextCursor string                  `json:"next_cursor"`
				}
				q := url.Values{"status": {status}, "limit": {"1000"}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				if err := c.do(cmd.Context(), http.MethodGet, "/v1/quarantine?"+q.Encode(), "", nil, &page); err != nil {
					return err
				}
				entries = append(entries, page.Entries...)
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(entries)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tFROM\tEVENT\tSTATUS\tREASON")
			for _, e := range entries {
				reason := e.Reason
				if len(reason) > 100 {
					reason = reason[:100] + "…"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.ReceivedAt.Format("2006-01-02 15:04:05"), e.ReceivedFrom,
					orDash(e.EventID), e.Status, strings.ReplaceAll(reason, "\n", " "))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "open", "open, resolved, discarded or all")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	resubmit := &cobra.Command{
		Use:   "resubmit ID [--file CORRECTED]",
		Short: "Send quarantined input again, as it was or corrected from a file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var body []byte
			if file != "" {
				if body, err = os.ReadFile(file); err != nil {
					return err
				}
			}
			var res ingest.Resubmission
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/quarantine/"+url.PathEscape(args[0])+"/resubmit", "application/json", body, &res); err != nil {
				return err
			}
			for _, r := range res.Results {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s", orDash(r.ID), r.Status)
				if r.Seq != 0 {
					fmt.Fprintf(cmd.OutOrStdout(), " (seq %d)", r.Seq)
				}
				if r.Error != "" {
					fmt.Fprintf(cmd.OutOrStdout(), ": %s [quarantine #%d]", r.Error, r.QuarantineID)
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quarantine #%d is %s\n", res.Entry.ID, res.Entry.Status)
			if res.Entry.Status == "open" {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	resubmit.Flags().StringVar(&file, "file", "", "corrected event(s): one event, a JSON array or NDJSON")

	discard := &cobra.Command{
		Use:   "discard ID --reason TEXT",
		Short: "Close quarantined input without sending it, saying why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"reason": reason})
			var e store.QuarantineEntry
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/quarantine/"+url.PathEscape(args[0])+"/discard", "application/json", body, &e); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quarantine #%d discarded: %s\n", e.ID, e.Resolution)
			return nil
		},
	}
	discard.Flags().StringVar(&reason, "reason", "", "why it is discarded (kept in the audit log)")
	_ = discard.MarkFlagRequired("reason")
	cmd.AddCommand(list, resubmit, discard)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
