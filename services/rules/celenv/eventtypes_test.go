package celenv

import (
	"slices"
	"testing"
)

// TestEventTypes: the event types a `when` can be true for, derived from the
// expression alone; "*" stands for every type (not derivable).
func TestEventTypes(t *testing.T) {
	env := mustEnv(t)
	tests := []struct {
		when string
		want []string
	}{
		{`event.type == "loan.balance"`, []string{"loan.balance"}},
		{`"loan.balance" == event.type`, []string{"loan.balance"}},
		{`event["type"] == "loan.balance"`, []string{"loan.balance"}},
		{`event.type == "loan.balance" && has(event.data.undrawn_commitment)`, []string{"loan.balance"}},
		{`event.type == "security.position" && event.data.hqla_level != "none" && !event.data.?encumbered.orValue(false)`,
			[]string{"security.position"}},
		{`event.type == "loan.balance" || event.type == "security.position"`, []string{"loan.balance", "security.position"}},
		{`event.type in ["b", "a", "b"]`, []string{"a", "b"}},
		{`event.type in ["a", "b"] && event.type == "b"`, []string{"b"}},
		{`event.type == "a" && event.type == "b"`, []string{}},
		{`event.data.x == "y" && (event.type == "a" || event.type == "b")`, []string{"a", "b"}},
		{`event.data.big ? event.type == "a" : event.type == "b"`, []string{"a", "b"}},
		{`false`, []string{}},
		{`false || event.type == "a"`, []string{"a"}},
		// Not derivable: every type.
		{`true`, []string{"*"}},
		{`event.type != "payment"`, []string{"*"}},
		{`!(event.type == "payment")`, []string{"*"}},
		{`event.type.startsWith("loan.")`, []string{"*"}},
		{`event.data.kind == "loan"`, []string{"*"}},
		{`event.type == "a" || event.data.kind == "loan"`, []string{"*"}},
		{`event.type in ["a", event.source]`, []string{"*"}},
		{`event.subject == "loan.balance"`, []string{"*"}},
		{`cel.bind(t, event.type, t == "a")`, []string{"*"}},
	}
	for _, tt := range tests {
		p, err := env.Compile(tt.when, KindBool, false)
		if err != nil {
			t.Fatalf("%s: %v", tt.when, err)
		}
		got, ok := p.EventTypes()
		if !ok {
			got = []string{"*"}
		}
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: event types %q, want %q", tt.when, got, tt.want)
		}
	}
	// A value or dimension program says nothing about types.
	p, err := env.Compile(`event.type == "a" ? "x" : "y"`, KindString, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.EventTypes(); ok {
		t.Error("a string program has event types")
	}
}
