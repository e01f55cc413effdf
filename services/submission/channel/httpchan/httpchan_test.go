package httpchan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/channel/httpchan"
	"github.com/ledgerline/ledgerline/services/submission/sim"
)

const (
	template = "corep-own-funds"
	period   = "2026-Q3"
)

// fast makes a simulator decide within tens of milliseconds.
func fast(cfg sim.Config) sim.Config {
	cfg.ValidateAfter = 10 * time.Millisecond
	cfg.DecideAfter = 30 * time.Millisecond
	return cfg
}

// quiet keeps the simulator's logs out of the test output.
func quiet(cfg sim.Config) sim.Config {
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

func startSim(t *testing.T, cfg sim.Config) (*sim.Simulator, string) {
	t.Helper()
	s := sim.New(quiet(cfg))
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s, url
}

func newChannel(t *testing.T, cfg httpchan.Config) *httpchan.Channel {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "regulator-sim"
	}
	c, err := httpchan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

const filingJSON = `{
  "template": "corep-own-funds",
  "version": 3,
  "period": "2026-Q3",
  "as_of_seq": 918273,
  "currency": "EUR",
  "cells": {"r0010_c0010": "1234.50", "r0020_c0010": "-12.30"},
  "tables": {"large_exposures": [{"counterparty": "Bank A", "country": "DE", "value": "5000000.00"}]},
  "validations": [{"id": "v0001", "severity": "error", "passed": true}]
}
`

func file(name, format string, content []byte) channel.File {
	sum := sha256.Sum256(content)
	return channel.File{Name: name, Format: format, SHA256: hex.EncodeToString(sum[:]), Content: content}
}

// delivery is a valid delivery of the test filing with a json and an xlsx file.
func delivery(id string) channel.Delivery {
	return channel.Delivery{
		SubmissionID: id,
		FilingID:     "filing-" + id,
		Template:     template,
		Period:       period,
		Files: []channel.File{
			file("corep-own-funds-2026-Q3-v3.json", "json", []byte(filingJSON)),
			file("corep-own-funds-2026-Q3-v3.xlsx", "xlsx", []byte("PK\x03\x04 not really a workbook")),
		},
	}
}

// waitFinal polls Status until a final state, returning it and the states seen.
func waitFinal(t *testing.T, c *httpchan.Channel, receiptID string) (channel.Status, []channel.State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var seen []channel.State
	for {
		st, err := c.Status(ctx, receiptID)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.State {
			seen = append(seen, st.State)
		}
		if st.State.Final() {
			return st, seen
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustDeliver(t *testing.T, c *httpchan.Channel, d channel.Delivery) channel.Receipt {
	t.Helper()
	r, err := c.Deliver(context.Background(), d)
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if r.ID == "" || r.ReceivedAt.IsZero() {
		t.Fatalf("receipt %+v lacks an id or a time", r)
	}
	return r
}

// permanent checks that err is a permanent refusal with HTTP status and returns
// the regulator's error.
func permanent(t *testing.T, err error, status int) *httpchan.RegulatorError {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got none")
	}
	if !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("want ErrPermanent, got %v", err)
	}
	var re *httpchan.RegulatorError
	if !errors.As(err, &re) {
		t.Fatalf("want a *RegulatorError, got %v", err)
	}
	if re.StatusCode != status {
		t.Fatalf("status %d, want %d: %v", re.StatusCode, status, err)
	}
	return re
}

// clock is a settable sim.Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestDeliverToAccepted(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 10, 5, 9, 30, 0, 0, time.UTC)}
	s, url := startSim(t, sim.Config{Token: "t0ken", ExpectedFormats: []string{"xlsx", "json"}, Now: clk.Now})
	c := newChannel(t, httpchan.Config{URL: url, Token: "t0ken"})
	ctx := context.Background()

	if _, found, err := c.Find(ctx, "sub-1"); err != nil || found {
		t.Fatalf("find before delivery: found %v, err %v", found, err)
	}
	r := mustDeliver(t, c, delivery("sub-1"))
	if !r.ReceivedAt.Equal(clk.Now()) {
		t.Fatalf("received at %v, want the simulator's clock %v", r.ReceivedAt, clk.Now())
	}
	// Defaults: validating 50ms after receipt, decided 100ms after receipt.
	for _, step := range []struct {
		advance time.Duration
		want    channel.State
	}{
		{0, channel.StateReceived},
		{49 * time.Millisecond, channel.StateReceived},
		{time.Millisecond, channel.StateValidating},
		{49 * time.Millisecond, channel.StateValidating},
		{time.Millisecond, channel.StateAccepted},
		{time.Hour, channel.StateAccepted},
	} {
		clk.Advance(step.advance)
		st, err := c.Status(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != step.want || len(st.Feedback) != 0 {
			t.Fatalf("at +%v: %+v, want %s without feedback", clk.Now().Sub(r.ReceivedAt), st, step.want)
		}
	}
	got, found, err := c.Find(ctx, "sub-1")
	if err != nil || !found || got.ID != r.ID || !got.ReceivedAt.Equal(r.ReceivedAt) {
		t.Fatalf("find: %+v found %v err %v, want %+v", got, found, err, r)
	}
	if d := s.Deliveries(); len(d) != 1 || d["sub-1"] != 1 {
		t.Fatalf("deliveries %v", d)
	}
	recs := s.Receipts()
	if len(recs) != 1 || recs[0].FilingID != "filing-sub-1" || len(recs[0].Files) != 2 || recs[0].Status != sim.StateAccepted {
		t.Fatalf("receipts %+v", recs)
	}
}

// TestPollToFinal polls a real-time simulator until its decision.
func TestPollToFinal(t *testing.T) {
	t.Parallel()
	_, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	r := mustDeliver(t, c, delivery("sub-1"))
	if st, _ := waitFinal(t, c, r.ID); st.State != channel.StateAccepted {
		t.Fatalf("final %+v", st)
	}
}

func TestSameKeyTwiceIsOneDelivery(t *testing.T) {
	t.Parallel()
	s, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})

	first := mustDeliver(t, c, delivery("sub-1"))
	again := mustDeliver(t, c, delivery("sub-1"))
	if again != first {
		t.Fatalf("second receipt %+v, want the first %+v", again, first)
	}
	if d := s.Deliveries(); d["sub-1"] != 1 || len(s.Receipts()) != 1 {
		t.Fatalf("deliveries %v, receipts %d", d, len(s.Receipts()))
	}
	if a := s.Attempts(); a["sub-1"] != 2 {
		t.Fatalf("attempts %v, want 2", a)
	}

	changed := delivery("sub-1")
	changed.Files[0] = file(changed.Files[0].Name, "json", []byte(strings.Replace(filingJSON, "1234.50", "1234.51", 1)))
	_, err := c.Deliver(context.Background(), changed)
	re := permanent(t, err, http.StatusConflict)
	if !strings.Contains(re.Message, "idempotency key reused with different content") {
		t.Fatalf("message %q", re.Message)
	}
	if d := s.Deliveries(); d["sub-1"] != 1 {
		t.Fatalf("deliveries %v after the conflict", d)
	}
}

func TestUnavailableThenSuccess(t *testing.T) {
	t.Parallel()
	s, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	s.Inject(sim.Fault5xx, 1)

	_, err := c.Deliver(context.Background(), delivery("sub-1"))
	var re *httpchan.RegulatorError
	if err == nil || errors.Is(err, channel.ErrPermanent) || !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: want a retryable 503, got %v", err)
	}
	if _, found, err := c.Find(context.Background(), "sub-1"); err != nil || found {
		t.Fatalf("find after 503: found %v err %v", found, err)
	}
	r := mustDeliver(t, c, delivery("sub-1"))
	if st, _ := waitFinal(t, c, r.ID); st.State != channel.StateAccepted {
		t.Fatalf("final %+v", st)
	}
	if d, a := s.Deliveries(), s.Attempts(); d["sub-1"] != 1 || a["sub-1"] != 2 {
		t.Fatalf("deliveries %v attempts %v, want 1 and 2", d, a)
	}
}

// lostAnswer checks the faults where the regulator stores the upload and the
// client never learns the receipt: the error is retryable, Find finds the
// receipt, and delivering again answers it without a second delivery.
func lostAnswer(t *testing.T, fault sim.Fault) {
	t.Parallel()
	s, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url, Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	// Warm a kept-alive connection first: a transport allowed to resend the
	// upload on a reused connection would hide the dropped answer.
	if _, _, err := c.Find(ctx, "warm-up"); err != nil {
		t.Fatal(err)
	}
	s.Inject(fault, 1)

	start := time.Now()
	_, err := c.Deliver(ctx, delivery("sub-1"))
	if err == nil {
		t.Fatal("deliver: want an error, the answer was lost")
	}
	if errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("deliver: %v is permanent, want retryable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("deliver took %v", took)
	}
	r, found, err := c.Find(ctx, "sub-1")
	if err != nil || !found || r.ID == "" {
		t.Fatalf("find: %+v found %v err %v", r, found, err)
	}
	if d := s.Deliveries(); len(d) != 1 || d["sub-1"] != 1 {
		t.Fatalf("deliveries %v", d)
	}
	again := mustDeliver(t, c, delivery("sub-1"))
	if again.ID != r.ID {
		t.Fatalf("delivering again answered %s, want %s", again.ID, r.ID)
	}
	if d := s.Deliveries(); d["sub-1"] != 1 {
		t.Fatalf("deliveries %v after delivering again", d)
	}
	if st, _ := waitFinal(t, c, r.ID); st.State != channel.StateAccepted {
		t.Fatalf("final %+v", st)
	}
}

func TestTimeoutAfterReceipt(t *testing.T) { lostAnswer(t, sim.FaultTimeout) }

func TestDroppedConnectionAfterReceipt(t *testing.T) { lostAnswer(t, sim.FaultDrop) }

func TestRejected(t *testing.T) {
	t.Parallel()
	s, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	s.Inject(sim.FaultReject, 1)

	r := mustDeliver(t, c, delivery("sub-1"))
	st, _ := waitFinal(t, c, r.ID)
	if st.State != channel.StateRejected || len(st.Feedback) == 0 {
		t.Fatalf("final %+v, want rejected with feedback", st)
	}
	if f := st.Feedback[0]; f.Severity != "error" || f.Code != "EBA-V0001" || f.Message == "" {
		t.Fatalf("feedback %+v", f)
	}
	// The fault hit one upload only.
	r2 := mustDeliver(t, c, delivery("sub-2"))
	if st, _ := waitFinal(t, c, r2.ID); st.State != channel.StateAccepted {
		t.Fatalf("second upload %+v, want accepted", st)
	}
}

func TestWrongToken(t *testing.T) {
	t.Parallel()
	s, url := startSim(t, fast(sim.Config{Token: "right"}))
	for _, token := range []string{"wrong", ""} {
		c := newChannel(t, httpchan.Config{URL: url, Token: token})
		_, err := c.Deliver(context.Background(), delivery("sub-1"))
		re := permanent(t, err, http.StatusUnauthorized)
		if re.Code != "unauthorized" {
			t.Fatalf("token %q: code %q", token, re.Code)
		}
		_, _, err = c.Find(context.Background(), "sub-1")
		permanent(t, err, http.StatusUnauthorized)
		_, err = c.Status(context.Background(), "rcpt-x")
		permanent(t, err, http.StatusUnauthorized)
	}
	if d := s.Deliveries(); len(d) != 0 {
		t.Fatalf("deliveries %v", d)
	}
	mustDeliver(t, newChannel(t, httpchan.Config{URL: url, Token: "right"}), delivery("sub-1"))
}

func TestChecksumMismatch(t *testing.T) {
	t.Parallel()
	s, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	d := delivery("sub-1")
	d.Files[0].Content = []byte(strings.Replace(filingJSON, "1234.50", "9234.50", 1)) // SHA256 left as before

	_, err := c.Deliver(context.Background(), d)
	re := permanent(t, err, http.StatusUnprocessableEntity)
	if !strings.Contains(err.Error(), d.Files[0].Name) || len(re.Feedback) != 1 ||
		re.Feedback[0].Code != "checksum_mismatch" || !strings.Contains(re.Feedback[0].Message, d.Files[0].Name) {
		t.Fatalf("error %v, feedback %+v: want a checksum_mismatch naming %s", err, re.Feedback, d.Files[0].Name)
	}
	if len(s.Deliveries()) != 0 {
		t.Fatal("a refused upload was stored")
	}
}

func TestMissingExpectedFormat(t *testing.T) {
	t.Parallel()
	_, url := startSim(t, fast(sim.Config{ExpectedFormats: []string{"xlsx", "json"}}))
	c := newChannel(t, httpchan.Config{URL: url})
	d := delivery("sub-1")
	d.Files = d.Files[:1] // json only

	_, err := c.Deliver(context.Background(), d)
	re := permanent(t, err, http.StatusUnprocessableEntity)
	if re.Code != "missing_format" || !strings.Contains(re.Message, "xlsx") {
		t.Fatalf("got %v", err)
	}
}

func TestBadFilingJSON(t *testing.T) {
	t.Parallel()
	_, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	replace := func(old, new string) string { return strings.Replace(filingJSON, old, new, 1) }
	cases := []struct {
		name, json, want string
	}{
		{"not json", "cells: 1", "not a json object"},
		{"array", "[]", "not a json object"},
		{"no cells", replace(`"cells": {"r0010_c0010": "1234.50", "r0020_c0010": "-12.30"},`, ""), `missing key "cells"`},
		{"no validations", replace(`,
  "validations": [{"id": "v0001", "severity": "error", "passed": true}]`, ""), `missing key "validations"`},
		{"float cell", replace(`"1234.50"`, `1234.5`), "cell r0010_c0010: value 1234.5 is not a decimal string"},
		{"exponent cell", replace(`"1234.50"`, `"1.2345e3"`), "cell r0010_c0010"},
		{"text cell", replace(`"-12.30"`, `"twelve"`), "cell r0020_c0010"},
		{"float table value", replace(`"5000000.00"`, `5000000`), "table large_exposures row 0: value 5000000 is not a decimal string"},
		{"version as string", replace(`"version": 3`, `"version": "3"`), "version must be a positive integer"},
		{"bad currency", replace(`"EUR"`, `"euro"`), "currency"},
		{"other template", replace(`"template": "corep-own-funds"`, `"template": "finrep"`), `template "finrep" does not match`},
		{"other period", replace(`"period": "2026-Q3"`, `"period": "2026-Q2"`), `period "2026-Q2" does not match`},
		{"validation without passed", replace(`"severity": "error", "passed": true`, `"severity": "error"`), "validations[0]"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := delivery(fmt.Sprintf("sub-%d", i))
			d.Files[0] = file(d.Files[0].Name, "json", []byte(tc.json))
			_, err := c.Deliver(context.Background(), d)
			re := permanent(t, err, http.StatusUnprocessableEntity)
			if !strings.Contains(re.Message, tc.want) || !strings.Contains(re.Message, d.Files[0].Name) {
				t.Fatalf("message %q, want it to name the file and say %q", re.Message, tc.want)
			}
			for _, f := range re.Feedback {
				if f.Code != "invalid_filing_json" || f.Severity != "error" {
					t.Fatalf("feedback %+v", f)
				}
			}
		})
	}
}

func TestAmendment(t *testing.T) {
	t.Parallel()
	_, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	ctx := context.Background()
	original := mustDeliver(t, c, delivery("sub-1"))

	missing := delivery("sub-2")
	missing.Amends = "rcpt-nonexistent"
	_, err := c.Deliver(ctx, missing)
	if re := permanent(t, err, http.StatusUnprocessableEntity); re.Code != "unknown_amended_receipt" {
		t.Fatalf("got %v", err)
	}

	otherPeriod := delivery("sub-3")
	otherPeriod.Period = "2026-Q2"
	otherPeriod.Amends = original.ID
	otherPeriod.Files[0] = file(otherPeriod.Files[0].Name, "json", []byte(strings.Replace(filingJSON, period, "2026-Q2", 1)))
	_, err = c.Deliver(ctx, otherPeriod)
	if re := permanent(t, err, http.StatusUnprocessableEntity); re.Code != "amendment_mismatch" {
		t.Fatalf("got %v", err)
	}

	amendment := delivery("sub-4")
	amendment.Amends = original.ID
	amendment.Files[0] = file(amendment.Files[0].Name, "json", []byte(strings.Replace(filingJSON, "1234.50", "1240.00", 1)))
	r := mustDeliver(t, c, amendment)
	if st, _ := waitFinal(t, c, r.ID); st.State != channel.StateAccepted {
		t.Fatalf("amendment %+v, want accepted", st)
	}
	// channel.Status carries no amends: read it from the regulator's status answer.
	var status struct {
		Status    string   `json:"status"`
		Amends    string   `json:"amends"`
		AmendedBy []string `json:"amended_by"`
	}
	getJSON(t, url+"/api/v1/submissions/"+r.ID, &status)
	if status.Status != "accepted" || status.Amends != original.ID {
		t.Fatalf("amendment status %+v, want accepted amending %s", status, original.ID)
	}
	getJSON(t, url+"/api/v1/submissions/"+original.ID, &status)
	if status.Amends != "" || len(status.AmendedBy) != 1 || status.AmendedBy[0] != r.ID {
		t.Fatalf("original status %+v, want amended by %s", status, r.ID)
	}
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

func TestStatusOfUnknownReceipt(t *testing.T) {
	t.Parallel()
	_, url := startSim(t, fast(sim.Config{}))
	c := newChannel(t, httpchan.Config{URL: url})
	_, err := c.Status(context.Background(), "rcpt-nonexistent")
	permanent(t, err, http.StatusNotFound)
}

func TestRegulatorDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := newChannel(t, httpchan.Config{URL: "http://" + addr, Timeout: time.Second})
	if _, err := c.Deliver(context.Background(), delivery("sub-1")); err == nil || errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("deliver to a closed port: %v, want a retryable error", err)
	}
	if _, _, err := c.Find(context.Background(), "sub-1"); err == nil || errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("find on a closed port: %v, want a retryable error", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  httpchan.Config
		want string
	}{
		{"no name", httpchan.Config{URL: "http://x"}, "Name"},
		{"no url", httpchan.Config{Name: "n"}, "URL"},
		{"relative url", httpchan.Config{Name: "n", URL: "/api"}, "URL"},
		{"ftp url", httpchan.Config{Name: "n", URL: "ftp://x"}, "URL"},
		{"cert without key", httpchan.Config{Name: "n", URL: "https://x", CertFile: "c.pem"}, "CertFile and KeyFile"},
		{"tls files on http", httpchan.Config{Name: "n", URL: "http://x", CAFile: notPEM}, "https"},
		{"missing CA file", httpchan.Config{Name: "n", URL: "https://x", CAFile: filepath.Join(dir, "nope.pem")}, "read CA file"},
		{"CA file not PEM", httpchan.Config{Name: "n", URL: "https://x", CAFile: notPEM}, "no PEM certificate"},
	}
	for _, tc := range cases {
		if _, err := httpchan.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	s := sim.New(quiet(fast(sim.Config{})))
	url, stop, err := s.StartTLS("127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}

	withCert := newChannel(t, httpchan.Config{URL: url, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, Timeout: 5 * time.Second})
	r := mustDeliver(t, withCert, delivery("sub-1"))
	if st, _ := waitFinal(t, withCert, r.ID); st.State != channel.StateAccepted {
		t.Fatalf("final %+v", st)
	}

	withoutCert := newChannel(t, httpchan.Config{URL: url, CAFile: pki.caFile, Timeout: 5 * time.Second})
	_, err = withoutCert.Deliver(context.Background(), delivery("sub-2"))
	if err == nil {
		t.Fatal("a client without a certificate was let in")
	}
	t.Logf("without a client certificate: %v", err)
	if _, _, err := withoutCert.Find(context.Background(), "sub-1"); err == nil {
		t.Fatal("a client without a certificate could look receipts up")
	}
	// Without the regulator's CA the client refuses the server.
	noCA := newChannel(t, httpchan.Config{URL: url, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, Timeout: 5 * time.Second})
	_, _, err = noCA.Find(context.Background(), "sub-1")
	if err == nil {
		t.Fatal("the client trusted a server certificate of an unknown CA")
	}
	t.Logf("without the regulator's CA: %v", err)
	if d := s.Deliveries(); len(d) != 1 || d["sub-1"] != 1 {
		t.Fatalf("deliveries %v", d)
	}
}

type pki struct {
	ca                                    *x509.Certificate
	server                                tls.Certificate
	caFile, clientCertFile, clientKeyFile string
}

// newPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and writes the CA and the client's pair as PEM files.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Regulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	serverDER, serverKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	clientDER, clientKey := issue(3, "ledgerline-submission", x509.ExtKeyUsageClientAuth, nil)

	p := pki{
		ca:             ca,
		server:         tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		caFile:         filepath.Join(dir, "ca.pem"),
		clientCertFile: filepath.Join(dir, "client.pem"),
		clientKeyFile:  filepath.Join(dir, "client-key.pem"),
	}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	writePEM(t, p.clientCertFile, "CERTIFICATE", clientDER)
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.clientKeyFile, "PRIVATE KEY", keyDER)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestThousandConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	const n = 1000
	s, url := startSim(t, sim.Config{})
	c := newChannel(t, httpchan.Config{URL: url})
	d := delivery("x")
	d.Files = d.Files[:1] // json is all the simulator expects by default

	start := time.Now()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			di := d
			di.SubmissionID = fmt.Sprintf("sub-%04d", i)
			r, err := c.Deliver(context.Background(), di)
			ids[i], errs[i] = r.ID, err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatalf("receipt %s answered twice", ids[i])
		}
		seen[ids[i]] = true
	}
	deliveries := s.Deliveries()
	if len(deliveries) != n || len(s.Receipts()) != n {
		t.Fatalf("%d keys delivered, %d receipts, want %d", len(deliveries), len(s.Receipts()), n)
	}
	for key, count := range deliveries {
		if count != 1 {
			t.Fatalf("key %s delivered %d times", key, count)
		}
	}
	t.Logf("%d concurrent deliveries in %v", n, time.Since(start))
}
