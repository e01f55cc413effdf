package batch

import (
	"errors"
	"strings"
	"testing"
)

var lim = Limits{MaxEvents: 3, MaxEventBytes: 20}

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		raws  []string
		lines []int
		err   error
	}{
		{"array", ` [{"id":"a"}, {"id":"b"}] `, []string{`{"id":"a"}`, `{"id":"b"}`}, []int{1, 1}, nil},
		{"array over lines", "[\n{\"id\":\"a\"},\n{\"id\":\"b\"}\n]", []string{`{"id":"a"}`, `{"id":"b"}`}, []int{2, 3}, nil},
		{"ndjson", "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n", []string{`{"id":"a"}`, `{"id":"b"}`}, []int{1, 3}, nil},
		{"ndjson keeps a bad line", "{\"id\":\"a\"}\n{oops\n", []string{`{"id":"a"}`, `{oops`}, []int{1, 2}, nil},
		{"single object", `{"id":"a"}`, []string{`{"id":"a"}`}, []int{1}, nil},
		{"bom", "\ufeff[{\"id\":\"a\"}]", []string{`{"id":"a"}`}, []int{1}, nil},
		{"empty", "  \n", nil, nil, ErrEmpty},
		{"empty array", "[]", nil, nil, ErrEmpty},
		{"malformed array", `[{"id":"a"}, {"id":]`, nil, nil, ErrMalformed},
		{"truncated array", `[{"id":"a"}`, nil, nil, ErrMalformed},
		{"trailing data", `[{"id":"a"}] x`, nil, nil, ErrMalformed},
		{"too many", `[{},{},{},{}]`, nil, nil, ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Split([]byte(tt.body), lim)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(items) != len(tt.raws) {
				t.Fatalf("%d items, want %d", len(items), len(tt.raws))
			}
			for i, it := range items {
				if string(it.Raw) != tt.raws[i] || it.Line != tt.lines[i] || it.Index != i {
					t.Errorf("item %d = %q line %d, want %q line %d", i, it.Raw, it.Line, tt.raws[i], tt.lines[i])
				}
			}
		})
	}
}

func TestMalformedSaysWhere(t *testing.T) {
	_, err := Split([]byte("[\n{\"id\":\"a\"},\n{\"id\" 1}]"), lim)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want the line of the problem", err)
	}
}

func TestOversizedEventIsMarked(t *testing.T) {
	items, err := Split([]byte(`[{"id":"a"},{"id":"`+strings.Repeat("x", 50)+`"}]`), lim)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].TooLarge || !items[1].TooLarge || items[1].Size != 59 {
		t.Fatalf("items = %+v", items)
	}
}

func TestAPrettyPrintedEventIsOneEvent(t *testing.T) {
	items, err := Split([]byte("{\n  \"id\": \"a\",\n  \"x\": 1\n}\n"), lim)
	if err != nil || len(items) != 1 || items[0].Line != 1 {
		t.Fatalf("items %+v, err %v", items, err)
	}
}
