package ruleset_test

import (
	"fmt"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/ledgerline/ledgerline/services/rules/ruleset"
)

func ExampleParse() {
	env, err := celenv.New()
	if err != nil {
		panic(err)
	}
	src := []byte(`ruleset: credit-risk
effective_from: "2026-01"
figures:
  - name: loan_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
    value: decimal(event.data.outstanding) * 1.0
    currency: event.data.currency
  - name: large_exposure_threshold
    kind: derived
    value: figure("tier1_capital") * decimal("0.10")
`)
	_, problems := ruleset.Parse(src, env, nil)
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// 9:44: figure loan_exposure: value: CEL 1:33: found no matching overload for '_*_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")
	// 13:19: figure large_exposure_threshold: value: CEL 1:8: unknown figure "tier1_capital"
}
