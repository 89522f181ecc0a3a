package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeHTTPCookieHit: the whole request path through the handler (match,
// cookie pick, ReverseProxy to a loopback backend) for a client with a valid cookie.
func BenchmarkServeHTTPCookieHit(b *testing.B) {
	backend := startBackend(b, "a", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	p := startProxy(b, oneHost("bench.test", backendsOf(backend), cookieAffinity()))
	ck, _ := pinnedTo(b, p, "bench.test")
	req := httptest.NewRequest(http.MethodGet, "http://bench.test/", nil)
	req.Header.Set("Cookie", "STICKY="+ck)
	req.RemoteAddr = "198.51.100.7:5000"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
