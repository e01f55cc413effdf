package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func templatesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "templates", Short: "Onboard, list and approve report templates"}
	onboard := &cobra.Command{
		Use:   "onboard DIR",
		Short: "Onboard DIR/template.yaml (and the layout workbook it names) as a new version",
		Long: "Reads DIR/template.yaml and, when the template names a layout (layout: layout.xlsx), that file from DIR,\n" +
			"and sends both. The server checks every figure, dimension, expression and cell, the workbook, and renders a\n" +
			"dry run; the new version is validated and must be approved by another compliance key to become active.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			path := args[0]
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				path = filepath.Join(path, "template.yaml")
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var head struct {
				Layout string `yaml:"layout"`
			}
			_ = yaml.Unmarshal(src, &head)
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			part, _ := mw.CreateFormFile("template", filepath.Base(path))
			part.Write(src) //nolint:errcheck // a bytes.Buffer does not fail
			if head.Layout != "" {
				layout, err := os.ReadFile(filepath.Join(filepath.Dir(path), head.Layout))
				if err != nil {
					return fmt.Errorf("the template names layout %q: %w", head.Layout, err)
				}
				part, _ := mw.CreateFormFile("layout", head.Layout)
				part.Write(layout) //nolint:errcheck
			}
			mw.Close()
			var out struct {
				ID      string `json:"id"`
				Version int    `json:"version"`
				Status  string `json:"status"`
			}
			err = c.do(cmd.Context(), http.MethodPost, "/v1/templates", mw.FormDataContentType(), body.Bytes(), &out)
			var apiErr *apiError
			if errors.As(err, &apiErr) && apiErr.Code == "invalid_template" {
				var problems []struct{ Cell, Field, Message string }
				_ = json.Unmarshal(apiErr.Details, &problems)
				for _, p := range problems {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: cell %s, %s: %s\n", path, orDash(p.Cell), orDash(p.Field), p.Message)
				}
				return &exitError{code: 2, msg: fmt.Sprintf("%s was refused: %d problem(s)", path, len(problems))}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "template %s version %d: %s (a compliance key other than yours approves it: ledgerline templates approve %s %d)\n",
				out.ID, out.Version, out.Status, out.ID, out.Version)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List template versions with their status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct {
				Templates []struct {
					ID         string `json:"id"`
					Version    int    `json:"version"`
					Name       string `json:"name"`
					Status     string `json:"status"`
					MadeBy     string `json:"made_by"`
					ApprovedBy string `json:"approved_by"`
				} `json:"templates"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/templates", "", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TEMPLATE\tVERSION\tSTATUS\tMADE BY\tAPPROVED BY\tNAME")
			for _, t := range res.Templates {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", t.ID, t.Version, t.Status, t.MadeBy, orDash(t.ApprovedBy), t.Name)
			}
			return tw.Flush()
		},
	}
	approve := &cobra.Command{
		Use:   "approve ID VERSION",
		Short: "Approve a validated template version (maker-checker: not with the maker's key); it becomes active",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var out struct {
				ID         string `json:"id"`
				Version    int    `json:"version"`
				Status     string `json:"status"`
				ApprovedBy string `json:"approved_by"`
			}
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/templates/"+url.PathEscape(args[0])+"/versions/"+url.PathEscape(args[1])+"/approve",
				"", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "template %s version %d: %s (approved by %s)\n", out.ID, out.Version, out.Status, out.ApprovedBy)
			return nil
		},
	}
	cmd.AddCommand(onboard, list, approve)
	return cmd
}

// filingView is what the CLI prints of a filing.
type filingView struct {
	ID              string         `json:"id"`
	Template        string         `json:"template"`
	TemplateVersion int            `json:"template_version"`
	Period          string         `json:"period"`
	AsOfSeq         uint64         `json:"as_of_seq"`
	Status          string         `json:"status"`
	RuleVersions    map[string]int `json:"rule_versions"`
	Validations     []struct {
		ID, Severity, Message string
		Passed                bool
	} `json:"validations"`
	Files []struct {
		Format, SHA256 string
		Size           int
	} `json:"files"`
}

func printFiling(cmd *cobra.Command, f filingView, asJSON bool) error {
	if asJSON {
		return printIndented(cmd.OutOrStdout(), f)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "filing %s: %s v%d, period %s, as of seq %d: %s\n", f.ID, f.Template, f.TemplateVersion, f.Period, f.AsOfSeq, f.Status)
	names := make([]string, 0, len(f.RuleVersions))
	for rs := range f.RuleVersions {
		names = append(names, rs)
	}
	sort.Strings(names)
	for _, rs := range names {
		fmt.Fprintf(w, "  rule set %s v%d\n", rs, f.RuleVersions[rs])
	}
	for _, v := range f.Validations {
		mark := "passed"
		if !v.Passed {
			mark = "FAILED: " + v.Message
		}
		fmt.Fprintf(w, "  validation %s (%s): %s\n", v.ID, v.Severity, mark)
	}
	for _, file := range f.Files {
		fmt.Fprintf(w, "  %s  %d bytes  sha256 %s\n", file.Format, file.Size, file.SHA256)
	}
	return nil
}

func filingsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "filings", Short: "Run, inspect and download filings"}
	var asJSON bool
	create := &cobra.Command{
		Use:   "create TEMPLATE PERIOD",
		Short: "File the active version of TEMPLATE for PERIOD (2026-10, 2026-Q3 or 2026) at the stream's last event",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			c.http.Timeout = 15 * time.Minute // the server bounds the wait for the rules (reports.rules_timeout)
			body, _ := json.Marshal(map[string]string{"template": args[0], "period": args[1]})
			stop := spinner(cmd, fmt.Sprintf("filing %s for %s (waiting for the rules, computing, rendering)", args[0], args[1]))
			var f filingView
			err = c.do(cmd.Context(), http.MethodPost, "/v1/filings", "application/json", body, &f)
			stop()
			if err != nil {
				return err
			}
			return printFiling(cmd, f, asJSON)
		},
	}
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a filing: status, versions, watermark, validations, files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var f filingView
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/filings/"+url.PathEscape(args[0]), "", nil, &f); err != nil {
				return err
			}
			return printFiling(cmd, f, asJSON)
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List filings, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct {
				Filings []filingView `json:"filings"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/filings", "", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILING\tTEMPLATE\tVERSION\tPERIOD\tAS OF SEQ\tSTATUS")
			for _, f := range res.Filings {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", f.ID, f.Template, f.TemplateVersion, f.Period, f.AsOfSeq, f.Status)
			}
			return tw.Flush()
		},
	}
	var out string
	download := &cobra.Command{
		Use:   "download ID FORMAT",
		Short: "Download a filing's file (xlsx, csv or json) to --out (default ID.FORMAT)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, c.base+"/v1/filings/"+url.PathEscape(args[0])+"/files/"+url.PathEscape(args[1]), nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+c.key)
			resp, err := c.http.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("download: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(buf.String()))
			}
			if out == "" {
				out = args[0] + "." + args[1]
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%d bytes, sha256 %s)\n", out, buf.Len(), resp.Header.Get("X-Checksum-SHA256"))
			return nil
		},
	}
	download.Flags().StringVarP(&out, "out", "o", "", "file to write")
	signOff := &cobra.Command{
		Use:   "sign-off ID",
		Short: "Sign a filing off (role compliance, not the key that ran it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var f filingView
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/filings/"+url.PathEscape(args[0])+"/sign-off", "", nil, &f); err != nil {
				return err
			}
			return printFiling(cmd, f, asJSON)
		},
	}
	var reason string
	override := &cobra.Command{
		Use:   "override ID --reason TEXT",
		Short: "Let a filing with failed error validations be submitted, with a written reason (role operator; audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"reason": reason})
			var f filingView
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/filings/"+url.PathEscape(args[0])+"/override", "application/json", body, &f); err != nil {
				return err
			}
			return printFiling(cmd, f, asJSON)
		},
	}
	override.Flags().StringVar(&reason, "reason", "", "why the failed validations may be overridden (required)")
	for _, c := range []*cobra.Command{create, get, signOff, override} {
		c.Flags().BoolVar(&asJSON, "json", false, "print the filing as JSON")
	}
	cmd.AddCommand(create, get, list, download, signOff, override)
	return cmd
}

func scheduleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schedule",
		Short: "Show the next scheduled filings of every active template",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var res struct {
				Schedule []struct {
					Template, Schedule, Timezone string
					Version                      int
					Next                         []struct {
						At     time.Time
						Period string
					}
				} `json:"schedule"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/schedule", "", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TEMPLATE\tVERSION\tSCHEDULE\tNEXT RUN\tFILES PERIOD")
			for _, u := range res.Schedule {
				for i, n := range u.Next {
					name := u.Template
					if i > 0 {
						name = ""
					}
					fmt.Fprintf(tw, "%s\t%d\t%s (%s)\t%s\t%s\n", name, u.Version, u.Schedule, u.Timezone, n.At.Format(time.RFC3339), n.Period)
				}
			}
			return tw.Flush()
		},
	}
}
