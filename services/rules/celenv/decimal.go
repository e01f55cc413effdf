package celenv

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/env"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/stdlib"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/shopspring/decimal"
)

// DecimalType is the CEL type of exact decimals, named "decimal". It is opaque to
// CEL: every operation on it is one of the overloads declared in decimalLib.
var DecimalType = cel.OpaqueType("decimal")

// DivisionPlaces is the number of decimal places a quotient is rounded to (half
// away from zero) when the division does not terminate earlier: 1/3 is
// 0.33333333333333333333. A quotient that terminates within 20 places is exact.
const DivisionPlaces = 20

// Limits that keep a rule from turning one decimal into megabytes of digits: the
// cost limit counts operations, not digits, and a few chained multiplications can
// otherwise square a number's length each time.
const (
	// maxDigits bounds the digits a decimal may hold, before and after the point.
	maxDigits = 1000
	// maxDigitBits is a cheap upper bound on the coefficient size for maxDigits
	// (log2(10) ≈ 3.33 bits per digit).
	maxDigitBits = maxDigits * 3322 / 1000
	// maxRoundPlaces bounds round()'s places argument in both directions.
	maxRoundPlaces = 100
	// maxStringDigits bounds the digits decimal(string) accepts.
	maxStringDigits = 100
)

// decimalVal is a CEL value of DecimalType. It wraps shopspring's
// arbitrary-precision decimal, which is exact for +, -, * and comparisons.
type decimalVal struct{ d decimal.Decimal }

var (
	decimalGoType = reflect.TypeOf(decimal.Decimal{})
	stringGoType  = reflect.TypeOf("")
	anyGoType     = reflect.TypeOf((*any)(nil)).Elem()
)

// ConvertToNative converts to decimal.Decimal, string, or any (holding a
// decimal.Decimal). Doubles are refused on purpose.
func (v decimalVal) ConvertToNative(t reflect.Type) (any, error) {
	switch t {
	case decimalGoType, anyGoType:
		return v.d, nil
	case stringGoType:
		return v.d.String(), nil
	}
	return nil, fmt.Errorf("decimal cannot be converted to %v", t)
}

// ConvertToType supports conversion to decimal (itself), string and type.
func (v decimalVal) ConvertToType(t ref.Type) ref.Val {
	switch t.TypeName() {
	case DecimalType.TypeName():
		return v
	case types.StringType.TypeName():
		return types.String(v.d.String())
	case types.TypeType.TypeName():
		return DecimalType
	}
	return types.NewErr("type conversion error from decimal to '%s'", t.TypeName())
}

// Equal compares numerically, so decimal("1.50") == decimal("1.5"). A decimal
// also equals an int of the same value, as CEL's numbers do across types; it
// never equals anything else (a double included).
func (v decimalVal) Equal(other ref.Val) ref.Val {
	switch o := other.(type) {
	case decimalVal:
		return types.Bool(v.d.Equal(o.d))
	case types.Int:
		return types.Bool(v.d.Equal(decimal.NewFromInt(int64(o))))
	}
	return types.False
}

// Type implements ref.Val.
func (decimalVal) Type() ref.Type { return DecimalType }

// Value returns the decimal.Decimal.
func (v decimalVal) Value() any { return v.d }

// newDecimal wraps d, refusing numbers too long to be money.
func newDecimal(d decimal.Decimal) ref.Val {
	if c := d.Coefficient(); c.BitLen() > maxDigitBits || d.Exponent() > maxDigits || d.Exponent() < -maxDigits {
		return types.NewErr("decimal overflow: more than %d digits", maxDigits)
	}
	return decimalVal{d}
}

// parseDecimal reads the plain decimal notation of the event schemas: an optional
// "-", digits, optionally "." and more digits ("-1234.56"). Exponents, "+",
// spaces and thousands separators are refused so that what a rule reads is what
// the source sent.
func parseDecimal(s string) (decimal.Decimal, error) {
	i, n := 0, 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	ok := i > start
	n += i - start
	if ok && i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		ok = i > fs
		n += i - fs
	}
	if !ok || i != len(s) {
		return decimal.Decimal{}, fmt.Errorf("decimal(%q): not a decimal number (want e.g. \"-1234.56\")", s)
	}
	if n > maxStringDigits {
		return decimal.Decimal{}, fmt.Errorf("decimal(%q): more than %d digits", truncate(s, 40), maxStringDigits)
	}
	if n <= 18 {
		// Fits an int64: what NewFromString would build, without its big.Int
		// parsing (a rule worker parses a few amounts per event).
		var m int64
		var exp int32
		for j := 0; j < len(s); j++ {
			switch c := s[j]; c {
			case '-':
			case '.':
				exp = -int32(len(s) - j - 1)
			default:
				m = m*10 + int64(c-'0')
			}
		}
		if s[0] == '-' {
			m = -m
		}
		return decimal.New(m, exp), nil
	}
	return decimal.NewFromString(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// asDecimal converts a decimal or an int operand.
func asDecimal(v ref.Val) (decimal.Decimal, bool) {
	switch o := v.(type) {
	case decimalVal:
		return o.d, true
	case types.Int:
		return decimal.NewFromInt(int64(o)), true
	}
	return decimal.Decimal{}, false
}

// overriddenOperators are the standard operators whose runtime implementation
// this package replaces to add decimals; see overrideBinary.
var overriddenOperators = []string{
	operators.Add, operators.Subtract, operators.Multiply, operators.Divide, operators.Negate,
	operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals,
}

// stdOperator returns the standard library's declaration of an operator.
func stdOperator(op string) (*decls.FunctionDecl, error) {
	for _, fn := range stdlib.Functions() {
		if fn.Name() == op {
			return fn, nil
		}
	}
	return nil, fmt.Errorf("standard operator %s not found", op)
}

// stdImpl returns the runtime implementation of a standard operator: CEL
// declares each with one "singleton" binding that dispatches on the left
// operand's traits.
func stdImpl(std *decls.FunctionDecl) (*functions.Overload, error) {
	bindings, err := std.Bindings()
	if err != nil {
		return nil, err
	}
	for _, b := range bindings {
		if b.Operator == std.Name() {
			return b, nil
		}
	}
	return nil, fmt.Errorf("standard operator %s has no binding", std.Name())
}

// withOverloadsOf copies the overload declarations of a standard operator into
// its replacement, so every standard use keeps type-checking as before.
func withOverloadsOf(std *decls.FunctionDecl) cel.FunctionOpt {
	return func(f *decls.FunctionDecl) (*decls.FunctionDecl, error) {
		for _, o := range std.OverloadDecls() {
			if err := f.AddOverload(o); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
}

// overrideBinary redeclares a standard binary operator with three more
// overloads, (decimal, decimal), (decimal, int) and (int, decimal), and a
// runtime binding that computes on decimals whenever either operand is one and
// otherwise runs the standard implementation.
//
// Why not simply add overloads with their own bindings: CEL's arithmetic and
// relational operators are "singletons", one binding dispatching on the left
// operand (lhs.(traits.Adder).Add(rhs)); cel-go refuses overload bindings next
// to it and an int on the left cannot add a decimal. So the standard
// declaration is excluded from the environment (StdLibSubset) and replaced by
// this one, which keeps every standard overload declaration and delegates to
// the standard binding for everything but decimals. There are deliberately no
// double overloads: mixing a decimal with a double is a type-check error.
func overrideBinary(op, name string, result *cel.Type, fn func(a, b decimal.Decimal) ref.Val) (cel.EnvOption, error) {
	std, err := stdOperator(op)
	if err != nil {
		return nil, err
	}
	impl, err := stdImpl(std)
	if err != nil {
		return nil, err
	}
	if impl.Binary == nil {
		return nil, fmt.Errorf("standard operator %s is not binary", op)
	}
	dispatch := func(lhs, rhs ref.Val) ref.Val {
		_, ld := lhs.(decimalVal)
		_, rd := rhs.(decimalVal)
		if ld || rd {
			a, aok := asDecimal(lhs)
			b, bok := asDecimal(rhs)
			if !aok || !bok {
				return noOverload(op, lhs, rhs)
			}
			return fn(a, b)
		}
		if impl.OperandTrait != 0 && !lhs.Type().HasTrait(impl.OperandTrait) {
			return noOverload(op, lhs, rhs)
		}
		return impl.Binary(lhs, rhs)
	}
	return cel.Function(op,
		withOverloadsOf(std),
		cel.Overload(name+"_decimal_decimal", []*cel.Type{DecimalType, DecimalType}, result),
		cel.Overload(name+"_decimal_int", []*cel.Type{DecimalType, cel.IntType}, result),
		cel.Overload(name+"_int_decimal", []*cel.Type{cel.IntType, DecimalType}, result),
		cel.SingletonBinaryBinding(dispatch),
	), nil
}

// overrideNegate does for unary minus what overrideBinary does for the others.
func overrideNegate() (cel.EnvOption, error) {
	std, err := stdOperator(operators.Negate)
	if err != nil {
		return nil, err
	}
	impl, err := stdImpl(std)
	if err != nil {
		return nil, err
	}
	if impl.Unary == nil {
		return nil, fmt.Errorf("standard operator %s is not unary", operators.Negate)
	}
	dispatch := func(v ref.Val) ref.Val {
		if d, ok := v.(decimalVal); ok {
			return decimalVal{d.d.Neg()}
		}
		if impl.OperandTrait != 0 && !v.Type().HasTrait(impl.OperandTrait) {
			return types.NewErr("no such overload: -%s", v.Type().TypeName())
		}
		return impl.Unary(v)
	}
	return cel.Function(operators.Negate,
		withOverloadsOf(std),
		cel.Overload("negate_decimal", []*cel.Type{DecimalType}, DecimalType),
		cel.SingletonUnaryBinding(dispatch),
	), nil
}

func noOverload(op string, lhs, rhs ref.Val) ref.Val {
	return types.NewErr("no such overload: %s(%s, %s)", op, lhs.Type().TypeName(), rhs.Type().TypeName())
}

// stdLibWithoutOverridden is the standard library minus the operators this
// package redeclares.
func stdLibWithoutOverridden() cel.EnvOption {
	subset := env.NewLibrarySubset()
	for _, op := range overriddenOperators {
		subset.AddExcludedFunctions(&env.Function{Name: op})
	}
	return cel.StdLib(cel.StdLibSubset(subset))
}

// decimalLib declares the decimal type, its constructors, operators and
// functions. See the package documentation for the list. It must be used with
// stdLibWithoutOverridden in place of the full standard library.
func decimalLib() ([]cel.EnvOption, error) {
	opts := []cel.EnvOption{
		cel.Types(DecimalType),
		cel.Function("decimal",
			cel.Overload("decimal_string", []*cel.Type{cel.StringType}, DecimalType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					d, err := parseDecimal(string(v.(types.String)))
					if err != nil {
						return types.WrapErr(err)
					}
					return decimalVal{d}
				})),
			cel.Overload("decimal_int", []*cel.Type{cel.IntType}, DecimalType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					return decimalVal{decimal.NewFromInt(int64(v.(types.Int)))}
				})),
			cel.Overload("decimal_decimal", []*cel.Type{DecimalType}, DecimalType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return v })),
		),
		cel.Function("string",
			cel.Overload("string_decimal", []*cel.Type{DecimalType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					return types.String(v.(decimalVal).d.String())
				})),
		),
		cel.Function("abs",
			cel.Overload("abs_decimal", []*cel.Type{DecimalType}, DecimalType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return decimalVal{v.(decimalVal).d.Abs()} })),
		),
		cel.Function("round",
			cel.Overload("round_decimal_int", []*cel.Type{DecimalType, cel.IntType}, DecimalType,
				cel.BinaryBinding(roundWith(decimal.Decimal.Round))),
		),
		cel.Function("roundHalfEven",
			cel.Overload("round_half_even_decimal_int", []*cel.Type{DecimalType, cel.IntType}, DecimalType,
				cel.BinaryBinding(roundWith(decimal.Decimal.RoundBank))),
		),
		cel.Function("min",
			cel.Overload("min_decimal_decimal", []*cel.Type{DecimalType, DecimalType}, DecimalType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					return decimalVal{decimal.Min(a.(decimalVal).d, b.(decimalVal).d)}
				})),
		),
		cel.Function("max",
			cel.Overload("max_decimal_decimal", []*cel.Type{DecimalType, DecimalType}, DecimalType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					return decimalVal{decimal.Max(a.(decimalVal).d, b.(decimalVal).d)}
				})),
		),
	}
	cmp := func(ok func(int) bool) func(a, b decimal.Decimal) ref.Val {
		return func(a, b decimal.Decimal) ref.Val { return types.Bool(ok(a.Cmp(b))) }
	}
	binary := []struct {
		op, name string
		result   *cel.Type
		fn       func(a, b decimal.Decimal) ref.Val
	}{
		{operators.Add, "add", DecimalType, exactArithmetic[operators.Add]},
		{operators.Subtract, "subtract", DecimalType, exactArithmetic[operators.Subtract]},
		{operators.Multiply, "multiply", DecimalType, exactArithmetic[operators.Multiply]},
		{operators.Divide, "divide", DecimalType, func(a, b decimal.Decimal) ref.Val {
			if b.IsZero() {
				return types.NewErr("division by zero")
			}
			return newDecimal(a.DivRound(b, DivisionPlaces))
		}},
		{operators.Less, "less", cel.BoolType, cmp(func(c int) bool { return c < 0 })},
		{operators.LessEquals, "less_equals", cel.BoolType, cmp(func(c int) bool { return c <= 0 })},
		{operators.Greater, "greater", cel.BoolType, cmp(func(c int) bool { return c > 0 })},
		{operators.GreaterEquals, "greater_equals", cel.BoolType, cmp(func(c int) bool { return c >= 0 })},
	}
	for _, b := range binary {
		o, err := overrideBinary(b.op, b.name, b.result, b.fn)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	neg, err := overrideNegate()
	if err != nil {
		return nil, err
	}
	return append(opts, neg), nil
}

// exactArithmetic are the decimal operators whose result is exact, as bound in
// CEL; the shortcuts (shortcut.go) apply the very same functions.
var exactArithmetic = map[string]func(a, b decimal.Decimal) ref.Val{
	operators.Add:      func(a, b decimal.Decimal) ref.Val { return newDecimal(a.Add(b)) },
	operators.Subtract: func(a, b decimal.Decimal) ref.Val { return newDecimal(a.Sub(b)) },
	operators.Multiply: func(a, b decimal.Decimal) ref.Val { return newDecimal(a.Mul(b)) },
}

// roundWith adapts one of shopspring's rounding methods to round(decimal, int).
func roundWith(round func(decimal.Decimal, int32) decimal.Decimal) func(a, b ref.Val) ref.Val {
	return func(a, b ref.Val) ref.Val {
		places := int64(b.(types.Int))
		if places < -maxRoundPlaces || places > maxRoundPlaces {
			return types.NewErr("round: places %d out of range [-%d, %d]", places, maxRoundPlaces, maxRoundPlaces)
		}
		return decimalVal{round(a.(decimalVal).d, int32(places))}
	}
}
