package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// manifest is the upload's "manifest" part.
type manifest struct {
	SubmissionID string         `json:"submission_id"`
	FilingID     string         `json:"filing_id"`
	Template     string         `json:"template"`
	Period       string         `json:"period"`
	Amends       string         `json:"amends"`
	Files        []ManifestFile `json:"files"`
}

// upload is one parsed POST /api/v1/submissions.
type upload struct {
	manifest manifest
	files    map[string][]byte // "file" parts by filename
}

// Feedback codes of a refused upload.
const (
	codeInvalidManifest  = "invalid_manifest"
	codeMissingFile      = "missing_file"
	codeUnlistedFile     = "unlisted_file"
	codeChecksumMismatch = "checksum_mismatch"
	codeMissingFormat    = "missing_format"
	codeInvalidFiling    = "invalid_filing_json"
	codeUnknownAmended   = "unknown_amended_receipt"
	codeAmendedMismatch  = "amendment_mismatch"
)

// maxFeedback caps the feedback on one file, so a broken file of 10,000 cells
// does not answer 10,000 messages.
const maxFeedback = 20

var (
	// decimalString is a plain decimal: no exponent, no float in sight.
	decimalString = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	positiveInt   = regexp.MustCompile(`^[1-9][0-9]*$`)
	naturalInt    = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	currencyCode  = regexp.MustCompile(`^[A-Z]{3}$`)
	sha256Hex     = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

func refusal(code, format string, args ...any) Feedback {
	return Feedback{Severity: "error", Code: code, Message: fmt.Sprintf(format, args...)}
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkUpload is everything checked on an upload's own content (amends needs
// the store and is checked there). No feedback means it may be stored.
func checkUpload(u upload, expectedFormats []string) []Feedback {
	var fb []Feedback
	m := u.manifest
	if m.SubmissionID == "" {
		fb = append(fb, refusal(codeInvalidManifest, "manifest: submission_id is required"))
	}
	if m.Template == "" {
		fb = append(fb, refusal(codeInvalidManifest, "manifest: template is required"))
	}
	if m.Period == "" {
		fb = append(fb, refusal(codeInvalidManifest, "manifest: period is required"))
	}
	if len(m.Files) == 0 {
		fb = append(fb, refusal(codeInvalidManifest, "manifest: files is empty"))
	}
	listed := map[string]bool{}
	formats := map[string]bool{}
	for i, f := range m.Files {
		switch {
		case f.Name == "":
			fb = append(fb, refusal(codeInvalidManifest, "manifest: files[%d] has no name", i))
			continue
		case listed[f.Name]:
			fb = append(fb, refusal(codeInvalidManifest, "manifest: file %s is listed twice", f.Name))
			continue
		}
		listed[f.Name] = true
		format := strings.ToLower(f.Format)
		if format == "" {
			fb = append(fb, refusal(codeInvalidManifest, "manifest: file %s has no format", f.Name))
		}
		content, ok := u.files[f.Name]
		if !ok {
			fb = append(fb, refusal(codeMissingFile, "file %s is listed in the manifest but was not uploaded", f.Name))
			continue
		}
		formats[format] = true
		if !sha256Hex.MatchString(f.SHA256) {
			fb = append(fb, refusal(codeInvalidManifest, "manifest: file %s: sha256 %q is not a hex SHA-256", f.Name, f.SHA256))
		} else if got := hashHex(content); !strings.EqualFold(got, f.SHA256) {
			fb = append(fb, refusal(codeChecksumMismatch, "file %s: checksum mismatch: the manifest says sha256 %s, the uploaded content hashes to %s", f.Name, strings.ToLower(f.SHA256), got))
			continue
		}
		if format == "json" {
			fb = append(fb, checkFilingJSON(f.Name, content, m.Template, m.Period)...)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(u.files)) {
		if !listed[name] {
			fb = append(fb, refusal(codeUnlistedFile, "file %s was uploaded but is not listed in the manifest", name))
		}
	}
	for _, want := range expectedFormats {
		if !formats[want] {
			fb = append(fb, refusal(codeMissingFormat, "the delivery has no %s file (expected formats: %s)", want, strings.Join(expectedFormats, ", ")))
		}
	}
	return fb
}

// checkFilingJSON checks that b is a Ledgerline filing json for template and
// period. Amounts stay strings: they are matched, never parsed.
func checkFilingJSON(name string, b []byte, template, period string) []Feedback {
	var fb []Feedback
	add := func(format string, args ...any) bool {
		if len(fb) == maxFeedback {
			fb = append(fb, refusal(codeInvalidFiling, "%s: more problems left out", name))
		}
		if len(fb) > maxFeedback {
			return false
		}
		fb = append(fb, refusal(codeInvalidFiling, name+": "+format, args...))
		return true
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil || doc == nil {
		add("not a json object: %v", errOrNull(err))
		return fb
	}
	for _, key := range []string{"template", "version", "period", "as_of_seq", "currency", "cells", "tables", "validations"} {
		if _, ok := doc[key]; !ok {
			add("missing key %q", key)
		}
	}
	if raw, ok := doc["template"]; ok {
		var s string
		switch {
		case json.Unmarshal(raw, &s) != nil || s == "":
			add("template must be a non-empty string")
		case s != template:
			add("template %q does not match the manifest's template %q", s, template)
		}
	}
	if raw, ok := doc["period"]; ok {
		var s string
		switch {
		case json.Unmarshal(raw, &s) != nil || s == "":
			add("period must be a non-empty string")
		case s != period:
			add("period %q does not match the manifest's period %q", s, period)
		}
	}
	if raw, ok := doc["version"]; ok && !positiveInt.Match(bytes.TrimSpace(raw)) {
		add("version must be a positive integer, got %s", raw)
	}
	if raw, ok := doc["as_of_seq"]; ok && !naturalInt.Match(bytes.TrimSpace(raw)) {
		add("as_of_seq must be a non-negative integer, got %s", raw)
	}
	if raw, ok := doc["currency"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || !currencyCode.MatchString(s) {
			add("currency must be an ISO 4217 code such as \"EUR\", got %s", raw)
		}
	}
	if raw, ok := doc["cells"]; ok {
		var cells map[string]json.RawMessage
		if json.Unmarshal(raw, &cells) != nil || cells == nil {
			add("cells must be an object of cell code to decimal string")
		}
		for _, code := range slices.Sorted(maps.Keys(cells)) {
			if !isDecimalString(cells[code]) {
				if !add("cell %s: value %s is not a decimal string", code, cells[code]) {
					break
				}
			}
		}
	}
	if raw, ok := doc["tables"]; ok {
		var tables map[string][]map[string]json.RawMessage
		if json.Unmarshal(raw, &tables) != nil || tables == nil {
			add("tables must be an object of table code to an array of row objects")
		}
	tables:
		for _, code := range slices.Sorted(maps.Keys(tables)) {
			for i, row := range tables[code] {
				if _, ok := row["value"]; !ok {
					if !add("table %s row %d: missing \"value\"", code, i) {
						break tables
					}
				}
				for _, col := range slices.Sorted(maps.Keys(row)) {
					var s string
					if col == "value" {
						if !isDecimalString(row[col]) && !add("table %s row %d: value %s is not a decimal string", code, i, row[col]) {
							break tables
						}
					} else if json.Unmarshal(row[col], &s) != nil && !add("table %s row %d: %s %s is not a string", code, i, col, row[col]) {
						break tables
					}
				}
			}
		}
	}
	if raw, ok := doc["validations"]; ok {
		var vals []struct {
			ID       *string `json:"id"`
			Severity *string `json:"severity"`
			Passed   *bool   `json:"passed"`
		}
		if json.Unmarshal(raw, &vals) != nil || vals == nil {
			add("validations must be an array of {\"id\",\"severity\",\"passed\"}")
		}
		for i, v := range vals {
			if v.ID == nil || v.Severity == nil || v.Passed == nil {
				if !add("validations[%d] needs \"id\", \"severity\" and \"passed\"", i) {
					break
				}
			}
		}
	}
	return fb
}

func isDecimalString(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && decimalString.MatchString(s)
}

func errOrNull(err error) any {
	if err == nil {
		return "null"
	}
	return err
}

// fingerprint identifies an upload's content: what was declared and what was
// actually sent. The same key with another fingerprint is a conflict.
func fingerprint(u upload) string {
	h := sha256.New()
	m := u.manifest
	fmt.Fprintf(h, "%q %q %q %q %q\n", m.SubmissionID, m.FilingID, m.Template, m.Period, m.Amends)
	files := slices.Clone(m.Files)
	slices.SortFunc(files, func(a, b ManifestFile) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range files {
		fmt.Fprintf(h, "manifest %q %q %q\n", f.Name, strings.ToLower(f.Format), strings.ToLower(f.SHA256))
	}
	for _, name := range slices.Sorted(maps.Keys(u.files)) {
		fmt.Fprintf(h, "part %q %s\n", name, hashHex(u.files[name]))
	}
	return hex.EncodeToString(h.Sum(nil))
}
