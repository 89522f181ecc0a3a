package proxy

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/clientip"
)

// connInfo is what the request path needs to know about the client connection,
// worked out once per connection.
type connInfo struct {
	tls bool
	// portHeader is the X-Forwarded-Port value: shared by the connection's requests,
	// and never appended to in place (its capacity is 1).
	portHeader []string
	// peerHeaders are the X-Real-IP and X-Forwarded-For values when the client is
	// the peer itself, made on the connection's first request: not in ConnContext,
	// which runs in the accept loop, where asking a PROXY-protocol connection for
	// its address would wait for its header. Layout: remote address, X-Real-IP,
	// X-Forwarded-For (absent when the address has no port).
	peerHeaders atomic.Pointer[[]string]
	// hostHeader is the X-Forwarded-Host value of the connection's last request,
	// [Host]: a connection's requests nearly always name one host.
	hostHeader atomic.Pointer[[]string]
	// cancel is the fast server's cancellation of the connection's context (nil
	// for connections net/http serves).
	cancel *connCancel
}

// peerValues returns the per-connection header values for remoteAddr, whose address
// is a (see peerHeaders).
func (ci *connInfo) peerValues(remoteAddr string, a netip.Addr) []string {
	if v := ci.peerHeaders.Load(); v != nil && (*v)[0] == remoteAddr {
		return *v
	}
	v := []string{remoteAddr, addrString(remoteAddr, a)}
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		v = append(v, host)
	}
	ci.peerHeaders.Store(&v)
	return v
}

// realIPHeader returns the X-Real-IP value for a, the connection's peer, made once
// per connection.
func (ci *connInfo) realIPHeader(remoteAddr string, a netip.Addr) []string {
	return ci.peerValues(remoteAddr, a)[1:2:2]
}

// forwardedForHeader returns the X-Forwarded-For value naming the peer alone (the
// host of remoteAddr, as httputil's SetXForwarded writes it), or nil when
// remoteAddr has no port.
func (ci *connInfo) forwardedForHeader(remoteAddr string, a netip.Addr) []string {
	if v := ci.peerValues(remoteAddr, a); len(v) == 3 {
		return v[2:3:3]
	}
	return nil
}

// forwardedHostHeader returns [host], reused while the connection's requests name
// the same host. The value is a copy: host is a string of the request's head, whose
// bytes the connection's next request may take (headArena.rewind).
func (ci *connInfo) forwardedHostHeader(host string) []string {
	if v := ci.hostHeader.Load(); v != nil && (*v)[0] == host {
		return *v
	}
	v := []string{strings.Clone(host)}
	ci.hostHeader.Store(&v)
	return v
}

type connInfoKey struct{}

func withConnInfo(isTLS bool) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connInfoKey{}, newConnInfo(isTLS, c))
	}
}

func newConnInfo(isTLS bool, c net.Conn) *connInfo {
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	return &connInfo{tls: isTLS, portHeader: []string{port}}
}

// exchange is one request's state, carried on its context from ServeHTTP through the
// ReverseProxy's Rewrite, transport and hooks, which all run on the handler's
// goroutine. Pooled: the request path allocates none.
type exchange struct {
	areq     affinity.Request
	picker   affinity.Picker
	backend  *backendInfo
	route    *routeMetrics
	decision affinity.Decision
	conn     *connInfo
	rw       statusWriter
	start    time.Time

	peer        netip.Addr
	clientIP    netip.Addr
	trustedPeer bool
	// forwardedProto is the scheme a trusted proxy reports ("" = not reported).
	forwardedProto string

	retried bool
	// began is the endpoint whose in-flight count this request holds; result is the
	// attempt's verdict for passive health.
	began  *affinity.Endpoint
	result attemptResult
}

// overTLS reports whether r came over TLS. r.TLS alone does not say: a TLS
// connection the fast server hands to net/http after reading from it reaches
// net/http as plain bytes, and only its connInfo still knows.
func (x *exchange) overTLS(r *http.Request) bool {
	return r.TLS != nil || x.conn != nil && x.conn.tls
}

// attemptResult is what an upstream attempt tells passive health.
type attemptResult uint8

const (
	attemptOK      attemptResult = iota
	attemptFailed                // the endpoint failed: counts towards ejection
	attemptNeutral               // the client went away: says nothing about the endpoint
)

type exchangeKey struct{}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

var (
	bodyNoRoute    = []byte("no route for this host and path\n")
	bodyNoSnapshot = []byte("no route table yet\n")
	bodyNoEndpoint = []byte("no endpoint available for this session\n")
	bodyConnect    = []byte("CONNECT is not supported\n")
)

// ServeHTTP is the request path: snapshot → match → pick → proxy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time // for the access log's duration: time.Now reads two clocks (monoclock.go)
	if s.access.w != nil {
		start = time.Now()
	}
	if r.Method == http.MethodConnect {
		// An ingress is no forward proxy; ReverseProxy would pass CONNECT on as if
		// it were an ordinary request.
		s.unrouted(w, r, start, http.StatusMethodNotAllowed, bodyConnect)
		return
	}
	c := s.current.Load()
	if c == nil {
		s.unrouted(w, r, start, http.StatusServiceUnavailable, bodyNoSnapshot)
		return
	}
	route, bi, ok := c.matcher.Match(r.Host, r.URL.Path)
	if !ok {
		s.metrics.notFound.Inc()
		s.unrouted(w, r, start, http.StatusNotFound, bodyNoRoute)
		return
	}
	if isUpgrade(r) {
		if t := s.tunnels.Load(); t != nil {
			var done func()
			r, done = t.track(r)
			defer done()
		}
	}
	x := exchanges.Get().(*exchange)
	x.start = start
	x.backend = &c.backends[bi]
	x.picker = c.pickers[bi]
	x.route = c.routeMetricsOf(route)
	x.conn, _ = r.Context().Value(connInfoKey{}).(*connInfo)
	x.rw.ResponseWriter = w
	s.resolveClient(x, r)
	x.areq = affinity.Request{HTTP: r, ClientIP: x.clientIP, TLS: x.overTLS(r) || x.forwardedProto == "https", RoutePath: "/"}
	if route != nil {
		x.areq.RoutePath = route.Path
	}
	// ReverseProxy turns a failed copy of the response body into a panic
	// (http.ErrAbortHandler): the in-flight count, metrics and log are settled on the
	// way out all the same.
	defer func() {
		if p := recover(); p != nil {
			x.result = attemptFailed
			if r.Context().Err() != nil {
				x.result = attemptNeutral
			}
			s.finish(r, x)
			panic(p)
		}
	}()

	x.decision = x.picker.Pick(&x.areq)
	x.backend.metrics.decision(x.decision.Outcome)
	if x.decision.Endpoint == nil {
		// Strict fallback or nothing to serve: 503, and the session's cookie is left
		// as it is, so it resumes when its endpoint comes back.
		plainError(&x.rw, http.StatusServiceUnavailable, bodyNoEndpoint)
	} else if leanEligible(r) {
		s.upstream.serveLean(&x.rw, r, x)
	} else {
		s.upstream.proxy.ServeHTTP(&x.rw, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
	}
	s.finish(r, x)
}

// finish settles a request: the endpoint's in-flight count and health, metrics and the
// access log; then the exchange goes back to the pool.
func (s *Server) finish(r *http.Request, x *exchange) {
	if e := x.began; e != nil {
		switch x.result {
		case attemptOK:
			e.State.End(true)
		case attemptFailed:
			e.State.End(false)
		default:
			e.State.Release()
		}
	}
	code := x.rw.code()
	if x.route != nil {
		x.route.count(code)
	}
	if s.access.w != nil {
		s.access.write(r, x, code, time.Since(x.start))
	}
	*x = exchange{}
	exchanges.Put(x)
}

// unrouted answers a request that no backend serves, and logs it.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request, start time.Time, code int, body []byte) {
	plainError(w, code, body)
	if s.access.w != nil {
		x := exchanges.Get().(*exchange)
		s.resolveClient(x, r)
		x.rw.bytes = int64(len(body))
		s.access.write(r, x, code, time.Since(start))
		*x = exchange{}
		exchanges.Put(x)
	}
}

// resolveClient works out the client's address and whether the peer is a trusted
// proxy, whose word on the original scheme is then taken too.
func (s *Server) resolveClient(x *exchange, r *http.Request) {
	x.peer = clientip.Peer(r.RemoteAddr)
	x.clientIP = x.peer
	if !s.clientIP.TrustsAnyone() || !s.clientIP.Trusted(x.peer) {
		return
	}
	x.trustedPeer = true
	x.clientIP = s.clientIP.ResolveFrom(x.peer, r.Header)
	if v := r.Header["X-Forwarded-Proto"]; len(v) > 0 && (v[0] == "https" || v[0] == "http") {
		x.forwardedProto = v[0]
	}
}

// plainError writes a short text answer. Headers are assigned directly: these are
// canonical keys, and Set would canonicalise them again.
func plainError(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noSniff   = []string{"nosniff"}
)

// statusWriter remembers the status code and body size for metrics and the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the first final status (1xx informational answers, such as 103
// Early Hints, may precede it; 101 is final).
func (w *statusWriter) WriteHeader(code int) {
	w.record(code)
	w.ResponseWriter.WriteHeader(code)
}

// record notes code if it is the first final status.
func (w *statusWriter) record(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// adoptHeader passes headerAdopter through (the lean forwarder's header hand-over).
func (w *statusWriter) adoptHeader(h http.Header) (http.Header, bool) {
	if a, ok := w.ResponseWriter.(headerAdopter); ok {
		return a.adoptHeader(h)
	}
	return nil, false
}

// Unwrap lets http.ResponseController (used by ReverseProxy for flushing and for
// WebSocket upgrades) reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes streaming responses through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
