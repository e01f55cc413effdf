package reports_test

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
	"github.com/ledgerline/ledgerline/platform/pgtest"
	"github.com/ledgerline/ledgerline/platform/postgres"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/reports"
	"github.com/ledgerline/ledgerline/services/reports/api"
	"github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/rules"
	rulesapi "github.com/ledgerline/ledgerline/services/rules/api"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stack is the rules and reports services on real PostgreSQL, real JetStream and
// real HTTP. Events are published straight to the stream, as ingest stores them.
type stack struct {
	t       testing.TB
	cfg     config.Config
	db      *postgres.DB
	events  *eventstore.Store
	rules   *rules.Service
	reports *reports.Service
	http    *httptest.Server
	keys    map[string]string // by name: one per role, plus a second compliance key "checker"
	ids     map[string]int64
}

func newStack(t testing.TB) *stack {
	t.Helper()
	s := &stack{t: t, cfg: apitest.Config(t)}
	s.cfg.Rules.Batch = 500
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	if s.db, err = postgres.Open(ctx, s.cfg, log, migrations.FS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.db.Close)
	if s.events, err = eventstore.Open(ctx, s.cfg, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.events.Close)
	post := func(ctx context.Context, by string, raw []byte) (uint64, error) { return s.publishRaw(raw), nil }
	if s.rules, err = rules.New(ctx, rules.Config{Stream: s.cfg.Stream.Name, Partitions: 1, Batch: s.cfg.Rules.Batch},
		s.db.Pool, s.events.JS, post, log, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.rules.Stop)
	s.reports = s.newReports(reports.Config{RulesTimeout: 20 * time.Second, Instance: "test"})
	srv := server.New(log, auth.NewKeys(s.db.Pool), prometheus.NewRegistry())
	srv.Handle(rulesapi.New(s.rules).Routes()...)
	srv.Handle(api.New(s.reports).Routes()...)
	s.http = httptest.NewServer(srv.Handler())
	t.Cleanup(s.http.Close)

	s.keys, s.ids = map[string]string{}, map[string]int64{}
	k := auth.NewKeys(s.db.Pool)
	for name, role := range map[string]auth.Role{"author": auth.RoleRuleAuthor, "maker": auth.RoleCompliance, "checker": auth.RoleCompliance,
		"operator": auth.RoleOperator, "auditor": auth.RoleAuditor, "source": auth.RoleSource, "admin": auth.RoleAdmin} {
		secret, key, err := k.Create(ctx, "test-"+name, []auth.Role{role}, "test")
		if err != nil {
			t.Fatal(err)
		}
		s.keys[name], s.ids[name] = secret, key.KeyID
	}
	return s
}

// newReports is another reports service on the same database and rules.
func (s *stack) newReports(cfg reports.Config) *reports.Service {
	return reports.New(store.New(s.db.Pool), s.rules, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (s *stack) publish(ev map[string]any) uint64 {
	s.t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.publishRaw(raw)
}

func (s *stack) publishRaw(raw []byte) uint64 {
	s.t.Helper()
	var ev struct{ ID, Type, Subject string }
	if err := json.Unmarshal(raw, &ev); err != nil {
		s.t.Fatal(err)
	}
	ack, err := s.events.JS.PublishMsg(context.Background(), &nats.Msg{Subject: envelope.StreamSubject(ev.Type, ev.Subject), Data: raw},
		jetstream.WithMsgID(ev.ID))
	if err != nil {
		s.t.Fatal(err)
	}
	return ack.Sequence
}

// settle waits until the rules have processed every event published so far.
func (s *stack) settle() uint64 {
	s.t.Helper()
	last, err := s.events.LastSeq(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.rules.WaitFor(ctx, last); err != nil {
		s.t.Fatal(err)
	}
	return last
}

// do calls the API as the named key; out (if not nil) gets the JSON answer.
func (s *stack) do(method, path, key string, body []byte, out any) int {
	s.t.Helper()
	return apitest.Do(s.t, s.http.URL, s.keys[key], method, path, body, out)
}

// raw calls the API and returns the status, headers and body.
func (s *stack) raw(method, path, key, contentType string, body []byte) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+s.keys[key])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// onboardRules onboards a rule set and waits for its backfill.
func (s *stack) onboardRules(src string) {
	s.t.Helper()
	var e json.RawMessage
	if code := s.do("POST", "/v1/rulesets", "author", []byte(src), &e); code != 201 {
		s.t.Fatalf("onboard rules: %d %s", code, e)
	}
	s.settle()
}

// onboardTemplate sends a template (multipart with a layout when given) as key.
func (s *stack) onboardTemplate(key, src string, layout []byte) (int, []byte) {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	p, _ := mw.CreateFormFile("template", "template.yaml")
	p.Write([]byte(src))
	if layout != nil {
		p, _ := mw.CreateFormFile("layout", "layout.xlsx")
		p.Write(layout)
	}
	mw.Close()
	code, _, b := s.raw("POST", "/v1/templates", key, mw.FormDataContentType(), body.Bytes())
	return code, b
}

func loan(id, subject, cpty, amount, currency, at string) map[string]any {
	return map[string]any{"id": id, "source": "core-banking", "type": "loan.balance", "schema_version": 1, "subject": subject,
		"occurred_at": at, "data": map[string]any{"loan_id": subject, "counterparty_id": cpty, "exposure_class": "corporate",
			"product": "term_loan", "outstanding": amount, "currency": currency}}
}

func fx(id, base, quote, rate, at string) map[string]any {
	return map[string]any{"id": id, "source": "market-data", "type": "fx.rate", "schema_version": 1, "subject": base + "/" + quote,
		"occurred_at": at, "data": map[string]any{"base": base, "quote": quote, "rate": rate}}
}

var _ = fmt.Sprint
