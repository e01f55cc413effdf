package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
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
	"github.com/ledgerline/ledgerline/services/rules"
	"github.com/ledgerline/ledgerline/services/rules/api"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stack is the rules service on real PostgreSQL, real JetStream and real HTTP.
// Events are published straight to the stream, as the ingest service stores them.
type stack struct {
	t      testing.TB
	cfg    config.Config
	db     *postgres.DB
	events *eventstore.Store
	svc    *rules.Service
	http   *httptest.Server
	keys   map[auth.Role]string
	cancel context.CancelFunc
}

func newStack(t testing.TB, tweak ...func(*config.Config)) *stack {
	t.Helper()
	s := &stack{t: t, cfg: apitest.Config(t)}
	s.cfg.Rules.Batch = 500
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
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	if s.db, err = postgres.Open(ctx, s.cfg, log, migrations.FS); err != nil {
		s.t.Fatal(err)
	}
	if s.events, err = eventstore.Open(ctx, s.cfg, log); err != nil {
		s.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	post := func(ctx context.Context, by string, raw []byte) (uint64, error) { return s.publishRaw(raw), nil }
	if s.svc, err = rules.New(ctx, rules.Config{Stream: s.cfg.Stream.Name, Partitions: s.cfg.Rules.Partitions, Batch: s.cfg.Rules.Batch},
		s.db.Pool, s.events.JS, post, log, reg); err != nil {
		s.t.Fatal(err)
	}
	srv := server.New(log, auth.NewKeys(s.db.Pool), reg)
	srv.Handle(api.New(s.svc).Routes()...)
	s.http = httptest.NewServer(srv.Handler())
}

func (s *stack) stop() {
	if s.http != nil {
		s.http.Close()
		s.svc.Stop()
		s.cancel()
		s.events.Close()
		s.db.Close()
		s.http = nil
	}
}

// publish stores an event in the stream as ingest would, answering its seq.
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

func (s *stack) do(method, path string, role auth.Role, body []byte, out any) int {
	s.t.Helper()
	return apitest.Do(s.t, s.http.URL, s.keys[role], method, path, body, out)
}

func (s *stack) onboard(src string) rules.Onboarded {
	s.t.Helper()
	var out rules.Onboarded
	var e struct {
		Error struct {
			Message string
			Details any
		}
	}
	if code := s.do("POST", "/v1/rulesets", auth.RoleRuleAuthor, []byte(src), &out); code != 201 {
		s.do("POST", "/v1/rulesets", auth.RoleRuleAuthor, []byte(src), &e)
		s.t.Fatalf("onboard: %d %+v", code, e)
	}
	return out
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
	if err := s.svc.WaitFor(ctx, last); err != nil {
		s.t.Fatal(err)
	}
	return last
}

// figure asks GET /v1/figures/{name}.
func (s *stack) figure(name, period string, params ...string) (rules.Figure, int, string) {
	s.t.Helper()
	q := url.Values{"period": {period}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	var raw json.RawMessage
	code := s.do("GET", "/v1/figures/"+name+"?"+q.Encode(), auth.RoleAuditor, nil, &raw)
	var f rules.Figure
	_ = json.Unmarshal(raw, &f)
	return f, code, string(raw)
}

// want checks a figure's value.
func (s *stack) want(name, period, value string, params ...string) rules.Figure {
	s.t.Helper()
	f, code, raw := s.figure(name, period, params...)
	if code != 200 || f.Value != value {
		s.t.Fatalf("%s %s %v: %d %s, want value %s", name, period, params, code, raw, value)
	}
	return f
}

func loan(id, subject, cpty, amount, currency, at string) map[string]any {
	return map[string]any{"id": id, "source": "core-banking", "type": "loan.balance", "schema_version": 1, "subject": subject,
		"occurred_at": at, "data": map[string]any{"loan_id": subject, "counterparty_id": cpty, "exposure_class": "corporate",
			"product": "term_loan", "outstanding": amount, "currency": currency}}
}

func payment(id, amount, at string) map[string]any {
	return map[string]any{"id": id, "source": "payments", "type": "payment", "schema_version": 1, "subject": id,
		"occurred_at": at, "data": map[string]any{"payment_id": id, "debtor_account": "A", "creditor_account": "B",
			"amount": amount, "currency": "EUR", "direction": "outbound", "value_date": at[:10]}}
}

func fx(id, base, quote, rate, at string) map[string]any {
	return map[string]any{"id": id, "source": "market-data", "type": "fx.rate", "schema_version": 1, "subject": base + "/" + quote,
		"occurred_at": at, "data": map[string]any{"base": base, "quote": quote, "rate": rate}}
}

func void(id, target, at string) map[string]any {
	return map[string]any{"id": id, "source": "ops", "type": "void", "subject": "x", "occurred_at": at, "supersedes": target}
}

func with(ev map[string]any, k string, v any) map[string]any {
	ev[k] = v
	return ev
}

var _ = fmt.Sprint
