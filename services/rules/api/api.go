// Package api is the rules service's HTTP interface: rule set onboarding, figures
// as of a (period, watermark), manual adjustments, the rules watermark and the
// projections rebuild.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/rules"
)

// Handlers serves the rules API.
type Handlers struct{ svc *rules.Service }

// New returns the handlers for svc.
func New(svc *rules.Service) *Handlers { return &Handlers{svc: svc} }

// Routes lists the rules endpoints with their roles.
func (h *Handlers) Routes() []server.Route {
	readers := []auth.Role{auth.RoleRuleAuthor, auth.RoleAuditor, auth.RoleOperator, auth.RoleCompliance}
	return []server.Route{
		{Pattern: "POST /v1/rulesets", Roles: []auth.Role{auth.RoleRuleAuthor}, Handler: h.onboard},
		{Pattern: "GET /v1/rulesets", Roles: readers, Handler: h.listRulesets},
		{Pattern: "GET /v1/rulesets/{name}/versions/{version}", Roles: readers, Handler: h.getVersion},
		{Pattern: "GET /v1/figures/{name}", Roles: readers, Handler: h.getFigure},
		{Pattern: "POST /v1/adjustments", Roles: []auth.Role{auth.RoleCompliance, auth.RoleOperator}, Handler: h.adjust},
		{Pattern: "GET /v1/rules/watermark", Roles: readers, Handler: h.watermark},
		{Pattern: "GET /v1/rules/failures", Roles: readers, Handler: h.failures},
		{Pattern: "POST /v1/projections/rebuild", Roles: []auth.Role{auth.RoleOperator}, Handler: h.rebuild},
	}
}

func caller(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Actor()
}

func (h *Handlers) onboard(w http.ResponseWriter, r *http.Request) {
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		httpjson.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "a rule set must be under 1 MiB", nil)
		return
	}
	out, err := h.svc.Onboard(r.Context(), src, caller(r))
	var invalid *rules.Invalid
	if errors.As(err, &invalid) {
		httpjson.WriteError(w, http.StatusUnprocessableEntity, "invalid_ruleset",
			fmt.Sprintf("the rule set does not compile: %d problem(s)", len(invalid.Problems)), invalid.Problems)
		return
	}
	httpjson.Answer(w, http.StatusCreated, out, err)
}

func (h *Handlers) listRulesets(w http.ResponseWriter, r *http.Request) {
	vs, err := h.svc.Versions(r.Context())
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	for i := range vs {
		vs[i].Source = ""
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"rulesets": vs})
}

func (h *Handlers) getVersion(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "version must be a number", nil)
		return
	}
	vs, err := h.svc.Versions(r.Context())
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	for _, x := range vs {
		if x.Name == r.PathValue("name") && x.Version == v {
			httpjson.Write(w, http.StatusOK, x)
			return
		}
	}
	httpjson.WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("rule set %s has no version %d", r.PathValue("name"), v), nil)
}

// reserved query parameters of GET /v1/figures; every other one is a dimension filter.
var reserved = map[string]bool{"period": true, "as_of_seq": true, "as_of_time": true, "currency": true, "tz": true}

func (h *Handlers) getFigure(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := rules.FigureRequest{Name: r.PathValue("name"), Period: q.Get("period"), Currency: q.Get("currency")}
	if req.Period == "" {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "period is required: 2026-10, 2026-Q3 or 2026", nil)
		return
	}
	if s := q.Get("as_of_seq"); s != "" {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil || seq == 0 {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("as_of_seq %q is not a positive stream sequence", s), nil)
			return
		}
		req.AsOfSeq = seq
	}
	if s := q.Get("as_of_time"); s != "" {
		if req.AsOfSeq != 0 {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "give as_of_seq or as_of_time, not both", nil)
			return
		}
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("as_of_time %q is not an RFC 3339 time (2026-11-05T09:00:00Z)", s), nil)
			return
		}
		seq, err := h.svc.SeqAt(r.Context(), at)
		if err != nil {
			httpjson.Fail(w, err, nil)
			return
		}
		if seq == 0 {
			httpjson.WriteError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("no event was recorded at or before %s", s), nil)
			return
		}
		req.AsOfSeq = seq
	}
	if tz := q.Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("tz %q is not an IANA time zone (e.g. Europe/Berlin)", tz), nil)
			return
		}
		req.Location = loc
	}
	for k, v := range q {
		if !reserved[k] && len(v) > 0 {
			if req.Where == nil {
				req.Where = map[string]string{}
			}
			req.Where[k] = v[0]
		}
	}
	f, err := h.svc.Figure(r.Context(), req)
	httpjson.Answer(w, http.StatusOK, f, err)
}

func (h *Handlers) adjust(w http.ResponseWriter, r *http.Request) {
	var a rules.Adjustment
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "body must be an adjustment {figure, dimensions, value, currency, period, reason}: "+err.Error(), nil)
		return
	}
	id, seq, err := h.svc.Adjust(r.Context(), caller(r), a)
	httpjson.Answer(w, http.StatusCreated, map[string]any{"id": id, "seq": seq, "status": "accepted"}, err)
}

// watermark answers how far the rules have processed the stream; with
// wait_for=SEQ it first waits (timeout, default 30s) until they reach SEQ.
func (h *Handlers) watermark(w http.ResponseWriter, r *http.Request) {
	if s := r.URL.Query().Get("wait_for"); s != "" {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "wait_for must be a stream sequence", nil)
			return
		}
		timeout := 30 * time.Second
		if t := r.URL.Query().Get("timeout"); t != "" {
			if timeout, err = time.ParseDuration(t); err != nil || timeout <= 0 || timeout > 10*time.Minute {
				httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "timeout must be a duration up to 10m, e.g. 30s", nil)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := h.svc.WaitFor(ctx, seq); err != nil {
			httpjson.WriteError(w, http.StatusGatewayTimeout, "timeout", err.Error(), nil)
			return
		}
	}
	p, err := h.svc.Watermark(r.Context())
	httpjson.Answer(w, http.StatusOK, p, err)
}

func (h *Handlers) failures(w http.ResponseWriter, r *http.Request) {
	fs, err := h.svc.Failures(r.Context(), 1000)
	httpjson.Answer(w, http.StatusOK, map[string]any{"failures": fs}, err)
}

func (h *Handlers) rebuild(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Rebuild(r.Context(), caller(r)); err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]string{"status": "rebuilding",
		"message": "projections dropped; every rule set version is replaying the stream (see GET /v1/rules/watermark)"})
}
