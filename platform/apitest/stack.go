package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/natstest"
	"github.com/ledgerline/ledgerline/platform/pgtest"
)

// Config is a configuration for a service under test: a fresh migrated database,
// an embedded JetStream server of its own and a temporary data dir.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = pgtest.URL(t)
	cfg.NATSURL = natstest.Start(t).URL()
	return cfg
}

// Keys creates one API key per role and returns their secrets.
func Keys(t testing.TB, pool *pgxpool.Pool) map[auth.Role]string {
	t.Helper()
	keys := map[auth.Role]string{}
	k := auth.NewKeys(pool)
	for _, r := range auth.Roles {
		secret, _, err := k.Create(context.Background(), "test-"+string(r), []auth.Role{r}, "test")
		if err != nil {
			t.Fatal(err)
		}
		keys[r] = secret
	}
	return keys
}

// Do sends a request to base+path with key ("" for none), decodes a JSON answer
// into out (when not nil) and returns the status.
func Do(t testing.TB, base, key, method, path string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer %d is not JSON: %v\n%s", method, path, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}
