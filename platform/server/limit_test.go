package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveLimited serves h on a free port with at most n connections.
func serveLimited(t *testing.T, n int, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := limitConns(ln, n)
	srv := &http.Server{Handler: lim.handler(h), ConnState: lim.connState}
	go func() { _ = srv.Serve(lim) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestConnLimitBoundsServing: with 2 places, a third request is served only
// when one of two in progress is done; never more than 2 at once.
func TestConnLimitBoundsServing(t *testing.T) {
	var now, most atomic.Int32
	release := make(chan struct{})
	url := serveLimited(t, 2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if r.URL.Path == "/slow" {
			<-release
		}
	}))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { get(t, &http.Client{Transport: &http.Transport{}}, url+"/slow") })
	}
	for now.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	third := make(chan struct{})
	go func() {
		get(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, url+"/fast")
		close(third)
	}()
	select {
	case <-third:
		t.Fatal("a third connection was served while two were in progress")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	select {
	case <-third:
	case <-time.After(5 * time.Second):
		t.Fatal("the third request was not served after the others were done")
	}
	if most.Load() > 2 {
		t.Fatalf("%d requests were served at once, over the limit of 2", most.Load())
	}
}

// TestConnLimitClosesIdleConnections: connections kept alive do not hold
// their places against a new client: with every place taken, answers close
// their connections, and ones idle for idleGrace are closed.
func TestConnLimitClosesIdleConnections(t *testing.T) {
	var arrived sync.WaitGroup
	arrived.Add(2)
	url := serveLimited(t, 2, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/both" { // two requests at once: two connections
			arrived.Done()
			arrived.Wait()
		}
	}))
	idle := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { get(t, idle, url+"/both") })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		get(t, &http.Client{Transport: &http.Transport{}}, url)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("a new client waited behind idle connections")
	}
	// The idle client gets a fresh connection when it sends again.
	get(t, idle, url)
}

// TestConnLimitClose: a listener full of connections still closes, and an
// Accept waiting for a place returns.
func TestConnLimitClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := limitConns(ln, 1)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := lim.Accept(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := lim.Accept(); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = lim.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept waiting for a place did not return after Close")
	}
}
