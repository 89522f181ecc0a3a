package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// BenchmarkServeHTTP drives the whole request path through the handler: match, pick,
// the lean forwarder (lean.go: forwarding headers, transport wrapper, response copy;
// these GETs are all lean requests), metrics.
//
//   - loopback: to a real net/http backend on 127.0.0.1 — the numbers include the
//     client side of net/http's Transport and the backend server in this process.
//   - stub: the shared Transport replaced by a stand-in that answers at once — what
//     the proxy and httputil.ReverseProxy cost by themselves (the stand-in allocates
//     its response: 3 allocations).
func BenchmarkServeHTTP(b *testing.B) {
	b.Run("cookie_hit/loopback", func(b *testing.B) {
		backend := startBackend(b, "a", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
		p := startProxy(b, oneHost("bench.test", backendsOf(backend), cookieAffinity()))
		ck, _ := pinnedTo(b, p, "bench.test")
		req := httptest.NewRequest(http.MethodGet, "http://bench.test/", nil)
		req.Header.Set("Cookie", "STICKY="+ck)
		req.RemoteAddr = "198.51.100.7:5000"
		run(b, p, req)
	})
	stubbed := func(b *testing.B, aff routetable.AffinityPolicy, mutate ...func(*Options)) *testProxy {
		backend := startBackend(b, "a", nil)
		p := startProxy(b, oneHost("bench.test", backendsOf(backend), aff), mutate...)
		p.upstream.base = stubUpstream{}
		return p
	}
	b.Run("cookie_hit/stub", func(b *testing.B) {
		p := stubbed(b, cookieAffinity())
		ck := p.current.Load().pickers[0].Endpoints()[0].Token
		req := httptest.NewRequest(http.MethodGet, "http://bench.test/", nil)
		req.Header.Set("Cookie", "STICKY="+ck)
		req.RemoteAddr = "198.51.100.7:5000"
		run(b, p, req)
	})
	b.Run("source_ip_trusted_xff/stub", func(b *testing.B) {
		p := stubbed(b, routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}},
			func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
		req := httptest.NewRequest(http.MethodGet, "http://bench.test/", nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.7, 10.0.0.9")
		req.RemoteAddr = "10.0.0.1:5000"
		run(b, p, req)
	})
	b.Run("no_affinity/stub", func(b *testing.B) {
		p := stubbed(b, routetable.AffinityPolicy{})
		req := httptest.NewRequest(http.MethodGet, "http://bench.test/", nil)
		req.RemoteAddr = "198.51.100.7:5000"
		run(b, p, req)
	})
}

func run(b *testing.B, p *testProxy, req *http.Request) {
	// What the server's ConnContext gives every request of a connection.
	req = req.WithContext(context.WithValue(req.Context(), connInfoKey{}, &connInfo{portHeader: []string{"80"}}))
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.code = 0
		p.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// discardWriter is a reusable ResponseWriter, so that the benchmark measures the
// proxy rather than a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}

// stubUpstream answers every request with a small 200.
type stubUpstream struct{}

var stubHeader = http.Header{"Content-Type": {"text/plain"}}

func (stubUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1, Header: stubHeader,
		Body: io.NopCloser(&okReader{}), ContentLength: 2, Request: req,
	}, nil
}

type okReader struct{ done bool }

func (r *okReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	return copy(p, "ok"), nil
}

// BenchmarkHTTPServer is one keep-alive GET and its small answer over loopback TCP,
// through net/http's server and through the fast server (h1server.go), with the same
// handler: what the server around the proxy's handler costs per request. The client
// writes raw bytes and reads the answer with http.ReadResponse, the same for both.
func BenchmarkHTTPServer(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = textPlain
		_, _ = io.WriteString(w, "ok")
	})
	for _, server := range []struct {
		name  string
		start func(testing.TB, http.Handler, func(*http.Server)) string
	}{
		{"net_http", startStdServer},
		{"fast", func(t testing.TB, h http.Handler, cfg func(*http.Server)) string {
			return startFastServer(t, h, cfg).addr
		}},
	} {
		b.Run(server.name, func(b *testing.B) {
			c := dialRaw(b, server.start(b, handler, nil))
			const get = "GET /bench HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\n\r\n"
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := io.WriteString(c.c, get); err != nil {
					b.Fatal(err)
				}
				res, err := http.ReadResponse(c.br, nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
}

// BenchmarkLeanExchange is one keep-alive GET with a valid session cookie through the
// whole proxy over loopback TCP, with a client and a pod that do nothing but copy
// fixed bytes (allocs_test.go): the proxy's own cost per request, syscalls included.
func BenchmarkLeanExchange(b *testing.B) {
	exchange := cannedSession(b, cookieAffinity(), true, "GET / HTTP/1.1\r\nUser-Agent: bench\r\nAccept: */*\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exchange()
	}
}
