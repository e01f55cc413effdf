package ingest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/platform/auth"
)

// TestRoleMatrix calls every ingest endpoint with no key, an unknown key and a key
// of each role: 401, 401, then 403 for every role the route does not allow and
// anything but 401/403 for those it does.
func TestRoleMatrix(t *testing.T) {
	s := newStack(t)
	s.push(ndjson(loan("m-1", "LN-1", "1")))
	r := s.push(ndjson(`{"id":"bad"}`))
	qid := r[0].QuarantineID
	paths := map[string]string{
		"{id}":      "m-1",
		"{type}":    "loan.balance",
		"{version}": "1",
	}
	for _, route := range s.srv.Routes() {
		method, path, _ := strings.Cut(route.Pattern, " ")
		if strings.HasPrefix(path, "/v1/quarantine/") {
			path = strings.Replace(path, "{id}", itoa(qid), 1)
		}
		for k, v := range paths {
			path = strings.ReplaceAll(path, k, v)
		}
		t.Run(route.Pattern, func(t *testing.T) {
			if code := s.do(method, path, "", nil, nil); code != http.StatusUnauthorized {
				t.Errorf("no key: %d, want 401", code)
			}
			s.keys["bogus"] = "ll_not_a_key"
			if code := s.do(method, path, "bogus", nil, nil); code != http.StatusUnauthorized {
				t.Errorf("unknown key: %d, want 401", code)
			}
			for _, role := range auth.Roles {
				allowed := role == auth.RoleAdmin
				for _, a := range route.Roles {
					allowed = allowed || a == role
				}
				var raw json.RawMessage
				code := s.do(method, path, role, []byte(`{}`), &raw)
				var e struct{ Error struct{ Code string } }
				_ = json.Unmarshal(raw, &e)
				if !allowed && (code != http.StatusForbidden || e.Error.Code != "forbidden") {
					t.Errorf("%s: %d %q, want 403 forbidden", role, code, e.Error.Code)
				}
				if allowed && (code == http.StatusForbidden || code == http.StatusUnauthorized) {
					t.Errorf("%s: %d, want access", role, code)
				}
			}
		})
	}
	var e struct{ Error struct{ Code string } }
	if code := s.do("GET", "/v1/nope", auth.RoleAdmin, nil, &e); code != 404 || e.Error.Code != "not_found" {
		t.Errorf("unknown route: %d %+v", code, e)
	}
	if code := s.do("DELETE", "/v1/events", auth.RoleAdmin, nil, &e); code != 405 || e.Error.Code != "method_not_allowed" {
		t.Errorf("wrong method: %d %+v", code, e)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
