package proxy

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func TestRoutingAndNotFound(t *testing.T) {
	a, b, w, any, dflt := startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "wild", nil), startBackend(t, "any", nil), startBackend(t, "default", nil)
	routes := func(rs ...routetable.Route) []routetable.Route { return rs }
	snap := &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{
			{Host: "shop.test", Routes: routes(
				routetable.Route{Path: "/cart/checkout", PathType: routetable.PathExact, Backend: "ns/w:80"},
				routetable.Route{Path: "/cart", PathType: routetable.PathPrefix, Backend: "ns/b:80"},
				routetable.Route{Path: "/", PathType: routetable.PathPrefix, Backend: "ns/a:80"},
			)},
			{Host: "api.test", Routes: routes(routetable.Route{Path: "/v1", PathType: routetable.PathPrefix, Backend: "ns/b:80"})},
			{Host: "*.wild.test", Routes: routes(routetable.Route{Path: "/", PathType: routetable.PathPrefix, Backend: "ns/w:80"})},
		},
		Backends: []routetable.Backend{
			{Name: "ns/a:80", Endpoints: backendsOf(a)},
			{Name: "ns/b:80", Endpoints: backendsOf(b)},
			{Name: "ns/w:80", Endpoints: backendsOf(w)},
		},
	}
	withDefault := func(s *routetable.Snapshot) *routetable.Snapshot {
		c := *s
		c.VirtualHosts = append(append([]routetable.VirtualHost{}, s.VirtualHosts...),
			routetable.VirtualHost{Host: "", Routes: routes(routetable.Route{Path: "/any", PathType: routetable.PathPrefix, Backend: "ns/any:80"})})
		c.Backends = append(append([]routetable.Backend{}, s.Backends...),
			routetable.Backend{Name: "ns/any:80", Endpoints: backendsOf(any)},
			routetable.Backend{Name: "ns/default:80", Endpoints: backendsOf(dflt)})
		c.DefaultBackend = "ns/default:80"
		return &c
	}
	type req struct {
		host, path string
		want       string // the backend that answers; "" = 404
	}
	for _, tc := range []struct {
		name string
		snap *routetable.Snapshot
		reqs []req
	}{
		{"hosts and paths, no default backend", snap, []req{
			{"shop.test", "/", "a"},
			{"shop.test", "/cart/items", "b"},
			{"shop.test", "/cartx", "a"},
			{"shop.test", "/cart/checkout", "wild"},
			{"shop.test", "/cart/checkout/x", "b"},
			{"SHOP.test:8080", "/cart", "b"},
			{"shop.test.", "/cart", "b"},
			{"x.wild.test", "/anything", "wild"},
			{"a.b.wild.test", "/", ""},
			{"wild.test", "/", ""},
			{"api.test", "/v2", ""},
			{"other.test", "/", ""},
		}},
		{"catch-all host and default backend", withDefault(snap), []req{
			{"shop.test", "/", "a"},
			{"other.test", "/any/thing", "any"},
			{"other.test", "/", "default"},
			{"api.test", "/v2", "default"}, // a host's unmatched path does not fall through to the catch-all
			{"", "/any", "any"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, tc.snap)
			for _, r := range tc.reqs {
				req, _ := http.NewRequest(http.MethodGet, p.httpURL+r.path, nil)
				req.Host = r.host
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				wantCode := http.StatusOK
				if r.want == "" {
					wantCode = http.StatusNotFound
				}
				if resp.StatusCode != wantCode || resp.Header.Get("X-Server-Id") != r.want {
					t.Errorf("%s%s: %d from %q, want %d from %q", r.host, r.path, resp.StatusCode, resp.Header.Get("X-Server-Id"), wantCode, r.want)
				}
			}
		})
	}
}

func TestNoSnapshotYetAnswers503(t *testing.T) {
	p := startProxy(t, nil)
	if p.Ready() {
		t.Fatal("ready before any snapshot")
	}
	if code := p.get(t, "x").StatusCode; code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", code)
	}
}

func TestCookieAffinityThroughProxy(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)}
	p := startProxy(t, oneHost("shop.test", backendsOf(bs...), cookieAffinity()))
	first := p.get(t, "shop.test")
	ck := cookieOf(first, "STICKY")
	if ck == nil {
		t.Fatalf("no cookie: %v", first.Header["Set-Cookie"])
	}
	if !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Errorf("cookie attributes %q", first.Header.Get("Set-Cookie"))
	}
	if strings.Contains(ck.Value, "127.0.0.1") {
		t.Errorf("cookie names an address: %q", ck.Value)
	}
	for i := 0; i < 10; i++ {
		r := p.get(t, "shop.test", "Cookie", "STICKY="+ck.Value)
		if r.Header.Get("X-Server-Id") != first.Header.Get("X-Server-Id") {
			t.Fatalf("request %d moved to %s", i, r.Header.Get("X-Server-Id"))
		}
		if cookieOf(r, "STICKY") != nil {
			t.Fatal("a hit re-sent the cookie")
		}
	}
	// Forged and garbage cookies are a new session, never an error.
	for _, v := range []string{"garbage", "1.AAAAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("x", 4000), ""} {
		r := p.get(t, "shop.test", "Cookie", "STICKY="+v)
		if r.StatusCode != 200 || cookieOf(r, "STICKY") == nil {
			t.Errorf("cookie %.20q: status %d, new cookie %v", v, r.StatusCode, cookieOf(r, "STICKY") != nil)
		}
	}
}

func TestForwardingHeadersAndTrustedProxies(t *testing.T) {
	b := startBackend(t, "a", nil)
	snap := oneHost("shop.test", backendsOf(b), routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}})
	t.Run("untrusted peer cannot spoof its address", func(t *testing.T) {
		p := startProxy(t, snap)
		r := p.get(t, "shop.test", "X-Forwarded-For", "203.0.113.9", "X-Real-IP", "203.0.113.9")
		if got := r.Header.Get("X-Seen-Real-IP"); got != "127.0.0.1" {
			t.Errorf("X-Real-IP %q, want the peer 127.0.0.1", got)
		}
		if got := r.Header.Get("X-Seen-XFF"); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q, want only the peer", got)
		}
		if r.Header.Get("X-Seen-Proto") != "http" || r.Header.Get("X-Seen-Host") != "shop.test" {
			t.Errorf("proto %q host %q", r.Header.Get("X-Seen-Proto"), r.Header.Get("X-Seen-Host"))
		}
	})
	t.Run("trusted peer's chain is believed", func(t *testing.T) {
		p := startProxy(t, snap, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		r := p.get(t, "shop.test", "X-Forwarded-For", "198.51.100.7, 127.0.0.5")
		if got := r.Header.Get("X-Seen-Real-IP"); got != "198.51.100.7" {
			t.Errorf("X-Real-IP %q, want the first untrusted hop", got)
		}
		if got := r.Header.Get("X-Seen-XFF"); got != "198.51.100.7, 127.0.0.5, 127.0.0.1" {
			t.Errorf("X-Forwarded-For %q", got)
		}
	})
}

func TestBadSnapshotKeepsServingTheOldOne(t *testing.T) {
	a := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("shop.test", backendsOf(a), routetable.AffinityPolicy{}))
	bad := oneHost("shop.test", backendsOf(a), routetable.AffinityPolicy{})
	bad.VirtualHosts[0].Routes[0].Backend = "no-such-backend"
	if err := p.Update(bad); err == nil {
		t.Fatal("a snapshot routing to a missing backend was accepted")
	}
	if r := p.get(t, "shop.test"); r.StatusCode != 200 {
		t.Fatalf("old snapshot no longer served: %d", r.StatusCode)
	}
}

func TestConnectIsRefused(t *testing.T) {
	a := startBackend(t, "a", nil)
	p := startProxy(t, &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{{Host: "", Routes: []routetable.Route{{Path: "/", PathType: routetable.PathPrefix, Backend: "ns/a:80"}}}},
		Backends:     []routetable.Backend{{Name: "ns/a:80", Endpoints: backendsOf(a)}},
	})
	req, _ := http.NewRequest(http.MethodConnect, p.httpURL, nil)
	req.Host = a.endpoint().Address // even to a backend's own address
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
}
