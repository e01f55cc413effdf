package sim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/services/submission/sim"
)

// These tests speak the protocol by hand, as another client would; the
// httpchan tests drive the simulator through the channel.

const filing = `{"template":"finrep","version":1,"period":"2026-10","as_of_seq":42,"currency":"EUR",
 "cells":{"r1":"10.00"},"tables":{},"validations":[]}`

func start(t *testing.T, cfg sim.Config) (*sim.Simulator, string) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s := sim.New(cfg)
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s, url
}

type part struct{ name, content string }

// body builds an upload of files (name → content) with a manifest listing
// them as json with their true checksums.
func body(t *testing.T, submissionID, amends string, files ...part) (io.Reader, string) {
	t.Helper()
	type mf struct {
		Name   string `json:"name"`
		Format string `json:"format"`
		SHA256 string `json:"sha256"`
	}
	var listed []mf
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.content))
		listed = append(listed, mf{f.name, "json", hex.EncodeToString(sum[:])})
	}
	m, err := json.Marshal(map[string]any{
		"submission_id": submissionID, "filing_id": "f-" + submissionID, "template": "finrep",
		"period": "2026-10", "amends": amends, "files": listed,
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("manifest", string(m))
	for _, f := range files {
		w, _ := mw.CreateFormFile("file", f.name)
		_, _ = io.WriteString(w, f.content)
	}
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

type answer struct {
	status int
	body   map[string]any
}

func do(t *testing.T, method, url, token, key string, b io.Reader, contentType string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, b)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, url, ct)
	}
	var a answer
	a.status = resp.StatusCode
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return a
}

func upload(t *testing.T, url, token, key string, files ...part) answer {
	t.Helper()
	b, ct := body(t, key, "", files...)
	return do(t, http.MethodPost, url+"/api/v1/submissions", token, key, b, ct)
}

// errorOf returns the error object of an error answer, checking its shape.
func errorOf(t *testing.T, a answer) map[string]any {
	t.Helper()
	e, ok := a.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %d %v has no error object", a.status, a.body)
	}
	if _, ok := e["code"].(string); !ok {
		t.Fatalf("error %v has no code", e)
	}
	if _, ok := e["message"].(string); !ok {
		t.Fatalf("error %v has no message", e)
	}
	if _, ok := e["details"].([]any); !ok {
		t.Fatalf("error %v has no details array", e)
	}
	return e
}

func TestUploadAndStatus(t *testing.T) {
	t.Parallel()
	_, url := start(t, sim.Config{ValidateAfter: time.Hour, DecideAfter: 2 * time.Hour})
	a := upload(t, url, "", "k1", part{"finrep.json", filing})
	if a.status != http.StatusCreated || a.body["status"] != "received" || a.body["receipt_id"] == "" || a.body["received_at"] == nil {
		t.Fatalf("upload: %d %v", a.status, a.body)
	}
	id := a.body["receipt_id"].(string)
	got := do(t, http.MethodGet, url+"/api/v1/submissions/"+id, "", "", nil, "")
	if got.status != http.StatusOK || got.body["status"] != "received" || got.body["amends"] != "" {
		t.Fatalf("status: %d %v", got.status, got.body)
	}
	if fb, ok := got.body["feedback"].([]any); !ok || len(fb) != 0 {
		t.Fatalf("feedback %v, want []", got.body["feedback"])
	}
	found := do(t, http.MethodGet, url+"/api/v1/submissions?idempotency_key=k1", "", "", nil, "")
	if found.status != http.StatusOK || found.body["receipt_id"] != id {
		t.Fatalf("find: %d %v", found.status, found.body)
	}
	if a := do(t, http.MethodGet, url+"/api/v1/submissions?idempotency_key=nope", "", "", nil, ""); a.status != http.StatusNotFound || errorOf(t, a)["code"] != "not_found" {
		t.Fatalf("find unknown: %d %v", a.status, a.body)
	}
	if a := do(t, http.MethodGet, url+"/api/v1/submissions", "", "", nil, ""); a.status != http.StatusBadRequest {
		t.Fatalf("find without a key: %d %v", a.status, a.body)
	}
	if a := do(t, http.MethodGet, url+"/api/v1/submissions/rcpt-nope", "", "", nil, ""); a.status != http.StatusNotFound {
		t.Fatalf("unknown receipt: %d %v", a.status, a.body)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	s, url := start(t, sim.Config{Token: "s3cret"})
	for _, token := range []string{"", "wrong"} {
		a := upload(t, url, token, "k1", part{"finrep.json", filing})
		if a.status != http.StatusUnauthorized || errorOf(t, a)["code"] != "unauthorized" {
			t.Fatalf("token %q: %d %v", token, a.status, a.body)
		}
		if a := do(t, http.MethodGet, url+"/api/v1/submissions?idempotency_key=k1", token, "", nil, ""); a.status != http.StatusUnauthorized {
			t.Fatalf("find with token %q: %d", token, a.status)
		}
	}
	if a := upload(t, url, "s3cret", "k1", part{"finrep.json", filing}); a.status != http.StatusCreated {
		t.Fatalf("right token: %d %v", a.status, a.body)
	}
	// The simulator's own controls need no token.
	if a := do(t, http.MethodGet, url+"/_sim/deliveries", "", "", nil, ""); a.status != http.StatusOK {
		t.Fatalf("deliveries: %d", a.status)
	}
	if n := s.Attempts()["k1"]; n != 3 {
		t.Fatalf("attempts %d, want 3", n)
	}
}

func TestMalformedUploads(t *testing.T) {
	t.Parallel()
	_, url := start(t, sim.Config{})
	b, ct := body(t, "k1", "", part{"finrep.json", filing})
	if a := do(t, http.MethodPost, url+"/api/v1/submissions", "", "", b, ct); a.status != http.StatusBadRequest || !strings.Contains(errorOf(t, a)["message"].(string), "Idempotency-Key") {
		t.Fatalf("no key: %d %v", a.status, a.body)
	}
	if a := do(t, http.MethodPost, url+"/api/v1/submissions", "", "k1", strings.NewReader(filing), "application/json"); a.status != http.StatusBadRequest {
		t.Fatalf("not multipart: %d %v", a.status, a.body)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", "finrep.json")
	_, _ = io.WriteString(w, filing)
	_ = mw.Close()
	if a := do(t, http.MethodPost, url+"/api/v1/submissions", "", "k1", &buf, mw.FormDataContentType()); a.status != http.StatusBadRequest || !strings.Contains(errorOf(t, a)["message"].(string), "manifest") {
		t.Fatalf("no manifest: %d %v", a.status, a.body)
	}
	// A refusal lists every problem in details.
	a := upload(t, url, "", "k2", part{"a.json", `{"cells":{}}`}, part{"b.json", "[]"})
	e := errorOf(t, a)
	if a.status != http.StatusUnprocessableEntity || e["code"] != "invalid_submission" || len(e["details"].([]any)) < 2 {
		t.Fatalf("bad files: %d %v", a.status, a.body)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	s, url := start(t, sim.Config{})
	first := upload(t, url, "", "k1", part{"finrep.json", filing})
	again := upload(t, url, "", "k1", part{"finrep.json", filing})
	if first.status != http.StatusCreated || again.status != http.StatusOK || again.body["receipt_id"] != first.body["receipt_id"] || again.body["received_at"] != first.body["received_at"] {
		t.Fatalf("first %d %v, again %d %v", first.status, first.body, again.status, again.body)
	}
	conflict := upload(t, url, "", "k1", part{"finrep.json", strings.Replace(filing, "10.00", "11.00", 1)})
	if conflict.status != http.StatusConflict || errorOf(t, conflict)["message"] != "idempotency key reused with different content" {
		t.Fatalf("conflict: %d %v", conflict.status, conflict.body)
	}
	if d := s.Deliveries(); len(d) != 1 || d["k1"] != 1 {
		t.Fatalf("deliveries %v", d)
	}
}

// TestSameKeyConcurrently races uploads of one key: exactly one is stored.
func TestSameKeyConcurrently(t *testing.T) {
	t.Parallel()
	s, url := start(t, sim.Config{})
	const n = 100
	statuses := make([]int, n)
	ids := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b, ct := body(t, "k1", "", part{"finrep.json", filing})
			req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/submissions", b)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Idempotency-Key", "k1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var rec map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&rec)
			statuses[i], ids[i] = resp.StatusCode, rec["receipt_id"]
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch {
		case statuses[i] == http.StatusCreated:
			created++
		case statuses[i] != http.StatusOK:
			t.Fatalf("upload %d: %d", i, statuses[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("receipts %v and %v for one key", ids[0], ids[i])
		}
	}
	if created != 1 || s.Deliveries()["k1"] != 1 || len(s.Receipts()) != 1 || s.Attempts()["k1"] != n {
		t.Fatalf("%d created, deliveries %v, %d receipts, %d attempts", created, s.Deliveries(), len(s.Receipts()), s.Attempts()["k1"])
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	t.Parallel()
	s, url := start(t, sim.Config{ValidateAfter: -1, DecideAfter: -1})
	set := func(mode string, count int) answer {
		return do(t, http.MethodPost, url+"/_sim/faults", "", "", strings.NewReader(fmt.Sprintf(`{"mode":%q,"count":%d}`, mode, count)), "application/json")
	}
	if a := set("5xx", 2); a.status != http.StatusOK || a.body["faults"].(map[string]any)["5xx"] != 2.0 {
		t.Fatalf("set 5xx: %d %v", a.status, a.body)
	}
	for range 2 {
		if a := upload(t, url, "", "k1", part{"finrep.json", filing}); a.status != http.StatusServiceUnavailable || errorOf(t, a)["code"] != "unavailable" {
			t.Fatalf("under 5xx: %d %v", a.status, a.body)
		}
	}
	if len(s.Deliveries()) != 0 {
		t.Fatal("a 503 stored the upload")
	}
	if a := set("reject", 1); a.status != http.StatusOK {
		t.Fatalf("set reject: %d", a.status)
	}
	a := upload(t, url, "", "k1", part{"finrep.json", filing})
	if a.status != http.StatusCreated {
		t.Fatalf("after the outage: %d %v", a.status, a.body)
	}
	st := do(t, http.MethodGet, url+"/api/v1/submissions/"+a.body["receipt_id"].(string), "", "", nil, "")
	fb, _ := st.body["feedback"].([]any)
	if st.body["status"] != "rejected" || len(fb) != 1 || fb[0].(map[string]any)["code"] != "EBA-V0001" {
		t.Fatalf("rejected: %v", st.body)
	}

	if a := set("bogus", 1); a.status != http.StatusBadRequest {
		t.Fatalf("unknown mode: %d", a.status)
	}
	if a := set("drop", -1); a.status != http.StatusBadRequest {
		t.Fatalf("negative count: %d", a.status)
	}
	set("drop", 3)
	if a := do(t, http.MethodDelete, url+"/_sim/faults", "", "", nil, ""); a.status != http.StatusOK || len(a.body["faults"].(map[string]any)) != 0 {
		t.Fatalf("clear: %d %v", a.status, a.body)
	}

	d := do(t, http.MethodGet, url+"/_sim/deliveries", "", "", nil, "")
	list := d.body["deliveries"].([]any)
	if len(list) != 1 {
		t.Fatalf("deliveries %v", d.body)
	}
	first := list[0].(map[string]any)
	if first["idempotency_key"] != "k1" || first["stored"] != 1.0 || first["attempts"] != 3.0 || first["receipt"].(map[string]any)["receipt_id"] != a.body["receipt_id"] {
		t.Fatalf("delivery %v", first)
	}
}

func TestDropAndTimeoutStoreTheUpload(t *testing.T) {
	t.Parallel()
	s, url := start(t, sim.Config{})
	client := &http.Client{Timeout: 200 * time.Millisecond}
	post := func(key string) error {
		b, ct := body(t, key, "", part{"finrep.json", filing})
		req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/submissions", b)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	s.Inject(sim.FaultDrop, 1)
	if err := post("dropped"); err == nil {
		t.Fatal("drop: got an answer")
	}
	s.Inject(sim.FaultTimeout, 1)
	if err := post("held"); err == nil {
		t.Fatal("timeout: got an answer in time")
	}
	if d := s.Deliveries(); d["dropped"] != 1 || d["held"] != 1 {
		t.Fatalf("deliveries %v", d)
	}
	if len(s.PendingFaults()) != 0 {
		t.Fatalf("faults left %v", s.PendingFaults())
	}
}

// TestStopEndsHeldAnswer: stopping the server does not wait out HangFor.
func TestStopEndsHeldAnswer(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.Config{Logger: slog.New(slog.DiscardHandler)})
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Inject(sim.FaultTimeout, 1)
	done := make(chan error, 1)
	go func() {
		b, ct := body(t, "k1", "", part{"finrep.json", filing})
		req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/submissions", b)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Idempotency-Key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for s.Deliveries()["k1"] == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	begin := time.Now()
	stop()
	if err := <-done; err == nil {
		t.Fatal("the held upload got an answer")
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Fatalf("stop took %v", took)
	}
}

// TestHandlerMounts serves Handler from a server of the caller's own.
func TestHandlerMounts(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.Config{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	if a := upload(t, srv.URL, "", "k1", part{"finrep.json", filing}); a.status != http.StatusCreated {
		t.Fatalf("upload: %d %v", a.status, a.body)
	}
	if a := do(t, http.MethodGet, srv.URL+"/healthz", "", "", nil, ""); a.status != http.StatusOK {
		t.Fatalf("healthz: %d", a.status)
	}
}
