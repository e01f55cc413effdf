package celenv

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/shopspring/decimal"
)

// A shortcut evaluates one of the expressions most rules are made of without the
// CEL interpreter: a field of the event (event.type, event.data.counterparty_id,
// event.data["x"]), a string literal, a string comparison with == or !=,
// decimal(...) of a string, and +, - and * of decimals. A rule worker evaluates a
// dozen such expressions per event, and the interpreter's activation and frame
// cost more than reading the field does.
//
// A shortcut answers only when the result is certain and uses the very functions
// the CEL bindings use (parseDecimal, exactArithmetic). Anything else, a missing key, a
// value of another type, a decimal that does not parse, an overflow, makes it
// answer ok=false, and the program is evaluated by CEL, whose result and error
// messages are then the ones returned (TestShortcutsAgreeWithCEL).
type shortcut interface {
	eval(ev *Event) (v ref.Val, ok bool)
}

// shortcutFor returns the shortcut of a checked expression, or nil when the
// expression is not made only of what shortcuts handle.
func shortcutFor(a *ast.AST, x ast.Expr) shortcut {
	switch x.Kind() {
	case ast.LiteralKind:
		if s, ok := x.AsLiteral().(types.String); ok {
			return literal{s}
		}
	case ast.SelectKind:
		if p, ok := pathOf(x); ok {
			return p
		}
	case ast.CallKind:
		call := x.AsCall()
		args := call.Args()
		if call.IsMemberFunction() {
			return nil
		}
		switch fn := call.FunctionName(); {
		case fn == "_[_]":
			if p, ok := pathOf(x); ok {
				return p
			}
		case (fn == operators.Equals || fn == operators.NotEquals) && len(args) == 2:
			l, r := shortcutFor(a, args[0]), shortcutFor(a, args[1])
			if l != nil && r != nil {
				return stringEquals{l: l, r: r, not: fn == operators.NotEquals}
			}
		case fn == "decimal" && len(args) == 1:
			if arg := shortcutFor(a, args[0]); arg != nil {
				return decimalOf{arg}
			}
		case exactArithmetic[fn] != nil && len(args) == 2 && isDecimal(a, x):
			l, r := shortcutFor(a, args[0]), shortcutFor(a, args[1])
			if l != nil && r != nil {
				return arithmetic{fn: exactArithmetic[fn], l: l, r: r}
			}
		}
	}
	return nil
}

// path is event.<field>, followed by keys into nested objects.
type path struct {
	field string   // an envelope field
	keys  []string // then keys of nested objects (of data)
}

// pathOf reads event.a.b["c"]... from selects and indexes with string literals.
func pathOf(x ast.Expr) (path, bool) {
	var keys []string
	for {
		var key string
		var operand ast.Expr
		switch x.Kind() {
		case ast.SelectKind:
			sel := x.AsSelect()
			if sel.IsTestOnly() { // has(...)
				return path{}, false
			}
			key, operand = sel.FieldName(), sel.Operand()
		case ast.CallKind:
			call := x.AsCall()
			args := call.Args()
			if call.FunctionName() != "_[_]" || call.IsMemberFunction() || len(args) != 2 {
				return path{}, false
			}
			s, ok := literalString(args[1])
			if !ok {
				return path{}, false
			}
			key, operand = s, args[0]
		default:
			return path{}, false
		}
		keys = append(keys, key)
		if isEventIdent(operand) {
			break
		}
		x = operand
	}
	// keys are innermost last: event.data.x gives [x data].
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	return path{field: keys[0], keys: keys[1:]}, true
}

func (p path) eval(ev *Event) (ref.Val, bool) {
	v, found := (*envelope)(ev).FindStringKey(p.field)
	if !found {
		return nil, false
	}
	for _, k := range p.keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	val, ok := v.(ref.Val) // a nested object is a map[string]any: left to CEL
	return val, ok && val != nil
}

type literal struct{ s types.String }

func (l literal) eval(*Event) (ref.Val, bool) { return l.s, true }

// stringEquals is == or != of two strings (CEL's heterogeneous equality of other
// values is left to CEL).
type stringEquals struct {
	l, r shortcut
	not  bool
}

// both evaluates two operands; ok only when both answer.
func both(ev *Event, a, b shortcut) (ref.Val, ref.Val, bool) {
	l, ok := a.eval(ev)
	if !ok {
		return nil, nil, false
	}
	r, ok := b.eval(ev)
	return l, r, ok
}

func (e stringEquals) eval(ev *Event) (ref.Val, bool) {
	l, r, ok := both(ev, e.l, e.r)
	if !ok {
		return nil, false
	}
	ls, lok := l.(types.String)
	rs, rok := r.(types.String)
	if !lok || !rok {
		return nil, false
	}
	return types.Bool((ls == rs) != e.not), true
}

// decimalOf is decimal(s) of a string.
type decimalOf struct{ arg shortcut }

func (d decimalOf) eval(ev *Event) (ref.Val, bool) {
	v, ok := d.arg.eval(ev)
	if !ok {
		return nil, false
	}
	s, ok := v.(types.String)
	if !ok {
		return nil, false
	}
	n, err := parseDecimal(string(s))
	if err != nil {
		return nil, false
	}
	return decimalVal{n}, true
}

// arithmetic is +, - or * of two decimals (fn, from exactArithmetic).
type arithmetic struct {
	fn   func(a, b decimal.Decimal) ref.Val
	l, r shortcut
}

func (a arithmetic) eval(ev *Event) (ref.Val, bool) {
	l, r, ok := both(ev, a.l, a.r)
	if !ok {
		return nil, false
	}
	ld, lok := l.(decimalVal)
	rd, rok := r.(decimalVal)
	if !lok || !rok {
		return nil, false
	}
	v := a.fn(ld.d, rd.d)
	if types.IsError(v) {
		return nil, false
	}
	return v, true
}
