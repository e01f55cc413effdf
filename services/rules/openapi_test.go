package rules_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	openapi "github.com/ledgerline/ledgerline/api"
	"github.com/ledgerline/ledgerline/services/rules/api"
)

// rulesPaths are the path prefixes of api/openapi.yaml that belong to the rules
// service: a path is the prefix itself or below it ("/v1/rules" does not claim
// "/v1/rulesets"). services/ingest/openapi_test.go checks every other /v1
// operation against the ingest routes and leaves these to this test, so the two
// together cover every /v1 path; it lists the same prefixes.
var rulesPaths = []string{"/v1/rulesets", "/v1/figures", "/v1/adjustments", "/v1/rules", "/v1/projections"}

func isRulesPath(path string) bool {
	return slices.ContainsFunc(rulesPaths, func(prefix string) bool {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	})
}

// openAPIDoc is the part of api/openapi.yaml the route check reads.
type openAPIDoc struct {
	OpenAPI string `yaml:"openapi"`
	// Paths maps a path to its path item: operations by lower-case method, plus
	// keys such as "parameters" that are not operations.
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Parameters map[string]openAPIParam `yaml:"parameters"`
	} `yaml:"components"`
}

type openAPIOperation struct {
	OperationID string                 `yaml:"operationId"`
	Roles       []string               `yaml:"x-roles"`
	Parameters  []openAPIParam         `yaml:"parameters"`
	Responses   map[string]yaml.Node   `yaml:"responses"`
	Security    *[]map[string][]string `yaml:"security"`
}

type openAPIParam struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPICoversEveryRoute checks api/openapi.yaml against the routes the rules
// service mounts, both ways: every route lies under rulesPaths and is an operation
// with the route's roles as x-roles, and every operation under rulesPaths is a
// route. The ingest service's test does the same for the other /v1 paths.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc openAPIDoc
	if err := yaml.Unmarshal(openapi.Spec, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: %q, want 3.1.0", doc.OpenAPI)
	}

	ops := map[string]openAPIOperation{} // "METHOD /path" → operation, rules paths only
	ids := map[string]string{}
	for path, item := range doc.Paths {
		var pathParams []openAPIParam
		if n, ok := item["parameters"]; ok {
			if err := n.Decode(&pathParams); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for method, node := range item {
			if !slices.Contains(openAPIMethods, method) {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			var op openAPIOperation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			// operationIds are unique across the whole document, not only here.
			if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				t.Errorf("%s: operationId %q missing or also used by %s", key, op.OperationID, prev)
			}
			ids[op.OperationID] = key
			if !isRulesPath(path) {
				continue
			}
			checkPathParams(t, key, path, append(pathParams, op.Parameters...), doc.Components.Parameters)
			ops[key] = op
		}
	}

	routes := api.New(nil).Routes()
	mounted := map[string]bool{}
	for _, r := range routes {
		mounted[r.Pattern] = true
		_, path, _ := strings.Cut(r.Pattern, " ")
		if !isRulesPath(path) {
			t.Errorf("route %s is outside the rules paths %v: add its prefix to rulesPaths here and in services/ingest/openapi_test.go", r.Pattern, rulesPaths)
			continue
		}
		op, ok := ops[r.Pattern]
		if !ok {
			t.Errorf("route %s is not in api/openapi.yaml", r.Pattern)
			continue
		}
		want := make([]string, len(r.Roles))
		for i, role := range r.Roles {
			want[i] = string(role)
		}
		got := slices.Clone(op.Roles)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-roles %v, the route allows %v", r.Pattern, op.Roles, want)
		}
		// Every route is behind a key and a role.
		for _, code := range []string{"401", "403"} {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: no %s response", r.Pattern, code)
			}
		}
		if op.Security != nil && len(*op.Security) == 0 {
			t.Errorf("%s: the spec says no key is needed, the route requires one", r.Pattern)
		}
	}
	for key := range ops {
		if !mounted[key] {
			t.Errorf("api/openapi.yaml describes %s, which no rules route serves", key)
		}
	}
	t.Logf("%d rules routes, %d operations under %v in api/openapi.yaml", len(routes), len(ops), rulesPaths)
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// checkPathParams checks that the path's {params} and the declared path parameters
// are the same names.
func checkPathParams(t *testing.T, key, path string, params []openAPIParam, shared map[string]openAPIParam) {
	t.Helper()
	var inPath, declared []string
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		inPath = append(inPath, m[1])
	}
	for _, p := range params {
		if p.Ref != "" {
			name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
			if !ok || shared[name].Name == "" {
				t.Errorf("%s: parameter %s not found", key, p.Ref)
				continue
			}
			p = shared[name]
		}
		if p.In == "path" {
			declared = append(declared, p.Name)
		}
	}
	slices.Sort(inPath)
	slices.Sort(declared)
	if !slices.Equal(inPath, declared) {
		t.Errorf("%s: path parameters %v, declared %v", key, inPath, declared)
	}
}
