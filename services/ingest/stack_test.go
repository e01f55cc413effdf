package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/migrations"
	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/natstest"
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/platform/postgres"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/api"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stack is a running ingest service on real PostgreSQL, real JetStream and real HTTP.
type stack struct {
	t      testing.TB
	cfg    config.Config
	nats   *natstest.Server
	dbURL  string
	db     *postgres.DB
	events *eventstore.Store
	svc    *ingest.Service
	srv    *server.Server
	http   *httptest.Server
	keys   map[auth.Role]string
}

func newStack(t testing.TB, tweak ...func(*config.Config)) *stack {
	t.Helper()
	s := &stack{t: t, nats: natstest.Start(t), dbURL: pgtest.URL(t)}
	s.cfg = config.Default()
	s.cfg.DataDir = t.TempDir()
	s.cfg.DatabaseURL = s.dbURL
	s.cfg.NATSURL = s.nats.URL() // kept: tests restart this server
	for _, f := range tweak {
		f(&s.cfg)
	}
	s.start()
	t.Cleanup(s.stop)
	s.keys = apitest.Keys(t, s.db.Pool)
	return s
}

func (s *stack) start() {
	s.t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	if s.db, err = postgres.Open(ctx, s.cfg, log, migrations.FS); err != nil {
		s.t.Fatal(err)
	}
	if s.events, err = eventstore.Open(ctx, s.cfg, log); err != nil {
		s.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if s.svc, err = ingest.New(s.cfg, s.db.Pool, s.events, log, reg); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.svc.CatchUp(ctx); err != nil {
		s.t.Fatal(err)
	}
	s.srv = server.New(log, auth.NewKeys(s.db.Pool), reg)
	s.srv.Handle(api.New(s.svc).Routes()...)
	s.http = httptest.NewServer(s.srv.Handler())
}

func (s *stack) stop() {
	if s.http != nil {
		s.http.Close()
		s.events.Close()
		s.db.Close()
		s.http = nil
	}
}

// restart stops the service and the NATS server, and starts both again on the
// same stores.
func (s *stack) restart() {
	s.t.Helper()
	s.stop()
	s.nats.Restart()
	s.start()
}

// do sends a request with the key of role ("" for none) and decodes the JSON answer into out.
func (s *stack) do(method, path string, role auth.Role, body []byte, out any) int {
	s.t.Helper()
	return apitest.Do(s.t, s.http.URL, s.keys[role], method, path, body, out)
}

// push sends events and expects 200 with one result each.
func (s *stack) push(body []byte) []ingest.Result {
	s.t.Helper()
	var results []ingest.Result
	if code := s.do("POST", "/v1/events", auth.RoleSource, body, &results); code != http.StatusOK {
		s.t.Fatalf("POST /v1/events: status %d, results %+v", code, results)
	}
	return results
}

// streamEvents reads every stored event id in seq order.
func (s *stack) streamEvents() (ids []string, seqs []uint64) {
	s.t.Helper()
	ctx := context.Background()
	last, err := s.events.LastSeq(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for seq := uint64(1); seq <= last; seq++ {
		m, err := s.events.Stream.GetMsg(ctx, seq)
		if err != nil {
			s.t.Fatalf("seq %d: %v", seq, err)
		}
		var ev struct{ ID string }
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			s.t.Fatal(err)
		}
		ids, seqs = append(ids, ev.ID), append(seqs, seq)
	}
	return ids, seqs
}

// loan is a valid loan.balance event.
func loan(id, subject, outstanding string) string {
	return fmt.Sprintf(`{"id":%q,"source":"core-banking","type":"loan.balance","schema_version":1,"subject":%q,`+
		`"occurred_at":"2026-10-31T18:00:00Z","data":{"loan_id":%q,"counterparty_id":"CP-1","exposure_class":"corporate",`+
		`"product":"term_loan","outstanding":%q,"currency":"EUR"}}`, id, subject, subject, outstanding)
}

func ndjson(lines ...string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
