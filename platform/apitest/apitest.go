// Package apitest checks api/openapi.yaml against the routes a service mounts, so
// that the spec and the server cannot drift. Each service's openapi_test.go parses
// the spec with Parse, checks its routes with CheckRoutes, and checks that every
// operation it owns (Owner) is one of its routes; together they cover every /v1 path.
package apitest

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ledgerline/ledgerline/platform/server"
)

// Ingest owns every /v1 path no other service claims.
const Ingest = "services/ingest"

// owners are the /v1 path prefixes of the services other than ingest. A path is a
// prefix itself or below it ("/v1/rules" does not claim "/v1/rulesets"); the
// longest prefix that matches wins ({id} matches one segment).
var owners = map[string][]string{
	"services/rules":      {"/v1/rulesets", "/v1/figures", "/v1/adjustments", "/v1/rules", "/v1/projections"},
	"services/reports":    {"/v1/templates", "/v1/filings", "/v1/schedule", "/v1/events/{id}/impact"},
	"services/submission": {"/v1/submissions", "/v1/filings/{id}/submissions"},
}

// Owner is the service a /v1 path belongs to.
func Owner(path string) string {
	owner, longest := Ingest, -1
	for service, prefixes := range owners {
		for _, prefix := range prefixes {
			if covers(prefix, path) && len(prefix) > longest {
				owner, longest = service, len(prefix)
			}
		}
	}
	return owner
}

// covers reports whether path is prefix or below it, segment by segment.
func covers(prefix, path string) bool {
	ps, xs := strings.Split(prefix, "/"), strings.Split(path, "/")
	if len(xs) < len(ps) {
		return false
	}
	for i, p := range ps {
		if p != xs[i] && !(strings.HasPrefix(p, "{") && strings.HasPrefix(xs[i], "{")) {
			return false
		}
	}
	return true
}

// Operation is one operation of the spec.
type Operation struct {
	OperationID string                 `yaml:"operationId"`
	Roles       []string               `yaml:"x-roles"`
	Parameters  []param                `yaml:"parameters"`
	Responses   map[string]yaml.Node   `yaml:"responses"`
	Security    *[]map[string][]string `yaml:"security"`
}

type param struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

type document struct {
	OpenAPI string `yaml:"openapi"`
	// Paths maps a path to its path item: operations by lower-case method, plus
	// keys such as "parameters" that are not operations.
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Parameters map[string]param `yaml:"parameters"`
	} `yaml:"components"`
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Parse reads the spec into its operations by "METHOD /path", checking that it is
// OpenAPI 3.1.0, that operationIds are unique and that every path's {params} are
// declared path parameters.
func Parse(t *testing.T, spec []byte) map[string]Operation {
	t.Helper()
	var doc document
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: %q, want 3.1.0", doc.OpenAPI)
	}
	ops := map[string]Operation{}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		var pathParams []param
		if n, ok := item["parameters"]; ok {
			if err := n.Decode(&pathParams); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for method, node := range item {
			if !slices.Contains(methods, method) {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			var op Operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				t.Errorf("%s: operationId %q missing or also used by %s", key, op.OperationID, prev)
			}
			ids[op.OperationID] = key
			checkPathParams(t, key, path, append(pathParams, op.Parameters...), doc.Components.Parameters)
			ops[key] = op
		}
	}
	return ops
}

// CheckRoutes checks that every route of service lies under its paths and is an
// operation with the route's roles as x-roles, answering 401 and 403 and needing
// a key. It returns the mounted patterns.
func CheckRoutes(t *testing.T, ops map[string]Operation, service string, routes []server.Route) map[string]bool {
	t.Helper()
	mounted := map[string]bool{}
	for _, r := range routes {
		mounted[r.Pattern] = true
		_, path, _ := strings.Cut(r.Pattern, " ")
		if owner := Owner(path); owner != service {
			t.Errorf("route %s of %s is under a path of %s (see apitest.owners)", r.Pattern, service, owner)
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
	return mounted
}

// CheckOwnedOperations checks that every /v1 operation of the spec that service
// owns is one of its mounted routes.
func CheckOwnedOperations(t *testing.T, ops map[string]Operation, service string, mounted map[string]bool) {
	t.Helper()
	for key := range ops {
		_, path, _ := strings.Cut(key, " ")
		if strings.HasPrefix(path, "/v1/") && Owner(path) == service && !mounted[key] {
			t.Errorf("api/openapi.yaml describes %s, which no route of %s serves", key, service)
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// checkPathParams checks that the path's {params} and the declared path parameters
// are the same names.
func checkPathParams(t *testing.T, key, path string, params []param, shared map[string]param) {
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
