package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ledgerline/ledgerline/platform/envelope"
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
		"2026-10-31T18:00:00+01:60", "2026-10-31T18:00:00-24:00", "2026-10-31T23:59:60Z", "2026-10-31T18:00:00.1234567890Z",
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

// toJSON writes v as JSON the way a source would, without HTML escaping, so the
// fast path's parser reads it (and its escapes, e.g. \u0000) like any event.
func toJSON(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fastCheck parses raw with the fast path's parser and checks it against s.
func fastCheck(t testing.TB, s *Schema, raw []byte) verdict {
	v, ok := parseFast(raw)
	if !ok {
		t.Fatalf("the fast parser does not take %s", raw)
	}
	return s.fast.check(&v)
}

func sampleEvents(t testing.TB) [][]byte {
	var events [][]byte
	for _, f := range []string{"examples/bank-2026-10.ndjson", "examples/bad-events.ndjson"} {
		b, err := schemas.Examples.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			events = append(events, append([]byte(nil), sc.Bytes()...))
		}
	}
	return events
}

// TestFastPathAgreesWithTheLibrary: whenever the fast path gives an answer, it is
// the library's answer; and it answers for the ordinary (valid) events. Every
// variant goes through the fast path as JSON bytes, parsed by its own parser.
func TestFastPathAgreesWithTheLibrary(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	var events []any
	for _, line := range sampleEvents(t) {
		if v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line)); err == nil {
			events = append(events, v)
		}
	}
	checked, answered := 0, 0
	compare := func(name string, s *Schema, v any) {
		raw := toJSON(t, v)
		fast := fastCheck(t, s, raw)
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
			t.Errorf("%s: fast path says %s, library says %s, for %s", name, fast, lib, raw)
		}
	}
	for _, ev := range events {
		obj := ev.(map[string]any)
		if fastCheck(t, r.envelope, toJSON(t, obj)) != valid && r.envelope.lib.Validate(obj) == nil {
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
		if s.lib.Validate(data) == nil && fastCheck(t, s, toJSON(t, data)) != valid {
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
	if answered < checked*9/10 {
		t.Fatalf("the fast path answered only %d of %d variants", answered, checked)
	}
}

// TestCheckAgreesWithTheFullPath: Check (fast path first) returns exactly what the
// library-only path returns, event, problem and message alike, for the sample
// events, the mutations of them (envelope and data) and byte-level damage.
func TestCheckAgreesWithTheFullPath(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var raws [][]byte
	lines := sampleEvents(t)
	for _, line := range lines {
		raws = append(raws, line)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			continue
		}
		for _, m := range mutations(v) {
			raws = append(raws, toJSON(t, m))
		}
	}
	raws = append(raws, []byte(`[1]`), []byte(`"x"`), []byte(`{}`), []byte(`{"id":"a","id":"b"}`),
		[]byte(`{"id":"a\u00e9\n","source":"s\/","type":"void","subject":"\ud83d\ude00","occurred_at":"2026-10-31T18:00:00Z","supersedes":"b"}`),
		[]byte(`{"id":"a","source":"s","type":"void","subject":"x","occurred_at":"2026-10-31T18:00:00+05:30","supersedes":"\ud800"}`))
	rng := rand.New(rand.NewSource(3))
	for n := 0; n < 5000; n++ {
		s := append([]byte(nil), lines[rng.Intn(len(lines))]...)
		i := rng.Intn(len(s))
		switch rng.Intn(3) {
		case 0:
			const alphabet = `{}[],:"\ -+.019eEtfn`
			s[i] = alphabet[rng.Intn(len(alphabet))]
		case 1:
			s = append(s[:i], s[i+1:]...)
		case 2:
			s = s[:i]
		}
		raws = append(raws, s)
	}
	fast := 0
	for _, raw := range raws {
		ev, p, err := r.Check(ctx, raw)
		wantEv, wantP, wantErr := r.checkFull(ctx, raw)
		if !reflect.DeepEqual(ev, wantEv) || !reflect.DeepEqual(p, wantP) || !reflect.DeepEqual(err, wantErr) {
			t.Errorf("%s:\nCheck:     %+v %+v %v\nfull path: %+v %+v %v", raw, ev, p, err, wantEv, wantP, wantErr)
		}
		if p == nil {
			fast++
		}
	}
	t.Logf("%d events compared, %d accepted", len(raws), fast)
}

// TestCheckCopiesWhatItReturns: the returned event does not point into the raw
// bytes, which the caller may reuse.
func TestCheckCopiesWhatItReturns(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"id":"ev-1","source":"core","type":"void","subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z","supersedes":"ev-0"}`)
	ev, p, err := r.Check(context.Background(), raw)
	if p != nil || err != nil {
		t.Fatal(p, err)
	}
	for i := range raw {
		raw[i] = 'X'
	}
	if ev.ID != "ev-1" || ev.Source != "core" || ev.Type != "void" || ev.Subject != "LN-1" || ev.Supersedes != "ev-0" {
		t.Fatalf("event changed with the raw bytes: %+v", ev)
	}
}

// TestFastPathOnAWideSchema: more properties than the required bit mask holds,
// so some required names are found by name; verdicts against the library.
func TestFastPathOnAWideSchema(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]any{}
	var required []any
	for i := 0; i < 80; i++ {
		name := fmt.Sprintf("f%02d", i)
		props[name] = map[string]any{"type": "string", "maxLength": json.Number("3")}
		if i%5 == 0 {
			required = append(required, name)
		}
	}
	required = append(required, "not_a_property")
	doc := toJSON(t, map[string]any{"type": "object", "properties": props, "required": required,
		"additionalProperties": map[string]any{"type": "integer"}})
	s, err := r.Compile(Key{"wide", 1}, doc)
	if err != nil {
		t.Fatal(err)
	}
	if s.fast == nil {
		t.Fatal("no fast path")
	}
	// A valid object, then each field removed, too long or of another type, and
	// extra fields: one change at a time, so each is what decides.
	base := map[string]any{"not_a_property": json.Number("7")}
	for i := 0; i < 80; i++ {
		base[fmt.Sprintf("f%02d", i)] = "ab"
	}
	variants := []map[string]any{base}
	change := func(k string, v any, del bool) {
		obj := maps.Clone(base)
		if del {
			delete(obj, k)
		} else {
			obj[k] = v
		}
		variants = append(variants, obj)
	}
	for k := range base {
		change(k, nil, true)
		change(k, "abcd", false)
		change(k, json.Number("1"), false)
	}
	change("extra", "x", false)
	change("extra", json.Number("1"), false)
	answered, counts := 0, map[verdict]int{}
	for _, obj := range variants {
		fast := fastCheck(t, s, toJSON(t, obj))
		lib := valid
		if s.lib.Validate(obj) != nil {
			lib = invalid
		}
		counts[lib]++
		if fast != unknown {
			answered++
			if fast != lib {
				t.Errorf("fast path says %s, library says %s, for %s", fast, lib, toJSON(t, obj))
			}
		}
	}
	t.Logf("library verdicts %v; the fast path answered %d of %d", counts, answered, len(variants))
	if answered != len(variants) || counts[valid] < 50 || counts[invalid] < 100 {
		t.Fatalf("library verdicts %v; the fast path answered %d of %d", counts, answered, len(variants))
	}
}

// FuzzCheck: Check and the library-only path agree on any input.
func FuzzCheck(f *testing.F) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range sampleEvents(f) {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, p, err := r.Check(ctx, raw)
		wantEv, wantP, wantErr := r.checkFull(ctx, raw)
		if !reflect.DeepEqual(ev, wantEv) || !reflect.DeepEqual(p, wantP) || !reflect.DeepEqual(err, wantErr) {
			t.Errorf("%s:\nCheck:     %+v %+v %v\nfull path: %+v %+v %v", raw, ev, p, err, wantEv, wantP, wantErr)
		}
	})
}

// TestCheckConcurrently: pooled parsers are never shared between calls in flight
// (run with -race).
func TestCheckConcurrently(t *testing.T) {
	r, err := New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	events := sampleEvents(t)
	want := make([]envelope.Event, len(events))
	for i, raw := range events {
		want[i], _, _ = r.checkFull(ctx, raw)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				for i, raw := range events {
					if ev, _, _ := r.Check(ctx, raw); !reflect.DeepEqual(ev, want[i]) {
						t.Errorf("event %d: got %+v, want %+v", i, ev, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
