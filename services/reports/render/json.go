package render

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ledgerline/ledgerline/services/reports/filing"
)

// jsonFiling is the json output of a filing (DESIGN.md, "Interface"). Struct
// fields keep the top-level order; encoding/json writes map keys sorted, which
// makes cells, tables and each row object deterministic.
type jsonFiling struct {
	Template    string                         `json:"template"`
	Version     int                            `json:"version"`
	Period      string                         `json:"period"`
	AsOfSeq     uint64                         `json:"as_of_seq"`
	Currency    string                         `json:"currency"`
	Cells       map[string]string              `json:"cells"`
	Tables      map[string][]map[string]string `json:"tables"`
	Validations []jsonValidation               `json:"validations"`
}

// jsonValidation leaves out ValidationResult.Message: the document is the
// filed outcome, the messages are diagnostics kept with the filing.
type jsonValidation struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Passed   bool   `json:"passed"`
}

// JSON renders r as
//
//	{"template","version","period","as_of_seq","currency",
//	 "cells": {"<code>": "<decimal>"},
//	 "tables": {"<code>": [{"<dim>": "...", "value": "<decimal>"}]},
//	 "validations": [{"id","severity","passed"}]}
//
// with cells and tables from every sheet, decimals as strings with exactly
// r.Decimals places, table rows in report order, object keys sorted, indented
// by two spaces and ending in a newline. Empty collections are {} and [], never
// null.
func JSON(r filing.Report) ([]byte, error) {
	if err := checkReport(r); err != nil {
		return nil, fmt.Errorf("render json %s: %w", r.Template, err)
	}
	doc := jsonFiling{
		Template:    r.Template,
		Version:     r.Version,
		Period:      r.Period,
		AsOfSeq:     r.AsOfSeq,
		Currency:    r.Currency,
		Cells:       map[string]string{},
		Tables:      map[string][]map[string]string{},
		Validations: make([]jsonValidation, 0, len(r.Validations)),
	}
	for _, s := range r.Sheets {
		for _, c := range s.Cells {
			doc.Cells[c.Code] = amount(r, c.Value)
		}
		for _, t := range s.Tables {
			rows := make([]map[string]string, 0, len(t.Rows))
			for _, row := range t.Rows {
				obj := make(map[string]string, len(t.GroupBy)+1)
				for j, g := range t.GroupBy {
					obj[g] = row.Dims[j]
				}
				obj[valueColumn] = amount(r, row.Value)
				rows = append(rows, obj)
			}
			doc.Tables[t.Code] = rows
		}
	}
	for _, v := range r.Validations {
		doc.Validations = append(doc.Validations, jsonValidation{ID: v.ID, Severity: v.Severity, Passed: v.Passed})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Dimension values are data ("Smith & Co"), not HTML; keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil { // Encode ends with the newline
		return nil, fmt.Errorf("render json %s: %w", r.Template, err)
	}
	return buf.Bytes(), nil
}
