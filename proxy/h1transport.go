package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"syscall"
	"time"

	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
)

// h1Transport sends ordinary requests to pods over HTTP/1.1 keep-alive connections,
// synchronously: the request is written and the response read on the caller's
// goroutine (the handler's). http.Transport runs a read loop and a write loop
// goroutine per connection and hands every request and response across channels;
// on a machine where the proxy's CPU per request decides throughput, those handoffs,
// wake-ups and their allocations were a large part of the cost (issue #6).
//
// What it does not handle goes to fallback (the http.Transport): upgrades
// (WebSocket), Expect: 100-continue, request trailers, and request bodies of
// unknown or large size, which must be written while the response is read (a pod
// may answer early, before reading an upload it refuses; writing it all first
// could then block for ever).
// A body of known size up to h1SyncBodyMax fits in the socket buffers and is
// written before the response is read.
//
// Errors keep the meanings errorHandler and retryOnConnectFailure rely on: a failed
// dial is a *net.OpError with Op "dial" (retried on another endpoint), a missing
// response header in time is a timeout (504), a cancelled request reports the
// context's error (499).
type h1Transport struct {
	dialer                *net.Dialer
	responseHeaderTimeout time.Duration
	fallback              http.RoundTripper
	pools                 idlePools
}

// h1SyncBodyMax is the largest request body written before the response is read.
const h1SyncBodyMax = 64 << 10

// staleCheckAfter: a pooled connection idle this long is probed for a close by the
// pod before it is used (one non-blocking peek); under load connections come back
// within milliseconds and pay nothing.
const staleCheckAfter = 100 * time.Millisecond

// max1xx bounds informational responses before the final one, as http.Transport does.
const max1xx = 5

func newH1Transport(dialer *net.Dialer, responseHeaderTimeout, idleTimeout time.Duration, maxIdlePerHost int, fallback http.RoundTripper) *h1Transport {
	t := &h1Transport{dialer: dialer, responseHeaderTimeout: responseHeaderTimeout, fallback: fallback}
	t.pools.init(idleTimeout, maxIdlePerHost)
	return t
}

// handles reports whether req is one this transport sends itself.
func (t *h1Transport) handles(req *http.Request) bool {
	if req.URL.Scheme != "http" || !plainExchange(req) {
		return false
	}
	// A body with ContentLength 0 is of unknown length too (net/http's convention).
	if hasBody(req) && (req.ContentLength <= 0 || req.ContentLength > h1SyncBodyMax) {
		return false
	}
	return true
}

// plainExchange: one request and one response, nothing in between or after — no
// upgrade, no Expect (100-continue), no request trailers. Both h1Transport and the
// lean forwarder take only these.
func plainExchange(req *http.Request) bool {
	return len(req.Header["Upgrade"]) == 0 && len(req.Header["Expect"]) == 0 && len(req.Trailer) == 0
}

func hasBody(req *http.Request) bool { return req.Body != nil && req.Body != http.NoBody }

// replayable: the request may be sent again after a pooled connection turned out to
// be closed by the pod. Only idempotent requests whose body can be had again, as
// http.Transport decides: the pod may have acted on the first copy.
func replayable(req *http.Request) bool {
	if hasBody(req) && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// CloseIdleConnections closes the pooled connections of both transports.
func (t *h1Transport) CloseIdleConnections() {
	t.pools.closeIdle()
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	pool := t.pools.get(req.URL.Host)
	resp, err, stale := t.attempt(req, pool, true)
	if !stale || !replayable(req) {
		return resp, err
	}
	// The pod closed the pooled connection as we used it: nothing of an answer came
	// back, so send the request once more on a connection of its own.
	again := req
	if hasBody(req) {
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, err
		}
		again = req.WithContext(req.Context())
		again.Body = body
	}
	resp, err, _ = t.attempt(again, pool, false)
	return resp, err
}

// noAnswerError is a request's failure on a connection that gave not a byte of an
// answer: the pod reset or closed it (retryOnConnectFailure retries a replayable one).
type noAnswerError struct{ err error }

func (e *noAnswerError) Error() string { return e.err.Error() }
func (e *noAnswerError) Unwrap() error { return e.err }

// attempt sends req on a pooled connection (when reuse allows and one is idle) or a
// new one. stale reports that a reused connection failed before any byte of a
// response arrived, the sign of a pod that closed it while it was idle.
func (t *h1Transport) attempt(req *http.Request, pool *idlePool, reuse bool) (_ *http.Response, _ error, stale bool) {
	ctx := req.Context()
	var pc *h1Conn
	if reuse {
		pc = pool.take()
	}
	reused := pc != nil
	if !reused {
		var err error
		if pc, err = t.dial(ctx, pool); err != nil {
			return nil, err, false
		}
	}
	// Cancellation (the client left, or shutdown) breaks off blocking reads and
	// writes by moving the connection's deadline into the past.
	var stop func() bool
	if ctx.Done() != nil {
		stop = afterCancel(ctx, pc.abort)
	}
	fail := func(err error) error {
		if stop != nil {
			stop()
		}
		pc.Close()
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return err
	}

	// The request's last bytes (all of an ordinary one) are sent by the read that
	// waits for the answer (requestWriter): bw's buffer is held until then.
	bw := getWriter(&pc.out)
	defer putWriter(bw)
	err := writeRequest(bw, req)
	if err == nil {
		// Only when the read below reads (a pooled connection has nothing
		// buffered; one that had would not reach it), and not on a connection
		// that sat idle long enough to be probed: a pod's FIN arriving after the
		// probe, before the request, reports no readiness again, and a pod that
		// half-closed and lingers would then be waited for until the header
		// timeout; the ordinary read finds that FIN at once (stale: sent again).
		pc.out.last = pc.br.Buffered() == 0 && !pc.wasIdle
		err = bw.Flush()
		pc.out.last = false
	}
	if err != nil {
		return nil, fail(err), reused && ctx.Err() == nil
	}

	if t.responseHeaderTimeout > 0 {
		pc.deadline.arm(pc.Conn, t.responseHeaderTimeout)
	}
	if _, err := pc.br.Peek(1); err != nil {
		if isTimeout(err) && ctx.Err() == nil {
			return nil, fail(errResponseHeaderTimeout), false
		}
		stale = reused && ctx.Err() == nil
		if stale {
			err = fmt.Errorf("upstream closed a kept-alive connection: %w", err)
		}
		return nil, fail(&noAnswerError{err}), stale
	}
	resp, err := readResponse(ctx, pc.br, req, &pc.heads)
	if err != nil {
		if isTimeout(err) && ctx.Err() == nil {
			err = errResponseHeaderTimeout
		}
		return nil, fail(err), false
	}
	if t.responseHeaderTimeout > 0 && !bodyBuffered(resp, pc.br) {
		// The body's reads must not be cut off by the header's timeout. A body
		// already in the buffer reads nothing from the connection: its deadline
		// stays armed for the connection's next request, which will likely
		// keep it (coarseDeadline).
		pc.deadline.clear(pc.Conn)
		// A cancellation between reading the header and clearing the deadline
		// would have been undone by the clearing: look again.
		if ctx.Err() != nil {
			return nil, fail(nil), false
		}
	}
	reusable := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		pc.release(stop, reusable)
		return resp, nil, false
	}
	resp.Body = wrapConnBody(resp.Body, pc, stop, ctx, reusable)
	return resp, nil, false
}

// wrapConnBody wraps body in an h1Body, the one that came with it when body is the
// fast parser's (allocated with its response).
func wrapConnBody(body io.ReadCloser, pc *h1Conn, stop func() bool, ctx context.Context, reusable bool) *h1Body {
	var b *h1Body
	if sb, ok := body.(*sizedResponseBody); ok {
		b = &sb.wrapper
	} else {
		b = new(h1Body)
	}
	b.body, b.pc, b.stop, b.ctx, b.reusable = body, pc, stop, ctx, reusable
	return b
}

// bodyBuffered reports whether resp's body is in br already, all of it, so that
// reading it reads nothing from the connection.
func bodyBuffered(resp *http.Response, br *bufio.Reader) bool {
	return resp.Body == http.NoBody || resp.ContentLength >= 0 && resp.ContentLength <= int64(br.Buffered())
}

// readResponse reads the final response to req, passing informational (1xx) ones
// other than 101 to the request's ClientTrace, through which ReverseProxy forwards
// them (103 Early Hints). The common head is parsed by readResponseFast (kept raw
// when the lean forwarder asks for it on the context: h1rawhead.go), everything else
// by http.ReadResponse.
func readResponse(ctx context.Context, br *bufio.Reader, req *http.Request, heads *headArena) (*http.Response, error) {
	raw := false
	if a, _ := ctx.Value(rawHeadsKey{}).(*headArena); a != nil {
		raw, heads = true, a
	}
	for n := 0; ; n++ {
		resp, ok, err := readResponseHead(br, req, raw, heads)
		if !ok && err == nil {
			resp, err = http.ReadResponse(br, req)
		}
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if n == max1xx {
			return nil, errors.New("too many 1xx informational responses from upstream")
		}
		if resp.StatusCode == http.StatusContinue {
			continue // no Expect was sent: nothing waits for it
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// errResponseHeaderTimeout: no response header arrived in time (504).
var errResponseHeaderTimeout error = timeoutError("timeout awaiting response headers from upstream")

type timeoutError string

func (e timeoutError) Error() string { return string(e) }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// aLongTimeAgo is a deadline in the past: it makes pending and future I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// h1Conn is one connection to a pod with its read buffer, which belongs to the
// connection (bytes of the next response may already be in it).
type h1Conn struct {
	net.Conn
	br     *bufio.Reader
	out    requestWriter
	heads  headArena       // the response heads' strings
	raw    syscall.RawConn // for the stale probe; nil if the connection has none
	pool   *idlePool
	idleAt time.Duration // monoNow's clock
	// wasIdle: taken from the pool after staleCheckAfter, and probed.
	wasIdle bool
	// deadline is the response-header timeout's: it may outlive a response whose
	// body was buffered with its head (see attempt).
	deadline coarseDeadline
	// abort is pc's deadline-into-the-past, made once per connection so that
	// registering it per request allocates no closure.
	abort func()
}

func (t *h1Transport) dial(ctx context.Context, pool *idlePool) (*h1Conn, error) {
	c, err := t.dialer.DialContext(ctx, "tcp", pool.addr)
	if err != nil {
		return nil, err
	}
	rc := rawsocket.Wrap(c)
	pc := &h1Conn{Conn: rc, br: bufio.NewReaderSize(rc, 4<<10), pool: pool}
	pc.out.conn = rc
	pc.out.asker, _ = rc.(asker)
	pc.abort = func() { _ = c.SetDeadline(aLongTimeAgo) }
	if sc, ok := c.(syscall.Conn); ok {
		pc.raw, _ = sc.SyscallConn()
	}
	return pc, nil
}

// asker is a connection that can send a request with the read that waits for its
// answer (rawsocket.WriteOnNextRead).
type asker interface{ WriteOnNextRead(p []byte) }

// requestWriter is what a request is written to: the connection, except that its
// last bytes (last is set for the final flush) are handed to the connection's next
// read, which sends them and waits for the answer without the read that would
// otherwise find nothing yet: one system call less per request.
type requestWriter struct {
	conn  net.Conn
	asker asker // nil: the connection cannot (not a raw socket)
	last  bool
}

func (w *requestWriter) Write(p []byte) (int, error) {
	if w.last && w.asker != nil {
		w.asker.WriteOnNextRead(p)
		return len(p), nil
	}
	return w.conn.Write(p)
}

// release ends pc's use by one request: back to the pool when the exchange left it
// clean, else closed. A cancellation that fired (stop reports false) has moved the
// deadline into the past: such a connection is closed too.
func (pc *h1Conn) release(stop func() bool, reusable bool) {
	if stop != nil && !stop() {
		reusable = false
	}
	// Bytes past the response are a broken exchange (or an answer to nothing).
	if reusable && pc.br.Buffered() == 0 {
		pc.pool.put(pc)
		return
	}
	pc.Close()
}

// h1Body is a response body on a pooled connection: when it has been read to the end
// the connection goes back to the pool; a body closed early, or broken, takes the
// connection with it (reading the rest could take for ever). Read and Close are
// used by one goroutine at a time (ReverseProxy's); the mutex only keeps a misuse
// from corrupting the pool.
type h1Body struct {
	mu       sync.Mutex
	body     io.ReadCloser
	pc       *h1Conn
	stop     func() bool
	ctx      context.Context
	reusable bool
	done     bool
	err      error // what Read returns once done
}

var errBodyClosed = errors.New("read on closed upstream response body")

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.finish(b.reusable, io.EOF)
	case err != nil:
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		}
		b.finish(false, err)
	}
	return n, err
}

// writeBuffered writes the rest of a Content-Length body to w in one Write when all
// of it is in the connection's buffer already, as it is for most small answers, and
// finishes the body as reading it to the end would. Copying it through Read costs a
// pooled buffer, a copy and two calls more. It reports false, having done nothing,
// for any other body: the caller copies it the ordinary way.
//
// The connection goes back to the pool after the Write, not before it as with Read
// (the bytes written are its buffer's): at most 4 KiB, which a client's writer
// takes into its own buffer or its socket's, so the pod's connection is held for a
// copy, not for a client.
func (b *h1Body) writeBuffered(w io.Writer) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sb, ok := b.body.(*sizedResponseBody)
	if !ok || b.done {
		return false, nil
	}
	done, err := sb.writeBuffered(w)
	if done {
		b.finish(b.reusable, io.EOF) // the pod's answer is all read, whatever w did with it
	}
	return done, err
}

// Close does not close the inner body: a body from http.ReadResponse would read
// the rest of the response to drain it.
func (b *h1Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false, errBodyClosed)
	} else if b.err == io.EOF {
		b.err = errBodyClosed
	}
	return nil
}

func (b *h1Body) finish(reuse bool, err error) {
	b.done, b.err = true, err
	b.pc.release(b.stop, reuse)
	b.pc = nil
}

// writers are the buffered writers requests are written through; they are only held
// while a request is written, so they are pooled rather than kept per connection.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writers.Put(bw)
}
