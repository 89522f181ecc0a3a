package proxy

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// echoHeaders is a backend that answers with the request's headers as JSON.
func echoHeaders(t *testing.T) *testBackend {
	return startBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		_ = json.NewEncoder(w).Encode(h)
	})
}

func (p *testProxy) headersSeen(t *testing.T, host string, headers ...string) (http.Header, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.httpURL+"/", nil)
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h http.Header
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h, resp
}

func TestForwardingHeaders(t *testing.T) {
	b := echoHeaders(t)
	snap := oneHost("fwd.test", backendsOf(b), cookieAffinity())
	forged := []string{
		"X-Forwarded-For", "203.0.113.9",
		"X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "evil.test",
		"X-Forwarded-Port", "443",
		"X-Real-IP", "203.0.113.9",
		"Forwarded", "for=203.0.113.9;proto=https",
	}
	for _, tc := range []struct {
		name    string
		trusted bool
		send    []string
		want    map[string]string // "" = absent
		secure  bool
	}{
		{"untrusted peer: forged headers dropped", false, forged, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "fwd.test",
			"X-Real-Ip": "127.0.0.1", "Forwarded": "", "Host": "fwd.test",
		}, false},
		{"trusted peer: its word is taken", true, forged, map[string]string{
			"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test",
			"X-Forwarded-Port": "443", "X-Real-Ip": "203.0.113.9", "Forwarded": "", "Host": "fwd.test",
		}, true},
		{"trusted peer without headers", true, nil, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "fwd.test", "X-Real-Ip": "127.0.0.1",
		}, false},
		{"trusted peer with a nonsense scheme", true, []string{"X-Forwarded-Proto", "gopher"}, map[string]string{
			"X-Forwarded-Proto": "http",
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, snap, func(o *Options) {
				if tc.trusted {
					o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				}
			})
			seen, resp := p.headersSeen(t, "fwd.test", tc.send...)
			for k, want := range tc.want {
				if got := strings.Join(seen[k], ","); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if port := seen.Get("X-Forwarded-Port"); port == "" || (!tc.trusted && port == "443") {
				t.Errorf("X-Forwarded-Port %q", port)
			}
			ck := cookieOf(resp, "STICKY")
			if ck == nil || ck.Secure != tc.secure {
				t.Errorf("cookie %v, want Secure=%v", resp.Header["Set-Cookie"], tc.secure)
			}
		})
	}
}

// TestHopByHopHeadersAreNotForwarded: headers named in Connection and the standard
// hop-by-hop ones stay between the client and the proxy.
func TestHopByHopHeadersAreNotForwarded(t *testing.T) {
	b := echoHeaders(t)
	p := startProxy(t, oneHost("hop.test", backendsOf(b), routetable.AffinityPolicy{}))
	seen, _ := p.headersSeen(t, "hop.test", "Connection", "X-Secret", "X-Secret", "1", "Keep-Alive", "timeout=5", "Proxy-Authorization", "Basic eA==")
	for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Upgrade"} {
		if v, ok := seen[k]; ok {
			t.Errorf("%s forwarded: %q", k, v)
		}
	}
}
