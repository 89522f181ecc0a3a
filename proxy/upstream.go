package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"syscall"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
)

// StatusClientClosedRequest is nginx's 499: the client left before the response.
const StatusClientClosedRequest = 499

// upstream is the one ReverseProxy and Transport every snapshot shares: connection
// pools and buffers outlive route-table swaps.
type upstream struct {
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	server    *Server
}

func newUpstream(opts Options, s *Server) *upstream {
	dialer := &net.Dialer{Timeout: opts.UpstreamConnectTimeout, KeepAlive: 30 * time.Second}
	u := &upstream{server: s}
	u.transport = &http.Transport{
		Proxy:                 nil, // never an environment proxy between us and pods
		DialContext:           dialer.DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: opts.UpstreamResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		// Pods speak HTTP/1.1; h2c upstreams would need their own transport.
		ForceAttemptHTTP2:  false,
		DisableCompression: true, // pass bodies through as they are
	}
	u.proxy = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      retryOnConnectFailure{u},
		BufferPool:     bufferPool{},
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.errorHandler,
		ErrorLog:       newServerErrorLog(opts.Logger),
		// 0: a response is written in one go (one syscall for headers and a small body).
		// Streams are still flushed at once: ReverseProxy flushes text/event-stream and
		// responses of unknown length (ContentLength -1) immediately.
		FlushInterval: 0,
	}
	return u
}

// rewrite points the outbound request at the picked endpoint and sets the forwarding
// headers. Incoming X-Forwarded-For is kept only from trusted proxies.
func (u *upstream) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = x.decision.Endpoint.Address
	pr.Out.Host = pr.In.Host
	if u.server.clientIP.trustedPeer(pr.In) {
		if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
			pr.Out.Header["X-Forwarded-For"] = prior
		}
	}
	pr.SetXForwarded()
	if x.clientIP.IsValid() {
		pr.Out.Header.Set("X-Real-IP", x.clientIP.String())
	}
	if x.conn != nil {
		pr.Out.Header.Set("X-Forwarded-Port", x.conn.localPort)
	}
	x.began = x.decision.Endpoint
	x.began.State.Begin()
}

// modifyResponse adds the affinity cookie and counts 5xx gateway answers as failures.
func (u *upstream) modifyResponse(resp *http.Response) error {
	x := exchangeFrom(resp.Request.Context())
	if x == nil {
		return nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		x.failed = true
	}
	if ck := x.decision.Cookie; ck != nil {
		resp.Header.Add("Set-Cookie", ck.String())
	}
	return nil
}

// errorHandler maps transport errors: client gone → 499, timeout → 504, else 502.
func (u *upstream) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		code = StatusClientClosedRequest
	case isTimeout(err):
		code = http.StatusGatewayTimeout
		x.failed = true
	case errors.Is(err, errStrictMiss):
		code = http.StatusServiceUnavailable
	default:
		x.failed = true
	}
	if code != StatusClientClosedRequest {
		u.server.log.V(1).Info("upstream error", "backend", x.backend.name, "endpoint", x.decision.Endpoint.ID, "error", err.Error())
	}
	w.WriteHeader(code)
}

var errStrictMiss = errors.New("pinned endpoint unreachable and fallback is strict")

// retryOnConnectFailure retries a request once on another endpoint when the
// connection to the picked one could not be made — nothing was sent, so any request,
// even a POST, is safe to retry. The retry re-pins the session (a new cookie) unless
// the backend's fallback is strict.
type retryOnConnectFailure struct{ u *upstream }

func (t retryOnConnectFailure) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	start := time.Now()
	resp, err := t.u.transport.RoundTrip(req)
	if err != nil && isConnectFailure(err) && x != nil && !x.retried && req.Context().Err() == nil {
		x.retried = true
		failed := x.began
		failed.State.End(false)
		x.began = nil
		d := x.picker.Retry(&x.areq, failed)
		x.backend.metrics.decision(d.Outcome)
		if d.Endpoint == nil {
			if d.Outcome == affinity.OutcomeStrictMiss {
				return nil, errStrictMiss // 503: the session is kept for its endpoint
			}
			return nil, err // nowhere else to go: the connect failure stands (502)
		}
		x.decision = d
		x.began = d.Endpoint
		x.began.State.Begin()
		retry := req.Clone(req.Context())
		retry.URL.Host = d.Endpoint.Address
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, err // a streamed body cannot be replayed
			}
			if retry.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		resp, err = t.u.transport.RoundTrip(retry)
	}
	x.backend.metrics.upstreamLatency.Observe(time.Since(start).Seconds())
	return resp, err
}

func isConnectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bufferPool shares 32 KiB copy buffers across requests and snapshots.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
