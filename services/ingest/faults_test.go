package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/services/ingest"
)

type apiError struct {
	Error struct {
		Code    string
		Message string
	}
}

// TestPostgresDownAnswers503ThenRecovers stops PostgreSQL under a running ingest
// service: it answers 503 with Retry-After (nothing accepted, nothing lost), and
// serves again by itself once PostgreSQL is back.
func TestPostgresDownAnswers503ThenRecovers(t *testing.T) {
	pg := pgtest.Local(t)
	if pg == nil {
		t.Skip("LEDGERLINE_TEST_DATABASE_URL points at an external server this test cannot stop")
	}
	s := newStack(t)
	s.push(ndjson(loan("pg-0", "LN-1", "1"))) // warms the key cache
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = pg.Start(context.Background())
		}
	}()
	var e apiError
	code := s.do("POST", "/v1/events", auth.RoleSource, ndjson(loan("pg-1", "LN-1", "1")), &e)
	if code != http.StatusServiceUnavailable || e.Error.Code != "unavailable" {
		t.Fatalf("with PostgreSQL down: %d %+v, want 503 unavailable", code, e)
	}
	if code := s.do("GET", "/v1/stream", auth.RoleOperator, nil, &e); code != http.StatusServiceUnavailable {
		t.Fatalf("GET /v1/stream with PostgreSQL down: %d", code)
	}
	if err := pg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	var r []ingest.Result
	waitFor(t, "ingest to answer again", func() bool {
		r = nil
		return s.do("POST", "/v1/events", auth.RoleSource, ndjson(loan("pg-1", "LN-1", "1")), &r) == 200
	})
	if r[0].Status != ingest.StatusAccepted {
		t.Fatalf("after PostgreSQL came back: %+v", r[0])
	}
}

// TestNATSDownAnswers503ThenRecovers stops the JetStream server under a running
// ingest service: publishing fails with 503 (safe to retry), then, with the server
// back, the same batch goes in once.
func TestNATSDownAnswers503ThenRecovers(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Ingest.PublishTimeout = time.Second })
	s.push(ndjson(loan("n-0", "LN-1", "1")))
	s.nats.Shutdown()
	var lines []string
	for i := 1; i <= 50; i++ {
		lines = append(lines, loan(fmt.Sprintf("n-%d", i), "LN-1", "1"))
	}
	body := ndjson(lines...)
	var e apiError
	if code := s.do("POST", "/v1/events", auth.RoleSource, body, &e); code != http.StatusServiceUnavailable || e.Error.Code != "unavailable" {
		t.Fatalf("with NATS down: %d %+v", code, e)
	}
	s.nats.Restart()
	var r []ingest.Result
	waitFor(t, "ingest to publish again", func() bool {
		r = nil
		return s.do("POST", "/v1/events", auth.RoleSource, body, &r) == 200
	})
	ids, _ := s.streamEvents()
	if len(ids) != 51 {
		t.Fatalf("stream holds %d events, want 51 (each once)", len(ids))
	}
}
