package celenv

import (
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// typeSet is the set of event types an expression can be true for: every type
// (all), or exactly names.
type typeSet struct {
	all   bool
	names []string // sorted, distinct; meaningful when !all
}

var anyType = typeSet{all: true}

func (a typeSet) and(b typeSet) typeSet {
	switch {
	case a.all:
		return b
	case b.all:
		return a
	}
	var out []string
	for _, n := range a.names {
		if slices.Contains(b.names, n) {
			out = append(out, n)
		}
	}
	return typeSet{names: out}
}

func (a typeSet) or(b typeSet) typeSet {
	if a.all || b.all {
		return anyType
	}
	out := append(slices.Clone(a.names), b.names...)
	slices.Sort(out)
	return typeSet{names: slices.Compact(out)}
}

// eventTypes derives, from the checked AST of a `when`, the event types it can
// be true for. It only recognises what decides by type alone — event.type ==
// "x" (either side, or event["type"]), event.type in ["x", "y"], the literals
// true and false, and &&, || and ?: of those — and answers every type for
// anything else (a negation, a function of the type, a comparison of another
// field). That is always sound: the expression is false for an event whose
// type is not in the answer, whatever the rest of the event holds.
func eventTypes(x ast.Expr) typeSet {
	switch x.Kind() {
	case ast.LiteralKind:
		if b, ok := x.AsLiteral().(types.Bool); ok && !bool(b) {
			return typeSet{} // false: no event at all
		}
		return anyType
	case ast.CallKind:
	default:
		return anyType
	}
	call := x.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case operators.LogicalAnd:
		out := anyType
		for _, a := range args {
			out = out.and(eventTypes(a))
		}
		return out
	case operators.LogicalOr:
		out := typeSet{}
		for _, a := range args {
			out = out.or(eventTypes(a))
		}
		return out
	case operators.Conditional:
		if len(args) == 3 {
			return eventTypes(args[1]).or(eventTypes(args[2]))
		}
	case operators.Equals:
		if len(args) == 2 {
			for _, side := range [][2]ast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
				if isEventType(side[0]) {
					if s, ok := literalString(side[1]); ok {
						return typeSet{names: []string{s}}
					}
				}
			}
		}
	case operators.In:
		if len(args) == 2 && isEventType(args[0]) && args[1].Kind() == ast.ListKind {
			var names []string
			for _, e := range args[1].AsList().Elements() {
				s, ok := literalString(e)
				if !ok {
					return anyType
				}
				names = append(names, s)
			}
			slices.Sort(names)
			return typeSet{names: slices.Compact(names)}
		}
	}
	return anyType
}

// isEventType reports whether x is event.type or event["type"].
func isEventType(x ast.Expr) bool {
	switch x.Kind() {
	case ast.SelectKind:
		sel := x.AsSelect()
		return !sel.IsTestOnly() && isEventIdent(sel.Operand()) && sel.FieldName() == "type"
	case ast.CallKind:
		call := x.AsCall()
		args := call.Args()
		if call.FunctionName() == operators.Index && len(args) == 2 && isEventIdent(args[0]) {
			s, ok := literalString(args[1])
			return ok && s == "type"
		}
	}
	return false
}

// EventTypes returns the event types a `when` program can be true for, sorted
// and distinct, derived from the expression alone (see eventTypes for what is
// recognised); ok is false when they cannot be derived and the program may be
// true for an event of any type. ok with no types means it is never true.
func (p *Program) EventTypes() (names []string, ok bool) {
	if p.types.all {
		return nil, false
	}
	return slices.Clone(p.types.names), true
}
