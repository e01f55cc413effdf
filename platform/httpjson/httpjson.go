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
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
)

// Sentinel errors that map to statuses. Wrap them: fmt.Errorf("schema %s: %w", t, ErrNotFound).
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrUnavailable  = errors.New("unavailable")
	// ErrOverloaded is load shed before any work was done: retry after Retry-After.
	ErrOverloaded = errors.New("overloaded")
)

var sentinels = []error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrInvalid, ErrUnavailable, ErrOverloaded}

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

// WriteError answers with the error shape (details left out when nil or empty).
func WriteError(w http.ResponseWriter, status int, code, message string, details any) {
	if details != nil {
		if v := reflect.ValueOf(details); (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0 {
			details = nil
		}
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "2")
	}
	Write(w, status, map[string]Error{"error": {Code: code, Message: message, Details: details}})
}

// Fail answers err with the status and code its sentinel maps to. Client errors
// carry their message; server-side failures are logged and answered with a
// message that does not expose hosts, users or queries.
func Fail(w http.ResponseWriter, err error, details any) {
	status, code := Status(err)
	msg := err.Error()
	for _, s := range sentinels {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	switch status {
	case http.StatusServiceUnavailable:
		slog.Default().Warn("request failed: dependency unavailable", "err", err)
		msg = "a service Ledgerline depends on (PostgreSQL or JetStream) is unavailable; retry later (it is safe to retry)"
	case http.StatusInternalServerError:
		slog.Default().Error("request failed", "err", err)
		msg = "internal error; the details are in the server log"
	}
	WriteError(w, status, code, msg, details)
}

// Answer writes v with status, or err in the error shape when err is not nil: the
// end of most handlers.
func Answer(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		Fail(w, err, nil)
		return
	}
	Write(w, status, v)
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
	case errors.Is(err, ErrOverloaded):
		return http.StatusTooManyRequests, "overloaded"
	case errors.Is(err, ErrUnavailable), unreachable(err):
		return http.StatusServiceUnavailable, "unavailable"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// NotFound answers unknown routes in the error shape.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
}

// unreachable reports errors of a connection to a dependency (refused, reset,
// timed out): the request may succeed later.
func unreachable(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr interface{ SafeToRetry() bool }
	return errors.As(err, &connectErr) && connectErr.SafeToRetry()
}
