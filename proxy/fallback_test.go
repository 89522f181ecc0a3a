package proxy

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// pinnedTo makes a session on p and returns its cookie and server.
func pinnedTo(t testing.TB, p *testProxy, host string) (string, string) {
	t.Helper()
	r := p.get(t, host)
	ck := cookieOf(r, "STICKY")
	if ck == nil {
		t.Fatal("no cookie issued")
	}
	return ck.Value, r.Header.Get("X-Server-Id")
}

func without(bs []*testBackend, name string) []*testBackend {
	var out []*testBackend
	for _, b := range bs {
		if b.name != name {
			out = append(out, b)
		}
	}
	return out
}

func TestEndpointRemoved(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil)}
	for _, tc := range []struct {
		fallback   routetable.Fallback
		wantCode   int
		wantCookie bool
	}{
		{routetable.Rebalance, http.StatusOK, true},
		{routetable.Strict, http.StatusServiceUnavailable, false},
	} {
		t.Run(string(tc.fallback), func(t *testing.T) {
			aff := cookieAffinity()
			aff.Fallback = tc.fallback
			p := startProxy(t, oneHost("shop.test", backendsOf(bs...), aff))
			ck, server := pinnedTo(t, p, "shop.test")
			if err := p.Update(oneHost("shop.test", backendsOf(without(bs, server)...), aff)); err != nil {
				t.Fatal(err)
			}
			r := p.get(t, "shop.test", "Cookie", "STICKY="+ck)
			if r.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.wantCode)
			}
			if got := cookieOf(r, "STICKY") != nil; got != tc.wantCookie {
				t.Fatalf("new cookie issued: %v, want %v", got, tc.wantCookie)
			}
			if tc.fallback == routetable.Strict {
				// The endpoint comes back: the kept session is served by it again.
				if err := p.Update(oneHost("shop.test", backendsOf(bs...), aff)); err != nil {
					t.Fatal(err)
				}
				if r := p.get(t, "shop.test", "Cookie", "STICKY="+ck); r.Header.Get("X-Server-Id") != server {
					t.Fatalf("session resumed on %q, want %s", r.Header.Get("X-Server-Id"), server)
				}
			}
		})
	}
}

func TestTerminatingEndpointKeepsItsSessions(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil)}
	p := startProxy(t, oneHost("shop.test", backendsOf(bs...), cookieAffinity()))
	ck, server := pinnedTo(t, p, "shop.test")
	eps := backendsOf(bs...)
	for i := range eps {
		if eps[i].ID == "uid-"+server {
			eps[i].Ready, eps[i].Terminating = false, true
		}
	}
	if err := p.Update(oneHost("shop.test", eps, cookieAffinity())); err != nil {
		t.Fatal(err)
	}
	if r := p.get(t, "shop.test", "Cookie", "STICKY="+ck); r.Header.Get("X-Server-Id") != server {
		t.Fatalf("draining session moved to %q", r.Header.Get("X-Server-Id"))
	}
	for i := 0; i < 6; i++ {
		if r := p.get(t, "shop.test"); r.Header.Get("X-Server-Id") == server {
			t.Fatal("a new session went to the terminating endpoint")
		}
	}
}

func TestConnectFailureIsRetriedElsewhereAndRepinned(t *testing.T) {
	alive := startBackend(t, "alive", nil)
	dead := startBackend(t, "dead", nil)
	deadEP := dead.endpoint()
	dead.Close() // connections to it are now refused
	p := startProxy(t, oneHost("shop.test", []routetable.Endpoint{alive.endpoint(), deadEP}, cookieAffinity()))
	for i := 0; i < 4; i++ {
		r := p.get(t, "shop.test")
		if r.StatusCode != http.StatusOK || r.Header.Get("X-Server-Id") != "alive" {
			t.Fatalf("request %d: %d from %q", i, r.StatusCode, r.Header.Get("X-Server-Id"))
		}
		if cookieOf(r, "STICKY") == nil {
			t.Fatalf("request %d: no cookie pinning the session to the live endpoint", i)
		}
	}
}

// A pod that dies with a request in hand resets its connection before a byte of an
// answer: a GET is sent to another endpoint instead, and the session re-pinned there,
// but a POST is not, as the pod may have acted on it (502).
func TestRequestToAPodThatDiedIsRetriedWhenIdempotent(t *testing.T) {
	alive := startBackend(t, "alive", nil)
	dying := startBackend(t, "dying", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_ = c.(*net.TCPConn).SetLinger(0) // a reset, as a killed process's socket gives
		c.Close()
	})
	eps := backendsOf(alive, dying)
	p := startProxy(t, oneHost("shop.test", eps, cookieAffinity()))
	for i := range 4 { // round robin: every other request picks the dying pod first
		r := p.get(t, "shop.test")
		if r.StatusCode != http.StatusOK || r.Header.Get("X-Server-Id") != "alive" || cookieOf(r, "STICKY") == nil {
			t.Fatalf("GET %d: %d from %q", i, r.StatusCode, r.Header.Get("X-Server-Id"))
		}
	}

	p2 := startProxy(t, oneHost("shop.test", eps, cookieAffinity()))
	codes := map[int]int{}
	for range 4 {
		codes[p2.post(t, "shop.test", "order=1").StatusCode]++
	}
	if codes[http.StatusBadGateway] == 0 || codes[http.StatusOK] == 0 {
		t.Fatalf("POSTs: %v; want some answered by the live pod and some 502 from the dying one", codes)
	}
}

func TestUpstreamErrorsMapToGatewayCodes(t *testing.T) {
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	p := startProxy(t, oneHost("slow.test", backendsOf(slow), routetable.AffinityPolicy{}),
		func(o *Options) { o.UpstreamResponseHeaderTimeout = 200 * time.Millisecond })
	if code := p.get(t, "slow.test").StatusCode; code != http.StatusGatewayTimeout {
		t.Errorf("slow upstream: %d, want 504", code)
	}

	dead := startBackend(t, "dead", nil)
	ep := dead.endpoint()
	dead.Close()
	p2 := startProxy(t, oneHost("dead.test", []routetable.Endpoint{ep}, routetable.AffinityPolicy{}))
	if code := p2.get(t, "dead.test").StatusCode; code != http.StatusBadGateway {
		t.Errorf("refused upstream: %d, want 502", code)
	}
}

func TestGracefulShutdownLetsInFlightRequestsFinish(t *testing.T) {
	started := make(chan struct{})
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(500 * time.Millisecond)
		_, _ = w.Write([]byte("done"))
	})
	p := startProxy(t, oneHost("slow.test", backendsOf(slow), routetable.AffinityPolicy{}))
	result := make(chan int, 1)
	go func() { result <- p.get(t, "slow.test").StatusCode }()
	<-started
	p.stop()
	if code := <-result; code != http.StatusOK {
		t.Fatalf("in-flight request ended with %d during shutdown", code)
	}
}
