// Package api is the ingest service's HTTP interface: events, quarantine, schemas
// and the stream's state, each behind its roles (see Routes).
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/ingest"
	"github.com/ledgerline/ledgerline/services/ingest/batch"
	"github.com/ledgerline/ledgerline/services/ingest/store"
)

// Handlers serves the ingest API.
type Handlers struct {
	svc *ingest.Service
}

// New returns the handlers for svc.
func New(svc *ingest.Service) *Handlers { return &Handlers{svc: svc} }

// Routes lists the ingest endpoints with their roles.
func (h *Handlers) Routes() []server.Route {
	readers := []auth.Role{auth.RoleOperator, auth.RoleAuditor}
	return []server.Route{
		{Pattern: "POST /v1/events", Roles: []auth.Role{auth.RoleSource}, Handler: h.postEvents},
		{Pattern: "GET /v1/events/{id}", Roles: readers, Handler: h.getEvent},
		{Pattern: "GET /v1/stream", Roles: readers, Handler: h.getStream},
		{Pattern: "GET /v1/quarantine", Roles: readers, Handler: h.listQuarantine},
		{Pattern: "GET /v1/quarantine/{id}", Roles: readers, Handler: h.getQuarantine},
		{Pattern: "POST /v1/quarantine/{id}/resubmit", Roles: []auth.Role{auth.RoleOperator}, Handler: h.resubmit},
		{Pattern: "POST /v1/quarantine/{id}/discard", Roles: []auth.Role{auth.RoleOperator}, Handler: h.discard},
		{Pattern: "POST /v1/schemas", Roles: []auth.Role{auth.RoleRuleAuthor}, Handler: h.postSchema},
		{Pattern: "GET /v1/schemas", Roles: auth.Roles, Handler: h.listSchemas},
		{Pattern: "GET /v1/schemas/{type}/{version}", Roles: auth.Roles, Handler: h.getSchema},
	}
}

func caller(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Actor()
}

// readBody reads at most limit bytes. An oversized body is quarantined (its start)
// and answered 413; the returned bool says whether to go on.
func (h *Handlers) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reason := fmt.Sprintf("request body is larger than the limit of %d bytes; send smaller batches", limit)
		qid, qerr := h.svc.QuarantineBody(r.Context(), caller(r), ingest.ChannelHTTP, body, ingest.CodeBodyTooLarge, reason)
		if qerr != nil {
			httpjson.Fail(w, qerr, nil)
			return nil, false
		}
		httpjson.WriteError(w, http.StatusRequestEntityTooLarge, ingest.CodeBodyTooLarge, reason, map[string]int64{"quarantine_id": qid})
		return nil, false
	case err != nil:
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "read request body: "+err.Error(), nil)
		return nil, false
	}
	return body, true
}

// postEvents answers a JSON array of the per-event results. Admission comes
// first: a request shed under load before its body is read costs next to nothing.
func (h *Handlers) postEvents(w http.ResponseWriter, r *http.Request) {
	admitted, err := h.svc.Admit(r.Context(), r.ContentLength)
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	defer admitted.Release()
	body, ok := h.readBody(w, r, h.svc.MaxBodyBytes())
	if !ok {
		return
	}
	items, err := batch.Split(body, h.svc.Limits())
	if err != nil {
		h.rejectBody(w, r, body, err)
		return
	}
	if err := admitted.Events(r.Context(), len(items)); err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	results, err := h.svc.Ingest(r.Context(), caller(r), ingest.ChannelHTTP, items)
	if err != nil {
		httpjson.Fail(w, err, results)
		return
	}
	httpjson.Write(w, http.StatusOK, results)
}

// rejectBody quarantines a body that could not be split into events.
func (h *Handlers) rejectBody(w http.ResponseWriter, r *http.Request, body []byte, err error) {
	status, code := http.StatusBadRequest, ingest.CodeBodyMalformed
	switch {
	case errors.Is(err, batch.ErrTooMany):
		status, code = http.StatusRequestEntityTooLarge, ingest.CodeTooManyEvents
	case errors.Is(err, batch.ErrEmpty):
		httpjson.WriteError(w, http.StatusBadRequest, "empty_body", err.Error(), nil)
		return
	}
	qid, qerr := h.svc.QuarantineBody(r.Context(), caller(r), ingest.ChannelHTTP, body, code, err.Error())
	if qerr != nil {
		httpjson.Fail(w, qerr, nil)
		return
	}
	httpjson.WriteError(w, status, code, err.Error(), map[string]int64{"quarantine_id": qid})
}

func (h *Handlers) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := h.svc.Event(r.Context(), r.PathValue("id"))
	httpjson.Answer(w, http.StatusOK, ev, err)
}

func (h *Handlers) getStream(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.State(r.Context())
	httpjson.Answer(w, http.StatusOK, st, err)
}

func (h *Handlers) listQuarantine(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.QuarantineFilter{Status: q.Get("status"), Code: q.Get("code")}
	if f.Status == "" {
		f.Status = "open"
	}
	switch f.Status {
	case "all":
		f.Status = ""
	case "open", "resolved", "discarded":
	default:
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("status %q: want open, resolved, discarded or all", f.Status), nil)
		return
	}
	var err error
	if f.Before, err = intParam(q.Get("cursor")); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "cursor: "+err.Error(), nil)
		return
	}
	limit, err := intParam(q.Get("limit"))
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "limit: "+err.Error(), nil)
		return
	}
	f.Limit = int(limit)
	entries, next, err := h.svc.ListQuarantine(r.Context(), f)
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	page := map[string]any{"entries": entries}
	if entries == nil {
		page["entries"] = []store.QuarantineEntry{}
	}
	if next != 0 {
		page["next_cursor"] = strconv.FormatInt(next, 10)
	}
	httpjson.Write(w, http.StatusOK, page)
}

func intParam(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return v, nil
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("quarantine id %q is not a number", r.PathValue("id")), nil)
		return 0, false
	}
	return id, true
}

func (h *Handlers) getQuarantine(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	e, err := h.svc.GetQuarantine(r.Context(), id)
	httpjson.Answer(w, http.StatusOK, e, err)
}

func (h *Handlers) resubmit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r, h.svc.MaxBodyBytes())
	if !ok {
		return
	}
	res, err := h.svc.Resubmit(r.Context(), id, caller(r), body)
	if err != nil {
		httpjson.Fail(w, err, res.Results)
		return
	}
	httpjson.Write(w, http.StatusOK, res)
}

func (h *Handlers) discard(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", `body must be {"reason": "..."}: `+err.Error(), nil)
		return
	}
	e, err := h.svc.Discard(r.Context(), id, caller(r), req.Reason)
	httpjson.Answer(w, http.StatusOK, e, err)
}

func (h *Handlers) postSchema(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		httpjson.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "a schema registration must be under 1 MiB: "+err.Error(), nil)
		return
	}
	var req ingest.SchemaRegistration
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", `body must be {"type": "...", "version": N, "schema": {...}}: `+err.Error(), nil)
		return
	}
	created, err := h.svc.RegisterSchema(r.Context(), caller(r), req)
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	status, state := http.StatusCreated, "registered"
	if !created {
		status, state = http.StatusOK, "unchanged"
	}
	httpjson.Write(w, status, map[string]any{"type": req.Type, "version": req.Version, "status": state})
}

func (h *Handlers) listSchemas(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.Schemas(r.Context())
	httpjson.Answer(w, http.StatusOK, map[string]any{"schemas": list}, err)
}

func (h *Handlers) getSchema(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "version must be a number", nil)
		return
	}
	doc, err := h.svc.Schema(r.Context(), r.PathValue("type"), v)
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	_, _ = w.Write(doc)
}

// readAll reads r into a buffer sized from Content-Length when it is known, saving
// the repeated growth (and copying) of io.ReadAll on large batches.
func readAll(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	buf := bytes.NewBuffer(make([]byte, 0, contentLength+1))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
