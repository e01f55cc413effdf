// Package httpjson writes Ledgerline's JSON answers and its one error shape:
//
//	{"error": {"code": "...", "message": "...", "details": [...]}}
//
// Domain code returns errors; Status maps the sentinel errors below to HTTP statuses
// in one place.
package httpjson

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Sentinel errors that map to statuses. Wrap them: fmt.Errorf("schema %s: %w", t, ErrNotFound).
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrTooLarge     = errors.New("request too large")
	ErrUnavailable  = errors.New("unavailable")
)

// Error is the body of an error answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// Write answers status with v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError answers with the error shape.
func WriteError(w http.ResponseWriter, status int, code, message string, details any) {
	Write(w, status, map[string]Error{"error": {Code: code, Message: message, Details: details}})
}

// Fail answers err with the status and code its sentinel maps to.
func Fail(w http.ResponseWriter, err error, details any) {
	status, code := Status(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int((2 * time.Second).Seconds())))
	}
	WriteError(w, status, code, err.Error(), details)
}

// Status maps an error to its HTTP status and error code.
func Status(err error) (int, string) {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, ErrInvalid):
		return http.StatusUnprocessableEntity, "invalid"
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// NotFound answers unknown routes in the error shape.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
}
