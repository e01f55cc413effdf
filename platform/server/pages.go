package server

import "net/http"

// HandlePages mounts h for patterns outside the API: no bearer-key check and
// not listed in Routes (api/openapi.yaml describes /v1 only). It is for the
// web console, which authenticates its users with a session cookie of its own
// and checks their roles itself. Requests still go through the server's chain
// (request log, panic recovery).
func (s *Server) HandlePages(h http.Handler, patterns ...string) {
	for _, p := range patterns {
		s.mux.Handle(p, h)
	}
}
