package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ledgerline/ledgerline/schemas"
)

func TestEveryBuiltinSchemaHasAFastPath(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.envelope.fast == nil {
		t.Error("envelope: no fast path")
	}
	for k, s := range r.compiled {
		if s.fast == nil {
			t.Errorf("%s: no fast path (a keyword the fast path does not know?)", k)
		}
	}
}

// mutations returns variants of an event: every field (at any depth) replaced by
// values of other kinds and edge cases, removed, and an extra field added.
func mutations(v any) []any {
	replacements := []any{nil, true, json.Number("1"), json.Number("1.5"), json.Number("1.0"), json.Number("-3"), json.Number("1e3"),
		"", " ", "x", "1234.56", "-0.5", "1e5", "1,5", "2026-10-31T18:00:00Z", "2026-10-31", "2026-02-30",
		"2026-10-31T25:00:00Z", "2026-10-31T18:00:00+01:00", "2026-10-31t18:00:00z", "2026-10-31T18:00:60Z",
		"EUR", "eur", "void", "loan.balance", "a\u0000b", strings.Repeat("x", 257), "Zürich *>", "1", "2A",
		map[string]any{}, map[string]any{"a": "b"}, []any{}, []any{"x"}}
	var out []any
	var walk func(path []string, cur any)
	walk = func(path []string, cur any) {
		obj, ok := cur.(map[string]any)
		if !ok {
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, rep := range replacements {
				out = append(out, replaceAt(v, append(append([]string{}, path...), k), rep, false))
			}
			out = append(out, replaceAt(v, append(append([]string{}, path...), k), nil, true))
			walk(append(append([]string{}, path...), k), obj[k])
		}
		out = append(out, replaceAt(v, append(append([]string{}, path...), "zz_extra"), "x", false))
	}
	walk(nil, v)
	return out
}

// replaceAt deep-copies v with the value at path replaced (or deleted).
func replaceAt(v any, path []string, rep any, del bool) any {
	b, _ := json.Marshal(v)
	cp, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	cur := cp.(map[string]any)
	for i, p := range path {
		if i == len(path)-1 {
			if del {
				delete(cur, p)
			} else {
				cur[p] = rep
			}
			break
		}
		next, ok := cur[p].(map[string]any)
		if !ok {
			break
		}
		cur = next
	}
	return cp
}

// TestFastPathAgreesWithTheLibrary: whenever the fast path gives an answer, it is
// the library's answer; and it answers for the ordinary (valid) events.
func TestFastPathAgreesWithTheLibrary(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	var events []any
	for _, f := range []string{"examples/bank-2026-10.ndjson", "examples/bad-events.ndjson"} {
		b, _ := schemas.Examples.ReadFile(f)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sc.Bytes())); err == nil {
				events = append(events, v)
			}
		}
	}
	checked, answered := 0, 0
	compare := func(name string, s *Schema, v any) {
		fast := s.fast.check(v)
		lib := valid
		if s.lib.Validate(v) != nil {
			lib = invalid
		}
		checked++
		if fast == unknown {
			return
		}
		answered++
		if fast != lib {
			b, _ := json.Marshal(v)
			t.Errorf("%s: fast path says %s, library says %s, for %s", name, fast, lib, b)
		}
	}
	for _, ev := range events {
		obj := ev.(map[string]any)
		if r.envelope.fast.check(obj) != valid && r.envelope.lib.Validate(obj) == nil {
			t.Errorf("fast path has no answer for the valid envelope of %v", obj["id"])
		}
		for _, m := range mutations(ev) {
			compare("envelope", r.envelope, m)
		}
		typ, _ := obj["type"].(string)
		ver, _ := obj["schema_version"].(json.Number)
		var k Key
		fmt.Sscan(ver.String(), &k.Version)
		k.Type = typ
		s, ok := r.compiled[k]
		if !ok {
			continue
		}
		data := obj["data"]
		if s.lib.Validate(data) == nil && s.fast.check(data) != valid {
			t.Errorf("fast path has no answer for the valid data of %v", obj["id"])
		}
		for _, m := range mutations(data) {
			compare(k.String(), s, m)
		}
	}
	t.Logf("%d variants compared, the fast path answered %d", checked, answered)
	if checked < 5000 {
		t.Fatalf("only %d variants", checked)
	}
}
