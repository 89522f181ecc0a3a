package proxy

import (
	"context"

	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// testBackend is a real HTTP server on loopback that names itself and echoes what the
// proxy told it about the client.
type testBackend struct {
	name string
	*httptest.Server
}

func startBackend(t testing.TB, name string, h http.HandlerFunc) *testBackend {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Server-Id", name)
			w.Header().Set("X-Seen-Real-IP", r.Header.Get("X-Real-IP"))
			w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
			w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
			w.Header().Set("X-Seen-Host", r.Host)
			_, _ = io.WriteString(w, name)
		}
	}
	b := &testBackend{name: name, Server: httptest.NewServer(h)}
	t.Cleanup(b.Close)
	return b
}

func (b *testBackend) endpoint() routetable.Endpoint {
	return routetable.Endpoint{ID: "uid-" + b.name, Address: strings.TrimPrefix(b.URL, "http://"), Ready: true, Serving: true}
}

func backendsOf(bs ...*testBackend) []routetable.Endpoint {
	var out []routetable.Endpoint
	for _, b := range bs {
		out = append(out, b.endpoint())
	}
	return out
}

// oneHost is a snapshot with one host routing / to one backend.
func oneHost(host string, eps []routetable.Endpoint, aff routetable.AffinityPolicy) *routetable.Snapshot {
	return &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{{Host: host, Routes: []routetable.Route{
			{Path: "/", PathType: routetable.PathPrefix, Backend: "ns/web:80"},
		}}},
		Backends: []routetable.Backend{{Name: "ns/web:80", Endpoints: eps, Affinity: aff}},
	}
}

func cookieAffinity() routetable.AffinityPolicy {
	return routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{
		Name: "STICKY", HTTPOnly: true, SameSite: routetable.SameSiteLax, Secure: routetable.SecureAuto,
	}}
}

// testProxy is a running Server on loopback listeners.
type testProxy struct {
	*Server
	httpURL, httpsAddr string
	stop               func()       // shut down; an error fails the test
	shutdown           func() error // shut down and return Serve's error
	reg                *prometheus.Registry
}

func startProxy(t testing.TB, snap *routetable.Snapshot, mutate ...func(*Options)) *testProxy {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts := Options{Logger: logr.Discard(), Registerer: reg, UpstreamConnectTimeout: time.Second,
		UpstreamResponseHeaderTimeout: 2 * time.Second, ShutdownTimeout: 5 * time.Second}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCookieKeys([][]byte{[]byte("proxy-test-cookie-key-0123456789")}); err != nil {
		t.Fatal(err)
	}
	if snap != nil {
		if err := s.Update(snap); err != nil {
			t.Fatal(err)
		}
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, httpLn, httpsLn) }()
	p := &testProxy{Server: s, httpURL: "http://" + httpLn.Addr().String(), httpsAddr: httpsLn.Addr().String(), reg: reg}
	p.shutdown = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Error("proxy did not stop")
			return nil
		}
	}
	p.stop = func() {
		if err := p.shutdown(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			p.stop()
		}
	})
	return p
}

// get sends one request with the given Host and extra headers ("K", "V", …).
func (p *testProxy) get(t testing.TB, host string, headers ...string) *http.Response {
	t.Helper()
	return p.send(t, http.MethodGet, host, nil, headers...)
}

// post sends a POST of body with the given Host.
func (p *testProxy) post(t testing.TB, host, body string) *http.Response {
	t.Helper()
	return p.send(t, http.MethodPost, host, strings.NewReader(body))
}

// send sends one request; the answer's body is read and closed.
func (p *testProxy) send(t testing.TB, method, host string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, p.httpURL+"/", body)
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, host, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// The proxy's tests run with the head arena's given-back bytes poisoned
// (poisonRewoundHeads), so that a string kept past its request's release shows,
// and with small sends batched as a worker's are (rawsocket.BatchSends; where
// io_uring is refused, they are system calls, as before).
func init() {
	poisonRewoundHeads.Store(true)
	_ = rawsocket.BatchSends()
}
