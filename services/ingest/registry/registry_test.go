package registry_test

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/schemas"
	"github.com/ledgerline/ledgerline/services/ingest/registry"
)

func newRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	r, err := registry.New(schemas.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSampleEventsAreValid(t *testing.T) {
	r := newRegistry(t)
	b, err := schemas.Examples.ReadFile("examples/bank-2026-10.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		ev, p, err := r.Check(context.Background(), sc.Bytes())
		if err != nil || p != nil {
			t.Errorf("line %d (%s): problem %v, err %v", n, ev.ID, p, err)
		}
	}
	if n < 40 {
		t.Fatalf("only %d sample events", n)
	}
}

func TestBadInputIsNamed(t *testing.T) {
	r := newRegistry(t)
	base := `"source":"core-banking","type":"loan.balance","schema_version":1,"subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z"`
	data := `"loan_id":"LN-1","counterparty_id":"CP-1","exposure_class":"corporate","product":"term_loan","currency":"EUR"`
	tests := []struct {
		name, raw, code, field, contains string
	}{
		{"malformed", `{"id": "x", `, registry.CodeMalformedJSON, "", "truncated"},
		{"trailing garbage", `{"id":"x"} y`, registry.CodeMalformedJSON, "", "after top-level value"},
		{"array", `[1,2]`, registry.CodeNotObject, "", "got an array"},
		{"float money", `{"id":"a",` + base + `,"data":{` + data + `,"outstanding":1234.5}}`, registry.CodeData, "data.outstanding", "exact decimal"},
		{"bad decimal", `{"id":"a",` + base + `,"data":{` + data + `,"outstanding":"1e5"}}`, registry.CodeData, "data.outstanding", "not an exact decimal"},
		{"missing data field", `{"id":"a",` + base + `,"data":{"loan_id":"LN-1","counterparty_id":"CP-1","exposure_class":"corporate","product":"term_loan","outstanding":"1"}}`, registry.CodeData, "data.currency", "required field missing"},
		{"missing envelope field", `{"id":"a","source":"s","type":"loan.balance","schema_version":1,"occurred_at":"2026-10-31T18:00:00Z","data":{}}`, registry.CodeEnvelope, "subject", "required"},
		{"empty id", `{"id":"",` + base + `,"data":{}}`, registry.CodeEnvelope, "id", "id:"},
		{"bad timestamp", `{"id":"a","source":"s","type":"loan.balance","schema_version":1,"subject":"LN-1","occurred_at":"2026-10-31 18:00","data":{}}`, registry.CodeEnvelope, "occurred_at", "RFC 3339"},
		{"typo field", `{"id":"a","source":"s","type":"loan.balance","schema_version":1,"subject":"LN-1","occured_at":"2026-10-31T18:00:00Z","data":{}}`, registry.CodeEnvelope, "", "occured_at"},
		{"unknown type", `{"id":"a","source":"s","type":"loan.balanse","schema_version":1,"subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z","data":{}}`, registry.CodeUnknownType, "type", "loan.balanse"},
		{"unknown version", `{"id":"a","source":"s","type":"loan.balance","schema_version":7,"subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z","data":{}}`, registry.CodeUnknownVersion, "schema_version", "known: 1"},
		{"void with data", `{"id":"a","source":"s","type":"void","subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z","supersedes":"b","data":{}}`, registry.CodeEnvelope, "data", "a void event carries no data"},
		{"void without supersedes", `{"id":"a","source":"s","type":"void","subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z"}`, registry.CodeEnvelope, "supersedes", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p, err := r.Check(context.Background(), []byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if p == nil {
				t.Fatalf("accepted, want %s", tt.code)
			}
			t.Logf("%s", p.Message)
			if p.Code != tt.code || (tt.field != "" && p.Field != tt.field) || !strings.Contains(p.Message, tt.contains) {
				t.Errorf("got code %s field %q message %q; want code %s field %q containing %q", p.Code, p.Field, p.Message, tt.code, tt.field, tt.contains)
			}
		})
	}
}

func TestAnEnvelopeErrorKeepsTheReadableID(t *testing.T) {
	r := newRegistry(t)
	ev, p, _ := r.Check(context.Background(), []byte(`{"id":"cb-1","source":"s","type":"loan.balance","schema_version":1,"subject":"LN-1","occurred_at":"31/10/2026","data":{}}`))
	if p == nil || p.Code != registry.CodeEnvelope || ev.ID != "cb-1" || ev.Type != "loan.balance" {
		t.Fatalf("event %+v, problem %+v: want the id and type kept with the envelope error", ev, p)
	}
}

func TestRegisteredSchemasMustNotAllowFloats(t *testing.T) {
	r := newRegistry(t)
	_, err := r.Compile(registry.Key{"loan.rating", 1}, []byte(`{"type":"object","properties":{"pd":{"type":"number"}}}`))
	if err == nil || !strings.Contains(err.Error(), "/properties/pd") {
		t.Fatalf("err = %v, want a refusal naming /properties/pd", err)
	}
	if _, err := r.Compile(registry.Key{"loan.rating", 1}, []byte(`{"type":"object","properties":{"pd":{"$ref":"https://ledgerline.dev/schemas/defs.schema.json#/$defs/decimal"}}}`)); err != nil {
		t.Fatalf("decimal schema refused: %v", err)
	}
	if _, err := r.Compile(registry.Key{"x", 1}, []byte(`{"type":"object","properties":{"a":{"$ref":"https://evil.example/x.json"}}}`)); err == nil {
		t.Fatal("remote $ref compiled")
	}
}
