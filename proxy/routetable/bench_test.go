package routetable

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// bigSnapshot has hosts exact hosts, hosts/10 wildcards and a catch-all, each with
// perHost routes mixing Exact and Prefix paths of depth 1 to 4.
func bigSnapshot(hosts, perHost int) *Snapshot {
	s := &Snapshot{DefaultBackend: "default"}
	s.Backends = append(s.Backends, Backend{Name: "default"})
	for b := 0; b < 50; b++ {
		s.Backends = append(s.Backends, Backend{Name: fmt.Sprintf("ns/svc-%02d:80", b)})
	}
	routes := func(h int) []Route {
		rs := make([]Route, 0, perHost)
		for r := 0; r < perHost; r++ {
			var p string
			switch r % 4 {
			case 0:
				p = fmt.Sprintf("/svc-%d", r)
			case 1:
				p = fmt.Sprintf("/svc-%d/api", r)
			case 2:
				p = fmt.Sprintf("/svc-%d/api/v1", r)
			case 3:
				p = fmt.Sprintf("/svc-%d/api/v1/items", r)
			}
			t := PathPrefix
			if r%5 == 0 {
				t = PathExact
			}
			rs = append(rs, Route{Path: p, PathType: t, Backend: s.Backends[1+(h+r)%50].Name})
		}
		rs = append(rs, Route{Path: "/", PathType: PathPrefix, Backend: s.Backends[1+h%50].Name})
		return rs
	}
	for h := 0; h < hosts; h++ {
		s.VirtualHosts = append(s.VirtualHosts, VirtualHost{Host: fmt.Sprintf("host-%d.example.com", h), Routes: routes(h)})
	}
	for h := 0; h < hosts/10; h++ {
		s.VirtualHosts = append(s.VirtualHosts, VirtualHost{Host: fmt.Sprintf("*.wild-%d.example.com", h), Routes: routes(h)})
	}
	s.VirtualHosts = append(s.VirtualHosts, VirtualHost{Host: "", Routes: routes(0)[:min(perHost, 20)]})
	return s
}

func routeCount(s *Snapshot) int {
	n := 0
	for _, vh := range s.VirtualHosts {
		n += len(vh.Routes)
	}
	return n
}

// BenchmarkMatch10kRoutes matches host and path over about 10,000 routes laid out
// three ways: many small hosts, a few large ones, and one host holding them all.
func BenchmarkMatch10kRoutes(b *testing.B) {
	layouts := []struct {
		name           string
		hosts, perHost int
	}{
		{"900hostsx10", 900, 10},
		{"90hostsx100", 90, 100},
		{"1hostx10k", 1, 10000},
	}
	for _, l := range layouts {
		s := bigSnapshot(l.hosts, l.perHost)
		m, err := Compile(s)
		if err != nil {
			b.Fatal(err)
		}
		host := fmt.Sprintf("Host-%d.Example.com:443", l.hosts/2)
		path := fmt.Sprintf("/svc-%d/api/v1/items/12345", l.perHost-1-(l.perHost-1)%4+3)
		if _, _, ok := m.Match(host, path); !ok {
			b.Fatal("no match")
		}
		b.Run(fmt.Sprintf("%s/%droutes", l.name, routeCount(s)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Match(host, path)
			}
		})
	}
}

func BenchmarkCompile10kRoutes(b *testing.B) {
	s := bigSnapshot(900, 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile10kBackends is the control plane's scale: 10k hosts of one route,
// each to its own backend of 10 endpoints.
func BenchmarkCompile10kBackends(b *testing.B) {
	s := &Snapshot{}
	for i := range 10_000 {
		name := fmt.Sprintf("ns-%d/app-%d:80", i%100, i)
		be := Backend{Name: name, Affinity: AffinityPolicy{Cookie: &CookieAffinity{Name: "STICKY"}}}
		for e := range 10 {
			n := i*10 + e
			be.Endpoints = append(be.Endpoints, Endpoint{ID: fmt.Sprintf("uid-%07d", n),
				Address: fmt.Sprintf("198.%d.%d.%d:8080", 18+(n>>16)&1, (n>>8)&255, n&255), Ready: true, Serving: true})
		}
		s.Backends = append(s.Backends, be)
		s.VirtualHosts = append(s.VirtualHosts, VirtualHost{Host: fmt.Sprintf("app-%d.ns-%d.example.com", i, i%100),
			Routes: []Route{{Path: "/", PathType: PathPrefix, Backend: name, Source: "ns/app"}}})
	}
	slices.SortFunc(s.Backends, func(x, y Backend) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(s.VirtualHosts, func(x, y VirtualHost) int { return strings.Compare(x.Host, y.Host) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}
