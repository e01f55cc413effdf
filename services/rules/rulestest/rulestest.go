// Package rulestest runs the rule worker as it is deployed, the rules binary
// (services/rules/cmd/rules) in a process of its own, for the benchmarks that
// measure it alone: the rules benchmark and the end-to-end one. It also holds the
// benchmarks' rule set.
package rulestest

import (
	"strconv"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/apitest"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/proctest"
)

// ThreeFigures is a rule set with three figures matching every loan.balance event
// (3 contribution rows per event): two stocks and a flow, with one to two
// dimensions and decimal arithmetic.
const ThreeFigures = `
ruleset: bench
effective_from: "2026-01"
figures:
  - name: bench_exposure
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
      exposure_class: event.data.exposure_class
    value: decimal(event.data.outstanding)
    currency: event.data.currency
  - name: bench_undrawn
    kind: stock
    when: event.type == "loan.balance"
    dimensions:
      counterparty: event.data.counterparty_id
    value: decimal(event.data.undrawn_commitment) * decimal(event.data.ccf)
    currency: event.data.currency
  - name: bench_by_product
    kind: flow
    when: event.type == "loan.balance"
    dimensions:
      product: event.data.product
    value: decimal(event.data.outstanding)
    currency: event.data.currency
`

// Worker is the rules binary running as its own process.
type Worker struct {
	*proctest.Process
	t    testing.TB
	keys map[auth.Role]string
}

// StartWorker builds the rules binary and runs it on cfg's PostgreSQL and NATS with
// cfg's rules batch and partitions; keys are the API keys by role it is called with.
func StartWorker(t testing.TB, cfg config.Config, keys map[auth.Role]string) *Worker {
	t.Helper()
	bin := proctest.Build(t, "github.com/ledgerline/ledgerline/services/rules/cmd/rules")
	p := proctest.Start(t, bin, cfg, "LEDGERLINE_RULES_BATCH="+strconv.Itoa(cfg.Rules.Batch),
		"LEDGERLINE_RULES_PARTITIONS="+strconv.Itoa(max(1, cfg.Rules.Partitions)))
	return &Worker{Process: p, t: t, keys: keys}
}

// Do sends a request with the key of role and decodes the JSON answer into out.
func (w *Worker) Do(method, path string, role auth.Role, body []byte, out any) int {
	w.t.Helper()
	return apitest.Do(w.t, w.URL, w.keys[role], method, path, body, out)
}

// Onboard onboards a rule set, failing the test unless it is created.
func (w *Worker) Onboard(src string) {
	w.t.Helper()
	var e any
	if code := w.Do("POST", "/v1/rulesets", auth.RoleRuleAuthor, []byte(src), &e); code != 201 {
		w.t.Fatalf("onboard: %d %v", code, e)
	}
}

// WaitFor polls the worker's watermark until it reaches seq (at most 10 minutes).
func (w *Worker) WaitFor(seq uint64) {
	w.t.Helper()
	var p struct{ Watermark uint64 }
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if code := w.Do("GET", "/v1/rules/watermark", auth.RoleAuditor, nil, &p); code == 200 && p.Watermark >= seq {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the rules worker did not reach seq %d in 10 minutes (its watermark: %d)", seq, p.Watermark)
		}
	}
}
