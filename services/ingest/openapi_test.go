package ingest_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	openapi "github.com/ledgerline/ledgerline/api"
	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest/api"
)

// TestOpenAPICoversEveryRoute checks api/openapi.yaml against the routes the ingest
// service mounts, both ways: every route is an operation with the route's roles as
// x-roles, every /v1 operation ingest owns is a route, and every operation outside
// /v1 is served by the platform server without a key.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	ops := apitest.Parse(t, openapi.Spec)
	routes := api.New(nil).Routes()
	mounted := apitest.CheckRoutes(t, ops, apitest.Ingest, routes)
	apitest.CheckOwnedOperations(t, ops, apitest.Ingest, mounted)

	// The platform server answers the operations outside /v1 (health, readiness,
	// metrics) itself, without a key.
	srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, prometheus.NewRegistry())
	srv.Handle(routes...)
	h := srv.Handler()
	for key, op := range ops {
		method, path, _ := strings.Cut(key, " ")
		if strings.HasPrefix(path, "/v1/") {
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
