package proxy

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
)

// connInfo is what the request path needs to know about the client connection.
type connInfo struct {
	tls       bool
	localPort string
}

type connInfoKey struct{}

func withConnInfo(isTLS bool) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		_, port, _ := net.SplitHostPort(c.LocalAddr().String())
		return context.WithValue(ctx, connInfoKey{}, &connInfo{tls: isTLS, localPort: port})
	}
}

// exchange is one request's state, carried on its context from ServeHTTP through the
// ReverseProxy's Rewrite, transport and hooks. Pooled: the hot path allocates none.
type exchange struct {
	areq     affinity.Request
	picker   affinity.Picker
	backend  *backendInfo
	host     string
	decision affinity.Decision
	clientIP netip.Addr
	conn     *connInfo
	retried  bool
	// began is the endpoint whose in-flight count this request holds.
	began  *affinity.Endpoint
	failed bool // the upstream attempt failed (for passive health)
	status int
	start  time.Time
}

type exchangeKey struct{}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// ServeHTTP is the request path: snapshot → match → pick → proxy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := s.current.Load()
	if c == nil {
		http.Error(w, "no route table yet", http.StatusServiceUnavailable)
		return
	}
	route, bi, ok := c.matcher.Match(r.Host, r.URL.Path)
	if !ok {
		s.metrics.notFound.Inc()
		http.Error(w, "no route for this host and path", http.StatusNotFound)
		return
	}
	x := exchanges.Get().(*exchange)
	defer func() { *x = exchange{}; exchanges.Put(x) }()
	x.start = start
	x.backend = &c.backends[bi]
	x.picker = c.pickers[bi]
	x.host = c.hostOf(route)
	x.conn, _ = r.Context().Value(connInfoKey{}).(*connInfo)
	x.clientIP = s.clientIP.resolve(r)
	x.areq = affinity.Request{HTTP: r, ClientIP: x.clientIP, TLS: r.TLS != nil, RoutePath: "/"}
	if route != nil {
		x.areq.RoutePath = route.Path
	}
	x.decision = x.picker.Pick(&x.areq)
	x.backend.metrics.decision(x.decision.Outcome)
	rw := &statusWriter{ResponseWriter: w}
	if x.decision.Endpoint == nil {
		// Strict fallback or nothing to serve: the session (cookie) is kept as it is.
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rw.Write([]byte("no endpoint available for this session\n"))
	} else {
		s.upstream.proxy.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
		if x.began != nil {
			x.began.State.End(!x.failed)
		}
	}
	s.metrics.observe(x, rw.code())
	if s.opts.AccessLog != nil {
		s.writeAccessLog(r, x, rw, time.Since(start))
	}
}

// statusWriter remembers the status code and body size for metrics and the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
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

// Unwrap lets http.ResponseController (used by ReverseProxy for flushing and for
// WebSocket upgrades) reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes streaming responses through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
