package sim

import (
	"strings"
	"testing"
	"time"
)

func TestStatusAt(t *testing.T) {
	cfg := Config{ValidateAfter: 50 * time.Millisecond, DecideAfter: 100 * time.Millisecond}.withDefaults()
	t0 := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		age    time.Duration
		reject bool
		want   State
	}{
		{0, false, StateReceived},
		{49 * time.Millisecond, false, StateReceived},
		{50 * time.Millisecond, false, StateValidating},
		{99 * time.Millisecond, true, StateValidating},
		{100 * time.Millisecond, false, StateAccepted},
		{100 * time.Millisecond, true, StateRejected},
		{-time.Second, false, StateReceived}, // a clock set back
	}
	for _, tc := range cases {
		if got := statusAt(cfg, t0, t0.Add(tc.age), tc.reject); got != tc.want {
			t.Errorf("age %v reject %v: %s, want %s", tc.age, tc.reject, got, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{}.withDefaults()
	if cfg.ValidateAfter != 50*time.Millisecond || cfg.DecideAfter != 100*time.Millisecond ||
		len(cfg.ExpectedFormats) != 1 || cfg.ExpectedFormats[0] != "json" || cfg.Now == nil || cfg.Logger == nil {
		t.Fatalf("defaults %+v", cfg)
	}
	cfg = Config{ValidateAfter: -1, DecideAfter: -1, ExpectedFormats: []string{"XLSX"}}.withDefaults()
	if cfg.ValidateAfter != 0 || cfg.DecideAfter != 0 || cfg.ExpectedFormats[0] != "xlsx" {
		t.Fatalf("immediate %+v", cfg)
	}
	// A decision never comes before validation.
	if cfg := (Config{ValidateAfter: time.Second, DecideAfter: time.Millisecond}).withDefaults(); cfg.DecideAfter != time.Second {
		t.Fatalf("decide after %v", cfg.DecideAfter)
	}
}

const goodFiling = `{"template":"t","version":1,"period":"2026-Q3","as_of_seq":0,"currency":"EUR",
 "cells":{"a":"1.00","b":"-0.5","c":"12"},
 "tables":{"x":[{"dim":"A","value":"3.10"}],"empty":[]},
 "validations":[{"id":"v1","severity":"error","passed":false}]}`

func TestCheckFilingJSON(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string // fragments of the feedback, in order; none means valid
	}{
		{"valid", goodFiling, nil},
		{"empty collections", `{"template":"t","version":2,"period":"2026-Q3","as_of_seq":7,"currency":"USD","cells":{},"tables":{},"validations":[]}`, nil},
		{"null", `null`, []string{"not a json object"}},
		{"trailing garbage", goodFiling + `x`, []string{"not a json object"}},
		{"everything missing", `{}`, []string{`"template"`, `"version"`, `"period"`, `"as_of_seq"`, `"currency"`, `"cells"`, `"tables"`, `"validations"`}},
		{"number cell", strings.Replace(goodFiling, `"1.00"`, `1.00`, 1), []string{"cell a: value 1.00 is not a decimal string"}},
		{"leading plus", strings.Replace(goodFiling, `"1.00"`, `"+1.00"`, 1), []string{"cell a"}},
		{"trailing dot", strings.Replace(goodFiling, `"1.00"`, `"1."`, 1), []string{"cell a"}},
		{"comma", strings.Replace(goodFiling, `"1.00"`, `"1,00"`, 1), []string{"cell a"}},
		{"null cell", strings.Replace(goodFiling, `"1.00"`, `null`, 1), []string{"cell a"}},
		{"cells array", strings.Replace(goodFiling, `{"a":"1.00","b":"-0.5","c":"12"}`, `["1"]`, 1), []string{"cells must be an object"}},
		{"table without value", strings.Replace(goodFiling, `,"value":"3.10"`, ``, 1), []string{`table x row 0: missing "value"`}},
		{"table dim number", strings.Replace(goodFiling, `"dim":"A"`, `"dim":7`, 1), []string{"table x row 0: dim 7 is not a string"}},
		{"negative seq", strings.Replace(goodFiling, `"as_of_seq":0`, `"as_of_seq":-1`, 1), []string{"as_of_seq"}},
		{"fractional version", strings.Replace(goodFiling, `"version":1`, `"version":1.5`, 1), []string{"version"}},
		{"lower currency", strings.Replace(goodFiling, `"EUR"`, `"eur"`, 1), []string{"currency"}},
		{"validations object", strings.Replace(goodFiling, `[{"id":"v1","severity":"error","passed":false}]`, `{}`, 1), []string{"validations must be an array"}},
		{"template mismatch", strings.Replace(goodFiling, `"template":"t"`, `"template":"u"`, 1), []string{`template "u" does not match the manifest's template "t"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb := checkFilingJSON("f.json", []byte(tc.doc), "t", "2026-Q3")
			if len(fb) != len(tc.want) {
				t.Fatalf("feedback %+v, want %d messages like %q", fb, len(tc.want), tc.want)
			}
			for i, f := range fb {
				if f.Code != codeInvalidFiling || f.Severity != "error" || !strings.HasPrefix(f.Message, "f.json: ") || !strings.Contains(f.Message, tc.want[i]) {
					t.Errorf("feedback %d %+v, want an error naming f.json and saying %q", i, f, tc.want[i])
				}
			}
		})
	}
}

func TestCheckFilingJSONCapsFeedback(t *testing.T) {
	var cells []string
	for i := range 100 {
		cells = append(cells, `"c`+string(rune('a'+i%26))+strings.Repeat("x", i/26)+`": 1`)
	}
	doc := strings.Replace(goodFiling, `{"a":"1.00","b":"-0.5","c":"12"}`, "{"+strings.Join(cells, ",")+"}", 1)
	fb := checkFilingJSON("f.json", []byte(doc), "t", "2026-Q3")
	if len(fb) != maxFeedback+1 || !strings.Contains(fb[maxFeedback].Message, "more problems left out") {
		t.Fatalf("%d messages, last %+v", len(fb), fb[len(fb)-1])
	}
}

func TestCheckUpload(t *testing.T) {
	json := []byte(goodFiling)
	jsonSum := hashHex(json)
	base := func() upload {
		return upload{
			manifest: manifest{SubmissionID: "s", Template: "t", Period: "2026-Q3",
				Files: []ManifestFile{{Name: "f.json", Format: "json", SHA256: jsonSum}, {Name: "f.xlsx", Format: "XLSX", SHA256: hashHex([]byte("x"))}}},
			files: map[string][]byte{"f.json": json, "f.xlsx": []byte("x")},
		}
	}
	cases := []struct {
		name   string
		change func(*upload)
		want   []string // feedback codes
	}{
		{"valid", func(*upload) {}, nil},
		{"missing file", func(u *upload) { delete(u.files, "f.xlsx") }, []string{codeMissingFile, codeMissingFormat}},
		{"unlisted file", func(u *upload) { u.files["extra.csv"] = []byte("a") }, []string{codeUnlistedFile}},
		{"checksum", func(u *upload) { u.files["f.xlsx"] = []byte("y") }, []string{codeChecksumMismatch}},
		{"upper-case checksum", func(u *upload) { u.manifest.Files[0].SHA256 = strings.ToUpper(jsonSum) }, nil},
		{"bad checksum", func(u *upload) { u.manifest.Files[0].SHA256 = "abc" }, []string{codeInvalidManifest}},
		{"listed twice", func(u *upload) { u.manifest.Files = append(u.manifest.Files, u.manifest.Files[0]) }, []string{codeInvalidManifest}},
		{"no template", func(u *upload) { u.manifest.Template = "" }, []string{codeInvalidManifest, codeInvalidFiling}},
		{"no submission id", func(u *upload) { u.manifest.SubmissionID = "" }, []string{codeInvalidManifest}},
		{"no files", func(u *upload) { u.manifest.Files = nil; u.files = map[string][]byte{} }, []string{codeInvalidManifest, codeMissingFormat, codeMissingFormat}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := base()
			tc.change(&u)
			fb := checkUpload(u, []string{"xlsx", "json"})
			var codes []string
			for _, f := range fb {
				codes = append(codes, f.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("codes %v, want %v (%+v)", codes, tc.want, fb)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	u := upload{manifest: manifest{SubmissionID: "s", Files: []ManifestFile{{Name: "a", Format: "json", SHA256: "AA"}, {Name: "b"}}},
		files: map[string][]byte{"a": []byte("1"), "b": []byte("2")}}
	reordered := u
	reordered.manifest.Files = []ManifestFile{{Name: "b"}, {Name: "a", Format: "JSON", SHA256: "aa"}}
	if fingerprint(u) != fingerprint(reordered) {
		t.Fatal("the file order or case changed the fingerprint")
	}
	other := upload{manifest: u.manifest, files: map[string][]byte{"a": []byte("1"), "b": []byte("3")}}
	if fingerprint(u) == fingerprint(other) {
		t.Fatal("other content, same fingerprint")
	}
	amended := upload{manifest: u.manifest, files: u.files}
	amended.manifest.Amends = "r1"
	if fingerprint(u) == fingerprint(amended) {
		t.Fatal("amends left out of the fingerprint")
	}
}
