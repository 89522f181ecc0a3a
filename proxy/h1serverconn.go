package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
)

// Connection states, for Shutdown: it closes idle connections and waits for active ones.
const (
	connNew    int32 = iota // accepted, no request yet
	connActive              // a request is being read or served
	connIdle                // between requests
)

// h1ServerConn is one client connection of the fast path, and the request, URL,
// header map and response writer it reuses from one request to the next.
type h1ServerConn struct {
	f *h1Server
	// c is the accepted connection: deadlines, and Close from Shutdown. raw is c
	// with raw socket calls (rawsocket.Wrap), and rw is what requests are read from
	// and answers written to: raw, or the TLS connection over it.
	c          net.Conn
	raw        net.Conn
	rw         net.Conn
	tlsState   *tls.ConnectionState
	br         *bufio.Reader
	bw         *bufio.Writer
	remoteAddr string
	accepted   int64 // UnixNano
	state      atomic.Int32
	// deadline is the read deadline: idle, then header timeouts. timeout is the
	// wait for the next request (the header timeout for the first, then the idle
	// timeout); split: the head being read came in more than one piece.
	deadline coarseDeadline
	timeout  time.Duration
	split    bool
	// Requests are served inline (rawsocket.ServeReads) unless noInline; inline
	// is set while one is, and next is what the inline step stopped for.
	noInline bool
	inline   bool
	next     int
	// afterPOST: the last request was a POST, after which a stray CRLF is skipped.
	afterPOST bool
	// cancel ends the connection's context: the client left (see clientWatch) or
	// the connection is done.
	cancel connCancel
	watch  clientWatch

	// template carries the connection's context: http.Request's context can only be
	// set by WithContext, which allocates, so each request starts as a copy of it.
	template *http.Request
	req      http.Request
	url      url.URL
	head     requestHead
	heads    headArena
	w        h1ResponseWriter
}

var (
	serverReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	serverWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

func (f *h1Server) newConn(c net.Conn) *h1ServerConn {
	// Wrapped here, before the server knows of the connection: closeIdle and Close
	// close it through raw, which a batched send's descriptor needs.
	return &h1ServerConn{f: f, c: c, raw: rawsocket.Wrap(c), accepted: time.Now().UnixNano()}
}

// serve reads and serves requests until the connection closes, fails, or is handed
// to net/http.
func (sc *h1ServerConn) serve() {
	handedOff := false
	sc.rw = sc.raw
	defer func() {
		// A panic outside the handler (which serveRequest recovers) is a bug of
		// this file's: it costs the connection, as in net/http, not the process.
		if p := recover(); p != nil {
			sc.f.log.Error(fmt.Errorf("%v", p), "panic in the HTTP/1.1 server", "client", sc.remoteAddr, "stack", stack())
		}
		if !handedOff {
			sc.rw.Close()
			sc.f.connDone()
		}
		sc.f.forget(sc)
		sc.releaseBuffers()
	}()
	if sc.f.tlsConfig != nil {
		if !sc.handshake() {
			return
		}
		if sc.tlsState.NegotiatedProtocol == "h2" {
			handedOff = true
			sc.f.handoff.give(sc.rw) // net/http's HTTP/2 server takes a *tls.Conn
			return
		}
	}
	sc.br = serverReaders.Get().(*bufio.Reader)
	sc.br.Reset(sc.rw)
	sc.bw = serverWriters.Get().(*bufio.Writer)
	sc.bw.Reset(sc.rw)
	ctx := context.WithValue(context.Background(), http.ServerContextKey, sc.f.http)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, sc.c.LocalAddr())
	info := newConnInfo(sc.tlsState != nil, sc.c)
	info.cancel = &sc.cancel
	ctx = sc.cancel.init(context.WithValue(ctx, connInfoKey{}, info))
	defer sc.cancel.fire()
	sc.watch.init(sc)
	sc.template = (&http.Request{TLS: sc.tlsState}).WithContext(ctx)
	sc.head = requestHead{req: &sc.req, url: &sc.url, header: make(http.Header), values: make([]string, 0, 16)}
	sc.w.conn = sc
	sc.w.header = make(http.Header)

	sc.timeout = sc.f.readHeaderTimeout // the first request: nothing has been sent yet
	step := sc.inlineStep
	for {
		next := nextBlocking
		if !sc.noInline {
			// Over TLS too: the TLS connection reads from raw, and keeps a
			// record begun when a read would block (the error is temporary).
			ok, err := rawsocket.ServeReads(sc.raw, step)
			switch {
			case !ok:
				sc.noInline = true // not a raw socket: every request the blocking way
			case err != nil:
				return // closed, or the deadline passed
			default:
				next = sc.next
			}
		}
		if next == nextBlocking {
			// One request with reads that wait: one whose body has yet to come, or
			// every request of a connection that cannot be served inline.
			n, head := sc.readHead()
			switch head {
			case headGone:
				return
			case headHandOff:
				next = nextHandOff
			default:
				next = sc.serveHead(n)
			}
		}
		switch next {
		case nextClose:
			return
		case nextHandOff:
			handedOff = true
			sc.handOff()
			return
		}
	}
}

// What the connection does after a request.
const (
	nextRequest  = iota
	nextBlocking // serve the next request with reads that wait
	nextHandOff  // give the connection to net/http
	nextClose
)

// inlineStep is the connection's step within rawsocket.ServeReads: it serves the
// requests its buffer and socket have, with reads that never wait, and reports
// false when it needs more bytes. It stops (true, with sc.next set) for what needs
// the blocking path: a request whose body has yet to come, a hand-off, the end.
func (sc *h1ServerConn) inlineStep() bool {
	sc.inline = true
	defer func() { sc.inline = false }()
	for {
		n, head := sc.readHead()
		switch head {
		case headWait:
			return false
		case headGone:
			sc.next = nextClose
			return true
		case headHandOff:
			sc.next = nextHandOff
			return true
		}
		if sc.next = sc.serveHead(n); sc.next != nextRequest {
			return true
		}
	}
}

// serveHead serves the request whose head is the first n buffered bytes and reports
// what the connection does next. Served inline, a request whose body is not all
// buffered yet is left for the blocking path (nextBlocking), head and all.
func (sc *h1ServerConn) serveHead(n int) int {
	b, _ := sc.br.Peek(n)
	sc.req = *sc.template
	if !parseRequestHead(sc.heads.string(b), &sc.head) || !fastEligible(&sc.req) {
		return nextHandOff
	}
	if sc.inline && sc.req.ContentLength > int64(sc.br.Buffered()-n) {
		return nextBlocking
	}
	_, _ = sc.br.Discard(n)
	if sc.req.RemoteAddr = sc.remoteAddr; sc.remoteAddr == "" {
		// Not at accept: a PROXY-protocol connection learns its address from
		// its header, which this waits for.
		sc.remoteAddr = sc.c.RemoteAddr().String()
		sc.req.RemoteAddr = sc.remoteAddr
	}
	if !sc.serveRequest() {
		return nextClose
	}
	sc.state.Store(connIdle)
	sc.timeout = sc.f.idleTimeout
	if sc.f.closing.Load() {
		return nextClose
	}
	return nextRequest
}

// handshake runs the TLS handshake within the header timeout, as net/http bounds it;
// a failure is the client's problem and logged at debug level, as net/http logs it.
func (sc *h1ServerConn) handshake() bool {
	tc := tls.Server(sc.rw, sc.f.tlsConfig)
	sc.rw = tc
	if d := sc.f.readHeaderTimeout; d > 0 {
		_ = sc.c.SetDeadline(time.Now().Add(d))
	}
	if err := tc.Handshake(); err != nil {
		sc.f.log.V(1).Info("TLS handshake failed", "client", sc.c.RemoteAddr().String(), "error", err.Error())
		return false
	}
	_ = sc.c.SetDeadline(time.Time{})
	state := tc.ConnectionState()
	sc.tlsState = &state
	return true
}

// What readHead found.
const (
	headComplete = iota
	headHandOff  // not for the fast path: too large, or not CRLF-terminated
	headGone     // closed, failed or timed out
	headWait     // served inline: the rest has yet to come (rawsocket.ErrWouldBlock)
)

// readHead waits up to sc.timeout for a request and then up to ReadHeaderTimeout
// for the rest of its head; it returns the head's length, which stays in the buffer.
// Inline (rawsocket.ServeReads) it waits for nothing: it reports headWait, with the
// deadline for the wait armed, and is called again once more bytes are there.
func (sc *h1ServerConn) readHead() (int, int) {
	for {
		if sc.br.Buffered() == 0 {
			sc.split = false
			sc.deadline.arm(sc.c, sc.timeout)
			if _, err := sc.br.Peek(1); err != nil {
				return 0, sc.readFailed(err)
			}
		}
		sc.state.Store(connActive)
		if !sc.afterPOST {
			break
		}
		// Old clients end a POST body with a stray CRLF; net/http skips it too.
		b, _ := sc.br.Peek(min(4, sc.br.Buffered()))
		_, _ = sc.br.Discard(leadingCRLF(b))
		sc.afterPOST = false
	}
	for {
		b, _ := sc.br.Peek(sc.br.Buffered())
		n, ok := headEnd(b)
		switch {
		case !ok || n == 0 && len(b) == sc.br.Size():
			return 0, headHandOff
		case n > 0:
			sc.split = false
			return n, headComplete
		}
		if !sc.split {
			// A head split across reads: all of the rest must come within
			// ReadHeaderTimeout (not each piece: that would let a slowloris
			// client trickle a byte at a time).
			sc.split = true
			sc.deadline.forget()
			sc.deadline.arm(sc.c, sc.f.readHeaderTimeout)
		}
		if _, err := sc.br.Peek(len(b) + 1); err != nil {
			return 0, sc.readFailed(err)
		}
	}
}

// readFailed is what a failed read of a head means: the end of the connection, or,
// inline, only that the rest has yet to come.
func (sc *h1ServerConn) readFailed(err error) int {
	if err == rawsocket.ErrWouldBlock {
		return headWait
	}
	return headGone
}

func leadingCRLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// fastEligible: requests the lean forwarder and h1Transport carry whole, so that
// nothing needs the connection beyond one request and one response.
func fastEligible(r *http.Request) bool {
	return plainExchange(r) && r.ContentLength <= h1SyncBodyMax
}

// serveRequest runs the handler for sc.req and finishes its response; it reports
// whether the connection may serve another request.
func (sc *h1ServerConn) serveRequest() (keep bool) {
	r := &sc.req
	sc.afterPOST = r.Method == http.MethodPost
	var body *h1RequestBody
	if r.ContentLength > 0 {
		body = &h1RequestBody{br: sc.br, remaining: r.ContentLength}
		r.Body = body
		if r.ContentLength > int64(sc.br.Buffered()) {
			// The head's deadline must not cut off a body still on its way: net/http
			// reads bodies without one (there is no ReadTimeout).
			sc.deadline.clear(sc.c)
		}
	} else {
		r.Body = http.NoBody
	}
	sc.w.reset(r)
	sc.watch.begin(body, sc.inline)
	defer func() {
		if p := recover(); p != nil {
			sc.watch.end()
			if p != http.ErrAbortHandler {
				sc.f.log.Error(fmt.Errorf("%v", p), "panic serving a request", "client", sc.remoteAddr, "stack", stack())
			}
			// The connection closes with what was flushed; net/http too drops the
			// answer's last buffered bytes.
			keep = false
		}
	}()
	sc.f.handler.ServeHTTP(&sc.w, r)
	gone := sc.watch.end()
	sc.w.finish()
	keep = !sc.w.closeAfter && !gone
	if body != nil && !body.drain() {
		keep = false
	}
	if err := sc.bw.Flush(); err != nil {
		keep = false
	}
	if sc.w.headsReleased {
		sc.heads.rewind() // the next request's heads take this one's bytes
	} else {
		sc.heads.keep()
	}
	return keep && !r.Close
}

// handOff gives the connection, with the bytes read and not consumed, to net/http.
func (sc *h1ServerConn) handOff() {
	pending, _ := sc.br.Peek(sc.br.Buffered())
	rc := &replayConn{Conn: sc.rw, pending: append([]byte(nil), pending...)}
	// net/http arms its own deadlines; a stale one of ours must not cut it short.
	_ = sc.c.SetReadDeadline(time.Time{})
	sc.f.handoff.give(rc)
}

func (sc *h1ServerConn) releaseBuffers() {
	if sc.br != nil {
		sc.br.Reset(nil)
		serverReaders.Put(sc.br)
		sc.br = nil
	}
	if sc.bw != nil {
		sc.bw.Reset(nil)
		serverWriters.Put(sc.bw)
		sc.bw = nil
	}
}

// h1RequestBody reads a request body of known length from the connection's reader.
// A handler (or a transport that kept it) may hold it past the request: once the
// request is done it reads nothing, so it can never reach the next request's bytes.
type h1RequestBody struct {
	mu        sync.Mutex
	br        *bufio.Reader // nil once the request is done
	remaining int64
	err       error
}

func (b *h1RequestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.br == nil {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.br.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = err
	} else if b.remaining == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *h1RequestBody) Close() error { return nil }

// drain reads what the handler left of the body (at most h1SyncBodyMax) so that the
// next request starts at its first byte, and detaches the body from the reader. It
// reports whether the connection is still in step.
func (b *h1RequestBody) drain() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ok := b.err == nil
	if ok && b.remaining > 0 {
		n, err := b.br.Discard(int(b.remaining))
		b.remaining -= int64(n)
		ok = err == nil
	}
	b.br = nil
	return ok
}

// consumed reports whether the body has been read to its end, after which Read no
// longer touches the connection's reader (a nil body has nothing to read).
func (b *h1RequestBody) consumed() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.remaining == 0 || b.br == nil
}

// stack is the calling goroutine's stack, for a panic's log line.
func stack() string {
	buf := make([]byte, 64<<10)
	return string(buf[:runtime.Stack(buf, false)])
}
