package ruleset

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the monorepo root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

func mustEnv(t testing.TB) *celenv.Env {
	t.Helper()
	env, err := celenv.New()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// loadSamples parses every rules/*.yaml; figures may reference figures of the
// other files, as they can once those are onboarded.
func loadSamples(t *testing.T) map[string]*RuleSet {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "rules", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d rule sets in rules/, want at least 3", len(files))
	}
	srcs := map[string][]byte{}
	all := map[string]string{} // figure → file
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = src
		var names struct {
			Figures []struct{ Name string }
		}
		if err := yaml.Unmarshal(src, &names); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, fig := range names.Figures {
			if other, dup := all[fig.Name]; dup {
				t.Errorf("figure %s is defined in %s and %s", fig.Name, other, f)
			}
			all[fig.Name] = f
		}
	}
	env := mustEnv(t)
	out := map[string]*RuleSet{}
	for f, src := range srcs {
		rs, problems := Parse(src, env, func(name string) bool { _, ok := all[name]; return ok })
		for _, p := range problems {
			t.Errorf("%s:%s", filepath.Base(f), p)
		}
		if rs != nil {
			out[rs.Name] = rs
		}
	}
	return out
}

func TestSampleRuleSetsParse(t *testing.T) {
	sets := loadSamples(t)
	for _, name := range []string{"credit-risk", "liquidity", "own-funds"} {
		rs := sets[name]
		if rs == nil {
			t.Fatalf("rule set %s not found", name)
		}
		if rs.EffectiveFrom == "" || len(rs.Figures) == 0 || len(rs.Source) == 0 {
			t.Errorf("%s: incomplete %+v", name, rs)
		}
		for _, f := range rs.Figures {
			if f.ValueProg == nil || (f.Kind != KindDerived && f.WhenProg == nil) {
				t.Errorf("%s/%s: not compiled", name, f.Name)
			}
		}
	}
}

// contribution is what the rules consumer would record for one figure and event.
type contribution struct {
	figure, event, currency string
	dims                    map[string]string
	value                   decimal.Decimal
}

// TestSampleRuleSetsOnSampleEvents runs every non-derived figure of the sample
// rule sets over the demo bank's events, the way the consumer will.
func TestSampleRuleSetsOnSampleEvents(t *testing.T) {
	sets := loadSamples(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot, "schemas", "examples", "bank-2026-10.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var got []contribution
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		ev, err := celenv.NewEvent(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range sets {
			for _, f := range rs.Figures {
				if f.Kind == KindDerived {
					continue
				}
				ok, err := f.WhenProg.Bool(ev)
				if err != nil {
					t.Fatalf("%s when on %s: %v", f.Name, ev.ID(), err)
				}
				if !ok {
					continue
				}
				c := contribution{figure: f.Name, event: ev.ID(), dims: map[string]string{}}
				for _, d := range f.Dimensions {
					if c.dims[d.Name], err = d.Program.String(ev); err != nil {
						t.Fatalf("%s.%s on %s: %v", f.Name, d.Name, ev.ID(), err)
					}
				}
				if c.value, err = f.ValueProg.Decimal(ev); err != nil {
					t.Fatalf("%s value on %s: %v", f.Name, ev.ID(), err)
				}
				if f.CurrencyProg != nil {
					if c.currency, err = f.CurrencyProg.String(ev); err != nil {
						t.Fatalf("%s currency on %s: %v", f.Name, ev.ID(), err)
					}
				}
				got = append(got, c)
			}
		}
	}
	find := func(figure, event string) *contribution {
		for i := range got {
			if got[i].figure == figure && got[i].event == event {
				return &got[i]
			}
		}
		return nil
	}
	tests := []struct {
		figure, event, value, currency string
		dims                           map[string]string
	}{
		{"loan_exposure", "cb-2026-10-31-LN-1003", "8500000", "USD", map[string]string{"counterparty": "CP-1001", "exposure_class": "corporate"}},
		{"off_balance_exposure", "cb-2026-10-31-LN-1002", "3000000", "EUR", map[string]string{"counterparty": "CP-1002", "exposure_class": "corporate"}},
		{"off_balance_exposure", "cb-2026-10-31-LN-3002", "750", "EUR", map[string]string{"counterparty": "CP-2002", "exposure_class": "retail"}},
		{"security_exposure", "tr-2026-10-31-POS-BB-0004", "3600000", "EUR", map[string]string{"counterparty": "CP-1004", "portfolio": "banking_book"}},
		{"deposits", "cb-2026-10-31-DP-200201", "45000", "EUR", map[string]string{"category": "retail_stable", "insured": "insured"}},
		{"deposit_outflows", "cb-2026-10-31-DP-100102", "3000000", "EUR", map[string]string{"category": "non_operational_corporate"}},
		{"deposit_outflows", "cb-2026-10-31-DP-400401", "12000000", "EUR", map[string]string{"category": "financial_institution"}},
		{"hqla", "tr-2026-10-31-POS-LB-0002", "9820000", "EUR", map[string]string{"level": "2A"}},
		{"liquidity_buffer", "tr-2026-10-31-POS-LB-0002", "8347000", "EUR", map[string]string{"level": "2A"}},
		{"liquidity_buffer", "tr-2026-10-31-POS-LB-0003", "2445000", "EUR", map[string]string{"level": "2B"}},
		{"gl_balance", "gl-JE-2026-10-0001-07", "12000000", "EUR", map[string]string{"gl_account": "0400", "entity": "DEMOBANK-AG"}},
		{"tier1_capital", "gl-JE-2026-10-0001-03", "210000000", "EUR", map[string]string{"tier": "cet1", "gl_account": "3100"}},
		{"tier1_capital", "gl-JE-2026-10-0001-05", "50000000", "EUR", map[string]string{"tier": "at1", "gl_account": "3300"}},
		{"tier1_capital", "gl-JE-2026-10-0001-07", "-12000000", "EUR", map[string]string{"tier": "cet1", "gl_account": "0400"}},
		{"tier1_capital", "gl-JE-2026-10-0001-08", "-3500000", "EUR", map[string]string{"tier": "cet1", "gl_account": "0450"}},
		{"tier2_capital", "gl-JE-2026-10-0001-06", "40000000", "EUR", map[string]string{"gl_account": "2800"}},
		{"cet1_capital_instruments", "gl-JE-2026-10-0001-02", "35000000", "EUR", map[string]string{"gl_account": "3010"}},
		{"retained_earnings", "gl-JE-2026-10-0412-01", "4200000", "EUR", map[string]string{"gl_account": "3900"}},
		// Large exposures: per group of connected clients (the event's
		// group_id, else the counterparty) and counterparty.
		{"large_exposure", "cb-2026-10-31-LN-1003", "8500000", "USD", map[string]string{"group": "GRP-RHEINWERK", "counterparty": "CP-1001"}},
		// 4,000,000 outstanding + 6,000,000 undrawn × ccf 0.5
		{"large_exposure", "cb-2026-10-31-LN-1002", "7000000", "EUR", map[string]string{"group": "GRP-RHEINWERK", "counterparty": "CP-1002"}},
		// 2,500 + 7,500 undrawn × 0.1; no group: its own
		{"large_exposure", "cb-2026-10-31-LN-3002", "3250", "EUR", map[string]string{"group": "CP-2002", "counterparty": "CP-2002"}},
		{"large_exposure", "cb-2026-10-31-LN-3001", "320000", "EUR", map[string]string{"group": "CP-2001", "counterparty": "CP-2001"}},
		{"large_exposure", "tr-2026-10-31-POS-BB-0006", "4975000", "EUR", map[string]string{"group": "GRP-RHEINWERK", "counterparty": "CP-1002"}},
		// Securities by issuer, encumbered or not.
		{"large_exposure", "tr-2026-10-31-POS-LB-0005", "19610000", "EUR", map[string]string{"group": "CP-4001", "counterparty": "CP-4001"}},
	}
	for _, tt := range tests {
		c := find(tt.figure, tt.event)
		if c == nil {
			t.Errorf("%s: no contribution from %s", tt.figure, tt.event)
			continue
		}
		if c.value.String() != tt.value || c.currency != tt.currency || !mapsEqual(c.dims, tt.dims) {
			t.Errorf("%s from %s = %s %s %v, want %s %s %v", tt.figure, tt.event, c.value, c.currency, c.dims, tt.value, tt.currency, tt.dims)
		}
	}
	// The encumbered position is not in the buffer, and positions that are not
	// HQLA are not either.
	for _, id := range []string{"tr-2026-10-31-POS-LB-0005", "tr-2026-10-31-POS-BB-0004"} {
		if find("hqla", id) != nil || find("liquidity_buffer", id) != nil {
			t.Errorf("%s counted as HQLA", id)
		}
	}
	// Derived figures on naive sums of these contributions (the query layer
	// applies stock/flow semantics and currency conversion; the demo's own
	// funds are all EUR postings, summed in full as cumulative figures).
	sum := func(figure string, dims map[string]string) decimal.Decimal {
		total := decimal.Zero
		for _, c := range got {
			if c.figure != figure {
				continue
			}
			match := true
			for k, v := range dims {
				match = match && c.dims[k] == v
			}
			if match {
				total = total.Add(c.value)
			}
		}
		return total
	}
	lookup := func(name string, dims map[string]string) (decimal.Decimal, error) { return sum(name, dims), nil }
	// CET1: 120,000,000 + 35,000,000 + 210,000,000 + 18,000,000 + 4,200,000
	// (3000, 3010, 3100, 3200, 3900) - 12,000,000 (0400) - 3,500,000 (0450)
	// = 371,700,000; tier 1 adds 50,000,000 AT1 (3300): 421,700,000; own
	// funds add 40,000,000 tier 2 (2800): 461,700,000.
	for _, tt := range []struct{ set, figure, want string }{
		{"own-funds", "own_funds", "461700000"},
		{"own-funds", "cet1_capital", "371700000"},
		{"credit-risk", "large_exposure_threshold", "42170000"},
		{"credit-risk", "large_exposure_limit", "105425000"},
	} {
		f, ok := sets[tt.set].Figure(tt.figure)
		if !ok {
			t.Fatalf("%s: no figure %s", tt.set, tt.figure)
		}
		v, err := f.ValueProg.Derived(lookup)
		if err != nil || v.String() != tt.want {
			t.Errorf("%s = %v, %v; want %s", tt.figure, v, err, tt.want)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if bv, ok := b[k]; !ok || bv != a[k] {
			return false
		}
	}
	return true
}

// TestSampleLargeExposureDefaults checks the credit conversion factors
// large_exposure applies when a loan has no ccf, and that an undrawn
// commitment is optional.
func TestSampleLargeExposureDefaults(t *testing.T) {
	f, ok := loadSamples(t)["credit-risk"].Figure("large_exposure")
	if !ok {
		t.Fatal("no figure large_exposure")
	}
	for _, tt := range []struct{ product, undrawn, ccf, want string }{
		{"overdraft", "1000", "", "1100"},        // 1000 + 1000 × 0.1
		{"revolving_credit", "1000", "", "1500"}, // × 0.5
		{"term_loan", "1000", "", "2000"},        // × 1
		{"overdraft", "1000", "0.2", "1200"},     // the event's ccf wins
		{"term_loan", "", "", "1000"},            // no commitment
	} {
		data := `"loan_id":"L","counterparty_id":"CP","exposure_class":"corporate","product":"` + tt.product + `","outstanding":"1000","currency":"EUR"`
		if tt.undrawn != "" {
			data += `,"undrawn_commitment":"` + tt.undrawn + `"`
		}
		if tt.ccf != "" {
			data += `,"ccf":"` + tt.ccf + `"`
		}
		ev, err := celenv.NewEvent([]byte(`{"id":"e","source":"s","type":"loan.balance","schema_version":1,"subject":"L",` +
			`"occurred_at":"2026-10-31T18:00:00Z","data":{` + data + `}}`))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.ValueProg.Decimal(ev)
		if err != nil || v.String() != tt.want {
			t.Errorf("%s, undrawn %q, ccf %q: %v, %v; want %s", tt.product, tt.undrawn, tt.ccf, v, err, tt.want)
		}
		if d := f.Dimensions[0]; d.Name != "group" {
			t.Fatalf("first dimension %s, want group", d.Name)
		} else if g, err := d.Program.String(ev); err != nil || g != "CP" {
			t.Errorf("group of a loan without group_id = %q, %v; want its counterparty", g, err)
		}
	}
}
