package server

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// idleGrace is how long a connection must have been idle before a full
// server closes it to make room.
const idleGrace = time.Second

// connLimit bounds the connections an http.Server serves at once. Beyond the
// bound, Accept waits and new connections stay in the kernel's accept queue,
// which costs this process nothing. While it waits (the server is full),
// every answer says "Connection: close", so connections in use are given back
// as their requests end, gracefully, and connections kept alive but idle for
// idleGrace are closed: otherwise idle ones could hold every place for the
// idle timeout, minutes. Only connections idle for a while are closed, because
// closing one the client is just sending on would lose its request.
type connLimit struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	full      atomic.Bool // Accept waits for a place

	mu   sync.Mutex
	idle map[net.Conn]time.Time // idle since
}

func limitConns(ln net.Listener, n int) *connLimit {
	return &connLimit{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{}), idle: map[net.Conn]time.Time{}}
}

// Close stops a waiting Accept too.
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Accept takes a place, waiting for one, then accepts.
func (l *connLimit) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.full.Store(true)
		tick := time.NewTicker(idleGrace / 4)
		defer tick.Stop()
	wait:
		for {
			select {
			case l.slots <- struct{}{}:
				break wait
			case <-l.closed:
				l.full.Store(false)
				return nil, net.ErrClosed
			case <-tick.C:
				l.closeIdle(time.Now().Add(-idleGrace))
			}
		}
		l.full.Store(false)
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// closeIdle closes the connections idle since before then.
func (l *connLimit) closeIdle(then time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, since := range l.idle {
		if since.Before(then) {
			_ = c.Close()
			delete(l.idle, c)
		}
	}
}

// connState is the server's ConnState hook: it keeps track of the idle
// connections.
func (l *connLimit) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateIdle {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
}

// handler answers "Connection: close" while the server is full.
func (l *connLimit) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.full.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// limitedConn gives its place back when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
