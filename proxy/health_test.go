package proxy

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// inFlight is the endpoint's in-flight count as the proxy's registry holds it.
func (p *testProxy) inFlight(ep routetable.Endpoint) int64 {
	return p.registry.State(ep.ID, ep.Address).InFlight()
}

// waitInFlightZero waits (bounded) for the handler goroutines to settle their counts:
// the client can see the response before the handler has returned.
func waitInFlightZero(t *testing.T, p *testProxy, eps ...routetable.Endpoint) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for _, ep := range eps {
		for p.inFlight(ep) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("endpoint %s still has %d requests in flight", ep.ID, p.inFlight(ep))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestClientGoneIs499AndNotAHealthFailure(t *testing.T) {
	arrived := make(chan struct{}, 8)
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	ep := slow.endpoint()
	// One failure would eject: a client that leaves must not count as one.
	p := startProxy(t, oneHost("gone.test", []routetable.Endpoint{ep}, routetable.AffinityPolicy{}),
		func(o *Options) { o.FailureThreshold = 1 })
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.httpURL+"/", nil)
		req.Host = "gone.test"
		errc := make(chan error, 1)
		go func() {
			_, err := http.DefaultTransport.RoundTrip(req)
			errc <- err
		}()
		<-arrived
		cancel()
		if err := <-errc; err == nil {
			t.Fatal("request finished despite the cancel")
		}
	}
	waitInFlightZero(t, p, ep)
	deadline := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(p.metrics.requests.WithLabelValues("gone.test", "ns/web:80", "499")) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("499s counted: %v", testutil.ToFloat64(p.metrics.requests.WithLabelValues("gone.test", "ns/web:80", "499")))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p.registry.State(ep.ID, ep.Address).Ejected() {
		t.Fatal("clients that left ejected the endpoint")
	}
}

// TestGatewayFailuresEjectTheEndpoint: an endpoint answering 502/503/504 is ejected
// after FailureThreshold of them; new sessions then avoid it; the ejection is
// counted for its backend. A 500 is the application's failure, not the endpoint's.
func TestGatewayFailuresEjectTheEndpoint(t *testing.T) {
	for _, tc := range []struct {
		code  int
		eject bool
	}{
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
		{http.StatusInternalServerError, false},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			bad := startBackend(t, "bad", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Server-Id", "bad")
				w.WriteHeader(tc.code)
			})
			good := startBackend(t, "good", nil)
			eps := backendsOf(bad, good)
			p := startProxy(t, oneHost("h.test", eps, routetable.AffinityPolicy{}),
				func(o *Options) { o.FailureThreshold = 3; o.EjectionTime = time.Minute })
			// Round-robin alternates: 6 requests give the bad endpoint its 3 failures.
			for i := 0; i < 6; i++ {
				p.get(t, "h.test")
			}
			waitInFlightZero(t, p, eps...)
			ejected := p.registry.State(eps[0].ID, eps[0].Address).Ejected()
			if ejected != tc.eject {
				t.Fatalf("ejected %v, want %v", ejected, tc.eject)
			}
			want := 0.0
			if tc.eject {
				want = 1
				for i := 0; i < 6; i++ {
					if r := p.get(t, "h.test"); r.Header.Get("X-Server-Id") != "good" {
						t.Fatalf("request %d after the ejection went to %q", i, r.Header.Get("X-Server-Id"))
					}
				}
			}
			if got := testutil.ToFloat64(p.metrics.ejections.WithLabelValues("ns/web:80")); got != want {
				t.Fatalf("ejections metric %v, want %v", got, want)
			}
		})
	}
}

func TestInFlightSettlesOnEveryPath(t *testing.T) {
	ok := startBackend(t, "ok", nil)
	boom := startBackend(t, "boom", func(w http.ResponseWriter, _ *http.Request) {
		// Promise a body and hang up halfway: ReverseProxy aborts the copy with a panic.
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	eps := map[string]routetable.Endpoint{"ok": ok.endpoint(), "boom": boom.endpoint(), "slow": slow.endpoint()}
	for name, ep := range eps {
		t.Run(name, func(t *testing.T) {
			p := startProxy(t, oneHost("f.test", []routetable.Endpoint{ep}, routetable.AffinityPolicy{}),
				func(o *Options) { o.UpstreamResponseHeaderTimeout = 200 * time.Millisecond })
			req, _ := http.NewRequest(http.MethodGet, p.httpURL+"/", nil)
			req.Host = "f.test"
			if resp, err := http.DefaultTransport.RoundTrip(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			waitInFlightZero(t, p, ep)
		})
	}
}

func TestConnectFailureRetriesABodyAndStrictKeepsTheSession(t *testing.T) {
	bodies := make(chan string, 16)
	alive := startBackend(t, "alive", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		w.Header().Set("X-Server-Id", "alive")
	})
	dead := startBackend(t, "dead", nil)
	deadEP := dead.endpoint()
	dead.Close()

	t.Run("POST body reaches the second endpoint", func(t *testing.T) {
		p := startProxy(t, oneHost("post.test", []routetable.Endpoint{alive.endpoint(), deadEP}, routetable.AffinityPolicy{}))
		for i := 0; i < 4; i++ {
			if resp := p.post(t, "post.test", "payload"); resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %d: status %d", i, resp.StatusCode)
			}
		}
		for i := 0; i < 4; i++ {
			if b := <-bodies; b != "payload" {
				t.Fatalf("request %d arrived with body %q", i, b)
			}
		}
	})

	t.Run("strict", func(t *testing.T) {
		aff := cookieAffinity()
		aff.Fallback = routetable.Strict
		both := []routetable.Endpoint{alive.endpoint(), deadEP}
		// Pin a session to the dead endpoint while it is the only one.
		p := startProxy(t, oneHost("strict.test", []routetable.Endpoint{deadEP}, aff))
		r := p.get(t, "strict.test")
		if r.StatusCode != http.StatusBadGateway {
			t.Fatalf("dead only endpoint: %d, want 502", r.StatusCode)
		}
		if err := p.Update(oneHost("strict.test", both, aff)); err != nil {
			t.Fatal(err)
		}
		token := p.current.Load().pickers[0].Endpoints()[1].Token
		if p.current.Load().pickers[0].Endpoints()[1].ID != deadEP.ID {
			t.Fatal("endpoint order changed")
		}
		r = p.get(t, "strict.test", "Cookie", "STICKY="+token)
		if r.StatusCode != http.StatusServiceUnavailable || cookieOf(r, "STICKY") != nil {
			t.Fatalf("strict session on an unreachable endpoint: %d, cookies %v; want 503 and the cookie kept", r.StatusCode, r.Header["Set-Cookie"])
		}
	})
}
