// Package submission is Ledgerline's submission service: it delivers filings to
// regulators through channels (http, sftp, directory; package channel), exactly
// once, with receipts. See DESIGN.md, "Submission".
//
// Each submission moves pending → sending → delivered → accepted | rejected
// (file drops end at delivered), or failed when retries are exhausted or the
// regulator refuses it for good. Workers lease submissions from PostgreSQL;
// moving to sending is committed before anything is uploaded, and the
// submission's id is the idempotency key of every upload. So a worker that
// crashes between the upload and recording the receipt leaves a submission that
// says "the regulator may have it": the next worker asks the channel for the
// receipt of that key (Channel.Find) before uploading, and a filing is never
// delivered twice. Every attempt is recorded with its outcome.
package submission

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	reportsstore "github.com/ledgerline/ledgerline/services/reports/store"
	"github.com/ledgerline/ledgerline/services/submission/channel"
	"github.com/ledgerline/ledgerline/services/submission/store"
)

// Filings is what the submission service needs of the reports service.
type Filings interface {
	Filing(ctx context.Context, id string) (reportsstore.Filing, error)
	FileContent(ctx context.Context, id, format string) (reportsstore.File, error)
	// SubmissionChannel is the channel the filing's template names ("" for none).
	SubmissionChannel(ctx context.Context, f reportsstore.Filing) (string, error)
}

// Config tunes the submitter.
type Config struct {
	// Workers is how many submissions are worked at once in this process.
	Workers int
	// Lease is how long a worker holds a submission before another may take it
	// over (it must outlast one upload).
	Lease time.Duration
	// PollInterval is how often a delivered submission's regulator status is asked.
	PollInterval time.Duration
	// MaxAttempts bounds the attempts of one submission before it fails (status
	// polls of a delivered one never fail it: the delivery stands).
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff between retries.
	BaseBackoff, MaxBackoff time.Duration
	// DefaultChannel is used when a template names none.
	DefaultChannel string
	// Instance names this process's workers in the attempts.
	Instance string
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Instance == "" {
		c.Instance = "submitter"
	}
}

// Service is the submission use cases and the workers.
type Service struct {
	store    *store.Store
	filings  Filings
	channels map[string]channel.Channel
	cfg      Config
	log      *slog.Logger
	wake     chan struct{}

	attempts *prometheus.CounterVec
	states   *prometheus.CounterVec
}

// New returns the service with its channels.
func New(st *store.Store, filings Filings, channels []channel.Channel, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Service {
	cfg.defaults()
	s := &Service{store: st, filings: filings, channels: map[string]channel.Channel{}, cfg: cfg, log: log, wake: make(chan struct{}, 1),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledgerline_submission_attempts_total",
			Help: "Submission attempts by action and outcome."}, []string{"action", "outcome"}),
		states: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledgerline_submissions_total",
			Help: "Submissions reaching a state, by channel."}, []string{"channel", "status"}),
	}
	for _, c := range channels {
		s.channels[c.Name()] = c
	}
	if reg != nil {
		reg.MustRegister(s.attempts, s.states)
	}
	return s
}

// ErrNotSubmittable means the filing may not be submitted (yet).
var ErrNotSubmittable = errors.New("the filing is not submittable")

// notSubmittable is ErrNotSubmittable (a conflict) with the reason.
type notSubmittable string

func (e notSubmittable) Error() string { return string(e) }

func (e notSubmittable) Is(target error) bool {
	return target == ErrNotSubmittable || target == httpjson.ErrConflict
}

// Submit creates the submission of a filing through its template's channel and
// wakes the workers. A filing already submitted answers its submission (created
// false). Blocked filings (failed validations without an override, or awaiting
// a sign-off) are refused; an amendment needs the original's receipt.
func (s *Service) Submit(ctx context.Context, filingID string, by auth.Principal) (store.Submission, bool, error) {
	f, err := s.filings.Filing(ctx, filingID)
	if err != nil {
		return store.Submission{}, false, err
	}
	if existing, err := s.store.ByFiling(ctx, filingID); err == nil {
		return existing, false, nil
	}
	if !f.Submittable {
		why := "its error validations failed (an operator may override them with a reason)"
		if f.Status == "awaiting_sign_off" {
			why = "its template requires a sign-off by a compliance key other than the one that ran it"
		}
		return store.Submission{}, false, notSubmittable(fmt.Sprintf("filing %s is %s: %s", filingID, f.Status, why))
	}
	name, err := s.filings.SubmissionChannel(ctx, f)
	if err != nil {
		return store.Submission{}, false, err
	}
	if name == "" {
		name = s.cfg.DefaultChannel
	}
	if _, ok := s.channels[name]; !ok {
		return store.Submission{}, false, fmt.Errorf("filing %s: channel %q is not configured here (configured: %v): %w",
			filingID, name, s.channelNames(), httpjson.ErrInvalid)
	}
	sub := store.Submission{ID: newID(filingID), FilingID: filingID, Channel: name, CreatedBy: by.Actor()}
	if f.Amends != "" {
		orig, err := s.store.ByFiling(ctx, f.Amends)
		if err != nil || orig.ReceiptID == "" {
			return store.Submission{}, false, fmt.Errorf("filing %s amends %s, which has no receipt yet: submit the original first: %w",
				filingID, f.Amends, httpjson.ErrConflict)
		}
		sub.AmendsReceipt = orig.ReceiptID
	}
	out, created, err := s.store.Create(ctx, sub)
	if err == nil && created {
		s.log.Info("submission created", "submission", out.ID, "filing_id", filingID, "channel", name, "amends_receipt", sub.AmendsReceipt)
		s.Wake()
	}
	return out, created, err
}

func (s *Service) channelNames() []string {
	names := make([]string, 0, len(s.channels))
	for n := range s.channels {
		names = append(names, n)
	}
	return names
}

// newID is a submission id: readable, and unique across databases (it is the
// idempotency key the regulator remembers).
func newID(filingID string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "sub-" + filingID + "-" + hex.EncodeToString(b[:])
}

// Get returns a submission with its attempts.
func (s *Service) Get(ctx context.Context, id string) (store.Submission, error) {
	return s.store.Get(ctx, id)
}

// List lists submissions, optionally with one status.
func (s *Service) List(ctx context.Context, status string, limit int) ([]store.Submission, error) {
	return s.store.List(ctx, status, limit)
}

// Retry puts a failed submission back in the queue with the same idempotency key.
func (s *Service) Retry(ctx context.Context, id string, by auth.Principal) (store.Submission, error) {
	if err := s.store.Retry(ctx, id, by.Actor()); err != nil {
		return store.Submission{}, err
	}
	s.Wake()
	return s.store.Get(ctx, id)
}

// Wake tells an idle worker to look for work now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run works submissions with cfg.Workers workers until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, fmt.Sprintf("%s/%d", s.cfg.Instance, i))
		}()
	}
	wg.Wait()
}

func (s *Service) worker(ctx context.Context, name string) {
	for ctx.Err() == nil {
		sub, was, ok, err := s.store.Claim(ctx, name, s.cfg.Lease)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("claiming a submission failed", "worker", name, "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		s.Wake() // there may be more: let another idle worker look
		o := s.work(ctx, sub, was)
		if ctx.Err() != nil {
			return // the lease runs out; the next worker resolves it by its key
		}
		if err := s.store.Record(context.WithoutCancel(ctx), sub.ID, name, o); err != nil {
			s.log.Warn("recording a submission attempt failed", "submission", sub.ID, "err", err)
			continue
		}
		s.attempts.WithLabelValues(o.Action, o.Result).Inc()
		if o.Status != "" && o.Status != store.Sending {
			s.states.WithLabelValues(sub.Channel, o.Status).Inc()
			s.log.Info("submission "+o.Status, "submission", sub.ID, "filing_id", sub.FilingID, "channel", sub.Channel,
				"receipt", receiptID(o.Receipt, sub.ReceiptID), "err", o.Error)
		}
	}
}

func receiptID(r *channel.Receipt, old string) string {
	if r != nil {
		return r.ID
	}
	return old
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// never is "no more work" for a submission whose state is final.
var never = store.Never

// work does one step of a claimed submission and says what happened.
func (s *Service) work(ctx context.Context, sub store.Submission, was string) store.Outcome {
	ch, ok := s.channels[sub.Channel]
	if !ok {
		return store.Outcome{Action: "deliver", Result: "failed", Status: store.Failed,
			Error: fmt.Sprintf("channel %q is not configured in this process", sub.Channel)}
	}
	switch sub.Status {
	case store.Delivered:
		return s.poll(ctx, ch, sub)
	case store.Sending:
		if was == store.Sending {
			// An earlier attempt may have reached the regulator: ask by the key first.
			r, found, err := ch.Find(ctx, sub.ID)
			switch {
			case err != nil:
				return s.retry(sub, "find", err)
			case found:
				return store.Outcome{Action: "find", Result: "found", Status: store.Delivered, Receipt: &r, Next: time.Now()}
			}
			o := s.deliver(ctx, ch, sub)
			o.Prior = []store.Attempt{{Action: "find", Outcome: "not_found"}}
			return o
		}
		return s.deliver(ctx, ch, sub)
	}
	return store.Outcome{Action: "status", Result: "skipped", Error: "nothing to do in status " + sub.Status, Next: never}
}

func (s *Service) deliver(ctx context.Context, ch channel.Channel, sub store.Submission) store.Outcome {
	d, err := s.delivery(ctx, sub)
	if err != nil {
		return s.retry(sub, "deliver", err)
	}
	r, err := ch.Deliver(ctx, d)
	if err != nil {
		return s.retry(sub, "deliver", err)
	}
	return store.Outcome{Action: "deliver", Result: "delivered", Status: store.Delivered, Receipt: &r, Next: time.Now()}
}

// delivery reads the filing's files.
func (s *Service) delivery(ctx context.Context, sub store.Submission) (channel.Delivery, error) {
	f, err := s.filings.Filing(ctx, sub.FilingID)
	if err != nil {
		return channel.Delivery{}, err
	}
	d := channel.Delivery{SubmissionID: sub.ID, FilingID: f.ID, Template: f.Template, Period: f.Period, Amends: sub.AmendsReceipt}
	for _, file := range f.Files {
		content, err := s.filings.FileContent(ctx, f.ID, file.Format)
		if err != nil {
			return d, err
		}
		d.Files = append(d.Files, channel.File{Name: f.ID + "." + file.Format, Format: file.Format, SHA256: content.SHA256, Content: content.Content})
	}
	return d, nil
}

func (s *Service) poll(ctx context.Context, ch channel.Channel, sub store.Submission) store.Outcome {
	st, err := ch.Status(ctx, sub.ReceiptID)
	if err != nil {
		o := s.retry(sub, "status", err)
		if o.Status == store.Failed { // the delivery stands; keep asking, slowly
			o.Status, o.Next = "", time.Now().Add(s.cfg.MaxBackoff)
		}
		return o
	}
	o := store.Outcome{Action: "status", Result: string(st.State)}
	switch st.State {
	case channel.StateAccepted:
		o.Status, o.Feedback, o.Next = store.Accepted, nonNil(st.Feedback), never
	case channel.StateRejected:
		o.Status, o.Feedback, o.Next = store.Rejected, nonNil(st.Feedback), never
	case channel.StateDelivered:
		o.Next = never // a file drop: no regulator feedback comes
	default:
		o.Next = time.Now().Add(s.cfg.PollInterval)
	}
	return o
}

func nonNil(f []channel.Feedback) []channel.Feedback {
	if f == nil {
		return []channel.Feedback{}
	}
	return f
}

// retry schedules the next attempt with exponential backoff and jitter, or
// fails the submission after a permanent error or the last attempt. A
// regulator's feedback on a refused upload is kept.
func (s *Service) retry(sub store.Submission, action string, err error) store.Outcome {
	o := store.Outcome{Action: action, Result: "retry", Error: err.Error()}
	var fb interface{ RegulatorFeedback() []channel.Feedback }
	if errors.As(err, &fb) && len(fb.RegulatorFeedback()) > 0 {
		o.Feedback = fb.RegulatorFeedback()
	}
	used := sub.Attempts - sub.BudgetFrom
	if errors.Is(err, channel.ErrPermanent) || used+1 >= s.cfg.MaxAttempts {
		o.Result, o.Status = "failed", store.Failed
		return o
	}
	backoff := s.cfg.BaseBackoff << min(used, 20)
	if backoff <= 0 || backoff > s.cfg.MaxBackoff {
		backoff = s.cfg.MaxBackoff
	}
	// Equal jitter, in [backoff/2, backoff]: retries of many submissions spread out.
	o.Next = time.Now().Add(backoff/2 + time.Duration(mathrand.Int64N(int64(backoff/2)+1)))
	return o
}
