package consumer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/ledgerline/ledgerline/services/rules/ruleset"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

const evaluateRules = `
ruleset: t
effective_from: "2026-01"
figures:
  - name: undrawn
    kind: stock
    when: event.type == "loan.balance" && has(event.data.undrawn_commitment)
    dimensions:
      cls: event.data.exposure_class
      product: event.data.product
    value: decimal(event.data.undrawn_commitment)
    currency: event.data.currency
  - name: undrawn_flow
    kind: flow
    when: event.type == "loan.balance" && has(event.data.undrawn_commitment)
    value: decimal(event.data.undrawn_commitment)
  - name: anything
    kind: stock
    when: has(event.data.undrawn_commitment)
    value: decimal(1)
`

func loanEvent(data string) []byte {
	return []byte(`{"id":"e1","type":"loan.balance","subject":"L1","occurred_at":"2026-10-05T12:00:00Z","data":{` + data + `}}`)
}

// TestTombstones: an event a stock figure concerns but does not match is a
// tombstone (value 0, the dimensions that evaluate); a flow figure, or a stock
// figure whose types exclude the event, writes nothing for it; an event that
// matches writes its contributions and nothing else.
func TestTombstones(t *testing.T) {
	env, err := celenv.New()
	if err != nil {
		t.Fatal(err)
	}
	rs, problems := ruleset.Parse([]byte(evaluateRules), env, nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	v := NewVersion("t", 1, rs)
	describe := func(b store.Batch) string {
		var out []string
		for _, c := range b.Contributions {
			out = append(out, fmt.Sprintf("%s %v %s %s stops=%v", c.Figure, c.Dims, c.Value, c.Currency, c.StopsCounting))
		}
		return strings.Join(out, "; ")
	}
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"matches every rule", loanEvent(`"exposure_class":"retail","product":"overdraft","undrawn_commitment":"5","currency":"EUR"`),
			"undrawn [{cls retail} {product overdraft}] 5 EUR stops=false; undrawn_flow [] 5  stops=false; anything [] 1  stops=false"},
		{"no undrawn commitment", loanEvent(`"exposure_class":"retail","product":"overdraft","currency":"EUR"`),
			"undrawn [{cls retail} {product overdraft}] 0  stops=true; anything [] 0  stops=true"},
		{"a dimension that fails is left out", loanEvent(`"exposure_class":"retail"`),
			"undrawn [{cls retail}] 0  stops=true; anything [] 0  stops=true"},
		{"another type", []byte(`{"id":"e2","type":"payment","subject":"L1","occurred_at":"2026-10-05T12:00:00Z","data":{}}`),
			"anything [] 0  stops=true"},
	}
	for _, tt := range tests {
		var b store.Batch
		v.Evaluate(7, tt.raw, &b)
		if len(b.Failures) > 0 {
			t.Errorf("%s: failures %+v", tt.name, b.Failures)
		}
		if got := describe(b); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}
