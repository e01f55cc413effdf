package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ledgerline/ledgerline/platform/auth"
	samplereports "github.com/ledgerline/ledgerline/reports"
	samplerules "github.com/ledgerline/ledgerline/rules"
	"github.com/ledgerline/ledgerline/schemas"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/rules"
)

// demoMarker marks a data dir the demo created, so --fresh never deletes anything else.
const demoMarker = ".ledgerline-demo"

func demoCmd() *cobra.Command {
	var (
		fresh bool
		exit  bool
		stay  bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the platform and walk through it with the sample bank's events",
		Long: "Starts the platform (embedded JetStream, private or configured PostgreSQL), creates keys, pushes the sample\n" +
			"events of schemas/examples (good ones, bad ones, then the good ones again), and prints what happened and where\n" +
			"to look. Then it keeps serving for you to explore (Ctrl-C stops it) when run from a terminal, and exits otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
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
				storyErr = demoStory(ctx, cmd, r, cfg.DataDir)
				if storyErr != nil {
					return false
				}
				if keepServing {
					fmt.Fprintf(cmd.OutOrStdout(), "\nServing at http://%s until you press Ctrl-C.\n", r.addr)
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

// demoStory is what `make demo` shows: the platform taking good, bad and repeated events.
func demoStory(ctx context.Context, cmd *cobra.Command, r running, dataDir string) error {
	out := cmd.OutOrStdout()
	base := "http://" + r.addr
	keys := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.RoleSource, auth.RoleOperator, auth.RoleAuditor} {
		secret, _, err := r.platform.Keys.Create(ctx, "demo-"+string(role), []auth.Role{role}, "demo")
		if err != nil {
			return err
		}
		keys[role] = secret
	}
	section := func(title string) { fmt.Fprintf(out, "\n== %s\n", title) }

	section("1. The core banking, treasury, GL and market data systems send the day's events")
	source := newClient(base, keys[auth.RoleSource])
	good, _ := schemas.Examples.ReadFile("examples/bank-2026-10.ndjson")
	if err := demoPush(ctx, cmd, source, "schemas/examples/bank-2026-10.ndjson", good); err != nil {
		return err
	}
	section("2. Bad input is refused with a reason naming the field, and kept in quarantine")
	bad, _ := schemas.Examples.ReadFile("examples/bad-events.ndjson")
	if err := demoPush(ctx, cmd, source, "schemas/examples/bad-events.ndjson", bad); err != nil {
		return err
	}
	section("3. The same file sent again is recognised event by event: nothing is counted twice")
	if err := demoPush(ctx, cmd, source, "schemas/examples/bank-2026-10.ndjson (again)", good); err != nil {
		return err
	}

	section("4. The event store")
	op := newClient(base, keys[auth.RoleOperator])
	// The index catch-up runs every ingest.index_interval; run it now so the
	// watermark shown is current.
	if _, err := r.ingest.CatchUp(ctx); err != nil {
		return err
	}
	var st ingest.StreamState
	if err := op.do(ctx, http.MethodGet, "/v1/stream", "", nil, &st); err != nil {
		return err
	}
	fmt.Fprintf(out, "stream %s: %d events (seq %d..%d, %d bytes), replicas %d, event index complete through seq %d\n",
		st.Stream, st.Messages, st.FirstSeq, st.LastSeq, st.Bytes, st.Replicas, st.IndexedThrough)
	var one ingest.StoredEvent
	if err := newClient(base, keys[auth.RoleAuditor]).do(ctx, http.MethodGet, "/v1/events/cb-2026-10-31-LN-1001-c1", "", nil, &one); err == nil {
		var pretty bytes.Buffer
		_ = json.Indent(&pretty, one.Event, "  ", "  ")
		fmt.Fprintf(out, "a correction, read back by id: seq %d, recorded %s, stored under %s\n  %s\n",
			one.Seq, one.RecordedAt.Format("2006-01-02T15:04:05.000Z07:00"), one.Subject, pretty.String())
	}

	section("5. The quarantine")
	var page struct{ Entries []store.QuarantineEntry }
	if err := op.do(ctx, http.MethodGet, "/v1/quarantine?limit=100", "", nil, &page); err != nil {
		return err
	}
	for i := len(page.Entries) - 1; i >= 0; i-- {
		e := page.Entries[i]
		fmt.Fprintf(out, "  #%-3d %-24s %s\n", e.ID, orDash(e.Code), e.Reason)
	}

	section("6. Rule sets turn the events into figures (CEL, exact decimals, lineage per event)")
	if err := demoRules(ctx, cmd, r); err != nil {
		return err
	}

	section("7. Compliance onboards the regulator's template; a second person approves it (maker-checker)")
	filing, err := demoFiling(ctx, cmd, r, dataDir)
	if err != nil {
		return err
	}
	section("8. The filing goes to the regulator (the bundled simulator) exactly once, with a receipt")
	if err := demoSubmit(ctx, cmd, r, filing); err != nil {
		return err
	}

	section("Explore")
	dir, _ := filepath.Abs(dataDir)
	fmt.Fprintf(out, `data dir          %s (JetStream store in nats/, PostgreSQL log in postgres.log)
API               %s   (errors are JSON; health %s/healthz, readiness %s/readyz, metrics %s/metrics)
keys (demo only)  source   %s
                  operator %s
                  auditor  %s
try               curl -s -H "Authorization: Bearer %s" %s/v1/quarantine
                  curl -s -H "Authorization: Bearer %s" %s/v1/events/cb-2026-10-31-LN-1001-c1
                  LEDGERLINE_SERVER=%s LEDGERLINE_API_KEY=%s bin/ledgerline events import docs/examples/loans-eod.csv --mapping docs/examples/loans-eod.mapping.yaml
guides            docs/sending-events.md, docs/event-store.md, docs/operations.md
`, dir, base, base, base, base, keys[auth.RoleSource], keys[auth.RoleOperator], keys[auth.RoleAuditor],
		keys[auth.RoleOperator], base, keys[auth.RoleAuditor], base, base, keys[auth.RoleSource])
	fmt.Fprintf(out, "figures           LEDGERLINE_SERVER=%s LEDGERLINE_API_KEY=%s bin/ledgerline figures get own_funds --period 2026-10 --tz Europe/Berlin --json\n",
		base, keys[auth.RoleAuditor])
	fmt.Fprintf(out, "filing            LEDGERLINE_SERVER=%s LEDGERLINE_API_KEY=%s bin/ledgerline filings get %s\n", base, keys[auth.RoleAuditor], filing)
	fmt.Fprintf(out, "submissions       LEDGERLINE_SERVER=%s LEDGERLINE_API_KEY=%s bin/ledgerline submissions list\n", base, keys[auth.RoleAuditor])
	fmt.Fprintln(out, "guides            docs/onboarding-templates.md, docs/writing-rules.md")
	fmt.Fprintln(out, "\nStill to come in this demo: lineage of a cell down to its events, replay and restatement.")
	return nil
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

// demoRules onboards the sample rule sets, waits for their backfill and shows a
// few October figures of the demo bank.
func demoRules(ctx context.Context, cmd *cobra.Command, r running) error {
	out := cmd.OutOrStdout()
	for _, name := range samplerules.Order {
		src, err := samplerules.FS.ReadFile(name)
		if err != nil {
			return err
		}
		o, err := r.rules.Onboard(ctx, src, "demo")
		if err != nil {
			return fmt.Errorf("onboard rules/%s: %w", name, err)
		}
		fmt.Fprintf(out, "rules/%-17s rule set %s v%d: %d figures\n", name, o.Ruleset, o.Version, len(o.Figures))
	}
	last, err := r.platform.Events.LastSeq(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := r.rules.WaitFor(wctx, last); err != nil {
		return err
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	fmt.Fprintf(out, "every rule set has processed the stream up to seq %d; figures for October 2026 (Europe/Berlin), in EUR:\n", last)
	for _, name := range []string{"own_funds", "tier1_capital", "total_credit_exposure", "large_exposure_threshold", "liquidity_coverage_ratio"} {
		f, err := r.rules.Figure(ctx, rules.FigureRequest{Name: name, Period: "2026-10", Location: berlin, Currency: "EUR"})
		if err != nil {
			fmt.Fprintf(out, "  %-26s %v\n", name, err)
			continue
		}
		detail := fmt.Sprintf("%s, %d contributions", f.Kind, f.Contributions)
		if len(f.Inputs) > 0 {
			detail = fmt.Sprintf("derived from %d figure%s", len(f.Inputs), map[bool]string{true: "", false: "s"}[len(f.Inputs) == 1])
		}
		if len(f.Conversions) > 0 {
			detail += fmt.Sprintf(", %d fx conversions", len(f.Conversions))
		}
		fmt.Fprintf(out, "  %-26s %22s  (%s)\n", name, f.Value, detail)
	}
	return nil
}

// demoFiling onboards the sample templates as one compliance key, shows the
// maker's own approval refused, approves as a second key, files 2026-Q4, signs it
// off and writes the files under the data dir. It answers the COREP filing's id.
func demoFiling(ctx context.Context, cmd *cobra.Command, r running, dataDir string) (string, error) {
	out := cmd.OutOrStdout()
	var keys [2]auth.Principal
	for i, name := range []string{"demo-compliance-maker", "demo-compliance-checker"} {
		_, p, err := r.platform.Keys.Create(ctx, name, []auth.Role{auth.RoleCompliance}, "demo")
		if err != nil {
			return "", err
		}
		keys[i] = p
	}
	_, runner, err := r.platform.Keys.Create(ctx, "demo-operator-runner", []auth.Role{auth.RoleOperator}, "demo")
	if err != nil {
		return "", err
	}
	var id string
	for _, name := range samplereports.Order {
		src, err := samplereports.FS.ReadFile(name + "/template.yaml")
		if err != nil {
			return "", err
		}
		layout, err := samplereports.FS.ReadFile(name + "/layout.xlsx")
		if err != nil {
			return "", err
		}
		o, err := r.reports.Onboard(ctx, src, layout, keys[0])
		if err != nil {
			return "", fmt.Errorf("onboard reports/%s: %w", name, err)
		}
		fmt.Fprintf(out, "reports/%s: template %s v%d %s (checked against the rule sets, layout workbook checked, dry run rendered)\n",
			name, o.ID, o.Version, o.Status)
		if _, err := r.reports.Approve(ctx, o.ID, o.Version, keys[0]); err != nil {
			fmt.Fprintf(out, "  approval by its maker refused: %v\n", err)
		}
		t, err := r.reports.Approve(ctx, o.ID, o.Version, keys[1])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(out, "  approved by %s: %s\n", t.ApprovedBy, t.Status)
		f, _, err := r.reports.File(ctx, reports.FileRequest{Template: o.ID, Period: "2026-Q4"}, runner)
		if err != nil {
			return "", fmt.Errorf("file %s: %w", o.ID, err)
		}
		fmt.Fprintf(out, "filing %s: as of seq %d, rule sets %v, %s\n", f.ID, f.AsOfSeq, f.RuleVersions, f.Status)
		for _, v := range f.Validations {
			fmt.Fprintf(out, "  validation %-6s %-8s %s\n", v.ID, v.Severity, map[bool]string{true: "passed", false: "FAILED " + v.Message}[v.Passed])
		}
		if f.SignOff {
			if f, err = r.reports.SignOff(ctx, f.ID, keys[1]); err != nil {
				return "", err
			}
			fmt.Fprintf(out, "  signed off by %s: %s\n", f.SignedOffBy, f.Status)
		}
		dir := filepath.Join(dataDir, "filings")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		for _, file := range f.Files {
			content, err := r.reports.FileContent(ctx, f.ID, file.Format)
			if err != nil {
				return "", err
			}
			path := filepath.Join(dir, f.ID+"."+file.Format)
			if err := os.WriteFile(path, content.Content, 0o644); err != nil {
				return "", err
			}
			abs, _ := filepath.Abs(path)
			fmt.Fprintf(out, "  %-5s %7d bytes  sha256 %s  %s\n", file.Format, file.Size, file.SHA256, abs)
		}
		for _, sh := range f.Report.Sheets {
			for _, c := range sh.Cells {
				fmt.Fprintf(out, "  %-8s %-14s %-6s %22s  %s\n", sh.Name, c.Code, c.At, c.Value.StringFixed(int32(f.Report.Decimals)), c.Label)
			}
		}
		if id == "" {
			id = f.ID
		}
	}
	return id, nil
}

// demoSubmit submits the filing to the regulator simulator and waits for its answer.
func demoSubmit(ctx context.Context, cmd *cobra.Command, r running, filingID string) error {
	out := cmd.OutOrStdout()
	_, op, err := r.platform.Keys.Create(ctx, "demo-operator-submitter", []auth.Role{auth.RoleOperator}, "demo")
	if err != nil {
		return err
	}
	sub, _, err := r.submit.Submit(ctx, filingID, op)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "submission %s via %s (%s)\n", sub.ID, sub.Channel, r.submit.SimURL)
	deadline := time.Now().Add(time.Minute)
	for !sub.Final && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if sub, err = r.submit.Get(ctx, sub.ID); err != nil {
			return err
		}
	}
	for _, a := range sub.History {
		fmt.Fprintf(out, "  attempt %d  %-7s %s\n", a.N, a.Action, a.Outcome)
	}
	if r.submit.Sim != nil {
		fmt.Fprintf(out, "  %s, receipt %s; the regulator has it once (deliveries for this key: %d)\n", sub.Status, sub.ReceiptID,
			r.submit.Sim.Deliveries()[sub.ID])
	} else {
		fmt.Fprintf(out, "  %s, receipt %s\n", sub.Status, sub.ReceiptID)
	}
	return nil
}
