// Package openapi holds Ledgerline's HTTP API contract, api/openapi.yaml (OpenAPI
// 3.1), embedded so that programs and tests can read it without the source tree.
//
// The document describes every route the services mount, with the roles allowed
// to call it (the x-roles extension of each operation), and the platform endpoints
// /healthz, /readyz and /metrics. Each service's openapi_test.go checks it against
// that service's routes in both directions (with platform/apitest), so the spec and
// the server cannot drift apart.
package openapi

import _ "embed"

// Spec is api/openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var Spec []byte
