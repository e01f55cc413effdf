// Package reportstest starts the rules and reports services on real PostgreSQL,
// real JetStream and real HTTP for tests of this and later services (submission,
// lineage). Events are published straight to the stream, as ingest stores them.
package reportstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/migrations"
	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/postgres"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest/stream"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/api"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesapi "github.com/ledgerline/ledgerline/services/rules/api"
)

// Stack is the rules and reports services on real PostgreSQL, real JetStream and
// real HTTP.
type Stack struct {
	T       testing.TB
	Cfg     config.Config
	DB      *postgres.DB
	Events  *eventstore.Store
	Rules   *rules.Service
	Reports *reports.Service
	Server  *server.Server // more routes may be mounted before the first request
	HTTP    *httptest.Server
	Keys    map[string]string // by name: author, maker, checker (two compliance keys), operator, auditor, source, admin
	IDs     map[string]int64  // the keys' ids
}

// New starts a stack; it stops when the test ends.
func New(t testing.TB) *Stack {
	t.Helper()
	s := &Stack{T: t, Cfg: apitest.Config(t)}
	s.Cfg.Rules.Batch = 500
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	if s.DB, err = postgres.Open(ctx, s.Cfg, log, migrations.FS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.DB.Close)
	if s.Events, err = eventstore.Open(ctx, s.Cfg, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Events.Close)
	post := func(ctx context.Context, by string, raw []byte) (uint64, error) { return s.PublishRaw(raw), nil }
	if s.Rules, err = rules.New(ctx, rules.Config{Stream: s.Cfg.Stream.Name, Partitions: 1, Batch: s.Cfg.Rules.Batch},
		s.DB.Pool, s.Events.JS, post, log, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Rules.Stop)
	s.Reports = s.NewReports(reports.Config{RulesTimeout: 20 * time.Second, Instance: "test"})
	s.Server = server.New(log, auth.NewKeys(s.DB.Pool), prometheus.NewRegistry())
	s.Server.Handle(rulesapi.New(s.Rules).Routes()...)
	s.Server.Handle(api.New(s.Reports).Routes()...)
	s.HTTP = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Server.Handler().ServeHTTP(w, r) }))
	s.HTTP.Start()
	t.Cleanup(s.HTTP.Close)

	s.Keys, s.IDs = map[string]string{}, map[string]int64{}
	k := auth.NewKeys(s.DB.Pool)
	for name, role := range map[string]auth.Role{"author": auth.RoleRuleAuthor, "maker": auth.RoleCompliance, "checker": auth.RoleCompliance,
		"operator": auth.RoleOperator, "auditor": auth.RoleAuditor, "source": auth.RoleSource, "admin": auth.RoleAdmin} {
		secret, key, err := k.Create(ctx, "test-"+name, []auth.Role{role}, "test")
		if err != nil {
			t.Fatal(err)
		}
		s.Keys[name], s.IDs[name] = secret, key.KeyID
	}
	return s
}

// NewReports is another reports service on the same database and rules.
func (s *Stack) NewReports(cfg reports.Config) *reports.Service {
	svc := reports.New(store.New(s.DB.Pool), s.Rules, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.SetLineage(s.Rules, streamEvents{s})
	return svc
}

// streamEvents reads events straight from the stream, and ids through the
// event index PublishRaw fills as ingest would.
type streamEvents struct{ s *Stack }

func (e streamEvents) EventAt(ctx context.Context, seq uint64) (reports.Event, error) {
	m, err := stream.Get(ctx, e.s.Events.Stream, seq)
	return reports.Event{Seq: m.Seq, RecordedAt: m.RecordedAt, SentBy: m.SentBy, Envelope: m.Data}, err
}

func (e streamEvents) EventByID(ctx context.Context, id string) (reports.Event, error) {
	var seq int64
	if err := e.s.DB.Pool.QueryRow(ctx, `SELECT seq FROM event_index WHERE id = $1`, id).Scan(&seq); err != nil {
		return reports.Event{}, fmt.Errorf("event %q: %v: %w", id, err, httpjson.ErrNotFound)
	}
	return e.EventAt(ctx, uint64(seq))
}

// Publish stores an event in the stream as ingest would, answering its seq.
func (s *Stack) Publish(ev map[string]any) uint64 {
	s.T.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		s.T.Fatal(err)
	}
	return s.PublishRaw(raw)
}

// PublishRaw stores a raw envelope.
func (s *Stack) PublishRaw(raw []byte) uint64 {
	s.T.Helper()
	var ev struct{ ID, Type, Subject string }
	if err := json.Unmarshal(raw, &ev); err != nil {
		s.T.Fatal(err)
	}
	ack, err := s.Events.JS.PublishMsg(context.Background(), &nats.Msg{Subject: envelope.StreamSubject(ev.Type, ev.Subject), Data: raw},
		jetstream.WithMsgID(ev.ID))
	if err != nil {
		s.T.Fatal(err)
	}
	if _, err := s.DB.Pool.Exec(context.Background(), `INSERT INTO event_index (id, seq, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		ev.ID, int64(ack.Sequence), ev.Type); err != nil {
		s.T.Fatal(err)
	}
	return ack.Sequence
}

// Settle waits until the rules have processed every event published so far.
func (s *Stack) Settle() uint64 {
	s.T.Helper()
	last, err := s.Events.LastSeq(context.Background())
	if err != nil {
		s.T.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Rules.WaitFor(ctx, last); err != nil {
		s.T.Fatal(err)
	}
	return last
}

// Do calls the API as the named key; out (if not nil) gets the JSON answer.
func (s *Stack) Do(method, path, key string, body []byte, out any) int {
	s.T.Helper()
	return apitest.Do(s.T, s.HTTP.URL, s.Keys[key], method, path, body, out)
}

// Raw calls the API and returns the status, headers and body.
func (s *Stack) Raw(method, path, key, contentType string, body []byte) (int, http.Header, []byte) {
	s.T.Helper()
	req, err := http.NewRequest(method, s.HTTP.URL+path, bytes.NewReader(body))
	if err != nil {
		s.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+s.Keys[key])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.T.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// OnboardRules onboards a rule set and waits for its backfill.
func (s *Stack) OnboardRules(src string) {
	s.T.Helper()
	var e json.RawMessage
	if code := s.Do("POST", "/v1/rulesets", "author", []byte(src), &e); code != 201 {
		s.T.Fatalf("onboard rules: %d %s", code, e)
	}
	s.Settle()
}

// OnboardTemplate sends a template (multipart with a layout when given) as key.
func (s *Stack) OnboardTemplate(key, src string, layout []byte) (int, []byte) {
	s.T.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	p, _ := mw.CreateFormFile("template", "template.yaml")
	p.Write([]byte(src))
	if layout != nil {
		p, _ := mw.CreateFormFile("layout", "layout.xlsx")
		p.Write(layout)
	}
	mw.Close()
	code, _, b := s.Raw("POST", "/v1/templates", key, mw.FormDataContentType(), body.Bytes())
	return code, b
}

// Loan is a loan.balance event.
func Loan(id, subject, cpty, amount, currency, at string) map[string]any {
	return map[string]any{"id": id, "source": "core-banking", "type": "loan.balance", "schema_version": 1, "subject": subject,
		"occurred_at": at, "data": map[string]any{"loan_id": subject, "counterparty_id": cpty, "exposure_class": "corporate",
			"product": "term_loan", "outstanding": amount, "currency": currency}}
}

// FX is an fx.rate event.
func FX(id, base, quote, rate, at string) map[string]any {
	return map[string]any{"id": id, "source": "market-data", "type": "fx.rate", "schema_version": 1, "subject": base + "/" + quote,
		"occurred_at": at, "data": map[string]any{"base": base, "quote": quote, "rate": rate}}
}
