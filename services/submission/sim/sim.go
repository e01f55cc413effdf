package sim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config configures a Simulator. The zero value is usable: no token, json
// expected, a decision 100ms after receipt.
type Config struct {
	// Token is the bearer token every /api/v1 call must carry; "" accepts any
	// caller.
	Token string
	// ExpectedFormats are the formats every delivery must contain, e.g.
	// ["xlsx", "json"]. Default ["json"].
	ExpectedFormats []string
	// ValidateAfter is how long after receipt a submission moves from received
	// to validating. Default 50ms; negative means at once.
	ValidateAfter time.Duration
	// DecideAfter is how long after receipt a submission is accepted or
	// rejected (never before ValidateAfter). Default 100ms; negative means at
	// once.
	DecideAfter time.Duration
	// HangFor is how long the timeout fault holds its answer when the client
	// does not give up first. Default 30s.
	HangFor time.Duration
	// MaxUploadBytes caps an upload's body. Default 64 MiB.
	MaxUploadBytes int64
	// Now is the clock receipts and status are measured with. Default time.Now.
	Now func() time.Time
	// Logger logs stored uploads, refusals and the server's errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// withDefaults fills in the zero fields: the one place the defaults live.
func (c Config) withDefaults() Config {
	if len(c.ExpectedFormats) == 0 {
		c.ExpectedFormats = []string{"json"}
	}
	formats := make([]string, len(c.ExpectedFormats))
	for i, f := range c.ExpectedFormats {
		formats[i] = strings.ToLower(f)
	}
	c.ExpectedFormats = formats
	switch {
	case c.ValidateAfter == 0:
		c.ValidateAfter = 50 * time.Millisecond
	case c.ValidateAfter < 0:
		c.ValidateAfter = 0
	}
	switch {
	case c.DecideAfter == 0:
		c.DecideAfter = 100 * time.Millisecond
	case c.DecideAfter < 0:
		c.DecideAfter = 0
	}
	c.DecideAfter = max(c.DecideAfter, c.ValidateAfter)
	if c.HangFor <= 0 {
		c.HangFor = 30 * time.Second
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 64 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Fault is a failure the simulator can be told to produce.
type Fault string

// The faults (see the package doc).
const (
	Fault5xx     Fault = "5xx"     // answer 503, store nothing
	FaultTimeout Fault = "timeout" // store, then hold the answer
	FaultDrop    Fault = "drop"    // store, then close the connection unanswered
	FaultReject  Fault = "reject"  // store, then end rejected
)

// Faults lists every fault.
var Faults = []Fault{Fault5xx, FaultTimeout, FaultDrop, FaultReject}

// Valid reports whether f is a known fault.
func (f Fault) Valid() bool { return slices.Contains(Faults, f) }

// State is where a submission stands at the simulated regulator.
type State string

// The states, in the order they follow each other.
const (
	StateReceived   State = "received"
	StateValidating State = "validating"
	StateAccepted   State = "accepted"
	StateRejected   State = "rejected"
)

// Feedback is one message of the regulator about a submission.
type Feedback struct {
	Severity string `json:"severity"` // error, warning, info
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// ManifestFile is one file as the manifest lists it.
type ManifestFile struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	SHA256 string `json:"sha256"`
}

// Receipt is a stored submission as the regulator reports it at one moment.
type Receipt struct {
	ID             string         `json:"receipt_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	SubmissionID   string         `json:"submission_id"`
	FilingID       string         `json:"filing_id"`
	Template       string         `json:"template"`
	Period         string         `json:"period"`
	Amends         string         `json:"amends"`
	AmendedBy      []string       `json:"amended_by"`
	Status         State          `json:"status"`
	ReceivedAt     time.Time      `json:"received_at"`
	Feedback       []Feedback     `json:"feedback"`
	Files          []ManifestFile `json:"files"`
}

// submission is what is stored per receipt; its status is derived from the
// clock when asked (see statusAt), so no timer goroutines are needed.
type submission struct {
	receipt     Receipt // Status and Feedback are filled in by view
	fingerprint string  // of the stored content, to tell a replay from a conflict
	reject      bool    // decided by the reject fault at upload
	stored      int     // times content was stored under the key: stays 1
}

// Simulator is the in-memory regulator. It is safe for concurrent use.
type Simulator struct {
	cfg Config

	mu       sync.Mutex
	seq      int
	byKey    map[string]*submission // idempotency key → submission
	byID     map[string]*submission // receipt id → submission
	order    []*submission          // in order of receipt
	attempts map[string]int         // idempotency key → uploads carrying it
	faults   map[Fault]int          // pending count per fault
	runID    string                 // makes receipt ids of different runs differ
}

// New returns a simulator with cfg (zero fields take their defaults).
func New(cfg Config) *Simulator {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return &Simulator{
		cfg:      cfg.withDefaults(),
		byKey:    map[string]*submission{},
		byID:     map[string]*submission{},
		attempts: map[string]int{},
		faults:   map[Fault]int{},
		runID:    hex.EncodeToString(b[:]),
	}
}

// Inject makes the next count uploads meet the fault mode, replacing what was
// pending for that mode; count 0 clears it. It panics on an unknown mode.
func (s *Simulator) Inject(mode Fault, count int) {
	if !mode.Valid() {
		panic(fmt.Sprintf("sim: unknown fault %q", mode))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if count <= 0 {
		delete(s.faults, mode)
		return
	}
	s.faults[mode] = count
}

// PendingFaults returns how many uploads each fault still hits.
func (s *Simulator) PendingFaults() map[Fault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Fault]int, len(s.faults))
	for f, n := range s.faults {
		out[f] = n
	}
	return out
}

// ClearFaults drops every pending fault.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFault consumes one pending fault of mode, reporting whether there was
// one. The caller holds s.mu.
func (s *Simulator) takeFault(mode Fault) bool {
	n := s.faults[mode]
	if n <= 0 {
		return false
	}
	if n == 1 {
		delete(s.faults, mode)
	} else {
		s.faults[mode] = n - 1
	}
	return true
}

// Deliveries returns, per idempotency key, how many times content was stored
// under it. A key appears once something was stored; the count must stay 1.
func (s *Simulator) Deliveries() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.byKey))
	for k, sub := range s.byKey {
		out[k] = sub.stored
	}
	return out
}

// Attempts returns, per idempotency key, how many uploads carried it
// (refused, faulted and replayed ones included).
func (s *Simulator) Attempts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.attempts))
	for k, n := range s.attempts {
		out[k] = n
	}
	return out
}

// Receipts returns every stored submission as it stands now, in the order
// received.
func (s *Simulator) Receipts() []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	out := make([]Receipt, 0, len(s.order))
	for _, sub := range s.order {
		out = append(out, s.view(sub, now))
	}
	return out
}

// Receipt returns the submission with receipt id as it stands now.
func (s *Simulator) Receipt(id string) (Receipt, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.byID[id]
	if !ok {
		return Receipt{}, false
	}
	return s.view(sub, s.cfg.Now()), true
}

// statusAt is the pure state machine: where a submission received at
// receivedAt stands at now.
func statusAt(cfg Config, receivedAt, now time.Time, reject bool) State {
	age := now.Sub(receivedAt)
	switch {
	case age < cfg.ValidateAfter:
		return StateReceived
	case age < cfg.DecideAfter:
		return StateValidating
	case reject:
		return StateRejected
	default:
		return StateAccepted
	}
}

// rejectFeedback is what a rejection caused by the reject fault says.
var rejectFeedback = []Feedback{{
	Severity: "error",
	Code:     "EBA-V0001",
	Message:  "validation rule v0001 failed: own funds do not equal the sum of their components (simulated rejection)",
}}

// view copies sub out with its status at now. The caller holds s.mu.
func (s *Simulator) view(sub *submission, now time.Time) Receipt {
	r := sub.receipt
	r.AmendedBy = slices.Clone(r.AmendedBy)
	r.Files = slices.Clone(r.Files)
	r.Status = statusAt(s.cfg, r.ReceivedAt, now, sub.reject)
	r.Feedback = []Feedback{}
	if r.Status == StateRejected {
		r.Feedback = slices.Clone(rejectFeedback)
	}
	return r
}

// Start serves the simulator over HTTP on addr ("127.0.0.1:0" picks a free
// port) and returns its base URL and a stop function.
func (s *Simulator) Start(addr string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	return s.serve(ln, "http")
}

// StartTLS serves the simulator over HTTPS on addr with tlsConfig, which must
// hold the server certificate; set its ClientAuth and ClientCAs to require
// client certificates (mTLS). HTTP/2 is left out so that the drop fault can
// take the connection over.
func (s *Simulator) StartTLS(addr string, tlsConfig *tls.Config) (url string, stop func(), err error) {
	if tlsConfig == nil || (len(tlsConfig.Certificates) == 0 && tlsConfig.GetCertificate == nil) {
		return "", nil, errors.New("sim: StartTLS needs a tls.Config with a server certificate")
	}
	cfg := tlsConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	return s.serve(tls.NewListener(ln, cfg), "https")
}

func (s *Simulator) serve(ln net.Listener, scheme string) (string, func(), error) {
	quit := make(chan struct{}) // closed on stop: ends held answers at once
	srv := &http.Server{
		Handler:           s.handler(quit),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
		// An empty map turns HTTP/2 off: the drop fault needs http.Hijacker.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	srv.RegisterOnShutdown(func() { close(quit) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ends with http.ErrServerClosed on stop
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			// Give answers in flight a moment, then cut the rest.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
			<-done
		})
	}
	return scheme + "://" + ln.Addr().String(), stop, nil
}
