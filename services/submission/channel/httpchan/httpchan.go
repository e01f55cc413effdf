// Package httpchan is the http channel: it delivers a filing to a regulator's
// upload API as one multipart upload carrying the submission id as its
// Idempotency-Key, and polls the receipt's status. It speaks the protocol of
// the regulator simulator (package sim, whose doc describes it):
//
//	POST /api/v1/submissions                      upload: parts "manifest" + one "file" per file
//	GET  /api/v1/submissions?idempotency_key=K    Find
//	GET  /api/v1/submissions/{receipt_id}         Status
//
// Errors: an answer a retry cannot change (401, 403, 409, 422, any other 4xx
// but 408, 425 and 429, and redirects) wraps channel.ErrPermanent; every error
// answer is a *RegulatorError with the regulator's code, message and feedback.
// 5xx, timeouts and connection failures (TLS handshake refusals included) are
// retryable. After a retryable failure of Deliver the upload may
// have arrived anyway: the submitter asks Find before uploading again.
package httpchan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/services/submission/channel"
)

// Config configures one http channel.
type Config struct {
	// Name is the configured channel name, e.g. "regulator-sim".
	Name string
	// URL is the regulator API's base URL, e.g. "https://portal.example.eu";
	// the /api/v1/... paths are appended to it.
	URL string
	// Token is sent as "Authorization: Bearer <token>" when set.
	Token string
	// CAFile is a PEM file of the CA that signed the regulator's server
	// certificate; "" trusts the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its key, for
	// regulators that require mutual TLS. Both or neither.
	CertFile, KeyFile string
	// Timeout bounds each request, from connecting to reading the answer.
	// Default 30s.
	Timeout time.Duration
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 30 * time.Second

// maxAnswerBytes caps what is read of an answer: a receipt or an error is small.
const maxAnswerBytes = 1 << 20

// Channel is the http channel; it implements channel.Channel and is safe for
// concurrent use.
type Channel struct {
	name   string
	base   string // URL without a trailing slash
	token  string
	client *http.Client
}

var _ channel.Channel = (*Channel)(nil)

// New checks cfg and returns the channel.
func New(cfg Config) (*Channel, error) {
	if cfg.Name == "" {
		return nil, errors.New("httpchan: Name is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("httpchan %s: URL %q must be an absolute http or https URL", cfg.Name, cfg.URL)
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, fmt.Errorf("httpchan %s: CertFile and KeyFile go together", cfg.Name)
	}
	tlsFiles := cfg.CAFile != "" || cfg.CertFile != ""
	if tlsFiles && u.Scheme != "https" {
		return nil, fmt.Errorf("httpchan %s: CAFile, CertFile and KeyFile need an https URL, got %s", cfg.Name, cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("httpchan %s: read CA file: %w", cfg.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("httpchan %s: CA file %s holds no PEM certificate", cfg.Name, cfg.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("httpchan %s: load client certificate: %w", cfg.Name, err)
		}
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	return &Channel{
		name:  cfg.Name,
		base:  strings.TrimRight(cfg.URL, "/"),
		token: cfg.Token,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A regulator API that redirects is misconfigured here; following a
			// redirect would also have to resend the upload.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Name is the configured channel name.
func (c *Channel) Name() string { return c.name }

// CloseIdleConnections closes the connections kept for reuse.
func (c *Channel) CloseIdleConnections() { c.client.CloseIdleConnections() }

// RegulatorError is an error answer of the regulator.
type RegulatorError struct {
	StatusCode int                // the HTTP status
	Code       string             // the regulator's error code, e.g. "checksum_mismatch"
	Message    string             // the regulator's message
	Feedback   []channel.Feedback // the regulator's feedback on the refused delivery
}

// RegulatorFeedback is the regulator's feedback on the refused delivery (the
// submitter stores it with the attempt).
func (e *RegulatorError) RegulatorFeedback() []channel.Feedback { return e.Feedback }

func (e *RegulatorError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "regulator answered %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap makes the refusals a retry cannot change match channel.ErrPermanent.
func (e *RegulatorError) Unwrap() error {
	if Permanent(e.StatusCode) {
		return channel.ErrPermanent
	}
	return nil
}

// Permanent reports whether an answer with HTTP status code is a refusal a
// retry cannot change: redirects and client errors, except the 4xx that mean
// "later" (408 Request Timeout, 425 Too Early, 429 Too Many Requests).
func Permanent(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return code >= 300 && code < 500
}

// receiptAnswer is the regulator's receipt, as every call answers it.
type receiptAnswer struct {
	ReceiptID  string             `json:"receipt_id"`
	Status     string             `json:"status"`
	ReceivedAt time.Time          `json:"received_at"`
	Feedback   []channel.Feedback `json:"feedback"`
}

func (a receiptAnswer) receipt() (channel.Receipt, error) {
	if a.ReceiptID == "" {
		return channel.Receipt{}, errors.New("the regulator's answer has no receipt_id")
	}
	return channel.Receipt{ID: a.ReceiptID, ReceivedAt: a.ReceivedAt}, nil
}

// manifest is the upload's "manifest" part.
type manifest struct {
	SubmissionID string         `json:"submission_id"`
	FilingID     string         `json:"filing_id"`
	Template     string         `json:"template"`
	Period       string         `json:"period"`
	Amends       string         `json:"amends"`
	Files        []manifestFile `json:"files"`
}

type manifestFile struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	SHA256 string `json:"sha256"`
}

// Find returns the receipt of an upload made with submissionID as its
// idempotency key.
func (c *Channel) Find(ctx context.Context, submissionID string) (channel.Receipt, bool, error) {
	u := c.base + "/api/v1/submissions?" + url.Values{"idempotency_key": {submissionID}}.Encode()
	req, err := c.newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return channel.Receipt{}, false, fmt.Errorf("find submission %s via %s: %w", submissionID, c.name, err)
	}
	var a receiptAnswer
	status, err := c.do(req, &a, http.StatusNotFound)
	if err != nil {
		return channel.Receipt{}, false, fmt.Errorf("find submission %s via %s: %w", submissionID, c.name, err)
	}
	if status == http.StatusNotFound {
		return channel.Receipt{}, false, nil
	}
	r, err := a.receipt()
	if err != nil {
		return channel.Receipt{}, false, fmt.Errorf("find submission %s via %s: %w", submissionID, c.name, err)
	}
	return r, true, nil
}

// Deliver uploads d's files with d.SubmissionID as the idempotency key. A
// file's SHA256 is sent as given (the regulator checks it against the bytes);
// an empty one is computed.
func (c *Channel) Deliver(ctx context.Context, d channel.Delivery) (channel.Receipt, error) {
	fail := func(err error) (channel.Receipt, error) {
		return channel.Receipt{}, fmt.Errorf("deliver submission %s via %s: %w", d.SubmissionID, c.name, err)
	}
	body, contentType, err := uploadBody(d)
	if err != nil {
		return fail(err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.base+"/api/v1/submissions", bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	// Without GetBody the transport cannot resend the upload on its own after a
	// broken connection: every attempt is the submitter's, and recorded.
	req.GetBody = nil
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Idempotency-Key", d.SubmissionID)
	var a receiptAnswer
	if _, err := c.do(req, &a); err != nil {
		return fail(err)
	}
	r, err := a.receipt()
	if err != nil {
		return fail(err)
	}
	return r, nil
}

// uploadBody builds the multipart body: the manifest, then one part per file.
func uploadBody(d channel.Delivery) ([]byte, string, error) {
	if d.SubmissionID == "" {
		return nil, "", fmt.Errorf("no submission id to use as the idempotency key: %w", channel.ErrPermanent)
	}
	if len(d.Files) == 0 {
		return nil, "", fmt.Errorf("no files to deliver: %w", channel.ErrPermanent)
	}
	m := manifest{
		SubmissionID: d.SubmissionID,
		FilingID:     d.FilingID,
		Template:     d.Template,
		Period:       d.Period,
		Amends:       d.Amends,
		Files:        make([]manifestFile, 0, len(d.Files)),
	}
	size := 1024
	for _, f := range d.Files {
		if f.Name == "" {
			return nil, "", fmt.Errorf("a file has no name: %w", channel.ErrPermanent)
		}
		sum := f.SHA256
		if sum == "" {
			h := sha256.Sum256(f.Content)
			sum = hex.EncodeToString(h[:])
		}
		m.Files = append(m.Files, manifestFile{Name: f.Name, Format: f.Format, SHA256: sum})
		size += len(f.Content) + 512
	}
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		return nil, "", fmt.Errorf("encode manifest: %w", err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+len(manifestJSON)))
	mw := multipart.NewWriter(buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="manifest"`)
	h.Set("Content-Type", "application/json")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", fmt.Errorf("write manifest part: %w", err)
	}
	if _, err := pw.Write(manifestJSON); err != nil {
		return nil, "", fmt.Errorf("write manifest part: %w", err)
	}
	for _, f := range d.Files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(f.Name)))
		h.Set("Content-Type", contentTypeOf(f.Format))
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", fmt.Errorf("write file part %s: %w", f.Name, err)
		}
		if _, err := pw.Write(f.Content); err != nil {
			return nil, "", fmt.Errorf("write file part %s: %w", f.Name, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("close multipart body: %w", err)
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// quoteEscaper escapes a filename as mime/multipart does.
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func contentTypeOf(format string) string {
	switch strings.ToLower(format) {
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "csv":
		return "text/csv"
	case "json":
		return "application/json"
	default:
		return "application/octet-stream"
	}
}

// states maps the regulator's status words to channel states.
var states = map[string]channel.State{
	"received":   channel.StateReceived,
	"validating": channel.StateValidating,
	"accepted":   channel.StateAccepted,
	"rejected":   channel.StateRejected,
}

// Status polls where the delivery with receiptID stands.
func (c *Channel) Status(ctx context.Context, receiptID string) (channel.Status, error) {
	fail := func(err error) (channel.Status, error) {
		return channel.Status{}, fmt.Errorf("status of receipt %s via %s: %w", receiptID, c.name, err)
	}
	if receiptID == "" {
		return fail(fmt.Errorf("no receipt id: %w", channel.ErrPermanent))
	}
	req, err := c.newRequest(ctx, http.MethodGet, c.base+"/api/v1/submissions/"+url.PathEscape(receiptID), nil)
	if err != nil {
		return fail(err)
	}
	var a receiptAnswer
	if _, err := c.do(req, &a); err != nil {
		return fail(err)
	}
	state, ok := states[a.Status]
	if !ok {
		return fail(fmt.Errorf("the regulator answered the unknown status %q", a.Status))
	}
	return channel.Status{State: state, Feedback: a.Feedback}, nil
}

func (c *Channel) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ledgerline-submission/httpchan")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends req and decodes a 200 or 201 answer into into. Any other status is
// a *RegulatorError, except those in also, which are returned without a
// decoded body for the caller to handle.
func (c *Channel) do(req *http.Request, into any, also ...int) (int, error) {
	resp, err := c.client.Do(req)
	if err != nil {
		// Timeouts and broken connections: retryable. If the caller's
		// context ended, say so first.
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return 0, fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return 0, err
	}
	defer func() {
		// Drain what is left so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
		_ = resp.Body.Close()
	}()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return 0, fmt.Errorf("read the regulator's answer (%d): %w", resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
		if err := json.Unmarshal(body, into); err != nil {
			return 0, fmt.Errorf("decode the regulator's answer (%d): %w", resp.StatusCode, err)
		}
		return resp.StatusCode, nil
	case slices.Contains(also, resp.StatusCode):
		return resp.StatusCode, nil
	default:
		return 0, regulatorError(resp, body)
	}
}

// regulatorError reads an error answer: the JSON
// {"error": {"code","message","details": [feedback]}} when it is one, else
// the start of the body.
func regulatorError(resp *http.Response, body []byte) *RegulatorError {
	e := &RegulatorError{StatusCode: resp.StatusCode}
	var doc struct {
		Error struct {
			Code    string             `json:"code"`
			Message string             `json:"message"`
			Details []channel.Feedback `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil && (doc.Error.Code != "" || doc.Error.Message != "") {
		e.Code, e.Message, e.Feedback = doc.Error.Code, doc.Error.Message, doc.Error.Details
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		msg = strings.TrimSpace("redirect to " + loc + " " + msg)
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}
