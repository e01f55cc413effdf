package celenv_test

import (
	"fmt"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/shopspring/decimal"
)

func Example() {
	env, err := celenv.New()
	if err != nil {
		panic(err)
	}
	when, _ := env.Compile(`event.type == "loan.balance" && has(event.data.undrawn_commitment)`, celenv.KindBool, false)
	value, _ := env.Compile(`decimal(event.data.undrawn_commitment) * decimal(event.data.?ccf.orValue("1"))`, celenv.KindDecimal, false)
	counterparty, _ := env.Compile(`event.data.counterparty_id`, celenv.KindString, false)

	ev, err := celenv.NewEvent([]byte(`{"id":"cb-2026-10-31-LN-1002","source":"core-banking","type":"loan.balance",
		"schema_version":1,"subject":"LN-1002","occurred_at":"2026-10-31T18:00:00Z",
		"data":{"loan_id":"LN-1002","counterparty_id":"CP-1002","exposure_class":"corporate","product":"revolving_credit",
		"outstanding":"4000000.00","undrawn_commitment":"6000000.00","ccf":"0.5","currency":"EUR"}}`))
	if err != nil {
		panic(err)
	}
	if ok, _ := when.Bool(ev); ok {
		v, _ := value.Decimal(ev)
		cp, _ := counterparty.String(ev)
		fmt.Println(cp, v)
	}

	_, err = env.Compile(`decimal(event.data.outstanding) * 0.5`, celenv.KindDecimal, false)
	fmt.Println(err)
	// Output:
	// CP-1002 3000000
	// 1:33: found no matching overload for '_*_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")
}

func ExampleProgram_Derived() {
	env, _ := celenv.New()
	threshold, err := env.Compile(`round(figure("tier1_capital") * decimal("0.10"), 2)`, celenv.KindDecimal, true)
	if err != nil {
		panic(err)
	}
	fmt.Println(threshold.FigureRefs())
	v, _ := threshold.Derived(func(name string, dims map[string]string) (decimal.Decimal, error) {
		return decimal.RequireFromString("421234567.891"), nil // the query layer's figure
	})
	fmt.Println(v)
	// Output:
	// [tier1_capital]
	// 42123456.79
}
