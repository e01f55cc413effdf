// Package api is the reports service's HTTP interface: template onboarding and
// approval, filings with their files, sign-off and override, and the schedule.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/platform/server"
	"github.com/ledgerline/ledgerline/services/reports"
)

// Handlers serves the reports API.
type Handlers struct{ svc *reports.Service }

// New returns the handlers for svc.
func New(svc *reports.Service) *Handlers { return &Handlers{svc: svc} }

// Routes lists the reports endpoints with their roles.
func (h *Handlers) Routes() []server.Route {
	readers := []auth.Role{auth.RoleCompliance, auth.RoleOperator, auth.RoleAuditor}
	return []server.Route{
		{Pattern: "POST /v1/templates", Roles: []auth.Role{auth.RoleCompliance}, Handler: h.onboard},
		{Pattern: "GET /v1/templates", Roles: readers, Handler: h.listTemplates},
		{Pattern: "GET /v1/templates/{id}/versions/{version}", Roles: readers, Handler: h.getTemplate},
		{Pattern: "POST /v1/templates/{id}/versions/{version}/approve", Roles: []auth.Role{auth.RoleCompliance}, Handler: h.approve},
		{Pattern: "POST /v1/filings", Roles: []auth.Role{auth.RoleOperator}, Handler: h.file},
		{Pattern: "GET /v1/filings", Roles: readers, Handler: h.listFilings},
		{Pattern: "GET /v1/filings/{id}", Roles: readers, Handler: h.getFiling},
		{Pattern: "GET /v1/filings/{id}/files/{format}", Roles: readers, Handler: h.getFile},
		{Pattern: "POST /v1/filings/{id}/sign-off", Roles: []auth.Role{auth.RoleCompliance}, Handler: h.signOff},
		{Pattern: "POST /v1/filings/{id}/override", Roles: []auth.Role{auth.RoleOperator}, Handler: h.override},
		{Pattern: "GET /v1/schedule", Roles: readers, Handler: h.schedule},
		{Pattern: "GET /v1/filings/{id}/cells/{code}", Roles: readers, Handler: h.cell},
		{Pattern: "GET /v1/filings/{id}/cells/{code}/contributions", Roles: readers, Handler: h.contributions},
		{Pattern: "POST /v1/filings/{id}/replay", Roles: readers, Handler: h.replay},
		{Pattern: "POST /v1/filings/{id}/restatements", Roles: []auth.Role{auth.RoleOperator}, Handler: h.restate},
		{Pattern: "GET /v1/events/{id}/impact", Roles: readers, Handler: h.impact},
	}
}

func caller(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

// Size limits of an onboarding: the YAML and the layout workbook.
const (
	maxTemplate = 1 << 20
	maxLayout   = 20 << 20
)

func (h *Handlers) onboard(w http.ResponseWriter, r *http.Request) {
	src, layoutXLSX, err := readTemplate(w, r)
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", err.Error(), nil)
		return
	}
	out, err := h.svc.Onboard(r.Context(), src, layoutXLSX, caller(r))
	var inv *reports.Invalid
	if errors.As(err, &inv) {
		httpjson.WriteError(w, http.StatusUnprocessableEntity, "invalid_template",
			fmt.Sprintf("the template cannot be onboarded: %d problem(s)", len(inv.Problems)), inv.Problems)
		return
	}
	httpjson.Answer(w, http.StatusCreated, out, err)
}

// readTemplate takes a YAML body, or multipart/form-data with the parts template
// (YAML) and layout (XLSX, optional).
func readTemplate(w http.ResponseWriter, r *http.Request) (src, layoutXLSX []byte, err error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		src, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxTemplate))
		if err != nil {
			return nil, nil, fmt.Errorf("a template must be under 1 MiB")
		}
		return src, nil, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, fmt.Errorf("multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("multipart body: %v", err)
		}
		switch part.FormName() {
		case "template":
			if src, err = readLimited(part, maxTemplate); err != nil {
				return nil, nil, fmt.Errorf("part template: %v", err)
			}
		case "layout":
			if layoutXLSX, err = readLimited(part, maxLayout); err != nil {
				return nil, nil, fmt.Errorf("part layout: %v", err)
			}
		default:
			return nil, nil, fmt.Errorf("unknown part %q: send template (YAML) and optionally layout (XLSX)", part.FormName())
		}
	}
	if src == nil {
		return nil, nil, fmt.Errorf("the multipart body has no part named template")
	}
	return src, layoutXLSX, nil
}

func readLimited(rd io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return b, nil
}

func (h *Handlers) listTemplates(w http.ResponseWriter, r *http.Request) {
	ts, err := h.svc.Templates(r.Context())
	httpjson.Answer(w, http.StatusOK, map[string]any{"templates": ts}, err)
}

func version(w http.ResponseWriter, r *http.Request) (int, bool) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "version must be a positive number", nil)
		return 0, false
	}
	return v, true
}

func (h *Handlers) getTemplate(w http.ResponseWriter, r *http.Request) {
	v, ok := version(w, r)
	if !ok {
		return
	}
	t, err := h.svc.Template(r.Context(), r.PathValue("id"), v)
	httpjson.Answer(w, http.StatusOK, t, err)
}

func (h *Handlers) approve(w http.ResponseWriter, r *http.Request) {
	v, ok := version(w, r)
	if !ok {
		return
	}
	t, err := h.svc.Approve(r.Context(), r.PathValue("id"), v, caller(r))
	httpjson.Answer(w, http.StatusOK, t, err)
}

func (h *Handlers) file(w http.ResponseWriter, r *http.Request) {
	var req reports.FileRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Template == "" || req.Period == "" {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", `body must be {"template": "<id>", "period": "2026-10 | 2026-Q3 | 2026"}`, nil)
		return
	}
	f, created, err := h.svc.File(r.Context(), req, caller(r))
	if errors.Is(err, reports.ErrRulesBehind) {
		httpjson.WriteError(w, http.StatusGatewayTimeout, "rules_behind", err.Error(), nil)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpjson.Answer(w, status, f, err)
}

func (h *Handlers) listFilings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fs, err := h.svc.Filings(r.Context(), q.Get("template"), q.Get("period"), 500)
	httpjson.Answer(w, http.StatusOK, map[string]any{"filings": fs}, err)
}

func (h *Handlers) getFiling(w http.ResponseWriter, r *http.Request) {
	f, err := h.svc.Filing(r.Context(), r.PathValue("id"))
	httpjson.Answer(w, http.StatusOK, f, err)
}

var contentTypes = map[string]string{
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"csv":  "text/csv; charset=utf-8",
	"json": "application/json",
}

func (h *Handlers) getFile(w http.ResponseWriter, r *http.Request) {
	format := r.PathValue("format")
	ct, ok := contentTypes[format]
	if !ok {
		httpjson.WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("format %q: a filing has xlsx, csv and json files", format), nil)
		return
	}
	f, err := h.svc.FileContent(r.Context(), r.PathValue("id"), format)
	if err != nil {
		httpjson.Fail(w, err, nil)
		return
	}
	name := strings.ReplaceAll(r.PathValue("id"), `"`, "") + "." + format
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	w.Header().Set("X-Checksum-SHA256", f.SHA256)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Content)))
	_, _ = w.Write(f.Content)
}

func (h *Handlers) signOff(w http.ResponseWriter, r *http.Request) {
	f, err := h.svc.SignOff(r.Context(), r.PathValue("id"), caller(r))
	httpjson.Answer(w, http.StatusOK, f, err)
}

func (h *Handlers) override(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", `body must be {"reason": "<why the failed validations may be overridden>"}`, nil)
		return
	}
	f, err := h.svc.Override(r.Context(), r.PathValue("id"), body.Reason, caller(r))
	httpjson.Answer(w, http.StatusOK, f, err)
}

func (h *Handlers) schedule(w http.ResponseWriter, r *http.Request) {
	n := 3
	if s := r.URL.Query().Get("next"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 100 {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "next must be a number from 1 to 100", nil)
			return
		}
		n = v
	}
	u, err := h.svc.Schedule(r.Context(), n)
	httpjson.Answer(w, http.StatusOK, map[string]any{"schedule": u}, err)
}

// row reads ?row= (a table row, 1..; absent or 0 for a cell).
func row(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("row")
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "row must be a table row number (1, 2, ...)", nil)
		return 0, false
	}
	return n, true
}

func (h *Handlers) cell(w http.ResponseWriter, r *http.Request) {
	n, ok := row(w, r)
	if !ok {
		return
	}
	c, err := h.svc.FiledCell(r.Context(), r.PathValue("id"), r.PathValue("code"), n)
	httpjson.Answer(w, http.StatusOK, c, err)
}

func (h *Handlers) contributions(w http.ResponseWriter, r *http.Request) {
	n, ok := row(w, r)
	if !ok {
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 1000 {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to 1000", nil)
			return
		}
		limit = v
	}
	p, err := h.svc.CellContributions(r.Context(), r.PathValue("id"), r.PathValue("code"), n, r.URL.Query().Get("cursor"), limit)
	httpjson.Answer(w, http.StatusOK, p, err)
}

func (h *Handlers) replay(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Replay(r.Context(), r.PathValue("id"))
	if errors.Is(err, reports.ErrRulesBehind) {
		httpjson.WriteError(w, http.StatusGatewayTimeout, "rules_behind", err.Error(), nil)
		return
	}
	httpjson.Answer(w, http.StatusOK, out, err)
}

func (h *Handlers) restate(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Restate(r.Context(), r.PathValue("id"), caller(r))
	if errors.Is(err, reports.ErrRulesBehind) {
		httpjson.WriteError(w, http.StatusGatewayTimeout, "rules_behind", err.Error(), nil)
		return
	}
	httpjson.Answer(w, http.StatusCreated, out, err)
}

func (h *Handlers) impact(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.EventImpact(r.Context(), r.PathValue("id"))
	httpjson.Answer(w, http.StatusOK, out, err)
}
