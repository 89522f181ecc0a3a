package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// StatusClientClosedRequest is nginx's 499: the client left before the response.
const StatusClientClosedRequest = 499

// upstream is the one ReverseProxy and Transport every snapshot shares: connection
// pools and buffers outlive route-table swaps, and nothing is built per request.
//
// Passive health policy: an upstream attempt fails when the connection cannot be made
// (refused, unreachable, connect timeout), when no response header arrives in time
// or the connection breaks before one does, and when the upstream itself answers 502,
// 503 or 504 (a gateway failure behind it, an overloaded or unready pod) — Envoy's
// "consecutive gateway failure". Any other answer, 500 included, is a success: the
// endpoint works, the application failed. A client that leaves counts as neither.
type upstream struct {
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	// base sends requests upstream: h1 for ordinary requests, which hands the others
	// (upgrades, Expect, large or streamed uploads) to transport. Tests may put a
	// stand-in here.
	base   http.RoundTripper
	h1     *h1Transport
	server *Server
}

func newUpstream(opts Options, s *Server) *upstream {
	dialer := &net.Dialer{Timeout: opts.UpstreamConnectTimeout, KeepAlive: 30 * time.Second}
	u := &upstream{server: s}
	u.transport = &http.Transport{
		Proxy:                 nil, // never an environment proxy between us and pods
		DialContext:           dialer.DialContext,
		MaxIdleConns:          8 * opts.UpstreamMaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   opts.UpstreamMaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: opts.UpstreamResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		// Pods speak HTTP/1.1; h2c upstreams would need their own transport.
		ForceAttemptHTTP2:  false,
		DisableCompression: true, // pass bodies through as they are
	}
	u.h1 = newH1Transport(dialer, opts.UpstreamResponseHeaderTimeout, u.transport.IdleConnTimeout,
		opts.UpstreamMaxIdleConnsPerHost, u.transport)
	u.base = u.h1
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

// modifyResponse adds the affinity cookie (on 101 Switching Protocols too, which
// ReverseProxy also passes here) and judges the answer for passive health.
func (u *upstream) modifyResponse(resp *http.Response) error {
	x := exchangeFrom(resp.Request.Context())
	if x == nil {
		return nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		x.result = attemptFailed
	case http.StatusSwitchingProtocols:
		// ReverseProxy writes the 101 on the hijacked connection, past our
		// ResponseWriter: record it here.
		x.rw.status = http.StatusSwitchingProtocols
	}
	if x.decision.Cookie != nil {
		if prior := resp.Header["Set-Cookie"]; len(prior) > 0 {
			resp.Header["Set-Cookie"] = append(prior, x.decision.SetCookie())
		} else {
			resp.Header["Set-Cookie"] = x.decision.SetCookieValues() // shared: no allocation
		}
	}
	return nil
}

// errorHandler answers a request whose upstream attempt produced no response: the
// client gone → 499, a timeout → 504, the pinned endpoint unreachable under Strict →
// 503, anything else → 502. No cookie is set: no session was established.
func (u *upstream) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	code := http.StatusBadGateway
	result := attemptFailed
	switch {
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		code, result = StatusClientClosedRequest, attemptNeutral
	case errors.Is(err, errStrictMiss):
		code = http.StatusServiceUnavailable // the failure was reported when it happened
	case isTimeout(err):
		code = http.StatusGatewayTimeout
	}
	if x != nil {
		x.result = result
		if x.rw.status == http.StatusSwitchingProtocols {
			x.rw.status = 0 // the upgrade failed after all: the code below is the answer
		}
		if code != StatusClientClosedRequest {
			ep := ""
			if x.decision.Endpoint != nil {
				ep = x.decision.Endpoint.ID
			}
			u.server.log.V(1).Info("upstream error", "backend", x.backend.name, "endpoint", ep, "status", code, "error", err.Error())
		}
	}
	w.WriteHeader(code)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bufferPool shares 32 KiB copy buffers across requests and snapshots. It pools
// array pointers, so that neither Get nor Put allocates.
type bufferPool struct{}

const copyBufferSize = 32 << 10

var buffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

func (bufferPool) Get() []byte { return buffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if cap(b) >= copyBufferSize {
		buffers.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}
