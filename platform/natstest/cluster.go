package natstest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a JetStream cluster of embedded nats-servers on loopback, owned by
// a test: each node with its own client and route ports and file store, so a
// node can be shut down and started again on its store (Shutdown, Start) while
// the others keep the cluster going.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
}

// Node is one server of a Cluster.
type Node struct {
	Name     string
	StoreDir string
	client   int // client port
	route    int // cluster port
	srv      *server.Server
}

// StartCluster starts an n-node JetStream cluster (named ledgerline-test) and
// waits until it has elected a meta leader; it is shut down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	base := t.TempDir()
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, &Node{Name: fmt.Sprintf("n%d", i+1), StoreDir: filepath.Join(base, fmt.Sprintf("n%d", i+1)),
			client: freePort(t), route: freePort(t)})
	}
	t.Cleanup(func() {
		for i := range c.Nodes {
			c.Shutdown(i)
		}
	})
	for i := range c.Nodes {
		c.Start(i)
	}
	c.WaitForLeader()
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// URL is every node's client URL, comma-separated: what nats_url takes.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i := range c.Nodes {
		urls[i] = c.NodeURL(i)
	}
	return strings.Join(urls, ",")
}

// NodeURL is node i's client URL.
func (c *Cluster) NodeURL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.Nodes[i].client) }

// Start starts node i (again) on its ports and store. It does not wait for
// the node to catch up with the others.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	n := c.Nodes[i]
	if n.srv != nil {
		return
	}
	var routes []*url.URL
	for j, o := range c.Nodes {
		if j != i {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", o.route)})
		}
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: n.Name,
		Host:       "127.0.0.1",
		Port:       n.client,
		JetStream:  true,
		StoreDir:   n.StoreDir,
		NoSigs:     true,
		MaxPayload: 8 << 20,
		Cluster:    server.ClusterOpts{Name: "ledgerline-test", Host: "127.0.0.1", Port: n.route},
		Routes:     routes,
	})
	if err != nil {
		c.t.Fatalf("natstest: node %s: %v", n.Name, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		c.t.Fatalf("natstest: node %s did not start within 30s", n.Name)
	}
	n.srv = srv
}

// Shutdown stops node i (idempotent), as a crash of its server would: its
// clients lose their connection and reconnect to another node.
func (c *Cluster) Shutdown(i int) {
	n := c.Nodes[i]
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// WaitForLeader waits until a running node is the JetStream meta leader.
func (c *Cluster) WaitForLeader() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.Nodes {
			if n.srv != nil && n.srv.JetStreamIsLeader() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("natstest: the cluster elected no JetStream meta leader within 30s")
}

// Server is node i's server (nil while it is shut down), for tests that look
// inside it.
func (c *Cluster) Server(i int) *server.Server { return c.Nodes[i].srv }
