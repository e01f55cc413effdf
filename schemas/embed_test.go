package schemas

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// schemaFiles lists every file embedded in FS.
func schemaFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestSchemaFilesAreWellFormed(t *testing.T) {
	numberType := regexp.MustCompile(`"type"\s*:\s*(\[[^\]]*)?"number"`)
	files := schemaFiles(t)
	if len(files) < 3 {
		t.Fatalf("FS holds only %v", files)
	}
	seen := map[string]bool{}
	for _, p := range files {
		seen[p] = true
		if strings.HasPrefix(p, "examples/") || !strings.HasSuffix(p, ".json") {
			t.Errorf("FS must hold only schemas, found %s", p)
			continue
		}
		raw, err := fs.ReadFile(FS, p)
		if err != nil {
			t.Fatal(err)
		}
		if numberType.Match(raw) {
			t.Errorf(`%s: money and quantities must use the decimal $ref, not "type": "number"`, p)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if doc["$id"] != BaseURL+p {
			t.Errorf("%s: $id is %v, want %s", p, doc["$id"], BaseURL+p)
		}
		if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema is %v, want draft 2020-12", p, doc["$schema"])
		}
		if !strings.Contains(p, "/") {
			continue
		}
		// versioned data schema: closed object, explicit required, described properties
		if doc["type"] != "object" || doc["additionalProperties"] != false {
			t.Errorf("%s: must be type object with additionalProperties false", p)
		}
		props, _ := doc["properties"].(map[string]any)
		req, ok := doc["required"].([]any)
		if !ok || len(req) == 0 {
			t.Errorf("%s: needs an explicit required list", p)
		}
		for _, r := range req {
			if _, ok := props[fmt.Sprint(r)]; !ok {
				t.Errorf("%s: required %v is not a property", p, r)
			}
		}
		for name, v := range props {
			if m, _ := v.(map[string]any); m["description"] == nil {
				t.Errorf("%s: property %s has no description", p, name)
			}
		}
	}
	for _, want := range []string{"envelope.schema.json", "defs.schema.json"} {
		if !seen[want] {
			t.Errorf("FS lacks %s", want)
		}
	}
}

func TestSampleEventsHaveSchemas(t *testing.T) {
	raw, err := fs.ReadFile(Examples, "examples/bank-2026-10.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var ev struct {
			ID            string          `json:"id"`
			Type          string          `json:"type"`
			SchemaVersion int             `json:"schema_version"`
			Data          json.RawMessage `json:"data"`
			Supersedes    string          `json:"supersedes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if ev.ID == "" || ids[ev.ID] {
			t.Errorf("line %d: id %q empty or duplicate", n, ev.ID)
		}
		if ev.Supersedes != "" && !ids[ev.Supersedes] {
			t.Errorf("line %d: supersedes %q is not an earlier event", n, ev.Supersedes)
		}
		ids[ev.ID] = true
		if ev.Type == "void" {
			if ev.Data != nil || ev.Supersedes == "" {
				t.Errorf("line %d: void must have supersedes and no data", n)
			}
			continue
		}
		p := fmt.Sprintf("%s/v%d.json", ev.Type, ev.SchemaVersion)
		if _, err := fs.Stat(FS, p); err != nil {
			t.Errorf("line %d: no schema %s", n, p)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}
