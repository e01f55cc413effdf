package celenv

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"github.com/shopspring/decimal"
)

// ReportKind is the kind of a report expression.
type ReportKind int

// The kinds of report expression.
const (
	// ReportHaving is a table's `having`: it keeps a row when true.
	ReportHaving ReportKind = iota + 1
	// ReportValidation is one of a template's validations: it passes when true.
	ReportValidation
)

func (k ReportKind) String() string {
	switch k {
	case ReportHaving:
		return "having"
	case ReportValidation:
		return "validation"
	}
	return fmt.Sprintf("ReportKind(%d)", int(k))
}

// ReportEnv is the CEL environment of report template expressions. It is
// immutable after NewReportEnv and safe for concurrent use.
//
// Report expressions (DESIGN.md, "Report templates") are the other users of
// this package's decimal type: a table's `having` filter and a template's
// validations. They are compiled at template onboarding by the reports service
// and evaluated when a filing is rendered, with the figures of the filing's
// (period, as_of_seq) supplied by the caller.
//
//	having      value >= figure("large_exposure_threshold")
//	            variables: value (decimal, the row's value), row (map(string, string),
//	            the row's group_by dimension values); figure(name), figure(name, dims)
//	validation  cell("r0010_c0010") == cell("r0015_c0010") + cell("r0020_c0010")
//	            rows("large_exposures").all(v, v <= figure("large_exposure_limit"))
//	            cell(code) is the reported amount of a cell; rows(table) the
//	            reported values of a table's rows, list(decimal), in the
//	            table's order; figure(...) as above
//
// Both must evaluate to a bool, and the names given to figure(), cell() and
// rows() must be string literals, so that a template's references can be
// checked without evaluating anything (FigureRefs, CellRefs, TableRefs).
// Decimals, the standard library, the strings extension, cel.bind and the cost
// limit are those of rule expressions; see the package documentation.
type ReportEnv struct {
	having      *cel.Env
	validation  *cel.Env
	costLimit   uint64
	alwaysTrack bool
}

// NewReportEnv builds the environment. It takes the options of New:
// WithCostLimit and WithCostTrackingAlways.
func NewReportEnv(opts ...Option) (*ReportEnv, error) {
	cfg := &Env{costLimit: DefaultCostLimit}
	for _, o := range opts {
		o(cfg)
	}
	e := &ReportEnv{costLimit: cfg.costLimit, alwaysTrack: cfg.alwaysTrack}
	// The base of rule expressions, without date(): report expressions see
	// amounts, never timestamps.
	base, err := baseEnv(figureFunction())
	if err != nil {
		return nil, err
	}
	if e.having, err = base.Extend(
		cel.Variable("value", DecimalType),
		cel.Variable("row", cel.MapType(cel.StringType, cel.StringType)),
	); err != nil {
		return nil, fmt.Errorf("celenv: %w", err)
	}
	if e.validation, err = base.Extend(
		cel.Function("cell",
			cel.Overload("cell_string", []*cel.Type{cel.StringType}, DecimalType, cel.LateFunctionBinding())),
		cel.Function("rows",
			cel.Overload("rows_string", []*cel.Type{cel.StringType}, cel.ListType(DecimalType), cel.LateFunctionBinding())),
	); err != nil {
		return nil, fmt.Errorf("celenv: %w", err)
	}
	return e, nil
}

// ReportProgram is a compiled report expression. It is safe for concurrent use.
type ReportProgram struct {
	prog       *Program // evaluation and the cost limit, shared with rule programs
	kind       ReportKind
	figureDims map[string][]string
	cells      []string
	tables     []string
	rowKeys    []string
}

// CompileHaving compiles a table's `having` expression.
func (e *ReportEnv) CompileHaving(expr string) (*ReportProgram, error) {
	return e.Compile(expr, ReportHaving)
}

// CompileValidation compiles a validation's expression.
func (e *ReportEnv) CompileValidation(expr string) (*ReportProgram, error) {
	return e.Compile(expr, ReportValidation)
}

// Compile parses and type-checks a report expression of the given kind, which
// must evaluate to a bool. Every problem is returned as a *CompileError whose
// issues carry the line and column inside the expression.
func (e *ReportEnv) Compile(expr string, kind ReportKind) (*ReportProgram, error) {
	var env *cel.Env
	switch kind {
	case ReportHaving:
		env = e.having
	case ReportValidation:
		env = e.validation
	default:
		return nil, fmt.Errorf("celenv: unknown report expression kind %v", kind)
	}
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		var issues []Issue
		for _, ce := range iss.Errors() {
			issues = append(issues, Issue{
				Line:    ce.Location.Line(),
				Column:  ce.Location.Column() + 1,
				Message: explainReport(ce.Message, kind),
			})
		}
		return nil, &CompileError{Issues: issues}
	}
	a := checked.NativeRep()
	var issues []Issue
	report := func(id int64, msg string) {
		loc := a.SourceInfo().GetStartLocation(id)
		issues = append(issues, Issue{Line: loc.Line(), Column: loc.Column() + 1, Message: msg})
	}
	// inspect checks figure() names as in derived figures; there is no
	// `event` here, so its envelope checks never fire.
	found := inspect(a, true, report)
	rf := inspectReport(a, report)
	if msg := resultProblem(checked.OutputType(), KindBool); msg != "" {
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
	return &ReportProgram{
		prog:       &Program{prg: prg, want: KindBool, derived: true, refs: found.refs, costLimit: e.costLimit},
		kind:       kind,
		figureDims: rf.figureDims,
		cells:      rf.cells,
		tables:     rf.tables,
		rowKeys:    rf.rowKeys,
	}, nil
}

// explainReport adds a hint to the checker's messages a template author is
// likely to meet.
func explainReport(msg string, kind ReportKind) string {
	switch {
	case strings.Contains(msg, "undeclared reference to 'cell'") && kind == ReportHaving:
		return msg + `: cell() is only available in validations; a table's having sees value, row and figure()`
	case strings.Contains(msg, "undeclared reference to 'rows'") && kind == ReportHaving:
		// CEL suggests row, which is not what the author meant.
		msg = strings.Replace(msg, " (did you mean 'row'?)", "", 1)
		return msg + `: rows() is only available in validations; a table's having sees value, row and figure()`
	case (strings.Contains(msg, "undeclared reference to 'value'") || strings.Contains(msg, "undeclared reference to 'row'")) &&
		kind == ReportValidation:
		return msg + `: value and row are only available in a table's having; a validation reads cell("code"), rows("table") and figure("name")`
	case strings.Contains(msg, "undeclared reference to 'event'"):
		return msg + `: report expressions are computed from figures and cells, not from events`
	}
	return explain(msg, true)
}

// reportFindings are what inspectReport learns about a report expression.
type reportFindings struct {
	figureDims map[string][]string // figure name → literal dimension keys used with it
	cells      []string            // cell codes, sorted and distinct
	tables     []string            // table codes given to rows(), sorted and distinct
	rowKeys    []string            // literal keys read from row, sorted and distinct
}

// inspectReport reports cell() and rows() calls whose code is not a string
// literal and collects the cell and table codes, the row keys and the
// dimension keys given to figure().
func inspectReport(a *ast.AST, report func(id int64, msg string)) reportFindings {
	var f reportFindings
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.SelectKind: // row.counterparty, has(row.counterparty)
			sel := x.AsSelect()
			if isIdent(sel.Operand(), "row") {
				f.rowKeys = append(f.rowKeys, sel.FieldName())
			}
		case ast.CallKind:
			call := x.AsCall()
			args := call.Args()
			switch call.FunctionName() {
			case "_[_]", "_[?_]": // row["counterparty"]
				if len(args) == 2 && isIdent(args[0], "row") {
					if k, ok := literalString(args[1]); ok {
						f.rowKeys = append(f.rowKeys, k)
					}
				}
			case operators.In: // "counterparty" in row
				if len(args) == 2 && isIdent(args[1], "row") {
					if k, ok := literalString(args[0]); ok {
						f.rowKeys = append(f.rowKeys, k)
					}
				}
			case "cell":
				if call.IsMemberFunction() || len(args) != 1 {
					return
				}
				code, ok := literalString(args[0])
				if !ok {
					report(args[0].ID(), `cell(): the cell code must be a string literal, e.g. cell("r0010_c0010")`)
					return
				}
				f.cells = append(f.cells, code)
			case "rows":
				if call.IsMemberFunction() || len(args) != 1 {
					return
				}
				code, ok := literalString(args[0])
				if !ok {
					report(args[0].ID(), `rows(): the table code must be a string literal, e.g. rows("large_exposures")`)
					return
				}
				f.tables = append(f.tables, code)
			case "figure":
				if call.IsMemberFunction() || len(args) == 0 {
					return
				}
				name, ok := literalString(args[0])
				if !ok {
					return // reported by inspect
				}
				if f.figureDims == nil {
					f.figureDims = map[string][]string{}
				}
				dims := f.figureDims[name]
				if dims == nil {
					dims = []string{} // present: the figure is referenced
				}
				if len(args) == 2 && args[1].Kind() == ast.MapKind {
					for _, entry := range args[1].AsMap().Entries() {
						if entry.Kind() != ast.MapEntryKind {
							continue
						}
						if k, ok := literalString(entry.AsMapEntry().Key()); ok {
							dims = append(dims, k)
						}
					}
				}
				f.figureDims[name] = dims
			}
		}
	}))
	for name, dims := range f.figureDims {
		slices.Sort(dims)
		f.figureDims[name] = slices.Compact(dims)
	}
	slices.Sort(f.cells)
	f.cells = slices.Compact(f.cells)
	slices.Sort(f.tables)
	f.tables = slices.Compact(f.tables)
	slices.Sort(f.rowKeys)
	f.rowKeys = slices.Compact(f.rowKeys)
	return f
}

func isIdent(x ast.Expr, name string) bool {
	return x.Kind() == ast.IdentKind && x.AsIdent() == name
}

// Kind is the kind the program was compiled as.
func (p *ReportProgram) Kind() ReportKind { return p.kind }

// FigureRefs returns the figure names referenced by figure() calls, sorted and
// distinct.
func (p *ReportProgram) FigureRefs() []string { return p.prog.FigureRefs() }

// FigureDims returns, for each figure referenced, the dimension names written
// as literal keys of its figure(name, {dim: value}) filters, sorted and
// distinct (empty when it is only summed over everything), so that a caller
// can check them against the figure's dimensions.
func (p *ReportProgram) FigureDims() map[string][]string {
	out := make(map[string][]string, len(p.figureDims))
	for name, dims := range p.figureDims {
		out[name] = slices.Clone(dims)
	}
	return out
}

// CellRefs returns the cell codes referenced by cell() calls, sorted and
// distinct; nil for a having program.
func (p *ReportProgram) CellRefs() []string { return slices.Clone(p.cells) }

// TableRefs returns the table codes referenced by rows() calls, sorted and
// distinct; nil for a having program.
func (p *ReportProgram) TableRefs() []string { return slices.Clone(p.tables) }

// RowKeys returns the keys a having program reads from `row` by literal
// (row.counterparty, row["counterparty"], has(row.x), "x" in row), sorted and
// distinct, so that a caller can check them against the table's group_by.
func (p *ReportProgram) RowKeys() []string { return slices.Clone(p.rowKeys) }

// Having evaluates a having program for one table row: value is the row's
// value, row its dimension values. lookup supplies figure(); its errors are
// returned wrapped, so errors.Is works on them.
func (p *ReportProgram) Having(value decimal.Decimal, row map[string]string, lookup func(name string, dims map[string]string) (decimal.Decimal, error)) (bool, error) {
	if p.kind != ReportHaving {
		return false, fmt.Errorf("a %v program is not evaluated with Having", p.kind)
	}
	if row == nil {
		row = map[string]string{}
	}
	vars := map[string]any{
		"value": decimalVal{value},
		"row":   types.NewStringStringMap(types.DefaultTypeAdapter, row),
	}
	var lookupErr error
	act, err := cel.FunctionVars(vars, map[string]cel.LateBoundFunction{
		"figure": figureBinding(lookup, &lookupErr),
	})
	if err != nil {
		return false, err
	}
	return p.evalBool(act, &lookupErr)
}

// Validate evaluates a validation program. cell supplies cell(code), the
// reported amount of a cell; rows supplies rows(table), the reported values of
// a table's rows in the table's order (after its having, order_by and limit);
// lookup supplies figure(). Their errors are returned wrapped, so errors.Is
// works on them.
func (p *ReportProgram) Validate(cell func(code string) (decimal.Decimal, error), rows func(table string) ([]decimal.Decimal, error),
	lookup func(name string, dims map[string]string) (decimal.Decimal, error)) (bool, error) {
	if p.kind != ReportValidation {
		return false, fmt.Errorf("a %v program is not evaluated with Validate", p.kind)
	}
	var lookupErr error
	act, err := cel.FunctionVars(interpreter.EmptyActivation(), map[string]cel.LateBoundFunction{
		"figure": figureBinding(lookup, &lookupErr),
		"cell": func(_ string, args ...ref.Val) ref.Val {
			code := string(args[0].(types.String))
			if cell == nil {
				return types.WrapErr(setOnce(&lookupErr, fmt.Errorf("cell %q: no cell values supplied", code)))
			}
			d, err := cell(code)
			if err != nil {
				return types.WrapErr(setOnce(&lookupErr, fmt.Errorf("cell %q: %w", code, err)))
			}
			return newDecimal(d)
		},
		"rows": func(_ string, args ...ref.Val) ref.Val {
			code := string(args[0].(types.String))
			if rows == nil {
				return types.WrapErr(setOnce(&lookupErr, fmt.Errorf("rows %q: no table rows supplied", code)))
			}
			values, err := rows(code)
			if err != nil {
				return types.WrapErr(setOnce(&lookupErr, fmt.Errorf("rows %q: %w", code, err)))
			}
			elems := make([]ref.Val, len(values))
			for i, d := range values {
				if elems[i] = newDecimal(d); types.IsError(elems[i]) {
					return elems[i]
				}
			}
			return types.NewRefValList(types.DefaultTypeAdapter, elems)
		},
	})
	if err != nil {
		return false, err
	}
	return p.evalBool(act, &lookupErr)
}

func (p *ReportProgram) evalBool(act interpreter.Activation, lookupErr *error) (bool, error) {
	out, err := p.prog.eval(act)
	if *lookupErr != nil {
		return false, *lookupErr
	}
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("want bool, got %s", out.Type().TypeName())
	}
	return bool(b), nil
}

// setOnce keeps the first lookup error of an evaluation, the one that caused
// the others, and returns it.
func setOnce(dst *error, err error) error {
	if *dst == nil {
		*dst = err
	}
	return *dst
}

var errNoLookup = errors.New("no figure values supplied")

// figureBinding binds figure() to lookup, recording its first error in
// lookupErr.
func figureBinding(lookup func(string, map[string]string) (decimal.Decimal, error), lookupErr *error) cel.LateBoundFunction {
	return func(_ string, args ...ref.Val) ref.Val {
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
		if lookup == nil {
			return types.WrapErr(setOnce(lookupErr, fmt.Errorf("figure %q: %w", name, errNoLookup)))
		}
		d, err := lookup(name, dims)
		if err != nil {
			return types.WrapErr(setOnce(lookupErr, fmt.Errorf("figure %q: %w", name, err)))
		}
		return newDecimal(d)
	}
}
