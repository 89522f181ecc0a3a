package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
)

// errStrictMiss: the pinned endpoint could not be reached and the backend's fallback
// is Strict, so the request is not sent elsewhere (503, the session is kept).
var errStrictMiss = errors.New("pinned endpoint unreachable and fallback is strict")

// retryOnConnectFailure is the ReverseProxy's transport: it counts the attempt in the
// endpoint's in-flight requests, times it, and retries a request once on another
// endpoint when the connection to the picked one could not be made. Nothing was
// sent then, so any request is safe to retry, even a POST: a failed dial reads none
// of the body. The first attempt gets the body behind a guard whose Close does not
// reach it (the transport closes the body of a request it fails), so the retry can
// still send it. The retry re-pins the session (the picker's Retry issues a new
// cookie) unless the backend's fallback is Strict.
//
// A replayable request (a GET, as h1Transport's own retry of a stale connection
// decides: replayable) is retried so too when the pod's connection failed before a
// byte of an answer came (a pod that died with the request in hand: reset, or
// closed), much as nginx's proxy_next_upstream does by default; a POST is not, as
// the pod may have acted on it.
type retryOnConnectFailure struct{ u *upstream }

func (t retryOnConnectFailure) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	if x == nil {
		return t.u.base.RoundTrip(req)
	}
	start := monoNow()
	x.began = x.decision.Endpoint
	x.began.State.Begin()
	first, guard := req, (*bodyGuard)(nil)
	if req.Body != nil && req.Body != http.NoBody {
		guard = &bodyGuard{body: req.Body}
		first = req.WithContext(req.Context()) // a shallow copy: the caller's request is not ours to change
		first.Body = guard
	}
	resp, err := t.u.base.RoundTrip(first)
	if err != nil && !x.retried && req.Context().Err() == nil && (guard == nil || !guard.touched.Load()) &&
		(isConnectFailure(err) || replayable(req) && errors.As(err, new(*noAnswerError))) {
		resp, err = t.retry(req, x, err)
	}
	x.backend.metrics.upstreamLatency.Observe((monoNow() - start).Seconds())
	return resp, err
}

func (t retryOnConnectFailure) retry(req *http.Request, x *exchange, cause error) (*http.Response, error) {
	x.retried = true
	failed := x.began
	x.began = nil
	failed.State.End(false) // passive health hears of the failed connection at once
	d := x.picker.Retry(&x.areq, failed)
	x.backend.metrics.decision(d.Outcome)
	if d.Endpoint == nil {
		if d.Outcome == affinity.OutcomeStrictMiss {
			x.decision = d
			return nil, errStrictMiss
		}
		return nil, cause // nowhere else to go: the connect failure stands (502)
	}
	x.decision = d
	x.began = d.Endpoint
	x.began.State.Begin()
	again := req.Clone(req.Context())
	again.URL.Host = d.Endpoint.Address
	return t.u.base.RoundTrip(again)
}

// bodyGuard passes reads through and keeps Close from the body, noting whether the
// transport read from it at all.
type bodyGuard struct {
	body    io.ReadCloser
	touched atomic.Bool
}

func (g *bodyGuard) Read(p []byte) (int, error) {
	g.touched.Store(true)
	return g.body.Read(p)
}

// Close does not close the body: ReverseProxy and the server close it when the
// request is done.
func (g *bodyGuard) Close() error { return nil }

// isConnectFailure reports whether err means the connection could not be made, so
// that not a byte of the request left.
func isConnectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
