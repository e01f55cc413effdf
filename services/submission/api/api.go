// Package api is the submission service's HTTP interface: submitting a filing,
// following a submission, retrying a failed one.
package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/submission"
	"github.com/ledgerline/ledgerline/services/submission/store"
)

// Handlers serves the submission API.
type Handlers struct{ svc *submission.Service }

// New returns the handlers for svc.
func New(svc *submission.Service) *Handlers { return &Handlers{svc: svc} }

// Routes lists the submission endpoints with their roles.
func (h *Handlers) Routes() []server.Route {
	readers := []auth.Role{auth.RoleOperator, auth.RoleCompliance, auth.RoleAuditor}
	return []server.Route{
		{Pattern: "POST /v1/filings/{id}/submissions", Roles: []auth.Role{auth.RoleOperator}, Handler: h.submit},
		{Pattern: "GET /v1/submissions", Roles: readers, Handler: h.list},
		{Pattern: "GET /v1/submissions/{id}", Roles: readers, Handler: h.get},
		{Pattern: "POST /v1/submissions/{id}/retry", Roles: []auth.Role{auth.RoleOperator}, Handler: h.retry},
	}
}

func caller(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

func (h *Handlers) submit(w http.ResponseWriter, r *http.Request) {
	sub, created, err := h.svc.Submit(r.Context(), r.PathValue("id"), caller(r))
	if errors.Is(err, submission.ErrNotSubmittable) {
		httpjson.WriteError(w, http.StatusConflict, "not_submittable", err.Error(), nil)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	httpjson.Answer(w, status, sub, err)
}

var statuses = map[string]bool{store.Pending: true, store.Sending: true, store.Delivered: true, store.Accepted: true,
	store.Rejected: true, store.Failed: true}

func (h *Handlers) list(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && !statuses[status] {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request",
			"status must be one of pending, sending, delivered, accepted, rejected, failed", nil)
		return
	}
	limit := 500
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 5000 {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to 5000", nil)
			return
		}
		limit = v
	}
	subs, err := h.svc.List(r.Context(), status, limit)
	httpjson.Answer(w, http.StatusOK, map[string]any{"submissions": subs}, err)
}

func (h *Handlers) get(w http.ResponseWriter, r *http.Request) {
	sub, err := h.svc.Get(r.Context(), r.PathValue("id"))
	httpjson.Answer(w, http.StatusOK, sub, err)
}

func (h *Handlers) retry(w http.ResponseWriter, r *http.Request) {
	sub, err := h.svc.Retry(r.Context(), r.PathValue("id"), caller(r))
	httpjson.Answer(w, http.StatusAccepted, sub, err)
}
