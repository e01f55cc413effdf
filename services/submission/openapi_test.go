package submission_test

import (
	"testing"

	openapi "github.com/ledgerline/ledgerline/api"
	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/services/submission/api"
)

// TestOpenAPICoversEveryRoute checks api/openapi.yaml against the routes the
// submission service mounts, both ways: every route lies under the submission
// paths and is an operation with the route's roles as x-roles, and every
// operation under the submission paths is a route. The ingest service's test
// does the same for the other paths.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	const service = "services/submission"
	ops := apitest.Parse(t, openapi.Spec)
	routes := api.New(nil).Routes()
	mounted := apitest.CheckRoutes(t, ops, service, routes)
	apitest.CheckOwnedOperations(t, ops, service, mounted)
	t.Logf("%d submission routes checked against api/openapi.yaml", len(routes))
}
