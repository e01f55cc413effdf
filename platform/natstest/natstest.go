// Package natstest starts real embedded nats-servers with JetStream for tests, on
// free ports, with a file store that survives Restart: one server (Start), or a
// JetStream cluster on loopback (StartCluster) whose nodes can be stopped and
// started again.
package natstest

import (
	"fmt"
	"net"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ledgerline/ledgerline/platform/eventstore"
)

// Server is an embedded JetStream server owned by a test.
type Server struct {
	t        testing.TB
	StoreDir string
	srv      *server.Server
	addr     string
}

// Start starts a server that is shut down when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, StoreDir: t.TempDir()}
	s.start("127.0.0.1:-1")
	t.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start(listen string) {
	s.t.Helper()
	srv, err := eventstore.StartEmbedded(s.StoreDir, listen, false)
	if err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
	s.srv = srv
	s.addr = srv.Addr().(*net.TCPAddr).String()
}

// URL is the client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://%s", s.addr) }

// Shutdown stops the server (idempotent).
func (s *Server) Shutdown() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts it again on the same port and store, so
// connected clients reconnect to it.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	s.start(s.addr)
}
