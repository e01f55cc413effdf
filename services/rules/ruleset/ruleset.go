package ruleset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/ledgerline/ledgerline/services/rules/period"
	"go.yaml.in/yaml/v3"
)

// Kind is how a figure aggregates its contributions (DESIGN.md "Rules").
type Kind string

// The figure kinds.
const (
	// KindStock: the latest event per subject as of the period end, among the
	// event types its `when` can match; it counts if `when` matched it.
	KindStock Kind = "stock"
	// KindFlow: every event whose occurred_at is inside the period.
	KindFlow Kind = "flow"
	// KindCumulative: every event before the period end (GL balances).
	KindCumulative Kind = "cumulative"
	// KindDerived: computed from other figures at report time.
	KindDerived Kind = "derived"
)

var kinds = []Kind{KindStock, KindFlow, KindCumulative, KindDerived}

// Dimension is one named dimension of a figure: a string expression.
type Dimension struct {
	Name, Expr string
	Program    *celenv.Program
}

// Figure is one figure of a rule set with its compiled expressions. For a
// derived figure only Value and ValueProg are set, and Refs lists the figures
// it references; for the others, When and Value are set, Currency and
// Dimensions are optional (CurrencyProg is nil without a currency) and Refs is
// nil.
type Figure struct {
	Name, Description     string
	Kind                  Kind
	When, Value, Currency string
	Dimensions            []Dimension // in the order of the file
	WhenProg, ValueProg   *celenv.Program
	CurrencyProg          *celenv.Program
	Refs                  []string // sorted, distinct
}

// RuleSet is a parsed, valid rule set. Figures are in the order of the file.
type RuleSet struct {
	Name, Description string
	EffectiveFrom     string // a period: "2026-01", "2026-Q1" or "2026"
	Figures           []Figure
	Source            []byte // the YAML as onboarded, stored with the version
}

// Figure returns the figure with the given name.
func (rs *RuleSet) Figure(name string) (*Figure, bool) {
	for i := range rs.Figures {
		if rs.Figures[i].Name == name {
			return &rs.Figures[i], true
		}
	}
	return nil, false
}

// Problem is one reason a rule set is refused.
type Problem struct {
	// Figure is the figure's name, "figures[i]" when it has none, "" for the
	// rule set itself.
	Figure string `json:"figure"`
	// Field is the key concerned: "ruleset", "effective_from", "name", "kind",
	// "when", "value", "currency", "dimensions", "dimensions.counterparty"...
	Field string `json:"field"`
	// Message says what is wrong; an expression's errors start with CEL's
	// line:column inside the expression ("CEL 1:17: ...").
	Message string `json:"message"`
	// Line and Column locate the problem in the YAML file (1-based), 0 when
	// unknown. For an expression error they point at the error itself when
	// the expression is written plainly enough to map it.
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	}
	if p.Figure != "" {
		fmt.Fprintf(&b, "figure %s: ", p.Figure)
	}
	if p.Field != "" {
		fmt.Fprintf(&b, "%s: ", p.Field)
	}
	b.WriteString(p.Message)
	return b.String()
}

var (
	rulesetName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	figureName  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	currencyRef = regexp.MustCompile(`undeclared reference to '([A-Z]{3})'`)
)

// maxNameLength matches the adjustment event schema's limit on figure names.
const maxNameLength = 128

var (
	topKeys    = []string{"ruleset", "description", "effective_from", "figures"}
	figureKeys = []string{"name", "description", "kind", "when", "dimensions", "value", "currency"}
)

// Parse parses and validates a rule set. known reports whether a figure of
// another rule set exists (nil: none do); figure() may reference those and the
// figures of this set. It returns the rule set, or nil and every problem found,
// sorted by position.
func Parse(src []byte, env *celenv.Env, known func(figure string) bool) (*RuleSet, []Problem) {
	p := &parser{src: src, env: env, known: known, lines: strings.Split(string(src), "\n")}
	if known == nil {
		p.known = func(string) bool { return false }
	}
	rs := p.parse()
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool {
			a, b := p.problems[i], p.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			if a.Column != b.Column {
				return a.Column < b.Column
			}
			if a.Figure != b.Figure {
				return a.Figure < b.Figure
			}
			if a.Field != b.Field {
				return a.Field < b.Field
			}
			return a.Message < b.Message
		})
		return nil, slices.Compact(p.problems)
	}
	return rs, nil
}

// PeekName returns the rule set name written in src ("" when there is none)
// without validating anything else. Onboarding needs the name before Parse, to
// build known from the figures of the other rule sets: a figure of an older
// version of the same set must not count as known.
func PeekName(src []byte) string {
	var top struct {
		Ruleset string `yaml:"ruleset"`
	}
	if err := yaml.Unmarshal(src, &top); err != nil {
		return ""
	}
	return top.Ruleset
}

type parser struct {
	src      []byte
	lines    []string
	env      *celenv.Env
	known    func(string) bool
	problems []Problem
}

func (p *parser) add(fig, field string, n *yaml.Node, format string, args ...any) {
	pr := Problem{Figure: fig, Field: field, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func (p *parser) parse() *RuleSet {
	dec := yaml.NewDecoder(bytes.NewReader(p.src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add("", "", nil, "the rule set is empty")
			return nil
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		pr := Problem{Message: msg}
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil && m[0] == 0 {
			pr.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
			pr.Column = 1
			pr.Message = strings.TrimPrefix(msg[m[1]:], ": ")
		}
		if strings.Contains(pr.Message, "mapping values are not allowed") {
			// The usual cause: an expression holding ": " (a ternary, a map literal).
			pr.Message += `; an expression containing ": " must be quoted or written as a block (value: |)`
		}
		p.problems = append(p.problems, pr)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		n := &extra
		if err != nil {
			n = nil
		}
		p.add("", "", n, "a rule set is one YAML document; found more after the first")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		p.add("", "", root, "a rule set is a mapping with the keys %s", strings.Join(topKeys, ", "))
		return nil
	}
	top := p.mapping("", "", root, topKeys)
	rs := &RuleSet{Source: bytes.Clone(p.src)}

	if n, ok := top["ruleset"]; !ok {
		p.add("", "ruleset", root, "required, e.g. ruleset: credit-risk")
	} else if s, ok := p.scalar("", "ruleset", n); ok {
		switch {
		case !rulesetName.MatchString(s):
			p.add("", "ruleset", n, "%q is not a valid rule set name: use lower-case letters, digits and \"-\", starting with a letter", s)
		case len(s) > maxNameLength:
			p.add("", "ruleset", n, "longer than %d characters", maxNameLength)
		}
		rs.Name = s
	}
	if n, ok := top["description"]; ok {
		rs.Description, _ = p.scalar("", "description", n)
	}
	if n, ok := top["effective_from"]; !ok {
		p.add("", "effective_from", root, `required: the first period this version applies to, e.g. effective_from: "2026-01"`)
	} else if s, ok := p.scalar("", "effective_from", n); ok {
		if _, err := period.Parse(s, time.UTC); err != nil {
			p.add("", "effective_from", n, "%v", err)
		}
		rs.EffectiveFrom = s
	}
	figs, ok := top["figures"]
	switch {
	case !ok || figs.Kind == yaml.ScalarNode && figs.Tag == "!!null":
		p.add("", "figures", root, "at least one figure is required")
		return rs
	case figs.Kind != yaml.SequenceNode:
		p.add("", "figures", figs, "must be a list of figures")
		return rs
	case len(figs.Content) == 0:
		p.add("", "figures", figs, "at least one figure is required")
		return rs
	}
	p.figures(rs, figs)
	return rs
}

// mapping reads a mapping's keys, reporting unknown and duplicate ones; it
// returns the value nodes by key.
func (p *parser) mapping(fig, prefix string, n *yaml.Node, allowed []string) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	first := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			p.add(fig, "", k, "keys must be plain strings")
			continue
		}
		if f, dup := first[key]; dup {
			p.add(fig, prefix+key, k, "duplicate key %q (first at line %d)", key, f.Line)
			continue
		}
		first[key] = k
		if allowed != nil && !slices.Contains(allowed, key) {
			p.add(fig, prefix+key, k, "unknown key %q (allowed: %s)", key, strings.Join(allowed, ", "))
			continue
		}
		out[key] = v
	}
	return out
}

// resolve follows YAML aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// scalar reads a string-valued key; null counts as missing.
func (p *parser) scalar(fig, field string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.add(fig, field, n, "must be a string")
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// figureNode keeps what cycle and reference checks need about a figure.
type figureNode struct {
	fig   *Figure
	value *yaml.Node // the value expression's node, for positions
}

func (p *parser) figures(rs *RuleSet, seq *yaml.Node) {
	firstName := map[string]*yaml.Node{}
	var nodes []figureNode
	for i, item := range seq.Content {
		item = resolve(item)
		label := fmt.Sprintf("figures[%d]", i)
		if item.Kind != yaml.MappingNode {
			p.add(label, "", item, "a figure is a mapping with the keys %s", strings.Join(figureKeys, ", "))
			continue
		}
		// The name first, so that every other problem can carry it.
		keys := map[string]*yaml.Node{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			if k := item.Content[j]; k.Kind == yaml.ScalarNode {
				if _, dup := keys[k.Value]; !dup {
					keys[k.Value] = resolve(item.Content[j+1])
				}
			}
		}
		f := Figure{}
		if n, ok := keys["name"]; ok && n.Kind == yaml.ScalarNode && n.Value != "" && n.Tag != "!!null" {
			f.Name, label = n.Value, n.Value
		}
		fields := p.mapping(label, "", item, figureKeys)
		if n, ok := fields["name"]; !ok || f.Name == "" {
			if ok {
				p.scalar(label, "name", n)
			}
			at := n
			if !ok {
				at = item
			}
			p.add(label, "name", at, "required, e.g. name: loan_exposure")
		} else {
			switch {
			case !figureName.MatchString(f.Name):
				p.add(label, "name", n, "%q is not a valid figure name: use lower-case letters, digits and \"_\", starting with a letter", f.Name)
			case len(f.Name) > maxNameLength:
				p.add(label, "name", n, "longer than %d characters", maxNameLength)
			}
			if first, dup := firstName[f.Name]; dup {
				p.add(label, "name", n, "duplicate figure name %q (first at line %d)", f.Name, first.Line)
			} else {
				firstName[f.Name] = n
			}
		}
		if n, ok := fields["description"]; ok {
			f.Description, _ = p.scalar(label, "description", n)
		}

		derived := false
		if n, ok := fields["kind"]; !ok {
			p.add(label, "kind", item, "required: one of %s", kindList())
			// Guess, so the expressions are still checked in the right environment.
			_, hasWhen := fields["when"]
			derived = !hasWhen
		} else if s, ok := p.scalar(label, "kind", n); ok {
			f.Kind = Kind(s)
			if !slices.Contains(kinds, f.Kind) {
				p.add(label, "kind", n, "%q is not a kind: one of %s", s, kindList())
				_, hasWhen := fields["when"]
				derived = !hasWhen
			}
			derived = derived || f.Kind == KindDerived
		}

		valueNode := fields["value"]
		if derived {
			for _, key := range []string{"when", "dimensions", "currency"} {
				if n, ok := fields[key]; ok {
					p.add(label, key, n, "a derived figure has no %s: it is computed from other figures by value alone", key)
				}
			}
			f.Value, f.ValueProg = p.expr(label, "value", item, valueNode, celenv.KindDecimal, true,
				"required: a decimal expression over figure(), e.g. figure(\"tier1_capital\") * decimal(\"0.25\")")
			if f.ValueProg != nil {
				f.Refs = f.ValueProg.FigureRefs()
			}
		} else {
			kindName := string(f.Kind)
			if !slices.Contains(kinds, f.Kind) {
				kindName = "non-derived"
			}
			f.When, f.WhenProg = p.expr(label, "when", item, fields["when"], celenv.KindBool, false,
				"required for a "+kindName+" figure: a bool expression selecting the events, e.g. event.type == \"loan.balance\"")
			f.Value, f.ValueProg = p.expr(label, "value", item, valueNode, celenv.KindDecimal, false,
				"required: a decimal expression, e.g. decimal(event.data.outstanding)")
			if n, ok := fields["currency"]; ok {
				f.Currency, f.CurrencyProg = p.expr(label, "currency", item, n, celenv.KindString, false, "")
			}
			if n, ok := fields["dimensions"]; ok {
				f.Dimensions = p.dimensions(label, n)
			}
		}
		rs.Figures = append(rs.Figures, f)
		nodes = append(nodes, figureNode{value: valueNode})
	}
	// rs.Figures is complete and will not move again.
	for i := range nodes {
		nodes[i].fig = &rs.Figures[i]
	}
	p.references(nodes)
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func (p *parser) dimensions(fig string, n *yaml.Node) []Dimension {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.add(fig, "dimensions", n, "must be a mapping from dimension name to a string expression")
		return nil
	}
	var out []Dimension
	byName := p.mapping(fig, "dimensions.", n, nil)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		v, ok := byName[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			continue // a duplicate, already reported
		}
		delete(byName, k.Value) // only the first of duplicates
		field := "dimensions." + k.Value
		if !figureName.MatchString(k.Value) {
			p.add(fig, field, k, "%q is not a valid dimension name: use lower-case letters, digits and \"_\", starting with a letter", k.Value)
		}
		expr, prog := p.expr(fig, field, k, v, celenv.KindString, false, "required: a string expression, e.g. event.data.counterparty_id")
		out = append(out, Dimension{Name: k.Value, Expr: expr, Program: prog})
	}
	return out
}

// expr compiles the expression at n (nil: missing, reported at parent with
// missing as the message, unless missing is "").
func (p *parser) expr(fig, field string, parent, n *yaml.Node, want celenv.Kind, derived bool, missing string) (string, *celenv.Program) {
	if n == nil || n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || strings.TrimSpace(n.Value) == "") {
		if missing != "" || n != nil {
			if missing == "" {
				missing = "required: an expression"
			}
			at := parent
			if n != nil {
				at = n
			}
			p.add(fig, field, at, "%s", missing)
		}
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		p.add(fig, field, n, "must be a CEL expression (a string)")
		return "", nil
	}
	src := n.Value
	prog, err := p.env.Compile(src, want, derived)
	if err != nil {
		var ce *celenv.CompileError
		if !errors.As(err, &ce) {
			p.add(fig, field, n, "%v", err)
			return src, nil
		}
		loc := newLocator(n, p.lines)
		for _, is := range ce.Issues {
			pr := Problem{Figure: fig, Field: field, Line: n.Line, Column: n.Column, Message: is.Message}
			if is.Line > 0 {
				pr.Message = fmt.Sprintf("CEL %d:%d: %s", is.Line, is.Column, is.Message)
				pr.Line, pr.Column = loc.at(is.Line, is.Column)
			}
			if field == "currency" {
				if m := currencyRef.FindStringSubmatch(is.Message); m != nil {
					pr.Message += fmt.Sprintf(`: a fixed currency is a string literal, written currency: '"%s"'`, m[1])
				}
			}
			p.problems = append(p.problems, pr)
		}
		return src, nil
	}
	return src, prog
}

// references checks figure() references: each must name a figure of this set
// or a known one, and derived figures must not depend on themselves.
func (p *parser) references(nodes []figureNode) {
	inSet := map[string]*Figure{}
	for _, fn := range nodes {
		if fn.fig.Name != "" {
			if _, dup := inSet[fn.fig.Name]; !dup {
				inSet[fn.fig.Name] = fn.fig
			}
		}
	}
	valueOf := map[string]*yaml.Node{}
	for _, fn := range nodes {
		f := fn.fig
		if f.Kind != KindDerived || fn.value == nil {
			continue
		}
		valueOf[f.Name] = fn.value
		loc := newLocator(fn.value, p.lines)
		for _, ref := range f.Refs {
			if _, ok := inSet[ref]; ok || p.known(ref) {
				continue
			}
			pr := Problem{Figure: f.Name, Field: "value", Line: fn.value.Line, Column: fn.value.Column,
				Message: fmt.Sprintf("unknown figure %q", ref)}
			if l, c, ok := findLiteral(fn.value.Value, ref); ok {
				pr.Message = fmt.Sprintf("CEL %d:%d: %s", l, c, pr.Message)
				pr.Line, pr.Column = loc.at(l, c)
			}
			p.problems = append(p.problems, pr)
		}
	}
	// Cycles among the derived figures of this set.
	edges := func(name string) []string {
		f := inSet[name]
		if f == nil || f.Kind != KindDerived {
			return nil
		}
		var out []string
		for _, r := range f.Refs {
			if g := inSet[r]; g != nil && g.Kind == KindDerived {
				out = append(out, r)
			}
		}
		return out
	}
	var names []string
	for name, f := range inSet {
		if f.Kind == KindDerived {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, cycle := range findCycles(names, edges) {
		start := cycle[0]
		n := valueOf[start]
		pr := Problem{Figure: start, Field: "value",
			Message: "cycle among derived figures: " + strings.Join(cycle, " → ")}
		if n != nil {
			pr.Line, pr.Column = n.Line, n.Column
		}
		p.problems = append(p.problems, pr)
	}
}

// findCycles returns one cycle per strongly connected component that has one,
// as a path from its smallest name back to it ("a", "b", "a"). nodes are
// sorted; successors are followed in sorted order, so the result is
// deterministic.
func findCycles(nodes []string, edges func(string) []string) [][]string {
	// Tarjan's algorithm.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	next := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		succ := edges(v)
		slices.Sort(succ)
		for _, w := range succ {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, v := range nodes {
		if _, seen := index[v]; !seen {
			strong(v)
		}
	}
	var cycles [][]string
	for _, scc := range sccs {
		slices.Sort(scc)
		start := scc[0]
		if len(scc) == 1 && !slices.Contains(edges(start), start) {
			continue
		}
		member := map[string]bool{}
		for _, v := range scc {
			member[v] = true
		}
		// Depth-first from start, within the component, back to start.
		var path []string
		visited := map[string]bool{}
		var walk func(v string) bool
		walk = func(v string) bool {
			path = append(path, v)
			visited[v] = true
			succ := edges(v)
			slices.Sort(succ)
			for _, w := range succ {
				if w == start {
					path = append(path, w)
					return true
				}
				if member[w] && !visited[w] && walk(w) {
					return true
				}
			}
			path = path[:len(path)-1]
			return false
		}
		walk(start)
		cycles = append(cycles, path)
	}
	slices.SortFunc(cycles, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return cycles
}
