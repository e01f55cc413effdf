package ruleset

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const fields = "(fields: id, source, type, schema_version, subject, occurred_at, data, supersedes)"

// P builds a Problem: figure, field, message, line, column.
func P(figure, field, message string, line, column int) Problem {
	return Problem{Figure: figure, Field: field, Message: message, Line: line, Column: column}
}

func TestParseValid(t *testing.T) {
	src := `ruleset: credit-risk
description: Credit exposures
effective_from: "2026-Q1"
figures:
  - name: loan_exposure
    description: Outstanding loan exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
      exposure_class: event.data.exposure_class
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: payments
    kind: flow
    when: event.type == "payment"
    value: decimal(event.data.amount)
  - name: large_exposure_threshold
    kind: derived
    value: figure("tier1_capital") * decimal("0.10") + figure("loan_exposure") * 0
`
	rs, problems := Parse([]byte(src), mustEnv(t), func(n string) bool { return n == "tier1_capital" })
	if problems != nil {
		t.Fatalf("problems: %v", problems)
	}
	if rs.Name != "credit-risk" || rs.Description != "Credit exposures" || rs.EffectiveFrom != "2026-Q1" || string(rs.Source) != src {
		t.Errorf("rule set = %q %q %q", rs.Name, rs.Description, rs.EffectiveFrom)
	}
	var names []string
	for _, f := range rs.Figures {
		names = append(names, f.Name+":"+string(f.Kind))
	}
	if got := strings.Join(names, " "); got != "loan_exposure:stock payments:flow large_exposure_threshold:derived" {
		t.Errorf("figures = %s", got)
	}
	le := rs.Figures[0]
	if le.Description != "Outstanding loan exposure" || le.When != `event.type == "loan.balance"` ||
		le.Value != "decimal(event.data.outstanding)" || le.Currency != "event.data.currency" ||
		le.WhenProg == nil || le.ValueProg == nil || le.CurrencyProg == nil || le.Refs != nil {
		t.Errorf("loan_exposure = %+v", le)
	}
	if len(le.Dimensions) != 2 || le.Dimensions[0].Name != "counterparty" || le.Dimensions[1].Name != "exposure_class" ||
		le.Dimensions[0].Expr != "event.data.counterparty_id" || le.Dimensions[1].Program == nil {
		t.Errorf("dimensions = %+v", le.Dimensions)
	}
	if p := rs.Figures[1]; p.Currency != "" || p.CurrencyProg != nil || p.Dimensions != nil {
		t.Errorf("payments = %+v", p)
	}
	th, ok := rs.Figure("large_exposure_threshold")
	if !ok || fmt.Sprint(th.Refs) != "[loan_exposure tier1_capital]" || th.WhenProg != nil {
		t.Errorf("derived = %+v", th)
	}
}

func TestParseProblems(t *testing.T) {
	known := func(n string) bool { return n == "tier1_capital" }
	tests := []struct {
		name string
		src  string
		want []Problem
	}{
		{"YAML syntax: an unquoted map literal", `ruleset: a
figures:
  - name: x
    value: figure("a", {"b": "c"})
`, []Problem{
			P("", "", `mapping values are not allowed in this context; an expression containing ": " must be quoted or written as a block (value: |)`, 4, 1),
		}},
		{"empty file", ``, []Problem{P("", "", "the rule set is empty", 0, 0)}},
		{"not a mapping", "- a\n- b\n", []Problem{
			P("", "", "a rule set is a mapping with the keys ruleset, description, effective_from, figures", 1, 1),
		}},
		{"required top-level keys", "description: nothing\n", []Problem{
			P("", "effective_from", `required: the first period this version applies to, e.g. effective_from: "2026-01"`, 1, 1),
			P("", "figures", "at least one figure is required", 1, 1),
			P("", "ruleset", "required, e.g. ruleset: credit-risk", 1, 1),
		}},
		{"bad top-level values", "ruleset: Credit Risk\neffective_from: 2026-13\nfigures: {}\nowner: me\n", []Problem{
			P("", "ruleset", `"Credit Risk" is not a valid rule set name: use lower-case letters, digits and "-", starting with a letter`, 1, 10),
			P("", "effective_from", `period "2026-13": want a month "2026-10", a quarter "2026-Q3" or a year "2026"`, 2, 17),
			P("", "figures", "must be a list of figures", 3, 10),
			P("", "owner", `unknown key "owner" (allowed: ruleset, description, effective_from, figures)`, 4, 1),
		}},
		{"empty figure list", "ruleset: a\neffective_from: \"2026\"\nfigures: []\n", []Problem{
			P("", "figures", "at least one figure is required", 3, 10),
		}},
		{"two YAML documents", "ruleset: a\neffective_from: \"2026\"\nfigures:\n  - name: x\n    kind: derived\n    value: decimal(1)\n---\nruleset: b\n", []Problem{
			P("", "", "a rule set is one YAML document; found more after the first", 7, 1),
		}},
		{"duplicate YAML keys", "ruleset: a\nruleset: b\neffective_from: \"2026\"\nfigures:\n  - name: x\n    kind: derived\n    value: decimal(1)\n    value: decimal(2)\n", []Problem{
			P("", "ruleset", `duplicate key "ruleset" (first at line 1)`, 2, 1),
			P("x", "value", `duplicate key "value" (first at line 7)`, 8, 5),
		}},
		{"names, kinds and keys of figures", `ruleset: a
effective_from: "2026-01"
figures:
  - name: loan_exposure
    kind: stock
    when: event.type == "loan.balance"
    valeu: decimal(event.data.outstanding)
  - name: loan_exposure
    kind: stocks
    when: event.type == "x"
    value: decimal("1")
  - name: Bad-Name
    kind: flow
    when: "true"
    value: "1"
  - kind: flow
    when: "true"
    value: decimal("1")
  - name: no_kind
    when: "true"
    value: decimal("1")
  - just a string
`, []Problem{
			P("loan_exposure", "value", "required: a decimal expression, e.g. decimal(event.data.outstanding)", 4, 5),
			P("loan_exposure", "valeu", `unknown key "valeu" (allowed: name, description, kind, when, dimensions, value, currency)`, 7, 5),
			P("loan_exposure", "name", `duplicate figure name "loan_exposure" (first at line 4)`, 8, 11),
			P("loan_exposure", "kind", `"stocks" is not a kind: one of stock, flow, cumulative, derived`, 9, 11),
			P("Bad-Name", "name", `"Bad-Name" is not a valid figure name: use lower-case letters, digits and "_", starting with a letter`, 12, 11),
			P("figures[3]", "name", "required, e.g. name: loan_exposure", 16, 5),
			P("no_kind", "kind", "required: one of stock, flow, cumulative, derived", 19, 5),
			P("figures[5]", "", "a figure is a mapping with the keys name, description, kind, when, dimensions, value, currency", 22, 5),
		}},
		{"expressions: types, doubles, typos, positions", `ruleset: a
effective_from: "2026-01"
figures:
  - name: f1
    kind: stock
    when: event.type
    value: decimal(event.data.outstanding) * 0.5
    currency: EUR
    dimensions:
      Counterparty: event.data.counterparty_id
      amount: decimal(event.data.amount)
      list: [1, 2]
  - name: f2
    kind: flow
    when: event.tpye == "payment"
    value: |
      decimal(event.data.amount)
        * 1.5
    dimensions: event.data.x
  - name: f3
    kind: cumulative
    when: event.type == "gl.posting"
    value: >-
      decimal(event.data.amount) *
      decimal("2") + figure("x")
  - name: f4
    kind: stock
    value: 1.5
`, []Problem{
			// CEL 1:33 is the "*" on line 7, column 12 + 32.
			P("f1", "value", `CEL 1:33: found no matching overload for '_*_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`, 7, 44),
			P("f1", "currency", `CEL 1:1: undeclared reference to 'EUR': a fixed currency is a string literal, written currency: '"EUR"'`, 8, 15),
			P("f1", "dimensions.Counterparty", `"Counterparty" is not a valid dimension name: use lower-case letters, digits and "_", starting with a letter`, 10, 7),
			P("f1", "dimensions.amount", "must evaluate to a string, not decimal: convert it with string(...)", 11, 15),
			P("f1", "dimensions.list", "must be a CEL expression (a string)", 12, 13),
			P("f2", "when", `CEL 1:6: event has no field "tpye" `+fields, 15, 16),
			// In a literal block, CEL 2:3 is line 18, after the block's indentation.
			P("f2", "value", `CEL 2:3: found no matching overload for '_*_' applied to '(decimal, double)': decimal does not mix with double; money is exact, so write the number as decimal("0.1")`, 18, 9),
			P("f2", "dimensions", "must be a mapping from dimension name to a string expression", 19, 17),
			// In a folded block, CEL's one line spans two lines of the file.
			P("f3", "value", "CEL 1:51: undeclared reference to 'figure': figure() is only available in derived figures", 25, 28),
			P("f4", "when", `required for a stock figure: a bool expression selecting the events, e.g. event.type == "loan.balance"`, 26, 5),
			P("f4", "value", `must evaluate to a decimal, not double: money is exact, use decimal("...")`, 28, 12),
		}},
		{"when must be bool", `ruleset: a
effective_from: "2026"
figures:
  - name: f
    kind: stock
    when: size(event.type)
    value: decimal(1)
`, []Problem{
			P("f", "when", "must evaluate to a bool, not int", 6, 11),
		}},
		{"derived figures: fields, references, cycles", `ruleset: a
effective_from: "2026-Q1"
figures:
  - name: base
    kind: stock
    when: event.type == "x"
    value: decimal(1)
  - name: a
    kind: derived
    when: "true"
    currency: '"EUR"'
    dimensions:
      x: '"y"'
    value: figure("b") + figure("base") + figure("tier1_capital")
  - name: b
    kind: derived
    value: figure("a") * 2 + figure("nowhere")
  - name: c
    kind: derived
    value: figure("c")
  - name: d
    kind: derived
    value: figure("e" + "")
  - name: e
    kind: derived
    value: decimal(event.data.x)
  - name: g
    kind: derived
  - name: h
    kind: derived
    value: figure("i")
  - name: i
    kind: derived
    value: figure("j")
  - name: j
    kind: derived
    value: figure("h") + figure("base")
`, []Problem{
			P("a", "when", "a derived figure has no when: it is computed from other figures by value alone", 10, 11),
			P("a", "currency", "a derived figure has no currency: it is computed from other figures by value alone", 11, 15),
			P("a", "dimensions", "a derived figure has no dimensions: it is computed from other figures by value alone", 13, 7),
			P("a", "value", "cycle among derived figures: a → b → a", 14, 12),
			P("b", "value", `CEL 1:26: unknown figure "nowhere"`, 17, 37),
			P("c", "value", "cycle among derived figures: c → c", 20, 12),
			P("d", "value", `CEL 1:12: figure(): the figure name must be a string literal, e.g. figure("tier1_capital")`, 23, 23),
			P("e", "value", "CEL 1:9: undeclared reference to 'event': a derived figure is computed from other figures, not from events", 26, 20),
			P("g", "value", `required: a decimal expression over figure(), e.g. figure("tier1_capital") * decimal("0.25")`, 27, 5),
			P("h", "value", "cycle among derived figures: h → i → j → h", 31, 12),
		}},
		{"duplicate dimension", "ruleset: a\neffective_from: \"2026\"\nfigures:\n  - name: x\n    kind: stock\n    when: \"true\"\n    value: decimal(1)\n    dimensions:\n      a: '\"1\"'\n      a: '\"2\"'\n", []Problem{
			P("x", "dimensions.a", `duplicate key "a" (first at line 9)`, 10, 7),
		}},
	}
	env := mustEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, got := Parse([]byte(tt.src), env, known)
			if rs != nil {
				t.Errorf("rule set returned with problems")
			}
			if !reflect.DeepEqual(got, tt.want) {
				var b strings.Builder
				for _, p := range got {
					fmt.Fprintf(&b, "\t%#v\n", p)
				}
				t.Errorf("problems:\n%s", b.String())
			}
			// The same input gives the same output.
			if _, again := Parse([]byte(tt.src), env, known); !reflect.DeepEqual(again, got) {
				t.Error("not deterministic")
			}
		})
	}
}

// TestParseWithoutKnown: with a nil known, every figure outside the set is
// unknown, and each reference is located inside a literal block.
func TestParseWithoutKnown(t *testing.T) {
	src := `ruleset: a
effective_from: "2026"
figures:
  - name: t
    kind: derived
    value: |
      figure("tier1_capital")
        + figure('tier2_capital', {"tier": "t2"})
`
	want := []Problem{
		P("t", "value", `CEL 1:8: unknown figure "tier1_capital"`, 7, 14),
		P("t", "value", `CEL 2:12: unknown figure "tier2_capital"`, 8, 18),
	}
	rs, got := Parse([]byte(src), mustEnv(t), nil)
	if rs != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %#v", got)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{P("loan_exposure", "value", "CEL 1:5: oops", 7, 12), "7:12: figure loan_exposure: value: CEL 1:5: oops"},
		{P("", "ruleset", "required", 1, 1), "1:1: ruleset: required"},
		{P("", "", "the rule set is empty", 0, 0), "the rule set is empty"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestFindCycles(t *testing.T) {
	graph := map[string][]string{
		"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, // one component, two cycles: report a → b → a
		"d": {"d"},      // self
		"e": {"f"},      // no cycle
		"f": {},         //
		"g": {"h", "i"}, // h → g closes; i is a dead end
		"h": {"g"},
		"i": {},
	}
	var nodes []string
	for n := range graph {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	got := fmt.Sprint(findCycles(nodes, func(n string) []string { return append([]string(nil), graph[n]...) }))
	if want := "[[a b a] [d d] [g h g]]"; got != want {
		t.Errorf("cycles = %s, want %s", got, want)
	}
}

func TestPeekName(t *testing.T) {
	tests := map[string]string{
		"ruleset: credit-risk\nfigures: [oops\n": "", // not YAML
		"ruleset: credit-risk\nfigures: 3\n":     "credit-risk",
		"# comment\nruleset: liquidity\n":        "liquidity",
		"figures: []\n":                          "",
		"ruleset: {a: b}\n":                      "",
		"":                                       "",
	}
	for src, want := range tests {
		if got := PeekName([]byte(src)); got != want {
			t.Errorf("PeekName(%q) = %q, want %q", src, got, want)
		}
	}
}
