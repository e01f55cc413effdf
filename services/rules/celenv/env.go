package celenv

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // date() and getHours("Europe/Berlin") must not depend on the host

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
	"github.com/shopspring/decimal"
)

// ErrCostLimit is wrapped by the error of an evaluation that the cost limit
// stopped.
var ErrCostLimit = errors.New("cost limit exceeded")

// DefaultCostLimit is the cost limit of every program unless WithCostLimit
// says otherwise. Cost is CEL's runtime cost: roughly one unit per operation,
// more for operations on long strings and lists. A typical rule costs under 50;
// 100,000 lets a rule iterate over a list of thousands of elements and stops a
// runaway one within milliseconds.
const DefaultCostLimit = 100_000

// maxExprSize bounds the length of one expression in code points.
const maxExprSize = 16 << 10

// Kind is the result type a program must produce.
type Kind int

// The kinds of result: bool for `when`, string for dimensions and currency,
// decimal for `value`.
const (
	KindBool Kind = iota + 1
	KindString
	KindDecimal
)

func (k Kind) String() string {
	switch k {
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	case KindDecimal:
		return "decimal"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Env is the CEL environment of rule expressions. It is immutable after New
// and safe for concurrent use.
type Env struct {
	event       *cel.Env // rules evaluated per event: `event`, no figure()
	derived     *cel.Env // derived figures: figure(), no `event`
	costLimit   uint64
	alwaysTrack bool
	noShortcuts bool // tests: every program through the interpreter
}

// Option configures New.
type Option func(*Env)

// WithCostLimit sets the cost limit of every program compiled by the
// environment (DefaultCostLimit otherwise).
func WithCostLimit(limit uint64) Option {
	return func(e *Env) { e.costLimit = limit }
}

// WithCostTrackingAlways tracks the runtime cost of every program, not only of
// those with loops (see the package documentation). It makes every evaluation
// about 250 ns slower and changes no result: it exists for tests and for the
// cautious.
func WithCostTrackingAlways() Option {
	return func(e *Env) { e.alwaysTrack = true }
}

// New builds the environment.
func New(opts ...Option) (*Env, error) {
	e := &Env{costLimit: DefaultCostLimit}
	for _, o := range opts {
		o(e)
	}
	date := cel.Function("date",
		cel.Overload("date_timestamp_string", []*cel.Type{cel.TimestampType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(dateIn)))
	base, err := baseEnv(date)
	if err != nil {
		return nil, err
	}
	if e.event, err = base.Extend(cel.Variable("event", cel.MapType(cel.StringType, cel.DynType))); err != nil {
		return nil, fmt.Errorf("celenv: %w", err)
	}
	if e.derived, err = base.Extend(figureFunction()); err != nil {
		return nil, fmt.Errorf("celenv: %w", err)
	}
	return e, nil
}

// baseEnv is what every Ledgerline expression sees: the standard library with
// the decimal operators, strings, bindings, optionals, the size limit, plus extra.
func baseEnv(extra ...cel.EnvOption) (*cel.Env, error) {
	dec, err := decimalLib()
	if err != nil {
		return nil, fmt.Errorf("celenv: %w", err)
	}
	opts := append([]cel.EnvOption{
		stdLibWithoutOverridden(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Bindings(),
	}, extra...)
	env, err := cel.NewCustomEnv(append(opts, dec...)...)
	if err != nil {
		return nil, fmt.Errorf("celenv: %w", err)
	}
	return env, nil
}

// figureFunction declares figure(name) and figure(name, dims), bound at
// evaluation time to the caller's lookup (derived figures, report expressions).
func figureFunction() cel.EnvOption {
	return cel.Function("figure",
		cel.Overload("figure_string", []*cel.Type{cel.StringType}, DecimalType, cel.LateFunctionBinding()),
		cel.Overload("figure_string_map", []*cel.Type{cel.StringType, cel.MapType(cel.StringType, cel.StringType)},
			DecimalType, cel.LateFunctionBinding()),
	)
}

// Issue is one problem found compiling an expression. Line and Column (both
// 1-based) locate it inside the expression; they are 0 when the issue concerns
// the expression as a whole, such as its result type.
type Issue struct {
	Line, Column int
	Message      string
}

func (i Issue) String() string {
	if i.Line == 0 {
		return i.Message
	}
	return fmt.Sprintf("%d:%d: %s", i.Line, i.Column, i.Message)
}

// CompileError is the error Compile returns for an expression that does not
// parse, type-check or meet the rules of this environment.
type CompileError struct {
	Issues []Issue
}

func (e *CompileError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	return strings.Join(parts, "; ")
}

// Program is a compiled rule expression. It is safe for concurrent use by
// several goroutines.
type Program struct {
	prg       cel.Program
	want      Kind
	derived   bool
	refs      []string
	costLimit uint64
	types     typeSet  // the event types a `when` can be true for (EventTypes)
	fast      shortcut // nil: always the interpreter
}

// Compile parses and type-checks expr, which must produce want. derived selects
// the environment of derived figures, the only one with figure() (and the only
// one without `event`). Every problem is returned as a *CompileError.
func (e *Env) Compile(expr string, want Kind, derived bool) (*Program, error) {
	env := e.event
	if derived {
		env = e.derived
	}
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		var issues []Issue
		for _, ce := range iss.Errors() {
			issues = append(issues, Issue{
				Line:    ce.Location.Line(),
				Column:  ce.Location.Column() + 1,
				Message: explain(ce.Message, derived),
			})
		}
		return nil, &CompileError{Issues: issues}
	}
	var issues []Issue
	found := inspect(checked.NativeRep(), derived, func(id int64, msg string) {
		loc := checked.NativeRep().SourceInfo().GetStartLocation(id)
		issues = append(issues, Issue{Line: loc.Line(), Column: loc.Column() + 1, Message: msg})
	})
	if msg := resultProblem(checked.OutputType(), want); msg != "" {
		issues = append(issues, Issue{Message: msg})
	}
	if len(issues) > 0 {
		sort.SliceStable(issues, func(i, j int) bool {
			a, b := issues[i], issues[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, &CompileError{Issues: issues}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if found.loops || e.alwaysTrack {
		opts = append(opts, cel.CostLimit(e.costLimit))
	}
	prg, err := env.Program(checked, opts...)
	if err != nil {
		return nil, &CompileError{Issues: []Issue{{Message: err.Error()}}}
	}
	p := &Program{prg: prg, want: want, derived: derived, refs: found.refs, costLimit: e.costLimit, types: anyType}
	if !derived && want == KindBool {
		p.types = eventTypes(checked.NativeRep().Expr())
	}
	// Cost tracking counts the interpreter's steps: a tracked program never
	// takes a shortcut.
	if !derived && !found.loops && !e.alwaysTrack && !e.noShortcuts {
		p.fast = shortcutFor(checked.NativeRep(), checked.NativeRep().Expr())
	}
	return p, nil
}

// explain adds a hint to the checker's messages a rule author is likely to meet.
func explain(msg string, derived bool) string {
	switch {
	case strings.Contains(msg, "no matching overload") && strings.Contains(msg, "decimal") && strings.Contains(msg, "double"):
		return msg + `: decimal does not mix with double; money is exact, so write the number as decimal("0.1")`
	case (strings.Contains(msg, "no matching overload for '_==_'") || strings.Contains(msg, "no matching overload for '_!=_'")) &&
		strings.Contains(msg, "decimal"):
		return msg + ": compare a decimal with a decimal, e.g. x == decimal(0)"
	case strings.Contains(msg, "undeclared reference to 'figure'") && !derived:
		return msg + ": figure() is only available in derived figures"
	case strings.Contains(msg, "undeclared reference to 'event'") && derived:
		return msg + ": a derived figure is computed from other figures, not from events"
	}
	return msg
}

// resultProblem says why a result type does not fit want, or "". dyn passes and
// is checked when evaluated; for decimals, int is accepted as an exact value.
func resultProblem(t *cel.Type, want Kind) string {
	if t.Kind() == types.DynKind {
		return ""
	}
	switch want {
	case KindBool:
		if t.IsExactType(cel.BoolType) {
			return ""
		}
	case KindString:
		if t.IsExactType(cel.StringType) {
			return ""
		}
	case KindDecimal:
		if t.IsExactType(DecimalType) || t.IsExactType(cel.IntType) {
			return ""
		}
		if t.IsExactType(cel.DoubleType) {
			return `must evaluate to a decimal, not double: money is exact, use decimal("...")`
		}
	default:
		return fmt.Sprintf("unsupported result kind %v", want)
	}
	msg := fmt.Sprintf("must evaluate to a %v, not %s", want, t.String())
	if want == KindString && (t.IsExactType(DecimalType) || t.IsExactType(cel.IntType) || t.IsExactType(cel.BoolType)) {
		msg += ": convert it with string(...)"
	}
	return msg
}

// findings are what inspect learns about an expression.
type findings struct {
	refs  []string // figure names referenced, sorted and distinct
	loops bool     // the expression holds a comprehension (a macro or cel.bind)
}

// inspect walks a checked expression: it reports event.<field> for fields the
// envelope does not have and figure() calls whose name is not a string literal,
// and collects the figure names referenced and whether there are loops.
func inspect(a *ast.AST, derived bool, report func(id int64, msg string)) findings {
	var f findings
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.ComprehensionKind:
			f.loops = true
		case ast.SelectKind:
			sel := x.AsSelect()
			if isEventIdent(sel.Operand()) {
				checkEventField(x.ID(), sel.FieldName(), report)
			}
		case ast.CallKind:
			call := x.AsCall()
			args := call.Args()
			switch call.FunctionName() {
			case "_[_]", "_[?_]":
				if len(args) == 2 && isEventIdent(args[0]) && args[1].Kind() == ast.LiteralKind {
					if s, ok := args[1].AsLiteral().(types.String); ok {
						checkEventField(args[1].ID(), string(s), report)
					}
				}
			case operators.Equals, operators.NotEquals:
				// CEL's equality asks the left operand: an int on the left never
				// equals a decimal. A JSON number in event.data is an int or a
				// decimal depending on its value, so a comparison of a dyn value
				// with a decimal would depend on the operand order.
				if len(args) == 2 && (isDecimal(a, args[0]) && isDyn(a, args[1]) || isDyn(a, args[0]) && isDecimal(a, args[1])) {
					report(x.ID(), "comparing a decimal with a value of unknown type: wrap the value in decimal(...), e.g. decimal(event.data.amount) == decimal(\"0\")")
				}
			case "figure":
				if !derived || call.IsMemberFunction() || len(args) == 0 {
					return
				}
				name, ok := literalString(args[0])
				if !ok {
					report(args[0].ID(), `figure(): the figure name must be a string literal, e.g. figure("tier1_capital")`)
					return
				}
				f.refs = append(f.refs, name)
			}
		}
	}))
	slices.Sort(f.refs)
	f.refs = slices.Compact(f.refs)
	return f
}

func isDecimal(a *ast.AST, x ast.Expr) bool { return a.GetType(x.ID()).IsExactType(DecimalType) }

func isDyn(a *ast.AST, x ast.Expr) bool { return a.GetType(x.ID()).Kind() == types.DynKind }

func isEventIdent(x ast.Expr) bool {
	return x.Kind() == ast.IdentKind && x.AsIdent() == "event"
}

func literalString(x ast.Expr) (string, bool) {
	if x.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := x.AsLiteral().(types.String)
	return string(s), ok
}

func checkEventField(id int64, field string, report func(int64, string)) {
	if slices.Contains(envelopeFields, field) {
		return
	}
	report(id, fmt.Sprintf("event has no field %q (fields: %s)", field, strings.Join(envelopeFields, ", ")))
}

// FigureRefs returns the figure names referenced by figure() calls, sorted and
// distinct; nil for programs that are not derived.
func (p *Program) FigureRefs() []string { return slices.Clone(p.refs) }

// eval runs the program on an activation and classifies a cost-limit stop.
func (p *Program) eval(act interpreter.Activation) (ref.Val, error) {
	out, _, err := p.prg.Eval(act)
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			return nil, fmt.Errorf("%w (limit %d): evaluation stopped", ErrCostLimit, p.costLimit)
		}
		return nil, err
	}
	return out, nil
}

func (p *Program) forEvent(ev *Event, want Kind) (ref.Val, error) {
	if p.derived {
		return nil, errors.New("a derived program is evaluated with Derived, not on an event")
	}
	if p.want != want {
		return nil, fmt.Errorf("program was compiled for a %v result, not %v", p.want, want)
	}
	if p.fast != nil {
		if v, ok := p.fast.eval(ev); ok {
			return v, nil
		}
	}
	return p.eval(ev)
}

// Bool evaluates a `when` program on an event.
func (p *Program) Bool(ev *Event) (bool, error) {
	out, err := p.forEvent(ev, KindBool)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("want bool, got %s", out.Type().TypeName())
	}
	return bool(b), nil
}

// String evaluates a dimension or currency program on an event.
func (p *Program) String(ev *Event) (string, error) {
	out, err := p.forEvent(ev, KindString)
	if err != nil {
		return "", err
	}
	s, ok := out.(types.String)
	if !ok {
		return "", fmt.Errorf("want string, got %s", out.Type().TypeName())
	}
	return string(s), nil
}

// Decimal evaluates a value program on an event.
func (p *Program) Decimal(ev *Event) (decimal.Decimal, error) {
	out, err := p.forEvent(ev, KindDecimal)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return toDecimal(out)
}

func toDecimal(out ref.Val) (decimal.Decimal, error) {
	switch v := out.(type) {
	case decimalVal:
		return v.d, nil
	case types.Int:
		return decimal.NewFromInt(int64(v)), nil
	}
	return decimal.Decimal{}, fmt.Errorf("want decimal, got %s", out.Type().TypeName())
}

// Derived evaluates a derived figure's value. lookup supplies figure(name) (dims
// nil) and figure(name, dims); its errors are returned wrapped, so errors.Is
// works on them.
func (p *Program) Derived(lookup func(name string, dims map[string]string) (decimal.Decimal, error)) (decimal.Decimal, error) {
	if !p.derived {
		return decimal.Decimal{}, errors.New("only a derived program is evaluated with Derived")
	}
	var lookupErr error
	act, err := cel.FunctionVars(interpreter.EmptyActivation(), map[string]cel.LateBoundFunction{
		"figure": func(_ string, args ...ref.Val) ref.Val {
			name := string(args[0].(types.String))
			var dims map[string]string
			if len(args) == 2 {
				m := args[1].(traits.Mapper)
				dims = make(map[string]string)
				for it := m.Iterator(); it.HasNext() == types.True; {
					k := it.Next()
					dims[string(k.(types.String))] = string(m.Get(k).(types.String))
				}
			}
			d, err := lookup(name, dims)
			if err != nil {
				if lookupErr == nil {
					lookupErr = fmt.Errorf("figure %q: %w", name, err)
				}
				return types.WrapErr(lookupErr)
			}
			return newDecimal(d)
		},
	})
	if err != nil {
		return decimal.Decimal{}, err
	}
	out, err := p.eval(act)
	if lookupErr != nil {
		return decimal.Decimal{}, lookupErr
	}
	if err != nil {
		return decimal.Decimal{}, err
	}
	return toDecimal(out)
}

// locations caches time zones by name: time.LoadLocation reads the zone
// database on every call.
var locations sync.Map // string → *time.Location

func dateIn(ts, tz ref.Val) ref.Val {
	name := string(tz.(types.String))
	loc, ok := locations.Load(name)
	if !ok {
		l, err := time.LoadLocation(name)
		if err != nil || name == "" || name == "Local" {
			return types.NewErr("date: unknown time zone %q", name)
		}
		loc, _ = locations.LoadOrStore(name, l)
	}
	return types.String(ts.(types.Timestamp).Time.In(loc.(*time.Location)).Format(time.DateOnly))
}
