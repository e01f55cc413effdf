package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/demobank"
	"github.com/ledgerline/ledgerline/platform/auth"
	samplereports "github.com/ledgerline/ledgerline/reports"
	samplerules "github.com/ledgerline/ledgerline/rules"
	"github.com/ledgerline/ledgerline/services/ingest"
	ingeststore "github.com/ledgerline/ledgerline/services/ingest/store"
	"github.com/ledgerline/ledgerline/services/reports"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/rules"
	submissionstore "github.com/ledgerline/ledgerline/services/submission/store"
)

// demoOptions size the demo bank's generated data.
type demoOptions struct {
	demobank.Options
	Timeout time.Duration // how long to wait for the rules and the regulator
}

// story is one run of the demo's walkthrough: the platform it drives, the keys
// it made and what it filed.
type story struct {
	cmd     *cobra.Command
	out     io.Writer
	r       running
	base    string
	dataDir string
	opt     demoOptions
	data    demobank.Dataset

	secrets map[string]string         // key name → secret, printed for the reader to explore
	keys    map[string]auth.Principal // key name → principal
	filings []reportsstore.Filing     // as filed, in template order
	amended []reports.Restatement
	subs    []submissionstore.Submission
}

// The story's keys: two compliance officers (maker and checker), the operator
// who runs filings and submissions, the systems that send events, an auditor.
const (
	keySource  = "demo-source"
	keyMaker   = "demo-compliance-maker"
	keyChecker = "demo-compliance-checker"
	keyOp      = "demo-operator"
	keyAuditor = "demo-auditor"
)

func (s *story) section(title string) { fmt.Fprintf(s.out, "\n== %s\n", title) }

func (s *story) printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

// demoStory is what `make demo` shows: a quarter of a bank's reporting, from
// its systems' events to filings at the regulator, a late correction, the
// restatement, the lineage of a number and the replay of a past filing.
func demoStory(ctx context.Context, cmd *cobra.Command, r running, dataDir string, opt demoOptions) error {
	s := &story{cmd: cmd, out: cmd.OutOrStdout(), r: r, base: "http://" + r.addr, dataDir: dataDir, opt: opt,
		secrets: map[string]string{}, keys: map[string]auth.Principal{}}
	steps := []struct {
		title string
		run   func(context.Context) error
	}{
		{"1. API keys: the sending systems, two compliance officers, an operator, an auditor", s.makeKeys},
		{"2. Compliance onboards the reporting pack: rule sets, then templates (one officer makes, another approves)", s.onboard},
		{"3. Demo Bank AG's systems send the quarter's events", s.push},
		{"4. Bad input is refused with a reason naming the field, and kept in quarantine", s.quarantine},
		{"5. The rules turn the events into figures (CEL, exact decimals, one contribution row per event)", s.figures},
		{"6. The quarter's filings: built at a watermark, validated, signed off, rendered", s.file},
		{"7. The filings go to the regulator (the bundled simulator), exactly once each", s.submitOriginals},
		{"8. After filing, a late correction arrives", s.late},
		{"9. Restatement: the amended filings and what changed, cell by cell, with the events behind each change", s.restate},
		{"10. Lineage: one large exposure, from the reported cell down to its events", s.lineage},
		{"11. Replay: the original filing re-derived from the stream today gives the same bytes", s.replay},
		{"12. Submission receipts", s.receipts},
	}
	for _, st := range steps {
		s.section(st.title)
		if err := st.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.title, err)
		}
	}
	s.explore()
	return nil
}

func (s *story) makeKeys(ctx context.Context) error {
	for _, k := range []struct {
		name string
		role auth.Role
	}{
		{keySource, auth.RoleSource}, {keyMaker, auth.RoleCompliance}, {keyChecker, auth.RoleCompliance},
		{keyOp, auth.RoleOperator}, {keyAuditor, auth.RoleAuditor},
	} {
		secret, p, err := s.r.platform.Keys.Create(ctx, k.name, []auth.Role{k.role}, "demo")
		if err != nil {
			return err
		}
		s.secrets[k.name], s.keys[k.name] = secret, p
		s.printf("  %-24s role %s\n", k.name, k.role)
	}
	return nil
}

func (s *story) onboard(ctx context.Context) error {
	for _, name := range samplerules.Order {
		src, err := samplerules.FS.ReadFile(name)
		if err != nil {
			return err
		}
		o, err := s.r.rules.Onboard(ctx, src, keyMaker)
		if err != nil {
			return fmt.Errorf("onboard rules/%s: %w", name, err)
		}
		s.printf("  rules/%-20s rule set %s v%d, %d figures, every CEL expression type-checked\n", name, o.Ruleset, o.Version, len(o.Figures))
	}
	for _, name := range samplereports.Order {
		src, err := samplereports.FS.ReadFile(name + "/template.yaml")
		if err != nil {
			return err
		}
		layout, err := samplereports.FS.ReadFile(name + "/layout.xlsx")
		if err != nil {
			return err
		}
		o, err := s.r.reports.Onboard(ctx, src, layout, s.keys[keyMaker])
		if err != nil {
			return fmt.Errorf("onboard reports/%s: %w", name, err)
		}
		s.printf("  reports/%-22s template %s v%d %s by %s (figures checked against the rule sets, layout workbook checked, dry run rendered)\n",
			name, o.ID, o.Version, o.Status, keyMaker)
		if _, err := s.r.reports.Approve(ctx, o.ID, o.Version, s.keys[keyMaker]); err == nil {
			return fmt.Errorf("template %s was approved by its own maker", o.ID)
		} else {
			s.printf("      approval by its maker refused: %v\n", err)
		}
		t, err := s.r.reports.Approve(ctx, o.ID, o.Version, s.keys[keyChecker])
		if err != nil {
			return err
		}
		s.printf("      approved by %s: %s\n", keyChecker, t.Status)
	}
	return nil
}

func (s *story) push(ctx context.Context) error {
	o := s.opt.Options
	started := time.Now()
	data, err := demobank.Generate(o)
	if err != nil {
		return err
	}
	s.data = data
	sum := data.Summary
	s.printf("  generated with `ledgerline demo generate --seed %d --counterparties %d --loans %d --period %s` in %s:\n",
		o.Seed, o.Counterparties, o.Loans, o.Period, time.Since(started).Round(time.Millisecond))
	s.printf("  %d events: %s\n", len(data.Events), byType(sum.ByType))
	s.printf("  among them %d corrections, %d void, %d late, %d out of order, %d at a period edge where Berlin and UTC disagree, %d invalid\n",
		sum.Corrections, sum.Voids, sum.Late, sum.OutOfOrder, sum.Edge, len(data.Invalid))
	var body bytes.Buffer
	for _, e := range data.Events {
		body.Write(e)
		body.WriteByte('\n')
	}
	path := filepath.Join(s.dataDir, "events-"+o.Period+".ndjson")
	if err := os.WriteFile(path, body.Bytes(), 0o644); err != nil {
		return err
	}
	return demoPush(ctx, s.cmd, newClient(s.base, s.secrets[keySource]), path, body.Bytes())
}

// byType is "12 counterparty, 400 loan.balance, ..." in a stable order.
func byType(m map[string]int) string {
	types := make([]string, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%d %s", m[t], t)
	}
	return strings.Join(parts, ", ")
}

func (s *story) quarantine(ctx context.Context) error {
	var page struct{ Entries []ingeststore.QuarantineEntry }
	if err := newClient(s.base, s.secrets[keyOp]).do(ctx, http.MethodGet, "/v1/quarantine?limit=100", "", nil, &page); err != nil {
		return err
	}
	for i := len(page.Entries) - 1; i >= 0; i-- {
		e := page.Entries[i]
		s.printf("  #%-3d %-24s %s\n", e.ID, orDash(e.Code), e.Reason)
	}
	s.printf("  an operator fixes the sending system and re-submits them: bin/ledgerline quarantine list, quarantine resubmit ID\n")
	return nil
}

func (s *story) figures(ctx context.Context) error {
	if _, err := s.r.ingest.CatchUp(ctx); err != nil {
		return err
	}
	var st ingest.StreamState
	if err := newClient(s.base, s.secrets[keyOp]).do(ctx, http.MethodGet, "/v1/stream", "", nil, &st); err != nil {
		return err
	}
	s.printf("  event stream %s: %d events, seq %d..%d, kept for ever\n", st.Stream, st.Messages, st.FirstSeq, st.LastSeq)
	started := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	if err := s.r.rules.WaitFor(wctx, st.LastSeq); err != nil {
		return err
	}
	s.printf("  every rule set has processed the stream up to seq %d (%s after the last event)\n", st.LastSeq, time.Since(started).Round(time.Millisecond))
	loc, _ := time.LoadLocation("Europe/Berlin")
	s.printf("  figures for %s (Europe/Berlin), in EUR:\n", s.opt.Period)
	for _, name := range []string{"own_funds", "tier1_capital", "large_exposure_threshold", "large_exposure_limit", "liquidity_coverage_ratio"} {
		f, err := s.r.rules.Figure(ctx, rules.FigureRequest{Name: name, Period: s.opt.Period, Location: loc, Currency: "EUR"})
		if err != nil {
			s.printf("    %-26s %v\n", name, err)
			continue
		}
		detail := fmt.Sprintf("%s, %d contributions", f.Kind, f.Contributions)
		if len(f.Inputs) > 0 {
			detail = "derived from " + strings.Join(figureNames(f.Inputs), ", ")
		}
		s.printf("    %-26s %22s  (%s)\n", name, f.Value, detail)
	}
	return nil
}

func figureNames(fs []rules.Figure) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return names
}

// periodFor is the period a template files for the demo's quarter: the quarter
// itself, or its last month for a monthly template.
func (s *story) periodFor(frequency string) string {
	if frequency != "monthly" || !strings.Contains(s.opt.Period, "-Q") {
		return s.opt.Period
	}
	var year, q int
	fmt.Sscanf(s.opt.Period, "%d-Q%d", &year, &q)
	return fmt.Sprintf("%d-%02d", year, q*3)
}

func (s *story) file(ctx context.Context) error {
	for _, name := range samplereports.Order {
		src, err := samplereports.FS.ReadFile(name + "/template.yaml")
		if err != nil {
			return err
		}
		var t struct {
			Frequency string `yaml:"frequency"`
		}
		if err := yaml.Unmarshal(src, &t); err != nil {
			return fmt.Errorf("reports/%s/template.yaml: %w", name, err)
		}
		f, _, err := s.r.reports.File(ctx, reports.FileRequest{Template: name, Period: s.periodFor(t.Frequency)}, s.keys[keyOp])
		if err != nil {
			return fmt.Errorf("file %s: %w", name, err)
		}
		if f.SignOff {
			if f, err = s.r.reports.SignOff(ctx, f.ID, s.keys[keyChecker]); err != nil {
				return err
			}
		}
		s.printFiling(f)
		if err := s.writeFiles(ctx, f); err != nil {
			return err
		}
		s.filings = append(s.filings, f)
	}
	return nil
}

func (s *story) printFiling(f reportsstore.Filing) {
	s.printf("\n  filing %s: %s, as of seq %d, rule sets %s, %s", f.ID, f.Report.Name, f.AsOfSeq, ruleVersionsText(f.RuleVersions), f.Status)
	if f.SignedOffBy != "" {
		s.printf(", signed off by %s", f.SignedOffBy)
	}
	s.printf("\n")
	for _, v := range f.Validations {
		result := "passed"
		if !v.Passed {
			result = "FAILED: " + v.Message
		}
		s.printf("    validation %-6s %-8s %s\n", v.ID, v.Severity, result)
	}
	dec := int32(f.Report.Decimals)
	for _, sh := range f.Report.Sheets {
		for _, c := range sh.Cells {
			s.printf("    %-8s %-14s %-5s %22s  %s\n", sh.Name, c.Code, c.At, c.Value.StringFixed(dec), c.Label)
		}
		for _, tb := range sh.Tables {
			s.printf("    %-8s %-14s %-5s %s (%d rows)\n", sh.Name, tb.Code, tb.At, tb.Label, len(tb.Rows))
			for i, row := range tb.Rows {
				if i == 5 {
					s.printf("    %37s ... %d more\n", "", len(tb.Rows)-5)
					break
				}
				s.printf("    %27s row %-3d %22s  %s\n", "", i+1, row.Value.StringFixed(dec), strings.Join(row.Dims, " / "))
			}
		}
	}
}

// writeFiles writes a filing's files under the data dir's filings/.
func (s *story) writeFiles(ctx context.Context, f reportsstore.Filing) error {
	dir := filepath.Join(s.dataDir, "filings")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, file := range f.Files {
		content, err := s.r.reports.FileContent(ctx, f.ID, file.Format)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, f.ID+"."+file.Format)
		if err := os.WriteFile(path, content.Content, 0o644); err != nil {
			return err
		}
		abs, _ := filepath.Abs(path)
		s.printf("    %-5s %8d bytes  sha256 %.16s…  %s\n", file.Format, file.Size, file.SHA256, abs)
	}
	return nil
}

// submit submits a filing and waits for the regulator's answer.
func (s *story) submit(ctx context.Context, filingID string) error {
	sub, _, err := s.r.submit.Submit(ctx, filingID, s.keys[keyOp])
	if err != nil {
		return err
	}
	deadline := time.Now().Add(s.opt.Timeout)
	for !sub.Final && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if sub, err = s.r.submit.Get(ctx, sub.ID); err != nil {
			return err
		}
	}
	if !sub.Final {
		return fmt.Errorf("submission %s of %s still %s after %s", sub.ID, filingID, sub.Status, s.opt.Timeout)
	}
	amends := ""
	if sub.AmendsReceipt != "" {
		amends = ", amending receipt " + sub.AmendsReceipt
	}
	s.printf("  %-42s via %s: %s, receipt %s%s\n", filingID, sub.Channel, sub.Status, sub.ReceiptID, amends)
	s.subs = append(s.subs, sub)
	return nil
}

func (s *story) submitOriginals(ctx context.Context) error {
	for _, f := range s.filings {
		if err := s.submit(ctx, f.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *story) late(ctx context.Context) error {
	var body bytes.Buffer
	for _, e := range s.data.Late {
		body.Write(e)
		body.WriteByte('\n')
		var env struct {
			ID         string          `json:"id"`
			Type       string          `json:"type"`
			Subject    string          `json:"subject"`
			OccurredAt string          `json:"occurred_at"`
			Supersedes string          `json:"supersedes"`
			Data       json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(e, &env); err != nil {
			return err
		}
		what := ""
		if env.Supersedes != "" {
			what = ", correcting " + env.Supersedes
		}
		s.printf("  %s %s %s, occurred %s%s\n", env.ID, env.Type, env.Subject, env.OccurredAt, what)
	}
	path := filepath.Join(s.dataDir, "late-"+s.opt.Period+".ndjson")
	if err := os.WriteFile(path, body.Bytes(), 0o644); err != nil {
		return err
	}
	if err := demoPush(ctx, s.cmd, newClient(s.base, s.secrets[keySource]), path, body.Bytes()); err != nil {
		return err
	}
	last, err := s.r.platform.Events.LastSeq(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	if err := s.r.rules.WaitFor(wctx, last); err != nil {
		return err
	}
	for _, e := range s.data.Late {
		var env struct{ ID string }
		_ = json.Unmarshal(e, &env)
		im, err := s.r.reports.EventImpact(ctx, env.ID)
		if err != nil {
			return err
		}
		s.printf("  impact of %s (seq %d): %d filed amounts would change\n", env.ID, im.Seq, len(im.WouldChange))
		for i, c := range im.WouldChange {
			if i == 4 {
				s.printf("    ... %d more\n", len(im.WouldChange)-4)
				break
			}
			row := ""
			if c.Row > 0 {
				row = fmt.Sprintf(" row %d", c.Row)
			}
			s.printf("    %s %s%s (%s), filed %s\n", c.Filing, c.Code, row, c.Figure, c.Value)
		}
	}
	return nil
}

func (s *story) restate(ctx context.Context) error {
	for _, f := range s.filings {
		rs, err := s.r.reports.Restate(ctx, f.ID, s.keys[keyOp])
		if err != nil {
			return fmt.Errorf("restate %s: %w", f.ID, err)
		}
		if len(rs.Changes) == 0 {
			s.printf("  %s: the late events change none of its amounts; no amendment needed\n", f.ID)
			continue
		}
		amended := rs.Amended
		if amended.SignOff {
			if amended, err = s.r.reports.SignOff(ctx, amended.ID, s.keys[keyChecker]); err != nil {
				return err
			}
			rs.Amended = amended
		}
		s.printf("\n  %s amends %s (as of seq %d instead of %d), %s\n", amended.ID, f.ID, rs.NewAsOfSeq, rs.OldAsOfSeq, amended.Status)
		s.printf("    %-22s %-5s %22s %22s %20s  %s\n", "cell", "at", "filed", "restated", "change", "because of")
		for _, c := range rs.Changes {
			code := c.Code
			if c.Row > 0 {
				code = fmt.Sprintf("%s row %d", c.Code, c.Row)
			}
			ids := make([]string, len(c.Events))
			for i, e := range c.Events {
				ids[i] = fmt.Sprintf("%s (seq %d, %s)", e.ID, e.Seq, e.Effect)
			}
			s.printf("    %-22s %-5s %22s %22s %20s  %s\n", code, c.At, c.Old, c.New, c.Delta, strings.Join(ids, "; "))
		}
		if err := s.writeFiles(ctx, amended); err != nil {
			return err
		}
		s.amended = append(s.amended, rs)
	}
	return nil
}

// lineage traces the first row of the large exposures table of the original
// filing: the group of connected clients with the largest exposure.
func (s *story) lineage(ctx context.Context) error {
	var (
		filingID, code string
		found          bool
	)
	for _, f := range s.filings {
		for _, sh := range f.Report.Sheets {
			for _, tb := range sh.Tables {
				if len(tb.Rows) > 0 && strings.Contains(tb.Code, "large_exposures") && !found {
					filingID, code, found = f.ID, tb.Code, true
				}
			}
		}
	}
	if !found {
		return fmt.Errorf("no filing has a large exposures row to trace")
	}
	c, err := s.r.reports.FiledCell(ctx, filingID, code, 1)
	if err != nil {
		return err
	}
	// Printed as `ledgerline lineage` prints it: the same views, filled from
	// the service's answer through its JSON.
	var cell cellLineageView
	if err := viewOf(c, &cell); err != nil {
		return err
	}
	printCellLineage(s.out, cell)
	page, err := s.r.reports.CellContributions(ctx, filingID, code, 1, "", 10)
	if err != nil {
		return err
	}
	var view contributionPageView
	if err := viewOf(page, &view); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "the events behind it, as of seq %d (newest first):\n", page.AsOfSeq)
	if err := printContributions(s.out, view.Contributions); err != nil {
		return err
	}
	kinds := map[string]int{}
	for _, ct := range page.Contributions {
		var env struct {
			Type   string `json:"type"`
			Source string `json:"source"`
		}
		_ = json.Unmarshal(ct.Event, &env)
		kinds[fmt.Sprintf("%s events from %s", env.Type, env.Source)]++
	}
	s.printf("  that is %s; the full envelopes: bin/ledgerline lineage FILING CODE --row 1 --contributions --json, or GET /v1/events/{id}\n", byType(kinds))
	if page.NextCursor != "" {
		s.printf("  ... more pages: bin/ledgerline lineage %s %s --row 1 --contributions --all\n", filingID, code)
	}
	return nil
}

// viewOf fills a CLI view from a service answer through its JSON, as the CLI
// would read it from the API.
func viewOf(v, view any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, view)
}

func (s *story) replay(ctx context.Context) error {
	for _, f := range s.filings {
		rp, err := s.r.reports.Replay(ctx, f.ID)
		if err != nil {
			return err
		}
		verdict := "every file identical (SHA-256)"
		if !rp.Matches {
			verdict = "DIFFERS"
			if rp.Difference != nil {
				verdict += fmt.Sprintf(": %s row %d stored %s, replayed %s", rp.Difference.Code, rp.Difference.Row, rp.Difference.Stored, rp.Difference.Now)
			}
		}
		s.printf("  %-42s as of seq %d, rule sets %s: %s (%s)\n", f.ID, rp.AsOfSeq, ruleVersionsText(rp.RuleVersions), verdict, rp.Took)
		if !rp.Matches {
			return fmt.Errorf("replay of %s does not match the stored filing", f.ID)
		}
	}
	return nil
}

func (s *story) receipts(ctx context.Context) error {
	for _, rs := range s.amended {
		if err := s.submit(ctx, rs.Amended.ID); err != nil {
			return err
		}
	}
	s.printf("\n  %-42s %-10s %-28s %s\n", "filing", "status", "receipt", "received by the regulator")
	for _, sub := range s.subs {
		at := ""
		if sub.ReceivedAt != nil {
			at = sub.ReceivedAt.UTC().Format(time.RFC3339)
		}
		s.printf("  %-42s %-10s %-28s %s\n", sub.FilingID, sub.Status, sub.ReceiptID, at)
	}
	if s.r.submit.Sim != nil {
		d := s.r.submit.Sim.Deliveries()
		once := 0
		for _, sub := range s.subs {
			if d[sub.ID] == 1 {
				once++
			}
		}
		s.printf("  the simulator at %s received each of the %d submissions %s\n", s.r.submit.SimURL, len(s.subs),
			map[bool]string{true: "exactly once", false: fmt.Sprintf("(only %d exactly once)", once)}[once == len(s.subs)])
	}
	return nil
}

func (s *story) explore() {
	s.section("Explore")
	dir, _ := filepath.Abs(s.dataDir)
	env := func(key string) string {
		return fmt.Sprintf("LEDGERLINE_SERVER=%s LEDGERLINE_API_KEY=%s", s.base, s.secrets[key])
	}
	s.printf("  files             %s\n", filepath.Join(dir, "filings"))
	s.printf("  events sent       %s, %s\n", filepath.Join(dir, "events-"+s.opt.Period+".ndjson"), filepath.Join(dir, "late-"+s.opt.Period+".ndjson"))
	s.printf("  data dir          %s (JetStream store in nats/, PostgreSQL log in postgres.log)\n", dir)
	s.printf("  API               %s (health /healthz, readiness /readyz, metrics /metrics; spec api/openapi.yaml)\n", s.base)
	s.printf("  as the auditor:   export %s\n", env(keyAuditor))
	if len(s.filings) > 0 {
		f := s.filings[0].ID
		s.printf("                    bin/ledgerline filings get %s\n", f)
		s.printf("                    bin/ledgerline replay %s\n", f)
	}
	for _, rs := range s.amended {
		s.printf("                    bin/ledgerline filings get %s   (the amendment of %s)\n", rs.Amended.ID, rs.Original)
	}
	s.printf("                    bin/ledgerline submissions list\n")
	s.printf("  as an operator:   export %s\n", env(keyOp))
	s.printf("                    bin/ledgerline quarantine list\n")
	s.printf("  guides            docs/sending-events.md, docs/writing-rules.md, docs/onboarding-templates.md,\n")
	s.printf("                    docs/submitting-filings.md, docs/auditing.md, docs/operations.md\n")
}
