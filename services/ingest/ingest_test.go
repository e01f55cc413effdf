package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/schemas"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/store"
)

func TestAcceptedEventsAreInTheStreamInOrderWithTheirSeq(t *testing.T) {
	s := newStack(t)
	body, err := schemas.Examples.ReadFile("examples/bank-2026-10.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	results := s.push(body)
	var want []string
	for i, r := range results {
		if r.Status != ingest.StatusAccepted {
			t.Fatalf("event %d (%s): %s %s", i, r.ID, r.Status, r.Error)
		}
		if i > 0 && r.Seq != results[i-1].Seq+1 {
			t.Fatalf("event %d has seq %d after %d: want consecutive seqs in batch order", i, r.Seq, results[i-1].Seq)
		}
		want = append(want, r.ID)
	}
	ids, seqs := s.streamEvents()
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("stream holds %v\nwant %v", ids, want)
	}
	for i, r := range results {
		if seqs[i] != r.Seq {
			t.Fatalf("%s answered seq %d, stored at %d", r.ID, r.Seq, seqs[i])
		}
	}
	// The stored event can be read back by id, with its knowledge time.
	var got ingest.StoredEvent
	if code := s.do("GET", "/v1/events/"+results[3].ID, auth.RoleAuditor, nil, &got); code != 200 || got.Seq != results[3].Seq || got.RecordedAt.IsZero() {
		t.Fatalf("GET event: %d %+v", code, got)
	}
	// The subject with dots, spaces and non-ASCII is stored under a safe NATS subject.
	checked := 0
	for _, ev := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		var e struct{ ID, Type, Subject string }
		_ = json.Unmarshal([]byte(ev), &e)
		if !strings.ContainsAny(e.Subject, " .*>") && !strings.Contains(e.Subject, "ü") {
			continue
		}
		var st ingest.StoredEvent
		s.do("GET", "/v1/events/"+e.ID, auth.RoleAuditor, nil, &st)
		want := "events." + strings.ReplaceAll(e.Type, ".", "-") + "."
		if strings.ContainsAny(st.Subject, " ü*>") || !strings.HasPrefix(st.Subject, want) || strings.Count(st.Subject, ".") != 2 {
			t.Fatalf("business subject %q stored under %q", e.Subject, st.Subject)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("the samples hold no subject with dots, spaces or non-ASCII")
	}
}

func TestTheSameBatchSentThreeTimesAndFromFourGoroutinesIsStoredOnce(t *testing.T) {
	s := newStack(t)
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, loan(fmt.Sprintf("dup-%03d", i), fmt.Sprintf("LN-%d", i), "100.00"))
	}
	body := ndjson(lines...)
	first := s.push(body)
	for round := 0; round < 2; round++ {
		for i, r := range s.push(body) {
			if r.Status != ingest.StatusDuplicate || r.Seq != first[i].Seq {
				t.Fatalf("resend %d, event %d: %s seq %d, want duplicate of seq %d", round, i, r.Status, r.Seq, first[i].Seq)
			}
		}
	}
	// A new batch sent concurrently from 4 goroutines: exactly one copy each.
	lines = lines[:0]
	for i := 0; i < 300; i++ {
		lines = append(lines, loan(fmt.Sprintf("conc-%03d", i), fmt.Sprintf("LN-%d", i), "5.5"))
	}
	body = ndjson(lines...)
	var wg sync.WaitGroup
	answers := make([][]ingest.Result, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[g] = s.push(body)
		}()
	}
	wg.Wait()
	for i := range lines {
		accepted, seq := 0, answers[0][i].Seq
		for g := 0; g < 4; g++ {
			r := answers[g][i]
			if r.Status == ingest.StatusAccepted {
				accepted++
			}
			if r.Seq != seq || (r.Status != ingest.StatusAccepted && r.Status != ingest.StatusDuplicate) {
				t.Fatalf("event %d, goroutine %d: %s seq %d, others seq %d", i, g, r.Status, r.Seq, seq)
			}
		}
		if accepted != 1 {
			t.Fatalf("event %d accepted %d times, want once", i, accepted)
		}
	}
	ids, _ := s.streamEvents()
	if len(ids) != 500 {
		t.Fatalf("stream holds %d events, want 500", len(ids))
	}
	// A duplicate inside one batch is answered as such too.
	r := s.push(ndjson(loan("same", "LN-X", "1"), loan("same", "LN-X", "1")))
	if r[0].Status != ingest.StatusAccepted || r[1].Status != ingest.StatusDuplicate || r[1].Seq != r[0].Seq {
		t.Fatalf("in-batch duplicate: %+v", r)
	}
}

func TestDuplicatesAreDetectedAfterJetStreamsWindow(t *testing.T) {
	s := newStack(t, func(c *config.Config) {
		c.Stream.DuplicateWindow = 200 * time.Millisecond
		c.Ingest.IndexInterval = 100 * time.Millisecond
	})
	first := s.push(ndjson(loan("old-1", "LN-1", "10")))
	time.Sleep(400 * time.Millisecond) // JetStream has forgotten the id now
	again := s.push(ndjson(loan("old-1", "LN-1", "10")))
	if again[0].Status != ingest.StatusDuplicate || again[0].Seq != first[0].Seq {
		t.Fatalf("after the window: %+v, want duplicate of seq %d", again[0], first[0].Seq)
	}
	if ids, _ := s.streamEvents(); len(ids) != 1 {
		t.Fatalf("stream holds %d events", len(ids))
	}
}

func TestLostIndexWritesAreRepairedFromTheStream(t *testing.T) {
	s := newStack(t, func(c *config.Config) {
		c.Stream.DuplicateWindow = 200 * time.Millisecond
		c.Ingest.IndexInterval = 100 * time.Millisecond
	})
	var lines []string
	for i := 0; i < 1200; i++ {
		lines = append(lines, loan(fmt.Sprintf("ix-%04d", i), fmt.Sprintf("LN-%d", i), "1"))
	}
	s.push(ndjson(lines...))
	// Simulate a crash between the JetStream ack and the index write for a few events.
	ctx := context.Background()
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM event_index WHERE id IN ('ix-0007', 'ix-0600', 'ix-1199')`); err != nil {
		t.Fatal(err)
	}
	n, err := s.svc.CatchUp(ctx)
	if err != nil || n != 3 {
		t.Fatalf("catch-up repaired %d (err %v), want 3", n, err)
	}
	time.Sleep(300 * time.Millisecond)
	r := s.push(ndjson(loan("ix-0600", "LN-600", "1")))
	if r[0].Status != ingest.StatusDuplicate || r[0].Seq != 601 {
		t.Fatalf("after repair: %+v, want duplicate of seq 601", r[0])
	}
}

func TestBadInputGetsAClearErrorAndLandsInQuarantine(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Ingest.MaxBodyBytes = 64 << 10 })
	s.push(ndjson(loan("orig-1", "LN-1", "10")))
	base := `"source":"core-banking","schema_version":1,"subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z"`
	loanData := `"loan_id":"LN-1","counterparty_id":"CP-1","exposure_class":"corporate","product":"term_loan","currency":"EUR"`
	tests := []struct {
		name, event, code, field, says string
	}{
		{"malformed JSON", `{"id":"m1", "source": `, "malformed_json", "", "truncated"},
		{"missing field", `{"id":"m2","type":"loan.balance",` + base + `,"data":{"loan_id":"LN-1","counterparty_id":"CP-1","exposure_class":"corporate","product":"term_loan","outstanding":"1"}}`, "invalid_data", "data.currency", "required"},
		{"float money", `{"id":"m3","type":"loan.balance",` + base + `,"data":{` + loanData + `,"outstanding":1234.5}}`, "invalid_data", "data.outstanding", "exact decimal"},
		{"unknown type", `{"id":"m4","type":"loan.balanse",` + base + `,"data":{}}`, "unknown_type", "type", "loan.balanse"},
		{"unknown version", `{"id":"m5","type":"loan.balance","source":"s","schema_version":9,"subject":"LN-1","occurred_at":"2026-10-31T18:00:00Z","data":{}}`, "unknown_schema_version", "schema_version", "no schema version 9"},
		{"bad timestamp", `{"id":"m6","type":"loan.balance","source":"s","schema_version":1,"subject":"LN-1","occurred_at":"31/10/2026","data":{}}`, "invalid_envelope", "occurred_at", "date-time"},
		{"empty id", `{"id":"","type":"loan.balance",` + base + `,"data":{` + loanData + `,"outstanding":"1"}}`, "invalid_envelope", "id", "must not be empty"},
		{"unknown supersedes", `{"id":"m8","type":"loan.balance",` + base + `,"supersedes":"nope","data":{` + loanData + `,"outstanding":"1"}}`, "unknown_supersedes", "supersedes", `"nope"`},
		{"oversized event", `{"id":"m9","type":"loan.balance",` + base + `,"data":{` + loanData + `,"outstanding":"1","x":"` + strings.Repeat("x", 300<<10) + `"}}`, "event_too_large", "", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ndjson(tt.event, loan("good-"+tt.name, "LN-2", "3"))
			if tt.code == "event_too_large" {
				s.cfg.Ingest.MaxEventBytes = 1024
				s.restartKeepingNATS()
				body = ndjson(tt.event[:2000]+`"}}`, loan("good-"+tt.name, "LN-2", "3"))
			}
			r := s.push(body)
			if r[1].Status != ingest.StatusAccepted {
				t.Fatalf("the good event beside it: %+v", r[1])
			}
			got := r[0]
			if got.Status != ingest.StatusRejected || got.Code != tt.code || got.Field != tt.field || !strings.Contains(got.Error, tt.says) {
				t.Fatalf("got %+v\nwant rejected, code %s, field %q, error containing %q", got, tt.code, tt.field, tt.says)
			}
			var q store.QuarantineEntry
			if code := s.do("GET", fmt.Sprintf("/v1/quarantine/%d", got.QuarantineID), auth.RoleOperator, nil, &q); code != 200 {
				t.Fatalf("quarantine entry %d: status %d", got.QuarantineID, code)
			}
			if q.Reason != got.Error || q.Code != tt.code || q.Status != "open" || q.Raw == "" {
				t.Fatalf("quarantine entry %+v", q)
			}
		})
	}

	t.Run("malformed array body", func(t *testing.T) {
		var e struct {
			Error struct {
				Code, Message string
				Details       struct {
					QuarantineID int64 `json:"quarantine_id"`
				}
			}
		}
		code := s.do("POST", "/v1/events", auth.RoleSource, []byte("[\n"+loan("x1", "LN-1", "1")+",\n{\"id\": }]"), &e)
		if code != 400 || e.Error.Code != "malformed_body" || !strings.Contains(e.Error.Message, "line 3") || e.Error.Details.QuarantineID == 0 {
			t.Fatalf("status %d, %+v", code, e)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		var e struct {
			Error struct {
				Code, Message string
				Details       struct {
					QuarantineID int64 `json:"quarantine_id"`
				}
			}
		}
		big := ndjson(strings.Repeat(loan("big", "LN-1", "1")+"\n", 400))
		code := s.do("POST", "/v1/events", auth.RoleSource, big, &e)
		if code != http.StatusRequestEntityTooLarge || e.Error.Code != "body_too_large" || e.Error.Details.QuarantineID == 0 {
			t.Fatalf("status %d, %+v", code, e)
		}
		var q store.QuarantineEntry
		s.do("GET", fmt.Sprintf("/v1/quarantine/%d", e.Error.Details.QuarantineID), auth.RoleOperator, nil, &q)
		if !strings.Contains(q.Reason, "limit") || q.Raw == "" {
			t.Fatalf("quarantine entry %+v", q)
		}
	})

	var page struct {
		Entries []store.QuarantineEntry
	}
	s.do("GET", "/v1/quarantine?limit=1000", auth.RoleAuditor, nil, &page)
	if len(page.Entries) != len(tests)+2 {
		t.Fatalf("quarantine lists %d open entries, want %d", len(page.Entries), len(tests)+2)
	}
}

// restartKeepingNATS restarts the service with changed configuration.
func (s *stack) restartKeepingNATS() {
	s.t.Helper()
	s.stop()
	s.start()
}

func TestSupersedesAndVoid(t *testing.T) {
	s := newStack(t)
	void := func(id, target string) string {
		return fmt.Sprintf(`{"id":%q,"source":"ops","type":"void","subject":"LN-1","occurred_at":"2026-10-31T19:00:00Z","supersedes":%q}`, id, target)
	}
	correction := func(id, target string) string {
		return strings.Replace(loan(id, "LN-1", "99"), `"data"`, fmt.Sprintf(`"supersedes":%q,"data"`, target), 1)
	}
	r := s.push(ndjson(
		loan("a", "LN-1", "10"),
		correction("a2", "a"),  // supersedes an event of the same batch: published after it
		correction("a3", "a"),  // a is already superseded by a2 in this batch
		correction("a4", "a4"), // itself
	))
	if r[0].Status != "accepted" || r[1].Status != "accepted" || r[1].Seq <= r[0].Seq {
		t.Fatalf("original and correction: %+v", r[:2])
	}
	if r[2].Code != "invalid_supersedes" || !strings.Contains(r[2].Error, `already superseded by "a2"`) {
		t.Fatalf("second correction: %+v", r[2])
	}
	if r[3].Code != "invalid_supersedes" {
		t.Fatalf("self supersede: %+v", r[3])
	}
	r = s.push(ndjson(correction("a5", "a"), void("v1", "a2"), void("v2", "v1")))
	if r[0].Code != "invalid_supersedes" || !strings.Contains(r[0].Error, `supersede "a2" instead`) {
		t.Fatalf("superseding a superseded event: %+v", r[0])
	}
	if r[1].Status != "accepted" {
		t.Fatalf("void: %+v", r[1])
	}
	if r[2].Code != "invalid_supersedes" || !strings.Contains(r[2].Error, "a void cannot be superseded") {
		t.Fatalf("void of a void: %+v", r[2])
	}
}

func TestARestartLosesNothingThatWasAccepted(t *testing.T) {
	s := newStack(t)
	var lines []string
	for i := 0; i < 1000; i++ {
		lines = append(lines, loan(fmt.Sprintf("r-%04d", i), fmt.Sprintf("LN-%d", i%37), fmt.Sprintf("%d.%02d", i, i%100)))
	}
	accepted := map[string]uint64{}
	for _, r := range s.push(ndjson(lines[:500]...)) {
		accepted[r.ID] = r.Seq
	}
	s.restart()
	for _, r := range s.push(ndjson(lines...)) {
		if seq, ok := accepted[r.ID]; ok {
			if r.Status != ingest.StatusDuplicate || r.Seq != seq {
				t.Fatalf("%s after restart: %s seq %d, want duplicate of %d", r.ID, r.Status, r.Seq, seq)
			}
		} else {
			accepted[r.ID] = r.Seq
		}
	}
	s.restart()
	ids, seqs := s.streamEvents()
	if len(ids) != len(accepted) {
		t.Fatalf("stream holds %d events, %d were accepted", len(ids), len(accepted))
	}
	for i, id := range ids {
		if accepted[id] != seqs[i] {
			t.Fatalf("%s accepted at seq %d, stored at %d", id, accepted[id], seqs[i])
		}
	}
	var st ingest.StreamState
	s.do("GET", "/v1/stream", auth.RoleOperator, nil, &st)
	if st.LastSeq != 1000 || st.IndexedThrough != 1000 {
		t.Fatalf("stream state %+v", st)
	}
}

func TestQuarantinedEventsCanBeResubmittedAfterAFix(t *testing.T) {
	s := newStack(t)
	ev := `{"id":"cr-1","source":"risk","type":"credit.rating","schema_version":1,"subject":"CP-1","occurred_at":"2026-10-31T18:00:00Z","data":{"counterparty_id":"CP-1","rating":"BBB"}}`
	r := s.push(ndjson(ev))
	if r[0].Code != "unknown_type" {
		t.Fatalf("%+v", r[0])
	}
	qid := r[0].QuarantineID

	// A float in a registered schema is refused.
	var e struct {
		Error struct{ Code, Message string }
	}
	floatSchema := `{"type":"credit.rating","version":1,"schema":{"type":"object","properties":{"pd":{"type":"number"}}}}`
	if code := s.do("POST", "/v1/schemas", auth.RoleRuleAuthor, []byte(floatSchema), &e); code != 422 || !strings.Contains(e.Error.Message, "floats are not allowed") {
		t.Fatalf("float schema: %d %+v", code, e)
	}
	schema := `{"type":"credit.rating","version":1,"schema":{"type":"object","additionalProperties":false,"required":["counterparty_id","rating"],` +
		`"properties":{"counterparty_id":{"type":"string"},"rating":{"enum":["AAA","AA","A","BBB","BB","B","CCC"]}}}}`
	var reg map[string]any
	if code := s.do("POST", "/v1/schemas", auth.RoleRuleAuthor, []byte(schema), &reg); code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	if code := s.do("POST", "/v1/schemas", auth.RoleRuleAuthor, []byte(schema), &reg); code != 200 || reg["status"] != "unchanged" {
		t.Fatalf("register again: %d %v", code, reg)
	}
	changed := strings.Replace(schema, `"CCC"`, `"CCC","D"`, 1)
	if code := s.do("POST", "/v1/schemas", auth.RoleRuleAuthor, []byte(changed), &e); code != 409 {
		t.Fatalf("changing a registered version: %d %+v", code, e)
	}

	var res ingest.Resubmission
	if code := s.do("POST", fmt.Sprintf("/v1/quarantine/%d/resubmit", qid), auth.RoleOperator, nil, &res); code != 200 {
		t.Fatalf("resubmit: %d %+v", code, res)
	}
	if res.Results[0].Status != ingest.StatusAccepted || res.Entry.Status != "resolved" || res.Entry.ResolvedSeq != res.Results[0].Seq {
		t.Fatalf("resubmission %+v", res)
	}

	// A corrected body for an event that broke its schema.
	r = s.push(ndjson(strings.Replace(ev, `"BBB"`, `"ZZZ"`, 1)[:0] + strings.Replace(strings.Replace(ev, "cr-1", "cr-2", 1), `"BBB"`, `"ZZZ"`, 1)))
	if r[0].Status != ingest.StatusRejected {
		t.Fatalf("%+v", r[0])
	}
	fixed := strings.Replace(ev, "cr-1", "cr-2", 1)
	if code := s.do("POST", fmt.Sprintf("/v1/quarantine/%d/resubmit", r[0].QuarantineID), auth.RoleOperator, []byte(fixed), &res); code != 200 || res.Entry.Status != "resolved" {
		t.Fatalf("corrected resubmit: %d %+v", code, res)
	}
	// Resolving twice is refused; discarding needs a reason.
	if code := s.do("POST", fmt.Sprintf("/v1/quarantine/%d/resubmit", qid), auth.RoleOperator, nil, &e); code != 409 {
		t.Fatalf("resubmit a resolved entry: %d", code)
	}
	r = s.push(ndjson(`{"id":"junk"}`))
	if code := s.do("POST", fmt.Sprintf("/v1/quarantine/%d/discard", r[0].QuarantineID), auth.RoleOperator, []byte(`{}`), &e); code != 422 {
		t.Fatalf("discard without reason: %d", code)
	}
	var q store.QuarantineEntry
	if code := s.do("POST", fmt.Sprintf("/v1/quarantine/%d/discard", r[0].QuarantineID), auth.RoleOperator, []byte(`{"reason":"test junk"}`), &q); code != 200 || q.Status != "discarded" {
		t.Fatalf("discard: %d %+v", code, q)
	}
	var n int
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action LIKE 'quarantine.%' OR action = 'schemas.register'`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("audit records: %d (%v), want 4", n, err)
	}
}

func TestMetricsCountWhatHappened(t *testing.T) {
	s := newStack(t)
	s.push(ndjson(loan("m1", "LN-1", "1"), loan("m1", "LN-1", "1"), `{"id":"m2"}`))
	resp, err := http.Get(s.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`ledgerline_ingest_events_total{status="accepted"} 1`,
		`ledgerline_ingest_events_total{status="duplicate"} 1`,
		`ledgerline_ingest_events_total{status="rejected"} 1`,
		`ledgerline_ingest_rejects_total{code="invalid_envelope"} 1`,
		`ledgerline_ingest_publish_seconds_count 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
