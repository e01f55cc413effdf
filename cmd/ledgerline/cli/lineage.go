package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// The lineage answers of the API (services/reports/lineage.go), as the CLI
// prints them.

type conversionView struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Rate    string `json:"rate"`
	Inverse bool   `json:"inverse,omitempty"`
	EventID string `json:"event_id"`
	Seq     uint64 `json:"seq"`
}

type figureNodeView struct {
	Name       string `json:"figure"`
	Ruleset    string `json:"ruleset"`
	Version    int    `json:"version"`
	Kind       string `json:"kind"`
	Definition struct {
		When       string            `json:"when"`
		Dimensions map[string]string `json:"dimensions"`
		Value      string            `json:"value"`
		Currency   string            `json:"currency"`
	} `json:"definition"`
	Where         map[string]string `json:"where"`
	Value         string            `json:"value"`
	Currency      string            `json:"currency"`
	Contributions int64             `json:"contributions"`
	Conversions   []conversionView  `json:"conversions"`
	Inputs        []figureNodeView  `json:"inputs"`
}

type cellLineageView struct {
	Filing   string         `json:"filing"`
	Template string         `json:"template"`
	Version  int            `json:"template_version"`
	Period   string         `json:"period"`
	AsOfSeq  uint64         `json:"as_of_seq"`
	Code     string         `json:"code"`
	Row      int            `json:"row"`
	Sheet    string         `json:"sheet"`
	At       string         `json:"at"`
	Label    string         `json:"label"`
	Value    string         `json:"value"`
	Currency string         `json:"currency"`
	Filter   any            `json:"filter"`
	Figure   figureNodeView `json:"figure"`
}

type contributionView struct {
	Seq        uint64    `json:"seq"`
	EventID    string    `json:"event_id"`
	Subject    string    `json:"subject"`
	OccurredAt time.Time `json:"occurred_at"`
	RecordedAt time.Time `json:"recorded_at"`
	Value      string    `json:"value"`
	Currency   string    `json:"currency"`
	Converted  *struct {
		Value      string         `json:"value"`
		Currency   string         `json:"currency"`
		Conversion conversionView `json:"rate"`
	} `json:"converted"`
	Adjustment string `json:"adjustment_period"`
}

type contributionPageView struct {
	Filing        string             `json:"filing"`
	Code          string             `json:"code"`
	Row           int                `json:"row"`
	Figure        string             `json:"figure"`
	AsOfSeq       uint64             `json:"as_of_seq"`
	Contributions []contributionView `json:"contributions"`
	NextCursor    string             `json:"next_cursor"`
}

// printIndented writes v as indented JSON.
func printIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSON writes an API answer indented.
func printJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// compact puts a CEL expression on one line.
func compact(expr string) string { return strings.Join(strings.Fields(expr), " ") }

// dims renders dimension values (or expressions) as k=v, sorted.
func dims(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// filterText renders a cell's filter: a map of dimension values, or whatever the API sent.
func filterText(f any) string {
	switch v := f.(type) {
	case nil:
		return "(none)"
	case map[string]any:
		if len(v) == 0 {
			return "(none)"
		}
		m := map[string]string{}
		for k, x := range v {
			m[k] = fmt.Sprint(x)
		}
		return dims(m)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func conversionText(c conversionView) string {
	s := fmt.Sprintf("%s→%s at %s", c.From, c.To, c.Rate)
	if c.Inverse {
		s += " (inverse)"
	}
	return s + fmt.Sprintf(" (rate event %s, seq %d)", c.EventID, c.Seq)
}

func printFigureNode(w io.Writer, n figureNodeView, indent string) {
	head := fmt.Sprintf("%s%s  rule set %s v%d  %s", indent, n.Name, n.Ruleset, n.Version, n.Kind)
	if len(n.Where) > 0 {
		head += "  where " + dims(n.Where)
	}
	fmt.Fprintln(w, head)
	in := indent + "    "
	if n.Definition.When != "" {
		fmt.Fprintf(w, "%swhen: %s\n", in, compact(n.Definition.When))
	}
	if n.Definition.Value != "" {
		fmt.Fprintf(w, "%svalue: %s\n", in, compact(n.Definition.Value))
	}
	if len(n.Definition.Dimensions) > 0 {
		exprs := map[string]string{}
		for k, v := range n.Definition.Dimensions {
			exprs[k] = compact(v)
		}
		fmt.Fprintf(w, "%sdimensions: %s\n", in, dims(exprs))
	}
	value := n.Value
	if n.Currency != "" {
		value += " " + n.Currency
	}
	if n.Kind == "derived" {
		fmt.Fprintf(w, "%s= %s\n", in, value)
	} else {
		fmt.Fprintf(w, "%s= %s from %d contribution(s)\n", in, value, n.Contributions)
	}
	for _, c := range n.Conversions {
		fmt.Fprintf(w, "%sconverted %s\n", in, conversionText(c))
	}
	if len(n.Inputs) > 0 {
		fmt.Fprintf(w, "%sinputs:\n", in)
		for _, input := range n.Inputs {
			printFigureNode(w, input, in+"    ")
		}
	}
}

func printCellLineage(w io.Writer, c cellLineageView) {
	name := c.Code
	if c.Row > 0 {
		name = fmt.Sprintf("%s row %d", c.Code, c.Row)
	}
	fmt.Fprintf(w, "cell %s of filing %s (%s v%d, period %s, as of seq %d)\n", name, c.Filing, c.Template, c.Version, c.Period, c.AsOfSeq)
	fmt.Fprintf(w, "  sheet:    %s\n", c.Sheet)
	fmt.Fprintf(w, "  at:       %s\n", c.At)
	if c.Label != "" {
		fmt.Fprintf(w, "  label:    %s\n", c.Label)
	}
	fmt.Fprintf(w, "  value:    %s\n", c.Value)
	fmt.Fprintf(w, "  currency: %s\n", c.Currency)
	fmt.Fprintf(w, "  filter:   %s\n", filterText(c.Filter))
	fmt.Fprintln(w, "figure:")
	printFigureNode(w, c.Figure, "  ")
}

func printContributions(w io.Writer, cs []contributionView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tRECORDED AT\tEVENT\tSUBJECT\tOCCURRED AT\tVALUE\tCONVERTED")
	for _, c := range cs {
		value := strings.TrimSpace(c.Value + " " + c.Currency)
		if c.Adjustment != "" {
			value += " (adjustment for " + c.Adjustment + ")"
		}
		conv := "-"
		if c.Converted != nil {
			conv = fmt.Sprintf("%s %s at %s (rate event %s)", c.Converted.Value, c.Converted.Currency, c.Converted.Conversion.Rate, c.Converted.Conversion.EventID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Seq, c.RecordedAt.Format(time.RFC3339), c.EventID, orDash(c.Subject),
			c.OccurredAt.Format(time.RFC3339), value, conv)
	}
	return tw.Flush()
}

func lineageCmd() *cobra.Command {
	var (
		row           int
		contributions bool
		limit         int
		all           bool
		cursor        string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "lineage FILING CELL",
		Short: "Trace a filed amount to its figure, its definition and (--contributions) the events behind it",
		Long: "Shows a cell of a filing (or, with --row N, row N of a table): where it is, what was reported, the figure\n" +
			"it comes from with the rule set version, CEL definition, value, contribution count and currency\n" +
			"conversions, and the figures a derived figure was computed from, recursively.\n\n" +
			"--contributions adds the first page of the events behind it, newest seq first (--cursor for the next\n" +
			"page, --limit for its size); --all reads every page. With --json the API's answers are printed: the\n" +
			"lineage, or {\"lineage\": ..., \"contributions\": ...} with contributions (one merged page with --all).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			if limit < 0 || limit > 1000 {
				return fmt.Errorf("--limit must be from 1 to 1000")
			}
			base := "/v1/filings/" + url.PathEscape(args[0]) + "/cells/" + url.PathEscape(args[1])
			q := url.Values{}
			if row > 0 {
				q.Set("row", strconv.Itoa(row))
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), http.MethodGet, withQuery(base, q), "", nil, &raw); err != nil {
				return err
			}
			var cell cellLineageView
			if err := json.Unmarshal(raw, &cell); err != nil {
				return fmt.Errorf("lineage answer: %w", err)
			}
			wantContributions := contributions || all || cursor != ""
			if wantContributions && cell.Figure.Kind == "derived" {
				fmt.Fprintf(cmd.ErrOrStderr(), "figure %s is derived: it has no contributions of its own; trace its inputs' cells\n", cell.Figure.Name)
				wantContributions = false
			}
			if !wantContributions {
				if asJSON {
					return printJSON(cmd.OutOrStdout(), raw)
				}
				printCellLineage(cmd.OutOrStdout(), cell)
				return nil
			}

			pageSize := limit
			if all && !cmd.Flags().Changed("limit") {
				pageSize = 1000
			}
			fetch := func(cur string) (json.RawMessage, contributionPageView, error) {
				pq := url.Values{}
				for k, v := range q {
					pq[k] = v
				}
				if pageSize > 0 {
					pq.Set("limit", strconv.Itoa(pageSize))
				}
				if cur != "" {
					pq.Set("cursor", cur)
				}
				var praw json.RawMessage
				var page contributionPageView
				if err := c.do(cmd.Context(), http.MethodGet, withQuery(base+"/contributions", pq), "", nil, &praw); err != nil {
					return nil, page, err
				}
				if err := json.Unmarshal(praw, &page); err != nil {
					return nil, page, fmt.Errorf("contributions answer: %w", err)
				}
				return praw, page, nil
			}
			praw, page, err := fetch(cursor)
			if err != nil {
				return err
			}
			if all && page.NextCursor != "" {
				// Every page, merged into one (the raw events included).
				var merged map[string]json.RawMessage
				if err := json.Unmarshal(praw, &merged); err != nil {
					return err
				}
				var rawRows []json.RawMessage
				if err := json.Unmarshal(merged["contributions"], &rawRows); err != nil {
					return err
				}
				stop := spinner(cmd, fmt.Sprintf("reading every page of the %d contributions of %s", cell.Figure.Contributions, args[1]))
				for page.NextCursor != "" {
					next, np, err := fetch(page.NextCursor)
					if err != nil {
						stop()
						return err
					}
					var nm map[string]json.RawMessage
					var nrows []json.RawMessage
					if err := json.Unmarshal(next, &nm); err != nil {
						stop()
						return err
					}
					if err := json.Unmarshal(nm["contributions"], &nrows); err != nil {
						stop()
						return err
					}
					rawRows = append(rawRows, nrows...)
					page.Contributions = append(page.Contributions, np.Contributions...)
					page.NextCursor = np.NextCursor
				}
				stop()
				merged["contributions"], _ = json.Marshal(rawRows)
				delete(merged, "next_cursor")
				praw, _ = json.Marshal(merged)
			}
			if asJSON {
				both, _ := json.Marshal(map[string]json.RawMessage{"lineage": raw, "contributions": praw})
				return printJSON(cmd.OutOrStdout(), both)
			}
			w := cmd.OutOrStdout()
			printCellLineage(w, cell)
			fmt.Fprintf(w, "contributions (%d shown of %d, newest seq first):\n", len(page.Contributions), cell.Figure.Contributions)
			if err := printContributions(w, page.Contributions); err != nil {
				return err
			}
			if page.NextCursor != "" {
				rowFlag := ""
				if row > 0 {
					rowFlag = fmt.Sprintf(" --row %d", row)
				}
				fmt.Fprintf(w, "more: ledgerline lineage %s %s%s --contributions --cursor %s (or --all)\n", args[0], args[1], rowFlag, page.NextCursor)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&row, "row", 0, "row N (1, 2, ...) of a table instead of a cell")
	cmd.Flags().BoolVar(&contributions, "contributions", false, "list the events behind the amount (a page; see --cursor, --all)")
	cmd.Flags().IntVar(&limit, "limit", 0, "contributions per page, 1 to 1000 (default: the server's, 100; 1000 with --all)")
	cmd.Flags().BoolVar(&all, "all", false, "read every page of contributions")
	cmd.Flags().StringVar(&cursor, "cursor", "", "the page of contributions after a page's cursor")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

type replayView struct {
	Filing       string         `json:"filing"`
	AsOfSeq      uint64         `json:"as_of_seq"`
	RuleVersions map[string]int `json:"rule_versions"`
	Matches      bool           `json:"matches"`
	Files        []struct {
		Format   string `json:"format"`
		Stored   string `json:"stored_sha256"`
		Replayed string `json:"replayed_sha256"`
		Matches  bool   `json:"matches"`
	} `json:"files"`
	Difference *struct {
		Code     string `json:"code"`
		Row      int    `json:"row"`
		Stored   string `json:"stored"`
		Replayed string `json:"replayed"`
	} `json:"first_difference"`
	Took string `json:"took"`
}

func ruleVersionsText(m map[string]int) string {
	names := make([]string, 0, len(m))
	for rs := range m {
		names = append(names, rs)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, rs := range names {
		parts = append(parts, fmt.Sprintf("%s v%d", rs, m[rs]))
	}
	return strings.Join(parts, ", ")
}

func replayCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay FILING",
		Short: "Re-derive a filing at its watermark with the rule set versions it used and compare every file's SHA-256",
		Long: "Recomputes every figure of the filing at its stored watermark with its rule set versions, renders the files\n" +
			"again and compares their SHA-256 with the stored ones. It changes nothing. The exit status is 1 when\n" +
			"anything differs; the first differing amount is named.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			c.http.Timeout = 15 * time.Minute // the server bounds the wait for the rules (reports.rules_timeout)
			stop := spinner(cmd, "replaying "+args[0])
			var raw json.RawMessage
			err = c.do(cmd.Context(), http.MethodPost, "/v1/filings/"+url.PathEscape(args[0])+"/replay", "", nil, &raw)
			stop()
			if err != nil {
				return err
			}
			var r replayView
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("replay answer: %w", err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(w, raw); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "replay of filing %s at seq %d with %s (took %s)\n", r.Filing, r.AsOfSeq, ruleVersionsText(r.RuleVersions), r.Took)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "FORMAT\tSTORED SHA-256\tREPLAYED SHA-256\tRESULT")
				for _, f := range r.Files {
					mark := "MATCH"
					if !f.Matches {
						mark = "DIFFERS"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Format, orDash(f.Stored), orDash(f.Replayed), mark)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if d := r.Difference; d != nil {
					name := d.Code
					if d.Row > 0 {
						name = fmt.Sprintf("%s row %d", d.Code, d.Row)
					}
					fmt.Fprintf(w, "first difference: %s: stored %s, replayed %s\n", name, d.Stored, d.Replayed)
				}
				if r.Matches {
					fmt.Fprintln(w, "MATCH: the replay reproduces every file byte for byte")
				} else {
					fmt.Fprintln(w, "DIFFERS: the replay does not reproduce the filing")
				}
			}
			if !r.Matches {
				return &exitError{code: 1, msg: fmt.Sprintf("filing %s does not replay to the stored files", r.Filing)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

type restatementView struct {
	Original   string `json:"original"`
	OldAsOfSeq uint64 `json:"original_as_of_seq"`
	NewAsOfSeq uint64 `json:"as_of_seq"`
	Amended    struct {
		ID           string         `json:"id"`
		Status       string         `json:"status"`
		Amends       string         `json:"amends"`
		RuleVersions map[string]int `json:"rule_versions"`
	} `json:"amended"`
	Changes []struct {
		Code       string            `json:"code"`
		Row        int               `json:"row"`
		Dimensions map[string]string `json:"dimensions"`
		Sheet      string            `json:"sheet"`
		At         string            `json:"at"`
		Old        string            `json:"old"`
		New        string            `json:"new"`
		Delta      string            `json:"delta"`
		Events     []struct {
			ID     string `json:"id"`
			Seq    uint64 `json:"seq"`
			Type   string `json:"type"`
			Effect string `json:"effect"`
		} `json:"events"`
	} `json:"changes"`
}

func restateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restate FILING",
		Short: "File an amendment of a filing at the stream's current watermark and show what changed and why (role operator)",
		Long: "Builds the same template version and period as FILING at the stream's last event, with the rule set versions in\n" +
			"force now, stores it as an amended filing that references the original, and prints every changed amount with\n" +
			"the late events (and corrections or voids) behind the change.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			c.http.Timeout = 15 * time.Minute
			stop := spinner(cmd, "restating "+args[0]+" (waiting for the rules, computing, rendering)")
			var raw json.RawMessage
			err = c.do(cmd.Context(), http.MethodPost, "/v1/filings/"+url.PathEscape(args[0])+"/restatements", "", nil, &raw)
			stop()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var r restatementView
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("restatement answer: %w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "amended filing %s: amends %s, as of seq %d → %d: %s\n", r.Amended.ID, r.Original, r.OldAsOfSeq, r.NewAsOfSeq, r.Amended.Status)
			if len(r.Amended.RuleVersions) > 0 {
				fmt.Fprintf(w, "  with %s\n", ruleVersionsText(r.Amended.RuleVersions))
			}
			if len(r.Changes) == 0 {
				fmt.Fprintln(w, "no reported amount changed")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CELL\tAT\tOLD\tNEW\tDELTA\tEVENTS")
			for _, ch := range r.Changes {
				name := ch.Code
				if ch.Row > 0 || len(ch.Dimensions) > 0 {
					name = fmt.Sprintf("%s[%s]", ch.Code, dims(ch.Dimensions))
				}
				events := make([]string, 0, len(ch.Events))
				for _, e := range ch.Events {
					events = append(events, e.ID+" "+e.Effect)
				}
				evText := strings.Join(events, ", ")
				if evText == "" {
					evText = "-"
				}
				fmt.Fprintf(tw, "%s\t%s!%s\t%s\t%s\t%s\t%s\n", name, ch.Sheet, ch.At, ch.Old, ch.New, ch.Delta, evText)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

type impactedCellView struct {
	Filing  string            `json:"filing"`
	Period  string            `json:"period"`
	AsOfSeq uint64            `json:"as_of_seq"`
	Code    string            `json:"code"`
	Row     int               `json:"row"`
	At      string            `json:"at"`
	Figure  string            `json:"figure"`
	Filter  map[string]string `json:"filter"`
	Value   string            `json:"value"`
}

type impactView struct {
	Event         string `json:"event"`
	Seq           uint64 `json:"seq"`
	Contributions []struct {
		Ruleset    string
		Version    int
		Figure     string
		Dims       map[string]string
		Value      json.Number
		Currency   string
		OccurredAt time.Time
		AdjPeriod  string
		// StopsCounting: not a contribution but what the event took out of a
		// stock figure, Replaces' earlier contribution.
		StopsCounting bool
		Replaces      string
	} `json:"contributions"`
	Cells       []impactedCellView `json:"cells"`
	WouldChange []impactedCellView `json:"would_change"`
}

func printImpactedCells(w io.Writer, cells []impactedCellView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FILING\tPERIOD\tAS OF SEQ\tCELL\tAT\tFIGURE\tFILTER\tVALUE")
	for _, c := range cells {
		name := c.Code
		if c.Row > 0 {
			name = fmt.Sprintf("%s row %d", c.Code, c.Row)
		}
		filter := dims(c.Filter)
		if filter == "" {
			filter = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Filing, c.Period, c.AsOfSeq, name, c.At, c.Figure, filter, c.Value)
	}
	return tw.Flush()
}

func impactCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "impact EVENT",
		Short: "Show what an event contributed to, the filed cells it is behind and the earlier filings' cells it would change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := commandClient(cmd)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/events/"+url.PathEscape(args[0])+"/impact", "", nil, &raw); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var im impactView
			if err := dec.Decode(&im); err != nil {
				return fmt.Errorf("impact answer: %w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "event %s (seq %d)\n", im.Event, im.Seq)
			if len(im.Contributions) == 0 {
				fmt.Fprintln(w, "contributed to no figure")
			} else {
				fmt.Fprintln(w, "contributed to:")
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  RULE SET\tFIGURE\tDIMENSIONS\tVALUE\tCURRENCY\tOCCURRED AT")
				for _, ct := range im.Contributions {
					d := dims(ct.Dims)
					if d == "" {
						d = "-"
					}
					occurred := ct.OccurredAt.Format(time.RFC3339)
					if ct.AdjPeriod != "" {
						occurred = "adjustment for " + ct.AdjPeriod
					}
					value := ct.Value.String()
					if ct.StopsCounting {
						value = "stops " + orDash(ct.Replaces) + " counting"
					}
					fmt.Fprintf(tw, "  %s v%d\t%s\t%s\t%s\t%s\t%s\n", ct.Ruleset, ct.Version, ct.Figure, d, value, orDash(ct.Currency), occurred)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(im.Cells) == 0 {
				fmt.Fprintln(w, "behind no filed cell")
			} else {
				fmt.Fprintln(w, "filed cells it is behind:")
				if err := printImpactedCells(w, im.Cells); err != nil {
					return err
				}
			}
			if len(im.WouldChange) == 0 {
				fmt.Fprintln(w, "would change no cell of an earlier filing")
			} else {
				fmt.Fprintln(w, "cells of earlier filings it would change (a restatement includes it):")
				if err := printImpactedCells(w, im.WouldChange); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
