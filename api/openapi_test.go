package openapi_test

import (
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	openapi "github.com/ledgerline/ledgerline/api"
)

// TestSpecIsValidOpenAPI31 validates api/openapi.yaml with libopenapi: it must
// parse, build into an OpenAPI 3 model without errors (every $ref resolving),
// declare version 3.1.x, and pass validation against the OpenAPI 3.1 JSON
// Schema that libopenapi-validator embeds.
func TestSpecIsValidOpenAPI31(t *testing.T) {
	doc, err := libopenapi.NewDocument(openapi.Spec)
	if err != nil {
		t.Fatalf("api/openapi.yaml does not parse: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("api/openapi.yaml is OpenAPI %q, want 3.1.x", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("api/openapi.yaml does not build as an OpenAPI 3 model: %v", err)
	}
	if model == nil || model.Model.Paths == nil || model.Model.Paths.PathItems.Len() == 0 {
		t.Fatal("api/openapi.yaml built an empty model: no paths")
	}
	if v := model.Model.Version; !strings.HasPrefix(v, "3.1") {
		t.Fatalf("model version %q, want 3.1.x", v)
	}

	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	ok, verrs := v.ValidateDocument()
	for _, e := range verrs {
		t.Errorf("line %d, column %d: %s: %s", e.SpecLine, e.SpecCol, e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			t.Errorf("  %s (line %d, column %d; %s): %s", f.FieldPath, f.Line, f.Column, f.KeywordLocation, f.Reason)
		}
	}
	if !ok && len(verrs) == 0 {
		t.Error("ValidateDocument reported the document invalid without naming a problem")
	}
	t.Logf("api/openapi.yaml: OpenAPI %s, %d paths, valid against the OpenAPI 3.1 schema",
		doc.GetVersion(), model.Model.Paths.PathItems.Len())
}
