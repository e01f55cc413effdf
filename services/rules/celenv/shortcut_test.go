package celenv

import (
	"fmt"
	"testing"
)

// TestShortcutsAgreeWithCEL evaluates each expression with its shortcut and
// through the interpreter alone, on events where the shortcut answers and on
// events where it must leave the answer to CEL (missing keys, other types,
// decimals that do not parse or overflow): the results and the error messages
// must be the same.
func TestShortcutsAgreeWithCEL(t *testing.T) {
	fast := mustEnv(t)
	slow, err := New(func(e *Env) { e.noShortcuts = true })
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]string{
		"loan": loanEvent,
		"odd types": `{"id":"e2","type":"loan.balance","subject":"LN-2","occurred_at":"2026-10-31T18:00:00Z",
			"data":{"counterparty_id":7,"currency":null,"outstanding":12.5,"undrawn_commitment":"1,000","ccf":"0.5",
			"product":{"name":"term"},"meta":{"region":"EU","rank":{"x":"deep"}}}}`,
		"missing keys": `{"id":"e3","type":"deposit.balance","subject":"D-1","occurred_at":"2026-10-31T18:00:00Z","data":{}}`,
		"huge": `{"id":"e4","type":"loan.balance","subject":"LN-4","occurred_at":"2026-10-31T18:00:00Z",
			"data":{"outstanding":"` + digits(90) + `","undrawn_commitment":"` + digits(90) + `","ccf":"` + digits(90) + `",
			"counterparty_id":"CP-\u00e9\"q\"","meta":{"region":"US"}}}`,
		"void": `{"id":"e5","type":"void","subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z","supersedes":"e1","data":null}`,
	}
	exprs := []struct {
		expr     string
		want     Kind
		shortcut bool // whether the expression has a shortcut at all
	}{
		{`event.type == "loan.balance"`, KindBool, true},
		{`"loan.balance" != event.type`, KindBool, true},
		{`event.data.counterparty_id == "CP-1002"`, KindBool, true},
		{`event.data.meta.region == event.data.counterparty_id`, KindBool, true},
		{`event.supersedes == "e1"`, KindBool, true},
		{`event.schema_version == 1`, KindBool, false},
		{`has(event.data.outstanding)`, KindBool, false},
		{`event.data.counterparty_id`, KindString, true},
		{`event.data["counterparty_id"]`, KindString, true},
		{`event["data"]["meta"].region`, KindString, true},
		{`event.data.meta.rank.x`, KindString, true},
		{`event.data.meta`, KindString, true},
		{`event.data.currency`, KindString, true},
		{`event.subject`, KindString, true},
		{`event.source`, KindString, true},
		{`event.id`, KindString, true},
		{`event.data.product`, KindString, true},
		{`event.subject + "/" + event.source`, KindString, false},
		{`decimal(event.data.outstanding)`, KindDecimal, true},
		{`decimal(event.data.undrawn_commitment) * decimal(event.data.ccf)`, KindDecimal, true},
		{`decimal(event.data.outstanding) - decimal("100.5") + decimal(event.data.ccf)`, KindDecimal, true},
		{`decimal(event.data.outstanding) * decimal(event.data.undrawn_commitment) * decimal(event.data.ccf) * decimal(event.data.outstanding) * decimal(event.data.undrawn_commitment) * decimal(event.data.ccf) * decimal(event.data.outstanding) * decimal(event.data.undrawn_commitment) * decimal(event.data.ccf) * decimal(event.data.outstanding) * decimal(event.data.undrawn_commitment) * decimal(event.data.ccf)`, KindDecimal, true},
		{`decimal(event.data.outstanding) / decimal("3")`, KindDecimal, false},
		{`decimal(event.data.?ccf.orValue("1"))`, KindDecimal, false},
	}
	answered := 0
	for _, x := range exprs {
		pf, err := fast.Compile(x.expr, x.want, false)
		if err != nil {
			t.Fatalf("%s: %v", x.expr, err)
		}
		ps, err := slow.Compile(x.expr, x.want, false)
		if err != nil {
			t.Fatalf("%s: %v", x.expr, err)
		}
		if (pf.fast != nil) != x.shortcut {
			t.Errorf("%s: has a shortcut = %v, want %v", x.expr, pf.fast != nil, x.shortcut)
		}
		if ps.fast != nil {
			t.Fatalf("%s: a shortcut in the environment without them", x.expr)
		}
		for name, raw := range events {
			ev := mustEvent(t, raw)
			if pf.fast != nil {
				if _, ok := pf.fast.eval(ev); ok {
					answered++
				}
			}
			got, want := result(pf, ev), result(ps, ev)
			if got != want {
				t.Errorf("%s on %s:\n shortcut    %s\n interpreter %s", x.expr, name, got, want)
			}
		}
	}
	// Both the shortcut's answers and its refusals were compared.
	if answered < 40 {
		t.Errorf("the shortcuts answered %d times; the test means to compare many answers", answered)
	}
}

// result is what a program gives on an event, as text: its value, or its error.
func result(p *Program, ev *Event) string {
	var v any
	var err error
	switch p.want {
	case KindBool:
		v, err = p.Bool(ev)
	case KindString:
		v, err = p.String(ev)
	case KindDecimal:
		var d interface{ String() string }
		dd, e := p.Decimal(ev)
		d, err = dd, e
		if err == nil {
			v = fmt.Sprintf("%s (exp %d)", d.String(), dd.Exponent())
		}
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%T %v", v, v)
}

func digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '9'
	}
	return string(b)
}
