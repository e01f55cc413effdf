package sim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Handler returns the simulator's HTTP interface (see the package doc).
func (s *Simulator) Handler() http.Handler { return s.handler(nil) }

// handler is Handler with quit, which ends held answers (the timeout fault)
// when the server stops; nil never does.
func (s *Simulator) handler(quit <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/submissions", func(w http.ResponseWriter, r *http.Request) {
		s.postSubmission(w, r, quit)
	})
	mux.HandleFunc("GET /api/v1/submissions", s.authorized(s.findSubmission))
	mux.HandleFunc("GET /api/v1/submissions/{id}", s.authorized(s.getSubmission))
	mux.HandleFunc("GET /_sim/faults", s.getFaults)
	mux.HandleFunc("POST /_sim/faults", s.postFaults)
	mux.HandleFunc("DELETE /_sim/faults", s.deleteFaults)
	mux.HandleFunc("GET /_sim/deliveries", s.getDeliveries)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// Error codes of the simulator's error answers (feedback codes are in check.go).
const (
	codeUnauthorized = "unauthorized"
	codeBadRequest   = "bad_request"
	codeTooLarge     = "too_large"
	codeInvalid      = "invalid_submission"
	codeConflict     = "idempotency_conflict"
	codeUnavailable  = "unavailable"
	codeNotFound     = "not_found"
)

// idempotencyKeyField is the header naming an upload's idempotency key.
const idempotencyKeyField = "Idempotency-Key"

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	Details []Feedback `json:"details"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

func writeError(w http.ResponseWriter, status int, code, message string, details []Feedback) {
	if details == nil {
		details = []Feedback{}
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message, Details: details}})
}

// refuse answers 422 with the feedback; the message joins the feedback so that
// a client showing only the message still names every problem.
func (s *Simulator) refuse(w http.ResponseWriter, key string, fb []Feedback) {
	msgs := make([]string, len(fb))
	for i, f := range fb {
		msgs[i] = f.Message
	}
	code := codeInvalid
	if len(fb) == 1 {
		code = fb[0].Code
	}
	msg := "submission refused: " + strings.Join(msgs, "; ")
	s.cfg.Logger.Info("sim: submission refused", "idempotency_key", key, "code", code, "message", msg)
	writeError(w, http.StatusUnprocessableEntity, code, msg, fb)
}

// checkToken reports whether r carries the configured bearer token, answering
// 401 when it does not.
func (s *Simulator) checkToken(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="regulator-sim"`)
	msg := "missing bearer token"
	if ok {
		msg = "invalid bearer token"
	}
	writeError(w, http.StatusUnauthorized, codeUnauthorized, msg, nil)
	return false
}

func (s *Simulator) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.checkToken(w, r) {
			h(w, r)
		}
	}
}

// postSubmission takes in an upload. The order matters: an outage (5xx) comes
// before anything is looked at; a replay of a stored key is answered before the
// content checks, which already passed the first time.
func (s *Simulator) postSubmission(w http.ResponseWriter, r *http.Request, quit <-chan struct{}) {
	key := r.Header.Get(idempotencyKeyField)
	s.mu.Lock()
	if key != "" {
		s.attempts[key]++
	}
	unavailable := s.takeFault(Fault5xx)
	s.mu.Unlock()
	if unavailable {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the upload portal is temporarily unavailable (simulated outage)", nil)
		return
	}
	if !s.checkToken(w, r) {
		return
	}
	if key == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the Idempotency-Key header is required", nil)
		return
	}
	u, status, err := s.readUpload(w, r)
	if err != nil {
		code := codeBadRequest
		if status == http.StatusRequestEntityTooLarge {
			code = codeTooLarge
		}
		writeError(w, status, code, err.Error(), nil)
		return
	}
	fp := fingerprint(u)
	s.mu.Lock()
	rec, replayed, conflict := s.replay(key, fp)
	s.mu.Unlock()
	if s.answerReplay(w, rec, replayed, conflict) {
		return
	}
	if fb := checkUpload(u, s.cfg.ExpectedFormats); len(fb) > 0 {
		s.refuse(w, key, fb)
		return
	}

	s.mu.Lock()
	// A concurrent upload with the same key may have been stored meanwhile.
	rec, replayed, conflict = s.replay(key, fp)
	if replayed || conflict {
		s.mu.Unlock()
		s.answerReplay(w, rec, replayed, conflict)
		return
	}
	m := u.manifest
	var original *submission
	if m.Amends != "" {
		original = s.byID[m.Amends]
		var fb []Feedback
		switch {
		case original == nil:
			fb = append(fb, refusal(codeUnknownAmended, "amends %s: there is no such receipt", m.Amends))
		case original.receipt.Template != m.Template || original.receipt.Period != m.Period:
			fb = append(fb, refusal(codeAmendedMismatch, "amends %s: that receipt is for template %s period %s, not template %s period %s",
				m.Amends, original.receipt.Template, original.receipt.Period, m.Template, m.Period))
		}
		if len(fb) > 0 {
			s.mu.Unlock()
			s.refuse(w, key, fb)
			return
		}
	}
	s.seq++
	sub := &submission{
		receipt: Receipt{
			ID:             fmt.Sprintf("rcpt-%s-%06d", s.runID, s.seq),
			IdempotencyKey: key,
			SubmissionID:   m.SubmissionID,
			FilingID:       m.FilingID,
			Template:       m.Template,
			Period:         m.Period,
			Amends:         m.Amends,
			AmendedBy:      []string{},
			ReceivedAt:     s.cfg.Now().UTC(),
			Files:          m.Files,
		},
		fingerprint: fp,
		reject:      s.takeFault(FaultReject),
		stored:      1,
	}
	s.byKey[key] = sub
	s.byID[sub.receipt.ID] = sub
	s.order = append(s.order, sub)
	if original != nil {
		original.receipt.AmendedBy = append(original.receipt.AmendedBy, sub.receipt.ID)
	}
	drop := s.takeFault(FaultDrop)
	hang := !drop && s.takeFault(FaultTimeout)
	rec = s.view(sub, s.cfg.Now())
	s.mu.Unlock()
	s.cfg.Logger.Info("sim: submission received", "receipt_id", rec.ID, "idempotency_key", key,
		"filing_id", rec.FilingID, "template", rec.Template, "period", rec.Period, "amends", rec.Amends,
		"files", len(rec.Files), "reject", sub.reject, "drop", drop, "timeout", hang)

	switch {
	case drop:
		dropConnection(w)
		return
	case hang:
		t := time.NewTimer(s.cfg.HangFor)
		defer t.Stop()
		select {
		case <-r.Context().Done(): // the client gave up: it never learns the receipt
			dropConnection(w)
			return
		case <-quit: // stopping: answering nothing beats an empty 200
			dropConnection(w)
			return
		case <-t.C:
		}
	}
	writeJSON(w, http.StatusCreated, rec)
}

// replay looks key up: the stored receipt when fp matches (replayed), a
// conflict when it does not, neither when nothing is stored under key. The
// caller holds s.mu.
func (s *Simulator) replay(key, fp string) (rec Receipt, replayed, conflict bool) {
	sub, ok := s.byKey[key]
	if !ok {
		return Receipt{}, false, false
	}
	if sub.fingerprint != fp {
		return Receipt{}, false, true
	}
	return s.view(sub, s.cfg.Now()), true, false
}

// answerReplay answers a replayed or conflicting upload, reporting whether it
// did.
func (s *Simulator) answerReplay(w http.ResponseWriter, rec Receipt, replayed, conflict bool) bool {
	switch {
	case conflict:
		writeError(w, http.StatusConflict, codeConflict, "idempotency key reused with different content", nil)
	case replayed:
		writeJSON(w, http.StatusOK, rec)
	}
	return replayed || conflict
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// No hijacking (HTTP/2): aborting the handler resets the stream unanswered.
	panic(http.ErrAbortHandler)
}

// readUpload reads the multipart body into memory, answering the HTTP status
// to refuse it with when it is malformed.
func (s *Simulator) readUpload(w http.ResponseWriter, r *http.Request) (upload, int, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return upload{}, http.StatusBadRequest, fmt.Errorf("the upload must be multipart/form-data: %v", err)
	}
	u := upload{files: map[string][]byte{}}
	var sawManifest bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return upload{}, readStatus(err), fmt.Errorf("read multipart body: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return upload{}, readStatus(err), fmt.Errorf("read part %q: %v", part.FormName(), err)
		}
		switch part.FormName() {
		case "manifest":
			if sawManifest {
				return upload{}, http.StatusBadRequest, errors.New("more than one manifest part")
			}
			sawManifest = true
			if err := json.Unmarshal(body, &u.manifest); err != nil {
				return upload{}, http.StatusBadRequest, fmt.Errorf("the manifest is not valid json: %v", err)
			}
		case "file":
			name := part.FileName()
			if name == "" {
				return upload{}, http.StatusBadRequest, errors.New(`a "file" part has no filename`)
			}
			if _, dup := u.files[name]; dup {
				return upload{}, http.StatusBadRequest, fmt.Errorf("file %s is uploaded twice", name)
			}
			u.files[name] = body
		}
		// Other parts are not part of the protocol and are ignored.
	}
	if !sawManifest {
		return upload{}, http.StatusBadRequest, errors.New(`the upload has no "manifest" part`)
	}
	return u, 0, nil
}

func readStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// findSubmission answers the receipt stored under ?idempotency_key=.
func (s *Simulator) findSubmission(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("idempotency_key")
	if key == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the idempotency_key query parameter is required", nil)
		return
	}
	s.mu.Lock()
	sub, ok := s.byKey[key]
	var rec Receipt
	if ok {
		rec = s.view(sub, s.cfg.Now())
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no submission with idempotency key %s", key), nil)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Simulator) getSubmission(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ok := s.Receipt(id)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no receipt %s", id), nil)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

type faultsBody struct {
	Faults map[Fault]int `json:"faults"`
}

func (s *Simulator) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, faultsBody{Faults: s.PendingFaults()})
}

func (s *Simulator) postFaults(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mode  Fault `json:"mode"`
		Count int   `json:"count"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the body must be {\"mode\",\"count\"}: "+err.Error(), nil)
		return
	}
	if !req.Mode.Valid() || req.Count < 0 {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("mode must be one of %v and count >= 0, got %q %d", Faults, req.Mode, req.Count), nil)
		return
	}
	s.Inject(req.Mode, req.Count)
	writeJSON(w, http.StatusOK, faultsBody{Faults: s.PendingFaults()})
}

func (s *Simulator) deleteFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeJSON(w, http.StatusOK, faultsBody{Faults: s.PendingFaults()})
}

// delivery is one line of GET /_sim/deliveries.
type delivery struct {
	IdempotencyKey string   `json:"idempotency_key"`
	Stored         int      `json:"stored"`
	Attempts       int      `json:"attempts"`
	Receipt        *Receipt `json:"receipt"`
}

func (s *Simulator) getDeliveries(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	now := s.cfg.Now()
	out := make([]delivery, 0, len(s.attempts))
	seen := map[string]bool{}
	for _, sub := range s.order {
		rec := s.view(sub, now)
		key := sub.receipt.IdempotencyKey
		seen[key] = true
		out = append(out, delivery{IdempotencyKey: key, Stored: sub.stored, Attempts: s.attempts[key], Receipt: &rec})
	}
	// Keys that were tried but never stored (refused, or hit by 5xx), sorted.
	var rest []delivery
	for key, n := range s.attempts {
		if !seen[key] {
			rest = append(rest, delivery{IdempotencyKey: key, Attempts: n})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(rest, func(a, b delivery) int { return strings.Compare(a.IdempotencyKey, b.IdempotencyKey) })
	writeJSON(w, http.StatusOK, map[string][]delivery{"deliveries": append(out, rest...)})
}
