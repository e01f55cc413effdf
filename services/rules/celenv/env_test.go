package celenv

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
)

// loanEvent is a real loan.balance event of the demo bank.
const loanEvent = loanBalance

func TestCompileErrors(t *testing.T) {
	env := mustEnv(t)
	const fields = "(fields: id, source, type, schema_version, subject, occurred_at, data, supersedes)"
	tests := []struct {
		name    string
		expr    string
		want    Kind
		derived bool
		err     string
	}{
		{"decimal times double", `decimal("1.5") * 1.5`, KindDecimal, false,
			`1:16: found no matching overload for '_*_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`},
		{"decimal from double", `decimal(0.5)`, KindDecimal, false,
			`1:8: found no matching overload for 'decimal' applied to '(double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`},
		{"double on a second line", "decimal(\"1\") +\n  2.0", KindDecimal, false,
			`1:14: found no matching overload for '_+_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`},
		{"decimal equals int", `decimal("1") == 1`, KindBool, false,
			`1:14: found no matching overload for '_==_' applied to '(decimal, int)': compare a decimal with a decimal, e.g. x == decimal(0)`},
		{"envelope typo", `event.tpye == "loan.balance"`, KindBool, false, `1:6: event has no field "tpye" ` + fields},
		{"envelope typo by index", `event["subjct"]`, KindString, false, `1:7: event has no field "subjct" ` + fields},
		{"envelope typo in has", `has(event.suppersedes)`, KindBool, false, `1:4: event has no field "suppersedes" ` + fields},
		{"figure outside derived", `figure("a")`, KindDecimal, false,
			`1:7: undeclared reference to 'figure': figure() is only available in derived figures`},
		{"event in derived", `decimal(event.data.x)`, KindDecimal, true,
			`1:9: undeclared reference to 'event': a derived figure is computed from other figures, not from events`},
		{"figure name not literal", `figure("a" + "b")`, KindDecimal, true,
			`1:12: figure(): the figure name must be a string literal, e.g. figure("tier1_capital")`},
		{"figure dims not strings", `figure("a", {"x": 1})`, KindDecimal, true,
			`1:7: found no matching overload for 'figure' applied to '(string, map(string, int))'`},
		{"syntax", "event.type == \"a\" &&\n  event.data.x +", KindBool, false,
			`2:17: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`},
		{"unknown function", `lower(event.type) == "x"`, KindBool, false, `1:6: undeclared reference to 'lower' (did you mean 'lowerAscii'?)`},
		{"double value", `1.5`, KindDecimal, false, `must evaluate to a decimal, not double: money is exact, use decimal("...")`},
		{"string value", `event.data.x + "a"`, KindDecimal, false, `must evaluate to a decimal, not string`},
		{"bool dimension", `event.type == "x"`, KindString, false, `must evaluate to a string, not bool: convert it with string(...)`},
		{"decimal dimension", `decimal("1")`, KindString, false, `must evaluate to a string, not decimal: convert it with string(...)`},
		{"list dimension", `[event.type]`, KindString, false, `must evaluate to a string, not list(dyn)`},
		{"string when", `event.type`, KindBool, true, `1:1: undeclared reference to 'event': a derived figure is computed from other figures, not from events`},
		{"decimal equals dyn", `event.data.count == decimal("3")`, KindBool, false,
			`1:18: comparing a decimal with a value of unknown type: wrap the value in decimal(...), e.g. decimal(event.data.amount) == decimal("0")`},
		{"dyn not equals decimal", `decimal("3") != event.data.count`, KindBool, false,
			`1:14: comparing a decimal with a value of unknown type: wrap the value in decimal(...), e.g. decimal(event.data.amount) == decimal("0")`},
		{"two issues, sorted", `event.tpye == "a" && event.sujbect == "b"`, KindBool, false,
			`1:6: event has no field "tpye" ` + fields + `; 1:27: event has no field "sujbect" ` + fields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := env.Compile(tt.expr, tt.want, tt.derived)
			if err == nil {
				t.Fatalf("compiled: %v", p)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T, want *CompileError", err)
			}
			if err.Error() != tt.err {
				t.Errorf("error\n got %s\nwant %s", err, tt.err)
			}
		})
	}
}

func TestCompileErrorIssues(t *testing.T) {
	env := mustEnv(t)
	_, err := env.Compile("event.type == \"a\" &&\n  decimal(\"1\") * 0.5 > 0", KindBool, false)
	var ce *CompileError
	if !errors.As(err, &ce) || len(ce.Issues) != 1 {
		t.Fatalf("error = %v", err)
	}
	if is := ce.Issues[0]; is.Line != 2 || is.Column != 16 {
		t.Errorf("issue at %d:%d, want 2:16", is.Line, is.Column)
	}
}

func TestEvaluateLoanBalance(t *testing.T) {
	env := mustEnv(t)
	ev := mustEvent(t, loanEvent)
	bools := map[string]bool{
		`event.type == "loan.balance"`:                                             true,
		`event.type == "deposit.balance"`:                                          false,
		`has(event.data.undrawn_commitment)`:                                       true,
		`has(event.data.maturity_date) && has(event.data.nothing)`:                 false,
		`event.supersedes == ""`:                                                   true,
		`event.schema_version == 1`:                                                true,
		`event.occurred_at == timestamp("2026-10-31T18:00:00Z")`:                   true,
		`event.occurred_at.getFullYear("Europe/Berlin") == 2026`:                   true,
		`event.data.product.startsWith("revolving")`:                               true,
		`event.data.exposure_class in ["corporate", "institution"]`:                true,
		`event.data.maturity_date > "2027-12-31"`:                                  true,
		`decimal(event.data.outstanding) > decimal("1000000")`:                     true,
		`event.data.?ccf.hasValue()`:                                               true,
		`"type" in event && !("nope" in event) && size(event) == 8`:                true,
		`event.data.all(k, k.matches("^[a-z_]+$"))`:                                true,
		`event.id.split("-").size() == 6`:                                          true,
		`date(event.occurred_at, "Europe/Berlin") == "2026-10-31"`:                 true,
		`date(event.occurred_at, "Asia/Tokyo") == "2026-11-01"`:                    true,
		`date(timestamp("2026-10-25T00:30:00Z"), "Europe/Berlin") == "2026-10-25"`: true,
	}
	for expr, want := range bools {
		p, err := env.Compile(expr, KindBool, false)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got, err := p.Bool(ev); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", expr, got, err, want)
		}
	}
	strs := map[string]string{
		`event.data.counterparty_id`:                  "CP-1002",
		`event.data.currency`:                         "EUR",
		`event.subject + "/" + event.source`:          "LN-1002/core-banking",
		`event.data.exposure_class.upperAscii()`:      "CORPORATE",
		`string(event.occurred_at)`:                   "2026-10-31T18:00:00Z",
		`"%s-%d".format([event.data.currency, 7])`:    "EUR-7",
		`string(decimal(event.data.outstanding) * 2)`: "8000000",
	}
	for expr, want := range strs {
		p, err := env.Compile(expr, KindString, false)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got, err := p.String(ev); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", expr, got, err, want)
		}
	}
	p, err := env.Compile(`decimal(event.data.outstanding) + decimal(event.data.undrawn_commitment) * decimal(event.data.?ccf.orValue("1"))`, KindDecimal, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Decimal(ev); err != nil || got.String() != "7000000" {
		t.Errorf("exposure = %v, %v; want 7000000", got, err)
	}
}

func TestEvaluateTypeErrors(t *testing.T) {
	env := mustEnv(t)
	ev := mustEvent(t, `{"id":"x","type":"t","subject":"s","occurred_at":"2026-01-01T00:00:00Z","data":{"flag":true,"n":1,"s":"a"}}`)
	tests := []struct {
		expr string
		kind Kind
		err  string
	}{
		{`event.data.flag`, KindString, "want string, got bool"},
		{`event.data.s`, KindBool, "want bool, got string"},
		{`event.data.s`, KindDecimal, "want decimal, got string"},
		{`event.data.missing`, KindString, "no such key: missing"},
		{`date(event.occurred_at, "Mars/Olympus")`, KindString, `date: unknown time zone "Mars/Olympus"`},
	}
	for _, tt := range tests {
		p, err := env.Compile(tt.expr, tt.kind, false)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		switch tt.kind {
		case KindBool:
			_, err = p.Bool(ev)
		case KindString:
			_, err = p.String(ev)
		case KindDecimal:
			_, err = p.Decimal(ev)
		}
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s: error = %v, want %q", tt.expr, err, tt.err)
		}
	}
	// An int is an exact decimal value.
	p, _ := env.Compile(`event.data.n`, KindDecimal, false)
	if d, err := p.Decimal(ev); err != nil || !d.Equal(decimal.NewFromInt(1)) {
		t.Errorf("int value = %v, %v", d, err)
	}
	// Programs are used for the kind they were compiled for.
	if _, err := p.String(ev); err == nil || err.Error() != "program was compiled for a decimal result, not string" {
		t.Errorf("String on a decimal program: %v", err)
	}
	if _, err := p.Derived(nil); err == nil {
		t.Error("Derived on an event program: no error")
	}
}

func TestDerived(t *testing.T) {
	env := mustEnv(t)
	p, err := env.Compile(`figure("tier1_capital") + figure("tier2_capital") - figure("loan_exposure", {"counterparty": "CP-1", "exposure_class": "corporate"}) + figure("tier1_capital") * decimal("0")`, KindDecimal, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(p.FigureRefs()), "[loan_exposure tier1_capital tier2_capital]"; got != want {
		t.Errorf("FigureRefs = %s, want %s", got, want)
	}
	var calls []string
	lookup := func(name string, dims map[string]string) (decimal.Decimal, error) {
		calls = append(calls, name+" "+fmt.Sprint(dims))
		switch name {
		case "tier1_capital":
			return decimal.RequireFromString("100.10"), nil
		case "tier2_capital":
			return decimal.RequireFromString("20"), nil
		}
		return decimal.RequireFromString("0.10"), nil
	}
	got, err := p.Derived(lookup)
	if err != nil || got.String() != "120" {
		t.Errorf("Derived = %v, %v; want 120", got, err)
	}
	want := "[tier1_capital map[] tier2_capital map[] loan_exposure map[counterparty:CP-1 exposure_class:corporate] tier1_capital map[]]"
	if fmt.Sprint(calls) != want {
		t.Errorf("lookups %v, want %v", calls, want)
	}

	// The lookup's errors come back wrapped.
	errMissingRate := errors.New("no USD/EUR rate")
	_, err = p.Derived(func(name string, _ map[string]string) (decimal.Decimal, error) {
		if name == "tier2_capital" {
			return decimal.Decimal{}, errMissingRate
		}
		return decimal.Zero, nil
	})
	if !errors.Is(err, errMissingRate) || err.Error() != `figure "tier2_capital": no USD/EUR rate` {
		t.Errorf("error = %v", err)
	}

	// Division in a derived figure: a ratio, and division by zero.
	ratio, err := env.Compile(`figure("hqla") / figure("outflows")`, KindDecimal, true)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"hqla": "150", "outflows": "120"}
	get := func(name string, _ map[string]string) (decimal.Decimal, error) {
		return decimal.NewFromString(values[name])
	}
	if got, err := ratio.Derived(get); err != nil || got.String() != "1.25" {
		t.Errorf("ratio = %v, %v", got, err)
	}
	values["outflows"] = "0"
	if _, err := ratio.Derived(get); err == nil || err.Error() != "division by zero" {
		t.Errorf("ratio by zero: %v", err)
	}
	// A derived program is not evaluated on an event.
	if _, err := ratio.Decimal(mustEvent(t, loanEvent)); err == nil {
		t.Error("Decimal on a derived program: no error")
	}
	// Event programs reference no figures.
	ep, _ := env.Compile(`decimal(event.data.outstanding)`, KindDecimal, false)
	if ep.FigureRefs() != nil {
		t.Errorf("FigureRefs = %v, want nil", ep.FigureRefs())
	}
}

func TestCostLimit(t *testing.T) {
	// ten is a list of ten elements; five nested maps over it are 10^5 steps.
	const ten = `[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]`
	runaway := fmt.Sprintf(`size(%[1]s.map(a, %[1]s.map(b, %[1]s.map(c, %[1]s.map(d, %[1]s.map(e, a + b + c + d + e)))))) > 0`, ten)
	for _, opts := range [][]Option{nil, {WithCostTrackingAlways()}} {
		env := mustEnv(t, opts...)
		p, err := env.Compile(runaway, KindBool, false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Bool(mustEvent(t, loanEvent))
		if !errors.Is(err, ErrCostLimit) {
			t.Fatalf("error = %v, want ErrCostLimit", err)
		}
		if want := "cost limit exceeded (limit 100000): evaluation stopped"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	}

	// A smaller list passes under the default limit, and fails under a lower one.
	small := fmt.Sprintf(`size(%[1]s.map(a, %[1]s.map(b, a + b))) == 10`, ten)
	p, err := mustEnv(t).Compile(small, KindBool, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Bool(mustEvent(t, loanEvent)); err != nil || !ok {
		t.Fatalf("small comprehension = %v, %v", ok, err)
	}
	p, err = mustEnv(t, WithCostLimit(50)).Compile(small, KindBool, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Bool(mustEvent(t, loanEvent)); !errors.Is(err, ErrCostLimit) {
		t.Fatalf("limit 50: error = %v, want ErrCostLimit", err)
	}

	// A loop-free expression is bounded by its size: on a 1 MB string it is
	// still linear.
	huge := `{"id":"x","type":"t","subject":"s","occurred_at":"2026-01-01T00:00:00Z","data":{"s":"` + strings.Repeat("ab", 1<<19) + `"}}`
	p, err = mustEnv(t).Compile(`event.data.s.replace("a", "c").contains("cb") && event.data.s.size() == 1048576`, KindBool, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Bool(mustEvent(t, huge)); err != nil || !ok {
		t.Fatalf("loop-free on 1 MB = %v, %v", ok, err)
	}
}

func TestProgramsAreConcurrencySafe(t *testing.T) {
	env := mustEnv(t)
	when, _ := env.Compile(`event.type == "loan.balance" && [1, 2].exists(x, x == 2)`, KindBool, false)
	value, _ := env.Compile(`decimal(event.data.outstanding) * decimal(event.data.?ccf.orValue("1"))`, KindDecimal, false)
	dim, _ := env.Compile(`event.data.counterparty_id + "/" + date(event.occurred_at, "Europe/Berlin")`, KindString, false)
	derived, _ := env.Compile(`figure("a") * 2`, KindDecimal, true)
	shared := mustEvent(t, loanEvent)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ev := shared
				if i%2 == 0 {
					ev = mustEvent(t, loanEvent)
				}
				if ok, err := when.Bool(ev); err != nil || !ok {
					errs <- fmt.Errorf("when: %v %v", ok, err)
					return
				}
				if d, err := value.Decimal(ev); err != nil || d.String() != "2000000" {
					errs <- fmt.Errorf("value: %v %v", d, err)
					return
				}
				if s, err := dim.String(ev); err != nil || s != "CP-1002/2026-10-31" {
					errs <- fmt.Errorf("dim: %v %v", s, err)
					return
				}
				n := int64(g*1000 + i)
				d, err := derived.Derived(func(string, map[string]string) (decimal.Decimal, error) {
					return decimal.NewFromInt(n), nil
				})
				if err != nil || !d.Equal(decimal.NewFromInt(2*n)) {
					errs <- fmt.Errorf("derived: %v %v", d, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
