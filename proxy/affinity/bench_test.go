package affinity

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// benchSnapshot has 900 hosts × 11 routes (about 10k routes) over 50 cookie-affinity
// backends of 20 endpoints each.
func benchSnapshot() *routetable.Snapshot {
	s := &routetable.Snapshot{}
	for b := range 50 {
		e := eps(20)
		for i := range e {
			e[i].ID = fmt.Sprintf("b%02d-%s", b, e[i].ID)
		}
		s.Backends = append(s.Backends, *cookieBackend(e, routetable.CookieAffinity{Name: "STICKY", HTTPOnly: true, SameSite: routetable.SameSiteLax}))
		s.Backends[b].Name = fmt.Sprintf("ns/svc-%02d:80", b)
	}
	for h := range 900 {
		vh := routetable.VirtualHost{Host: fmt.Sprintf("host-%d.example.com", h)}
		for r := range 10 {
			vh.Routes = append(vh.Routes, routetable.Route{Path: fmt.Sprintf("/svc-%d/api", r), PathType: routetable.PathPrefix, Backend: s.Backends[(h+r)%50].Name})
		}
		vh.Routes = append(vh.Routes, routetable.Route{Path: "/", PathType: routetable.PathPrefix, Backend: s.Backends[h%50].Name})
		s.VirtualHosts = append(s.VirtualHosts, vh)
	}
	return s
}

// BenchmarkMatchAndCookiePick10kRoutes is the request path up to the endpoint: match
// host and path among 10k routes, then honour a valid affinity cookie (a Hit).
func BenchmarkMatchAndCookiePick10kRoutes(b *testing.B) {
	s := benchSnapshot()
	m, err := routetable.Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	pickers, err := CompileAll(s, testKeys, NewRegistry(RegistryOptions{}), Options{})
	if err != nil {
		b.Fatal(err)
	}
	route, bi, ok := m.Match("host-450.example.com", "/svc-7/api/cart")
	if !ok {
		b.Fatal("no match")
	}
	token := pickers[bi].Endpoints()[11].Token
	hr := &http.Request{Host: "Host-450.Example.com:443", URL: &url.URL{Path: "/svc-7/api/cart"},
		Header: http.Header{"Cookie": {"_ga=GA1.2.3; STICKY=" + token + "; theme=dark"}}}
	r := &Request{HTTP: hr, ClientIP: netip.MustParseAddr("198.51.100.7"), RoutePath: route.Path}
	b.ReportAllocs()
	for b.Loop() {
		_, bi, _ := m.Match(hr.Host, hr.URL.Path)
		d := pickers[bi].Pick(r)
		if d.Outcome != OutcomeHit {
			b.Fatal(d.Outcome)
		}
	}
}

// BenchmarkPick covers each picker on its common path.
func BenchmarkPick(b *testing.B) {
	e := eps(20)
	bounded := headerBackend(e, "X-User-Id", "")
	bounded.Affinity.BalanceFactor = 1.25
	maxAge := cookieBackend(e, routetable.CookieAffinity{MaxAge: time.Hour})
	cases := []struct {
		name    string
		backend *routetable.Backend
		opts    Options
		request func(p Picker) *Request
	}{
		{"cookie/hit", cookieBackend(e, routetable.CookieAffinity{}), Options{}, func(p Picker) *Request {
			return withCookie("STICKY", p.Endpoints()[3].Token)
		}},
		{"cookie/hit-sliding-refresh", maxAge, Options{SlidingCookies: true}, func(p Picker) *Request {
			return withCookie("STICKY", p.Endpoints()[3].Token)
		}},
		{"cookie/new", maxAge, Options{}, func(Picker) *Request { return request("Cookie", "other=1") }},
		{"cookie/new-least-request", withLB(cookieBackend(e, routetable.CookieAffinity{}), routetable.LeastRequest), Options{}, func(Picker) *Request { return request() }},
		{"source-ip/v4", sourceIPBackend(e, 24), Options{}, func(Picker) *Request { return ipRequest("198.51.100.7") }},
		{"source-ip/v6", sourceIPBackend(e, 0), Options{}, func(Picker) *Request { return ipRequest("2001:db8::1:2:3") }},
		{"header", headerBackend(e, "X-User-Id", ""), Options{}, func(Picker) *Request {
			return request("X-User-Id", "4f1c2a9e-5b7d-4c3e-9a1f-2b6d8e0c7a53")
		}},
		{"header/maglev", headerBackend(e, "X-User-Id", ""), Options{TableSize: 65521}, func(Picker) *Request {
			return request("X-User-Id", "4f1c2a9e-5b7d-4c3e-9a1f-2b6d8e0c7a53")
		}},
		{"header/rendezvous-largest", headerBackend(eps(rendezvousMaxMembers), "X-User-Id", ""), Options{}, func(Picker) *Request {
			return request("X-User-Id", "4f1c2a9e-5b7d-4c3e-9a1f-2b6d8e0c7a53")
		}},
		{"header/bounded-load", bounded, Options{}, func(Picker) *Request {
			return request("X-User-Id", "4f1c2a9e-5b7d-4c3e-9a1f-2b6d8e0c7a53")
		}},
		{"app-cookie", headerBackend(e, "JSESSIONID", routetable.KeyFromCookie), Options{}, func(Picker) *Request {
			return request("Cookie", "a=1; JSESSIONID=8F3C2A1B9D; b=2")
		}},
		{"query", headerBackend(e, "user", routetable.KeyFromQuery), Options{}, func(Picker) *Request {
			return &Request{HTTP: &http.Request{URL: &url.URL{RawQuery: "page=2&user=alice"}}}
		}},
		{"none/round-robin", &routetable.Backend{Name: "b", Endpoints: e}, Options{}, func(Picker) *Request { return request() }},
		{"none/least-request", withLB(&routetable.Backend{Name: "b", Endpoints: e}, routetable.LeastRequest), Options{}, func(Picker) *Request { return request() }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p := mustCompile(b, tc.backend, testKeys, nil, tc.opts)
			r := tc.request(p)
			// Some load, so that bounded load and least request do their sums.
			for i, ep := range p.Endpoints() {
				for range i % 3 {
					ep.State.Acquire()
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if d := p.Pick(r); d.Endpoint == nil {
					b.Fatal(d.Outcome)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, mode := range []string{"cookie", "header"} {
			backend := cookieBackend(eps(n), routetable.CookieAffinity{})
			if mode == "header" {
				backend = headerBackend(eps(n), "X", "")
			}
			b.Run(fmt.Sprintf("%s/%d-endpoints/cold", mode, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					mustCompile(b, backend, testKeys, NewRegistry(RegistryOptions{}), Options{})
				}
			})
			b.Run(fmt.Sprintf("%s/%d-endpoints/warm", mode, n), func(b *testing.B) {
				reg := NewRegistry(RegistryOptions{})
				mustCompile(b, backend, testKeys, reg, Options{})
				b.ReportAllocs()
				for b.Loop() {
					mustCompile(b, backend, testKeys, reg, Options{})
				}
			})
		}
	}
}

// BenchmarkBoundedLoadBusy: every endpoint has requests in flight, so each pick sums
// the backend's in-flight counts (O(endpoints)).
func BenchmarkBoundedLoadBusy(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("%d-endpoints", n), func(b *testing.B) {
			backend := headerBackend(eps(n), "X-User-Id", "")
			backend.Affinity.BalanceFactor = 1.25
			p := mustCompile(b, backend, nil, nil, Options{})
			for _, e := range p.Endpoints() {
				e.State.Acquire()
			}
			r := request("X-User-Id", "4f1c2a9e-5b7d-4c3e-9a1f-2b6d8e0c7a53")
			b.ReportAllocs()
			for b.Loop() {
				p.Pick(r)
			}
		})
	}
}
