package celenv

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func mustEnv(t testing.TB, opts ...Option) *Env {
	t.Helper()
	env, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustEvent(t testing.TB, raw string) *Event {
	t.Helper()
	ev, err := NewEvent([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// numbersEvent carries JSON numbers in data: an int and a non-integer, which
// is read as a decimal.
const numbersEvent = `{"id":"e1","source":"test","type":"test.numbers","schema_version":1,"subject":"s1",` +
	`"occurred_at":"2026-10-31T18:00:00Z","data":{"amount":"1234.56","count":3,"rate":0.125,"big":123456789012345678901234567890,"neg":"-2.5"}}`

func TestDecimalValues(t *testing.T) {
	env := mustEnv(t)
	ev := mustEvent(t, numbersEvent)
	tests := []struct {
		expr, want string
	}{
		{`decimal("1234.56")`, "1234.56"},
		{`decimal("-0.10")`, "-0.1"},
		{`decimal(42)`, "42"},
		{`decimal(decimal("7.5"))`, "7.5"},
		{`decimal(event.data.amount)`, "1234.56"},
		{`decimal(event.data.count)`, "3"},
		{`event.data.rate`, "0.125"}, // a non-integer JSON number is already a decimal
		{`event.data.count`, "3"},    // an int result is an exact decimal
		{`event.data.big`, "123456789012345678901234567890"},
		{`decimal("0.1") + decimal("0.2")`, "0.3"}, // exact, unlike doubles
		{`decimal("1.5") * 2`, "3"},
		{`2 * decimal("1.5")`, "3"},
		{`decimal("10") - 3`, "7"},
		{`10 - decimal("3.25")`, "6.75"},
		{`decimal("1") / 4`, "0.25"},
		{`1 / decimal("4")`, "0.25"},
		{`decimal(1) / 3`, "0.33333333333333333333"},   // 20 places, rounded
		{`decimal(2) / 3`, "0.66666666666666666667"},   // half away from zero
		{`decimal(-2) / 3`, "-0.66666666666666666667"}, // likewise for negatives
		{`decimal("1e0" == "x" ? "0" : "5") / decimal("0.5")`, "10"},
		{`-decimal("2.5")`, "-2.5"},
		{`-decimal(event.data.neg)`, "2.5"},
		{`event.data.count * event.data.rate`, "0.375"}, // dyn int on the left
		{`event.data.rate * event.data.count`, "0.375"},
		{`decimal(event.data.amount) * event.data.rate`, "154.32"},
		{`round(decimal("2.345"), 2)`, "2.35"},
		{`round(decimal("2.344"), 2)`, "2.34"},
		{`round(decimal("-2.345"), 2)`, "-2.35"},
		{`round(decimal("2.5"), 0)`, "3"},
		{`round(decimal("-2.5"), 0)`, "-3"},
		{`round(decimal("1234567.89"), -3)`, "1235000"},
		{`roundHalfEven(decimal("2.345"), 2)`, "2.34"},
		{`roundHalfEven(decimal("2.355"), 2)`, "2.36"},
		{`roundHalfEven(decimal("2.5"), 0)`, "2"},
		{`abs(decimal("-3.5"))`, "3.5"},
		{`min(decimal("1"), decimal("2"))`, "1"},
		{`max(decimal("1"), decimal("2"))`, "2"},
		{`cel.bind(x, decimal("0.5"), x * x + x)`, "0.75"},
		{`[decimal("1"), decimal("2.5")].map(d, d * 2)[1]`, "5"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := env.Compile(tt.expr, KindDecimal, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Decimal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("= %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDecimalPredicates(t *testing.T) {
	env := mustEnv(t)
	ev := mustEvent(t, numbersEvent)
	tests := []struct {
		expr string
		want bool
	}{
		{`decimal("1.50") == decimal("1.5")`, true},
		{`decimal("1.50") != decimal("1.5")`, false},
		{`decimal("0.1") + decimal("0.2") == decimal("0.3")`, true},
		{`decimal("1") < decimal("1.01")`, true},
		{`decimal("1") <= 1`, true},
		{`1 < decimal("1.01")`, true},
		{`decimal("-1") > 0`, false},
		{`0 >= decimal("-1")`, true},
		{`decimal(event.data.amount) > 1000`, true},
		{`event.data.rate < 1`, true},
		{`event.data.count > decimal("2.5")`, true},
		{`decimal(event.data.rate) == decimal("0.125")`, true},
		{`decimal(event.data.count) == decimal("3")`, true},
		{`string(decimal("1234.50")) == "1234.5"`, true},
		{`type(decimal("1")) == decimal`, true},
		{`[decimal("3"), decimal("1")].exists(d, d < 2)`, true},
		{`decimal("1") in [decimal("1.0"), decimal("2")]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := env.Compile(tt.expr, KindBool, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Bool(ev)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("= %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecimalRuntimeErrors(t *testing.T) {
	env := mustEnv(t)
	ev := mustEvent(t, numbersEvent)
	tests := []struct {
		expr, want string
	}{
		{`decimal("1") / 0`, "division by zero"},
		{`decimal("1") / decimal("0.00")`, "division by zero"},
		{`decimal("abc")`, `decimal("abc"): not a decimal number (want e.g. "-1234.56")`},
		{`decimal("1e5")`, `decimal("1e5"): not a decimal number (want e.g. "-1234.56")`},
		{`decimal("")`, `decimal(""): not a decimal number (want e.g. "-1234.56")`},
		{`decimal(" 1")`, `decimal(" 1"): not a decimal number (want e.g. "-1234.56")`},
		{`decimal("1.")`, `decimal("1."): not a decimal number (want e.g. "-1234.56")`},
		{`decimal("+1")`, `decimal("+1"): not a decimal number (want e.g. "-1234.56")`},
		{`decimal(event.data.amount) * event.data.amount`, "no such overload: _*_(decimal, string)"},
		{`round(decimal("1"), 1000)`, "round: places 1000 out of range [-100, 100]"},
		{`decimal(event.data.missing)`, "no such key: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := env.Compile(tt.expr, KindDecimal, false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Decimal(ev)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDecimalOverflow(t *testing.T) {
	env := mustEnv(t)
	ev := mustEvent(t, numbersEvent)
	// 10^99 squared three times has 793 digits; once more 1585: refused.
	big := `decimal("1` + strings.Repeat("0", 99) + `")`
	p, err := env.Compile(`cel.bind(a, `+big+` * `+big+`, cel.bind(b, a * a, cel.bind(c, b * b, c)))`, KindDecimal, false)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := p.Decimal(ev); err != nil || len(d.String()) != 793 {
		t.Fatalf("793 digits: %d digits, %v", len(d.String()), err)
	}
	p, err = env.Compile(`cel.bind(a, `+big+` * `+big+`, cel.bind(b, a * a, cel.bind(c, b * b, c * c)))`, KindDecimal, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decimal(ev); err == nil || err.Error() != "decimal overflow: more than 1000 digits" {
		t.Fatalf("1585 digits: error = %v", err)
	}
	// decimal(string) takes at most 100 digits.
	p, err = env.Compile(`decimal("1`+strings.Repeat("0", 100)+`")`, KindDecimal, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decimal(ev); err == nil || !strings.HasSuffix(err.Error(), "more than 100 digits") {
		t.Fatalf("101 digits: error = %v", err)
	}
}

// TestParseDecimalLikeShopspring: the int64 path of parseDecimal builds exactly
// the decimal (coefficient and exponent) that decimal.NewFromString does.
func TestParseDecimalLikeShopspring(t *testing.T) {
	for _, s := range []string{"0", "-0", "0.00", "-0.50", "7", "007", "1234.56", "-1234.56", "0.000000000000000001",
		"999999999999999999", "-999999999999999999", "99999999999999999.9", "1000000000000000000", "123456789012345678901234.5",
		"12.500", "-1"} {
		got, err := parseDecimal(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want, err := decimal.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		if got.Coefficient().Cmp(want.Coefficient()) != 0 || got.Exponent() != want.Exponent() {
			t.Errorf("parseDecimal(%q) = %s × 10^%d, want %s × 10^%d", s, got.Coefficient(), got.Exponent(), want.Coefficient(), want.Exponent())
		}
	}
}
