// Package server is the HTTP server every Ledgerline service mounts its routes on:
// bearer-key auth with a role per route, /healthz, /readyz, /metrics, JSON errors
// for unknown routes and wrong methods, request logs, and panics turned into 500s.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// Route is one endpoint ("METHOD /path/{param}") and the roles allowed to call it
// (admin always may).
type Route struct {
	Pattern string
	Roles   []auth.Role
	Handler http.HandlerFunc
}

// ReadyCheck reports whether a dependency is usable.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Server routes requests.
type Server struct {
	// MaxConnections bounds the connections Serve serves at once (0: no bound;
	// config http_max_connections).
	MaxConnections int

	mux    *http.ServeMux
	keys   *auth.Keys
	log    *slog.Logger
	ready  []ReadyCheck
	routes []Route
}

// New returns a server whose /metrics serves reg.
func New(log *slog.Logger, keys *auth.Keys, reg *prometheus.Registry, ready ...ReadyCheck) *Server {
	s := &Server{mux: http.NewServeMux(), keys: keys, log: log, ready: ready}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// Handle mounts routes behind their roles.
func (s *Server) Handle(routes ...Route) {
	for _, r := range routes {
		s.mux.Handle(r.Pattern, s.keys.Require(r.Handler, r.Roles...))
		s.routes = append(s.routes, r)
	}
}

// HandleElsewhere answers requests for patterns with h before any key check,
// without listing them in Routes: for the routes of services this process does
// not run (`ledgerline serve --role`), which h refuses saying where they are.
func (s *Server) HandleElsewhere(h http.HandlerFunc, patterns ...string) {
	for _, p := range patterns {
		s.mux.Handle(p, h)
	}
}

// Routes lists the mounted API routes, sorted by pattern.
func (s *Server) Routes() []Route {
	out := append([]Route(nil), s.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status := map[string]string{}
	ok := true
	for _, c := range s.ready {
		if err := c.Check(ctx); err != nil {
			status[c.Name] = err.Error()
			ok = false
		} else {
			status[c.Name] = "ok"
		}
	}
	if !ok {
		httpjson.WriteError(w, http.StatusServiceUnavailable, "not_ready", "a dependency is unavailable", status)
		return
	}
	httpjson.Write(w, http.StatusOK, status)
}

// Handler is the full handler chain.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if !rec.wrote {
					httpjson.WriteError(rec, http.StatusInternalServerError, "internal", "internal error", nil)
				}
			}
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "took", time.Since(start))
		}()
		if _, pattern := s.mux.Handler(r); pattern == "" {
			s.noRoute(rec, r)
			return
		}
		s.mux.ServeHTTP(rec, r)
	})
}

// noRoute answers 404 or 405 (with Allow) in the JSON error shape.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := httptest.NewRecorder()
	h.ServeHTTP(probe, r)
	if probe.Code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.Header().Get("Allow"))
		httpjson.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, probe.Header().Get("Allow")), nil)
		return
	}
	httpjson.NotFound(w, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Serve listens on addr and serves until ctx ends, then shuts down gracefully.
// started, if not nil, receives the bound address once listening.
func (s *Server) Serve(ctx context.Context, addr string, started func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if s.MaxConnections > 0 {
		// Every connection served costs a goroutine and its buffers, which a
		// flood of clients (resending what was shed) would otherwise multiply
		// without bound (limit.go).
		lim := limitConns(ln, s.MaxConnections)
		ln, srv.ConnState, srv.Handler = lim, lim.connState, lim.handler(srv.Handler)
	}
	if started != nil {
		started(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
