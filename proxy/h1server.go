package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// h1Server serves a listener's ordinary HTTP/1.1 requests itself, over plain TCP or
// TLS, and hands every other connection to net/http (HTTP/2 right after the TLS
// handshake). Under load net/http's server was a third of
// the proxy's CPU (issue #6): per request it starts a background read goroutine to
// notice a client leaving, makes a cancellable context, re-arms read deadlines
// three times, and parses the head through textproto, allocating each name and
// value. Here a connection is one goroutine reading heads into one reused
// http.Request, with one allocation for the whole head, no per-request context,
// and deadlines re-armed at most once a second. A plain TCP connection's requests
// are served inline (rawsocket.ServeReads): its socket is read only once the
// poller reports bytes, as an event loop reads it, not tried first after every
// answer, which costs a system call per request that finds nothing.
//
// A request outside the parser's subset (h1parse.go) or one the proxy sends through
// ReverseProxy's machinery — upgrades, Expect, bodies of unknown or large size —
// hands its whole connection, unread bytes included, to the http.Server, which
// serves it from then on as if it had accepted it. So every answer net/http gives
// (400, 431, 505, WebSocket, 100-continue, chunked uploads) is still its answer.
//
// Where it differs from net/http (the tests mark each difference):
//   - a client that leaves is noticed once its request has run 100–150 ms
//     (h1clientwatch.go), and, served inline, 50 ms to 1.6 s after that (the
//     longer the request, the rarer the look), not at once: net/http reads in the
//     background during every request for it;
//   - a request's context is its connection's: it ends when the client leaves or
//     the connection closes, not when the handler returns (one context per request
//     would cost allocations on every request, and nothing of the proxy's
//     outlives its request);
//   - bodies up to 4 KiB (not 2) get a Content-Length rather than chunks;
//   - a handler's Transfer-Encoding other than chunked or identity is replaced by
//     chunked, and "Connection: close" is recognised in any case.
type h1Server struct {
	handler           http.Handler
	tlsConfig         *tls.Config // nil: plain HTTP
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	log               logr.Logger
	http              *http.Server // the hand-off server; also what ServerContextKey names
	handoff           *handoffListener
	// connDone tells the listener that a connection it gave is closed (see
	// connCounter); those handed to net/http are told by its ConnState hook.
	connDone func()

	mu    sync.Mutex
	conns map[*h1ServerConn]struct{}
	ln    net.Listener
	// closing: Shutdown began. Responses then say Connection: close, and
	// connections close after their request.
	closing atomic.Bool
	// served: the accept loop has returned; the watchdog stops with the last
	// connection.
	served atomic.Bool
}

// newH1Server serves srv.Handler on the connections of ln (see serve), with srv's
// header and idle timeouts, and hands srv what it does not serve: srv must be
// serving the handoff listener. With srv.TLSConfig set, connections are TLS: those
// that choose HTTP/2 by ALPN go to srv at once, as *tls.Conn, for its HTTP/2 server.
func newH1Server(srv *http.Server, addr net.Addr, connDone func(), log logr.Logger) *h1Server {
	return &h1Server{handler: srv.Handler, tlsConfig: srv.TLSConfig, readHeaderTimeout: srv.ReadHeaderTimeout, idleTimeout: srv.IdleTimeout,
		log: log, http: srv, handoff: newHandoffListener(addr, connDone), connDone: connDone, conns: map[*h1ServerConn]struct{}{}}
}

// serve accepts connections on ln until it is closed; net/http's Serve retries
// temporary accept errors the same way.
func (f *h1Server) serve(ln net.Listener) error {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go f.watchClients()
	defer f.served.Store(true)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return http.ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				f.log.V(1).Info("accept failed; retrying", "error", err.Error(), "in", backoff.String())
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		sc := f.newConn(c)
		f.mu.Lock()
		if f.closing.Load() {
			f.mu.Unlock()
			c.Close()
			f.connDone()
			continue
		}
		f.conns[sc] = struct{}{}
		f.mu.Unlock()
		go sc.serve()
	}
}

// watchClients is the watchdog of every connection's clientWatch: it ticks until
// the accept loop has returned and no connection is left.
func (f *h1Server) watchClients() {
	tick := time.NewTicker(clientWatchTick)
	defer tick.Stop()
	for range tick.C {
		f.mu.Lock()
		if f.served.Load() && len(f.conns) == 0 {
			f.mu.Unlock()
			return
		}
		for sc := range f.conns {
			sc.watch.tick()
		}
		f.mu.Unlock()
	}
}

// forget drops a connection that closed or went to net/http.
func (f *h1Server) forget(sc *h1ServerConn) {
	f.mu.Lock()
	delete(f.conns, sc)
	f.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections (and new ones that sent nothing
// for 5 s, as net/http does), and waits for the rest to finish their request. At
// ctx's end it returns ctx's error; Close then cuts what is left.
func (f *h1Server) Shutdown(ctx context.Context) error {
	f.closing.Store(true)
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if f.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes the connections waiting for a request and reports whether none
// are left.
func (f *h1Server) closeIdle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	quiet := time.Now().Add(-5 * time.Second).UnixNano()
	for sc := range f.conns {
		switch st := sc.state.Load(); {
		case st == connIdle, st == connNew && sc.accepted < quiet:
			sc.raw.Close()
		}
	}
	return len(f.conns) == 0
}

// Close cuts every connection at once.
func (f *h1Server) Close() {
	f.closing.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
	}
	for sc := range f.conns {
		sc.raw.Close()
	}
}

// handoffListener is the http.Server's listener: the connections the fast path gave
// up on arrive here.
type handoffListener struct {
	addr     net.Addr
	connDone func() // for a connection closed here, not given
	conns    chan net.Conn
	closed   chan struct{}
	once     sync.Once
}

func newHandoffListener(addr net.Addr, connDone func()) *handoffListener {
	return &handoffListener{addr: addr, connDone: connDone, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// give passes c to the http.Server, or closes it when that server has stopped.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
		l.connDone()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// replayConn is a connection handed off with bytes already read from it: reads
// return those first.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite keeps net/http's graceful close (half-close, then wait for the client's
// FIN) working through the wrapper.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
