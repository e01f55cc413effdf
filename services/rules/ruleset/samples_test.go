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
		{"tier2_capital", "gl-JE-2026-10-0001-06", "40000000", "EUR", map[string]string{"gl_account": "2800"}},
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
	for _, tt := range []struct{ set, figure, want string }{
		{"own-funds", "own_funds", "465200000"},
		{"own-funds", "cet1_capital", "375200000"},
		{"credit-risk", "large_exposure_threshold", "42520000"},
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
