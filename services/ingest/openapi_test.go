package ingest_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	openapi "github.com/ledgerline/ledgerline/api"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest/api"
)

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

// otherServices are the /v1 path prefixes of api/openapi.yaml that other services
// serve, each checked against its routes by that service's own openapi_test.go
// (ingest cannot import their packages). A path is a prefix itself or below it.
// Every other /v1 operation must be an ingest route, so the tests together cover
// every /v1 path, and a path that no service claims fails here.
var otherServices = map[string][]string{
	"services/rules": {"/v1/rulesets", "/v1/figures", "/v1/adjustments", "/v1/rules", "/v1/projections"},
}

// servedBy names the other service a path belongs to, or "" for ingest.
func servedBy(path string) string {
	for service, prefixes := range otherServices {
		for _, prefix := range prefixes {
			if path == prefix || strings.HasPrefix(path, prefix+"/") {
				return service
			}
		}
	}
	return ""
}

// TestOpenAPICoversEveryRoute checks api/openapi.yaml against the routes the ingest
// service mounts, both ways: every route is an operation with the route's roles as
// x-roles, every /v1 operation outside otherServices' paths is a route, and every
// operation outside /v1 is served by the platform server without a key.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc openAPIDoc
	if err := yaml.Unmarshal(openapi.Spec, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: %q, want 3.1.0", doc.OpenAPI)
	}

	ops := map[string]openAPIOperation{} // "METHOD /path" → operation
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
			if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				t.Errorf("%s: operationId %q missing or also used by %s", key, op.OperationID, prev)
			}
			ids[op.OperationID] = key
			checkPathParams(t, key, path, append(pathParams, op.Parameters...), doc.Components.Parameters)
			ops[key] = op
		}
	}

	routes := api.New(nil).Routes()
	mounted := map[string]bool{}
	for _, r := range routes {
		mounted[r.Pattern] = true
		_, path, _ := strings.Cut(r.Pattern, " ")
		if other := servedBy(path); other != "" {
			t.Errorf("route %s is under a path of %s (otherServices)", r.Pattern, other)
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

	// The platform server answers the operations outside /v1 (health, readiness,
	// metrics) itself, without a key.
	srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, prometheus.NewRegistry())
	srv.Handle(routes...)
	h := srv.Handler()
	for key, op := range ops {
		method, path, _ := strings.Cut(key, " ")
		if strings.HasPrefix(path, "/v1/") {
			if servedBy(path) != "" {
				continue // checked by that service's test
			}
			if !mounted[key] {
				t.Errorf("api/openapi.yaml describes %s, which no route serves", key)
			}
			continue
		}
		if op.Security == nil || len(*op.Security) != 0 {
			t.Errorf("%s: want security: [] (served without a key)", key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusUnauthorized {
			t.Errorf("api/openapi.yaml describes %s; the server answers %d", key, rec.Code)
		}
	}
	t.Logf("%d routes, %d operations in api/openapi.yaml", len(routes), len(ops))
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
