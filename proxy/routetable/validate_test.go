package routetable

import (
	"math"
	"strings"
	"testing"
	"time"
)

func validSnapshot() *Snapshot {
	return &Snapshot{
		DefaultBackend: "shop/web:80",
		VirtualHosts: []VirtualHost{
			{Host: "shop.example.com", Routes: []Route{{Path: "/cart", PathType: PathPrefix, Backend: "shop/cart:80", Source: "shop/cart"}}},
			{Host: "*.example.com", Routes: []Route{{Path: "/", PathType: PathPrefix, Backend: "shop/web:80"}}},
			{Host: "", Routes: []Route{{Path: "/", PathType: PathExact, Backend: "shop/web:80"}}},
		},
		Backends: []Backend{
			{Name: "shop/cart:80", LoadBalance: LeastRequest, Endpoints: []Endpoint{
				{ID: "uid-1", Address: "10.0.0.1:8080", Ready: true, Serving: true},
				{ID: "uid-2", Address: "[fd00::2]:8080", Weight: 3, Ready: true, Serving: true},
			}, Affinity: AffinityPolicy{
				Cookie:   &CookieAffinity{Name: "CART", Path: "/cart", Domain: ".example.com", MaxAge: time.Hour, Secure: SecureAuto, HTTPOnly: true, SameSite: SameSiteLax},
				Fallback: Strict,
			}},
			{Name: "shop/web:80", Affinity: AffinityPolicy{SourceIP: &SourceIPAffinity{IPv4PrefixLength: 24}, BalanceFactor: 1.25}},
		},
	}
}

func TestValidateAcceptsValid(t *testing.T) {
	if err := validSnapshot().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (&Snapshot{}).Validate(); err != nil {
		t.Fatalf("empty snapshot: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *Snapshot)
		want   string // a substring of the error, naming what is wrong
	}{
		{"duplicate backend", func(s *Snapshot) { s.Backends[1].Name = "shop/cart:80" }, `backend "shop/cart:80": duplicate name`},
		{"empty backend name", func(s *Snapshot) { s.Backends[1].Name = "" }, "backend 1: name is empty"},
		{"route to missing backend", func(s *Snapshot) { s.VirtualHosts[0].Routes[0].Backend = "nope" }, `virtual host "shop.example.com": route 0 (path "/cart" from shop/cart): backend "nope" does not exist`},
		{"missing default backend", func(s *Snapshot) { s.DefaultBackend = "nope" }, `default backend "nope" does not exist`},
		{"path without slash", func(s *Snapshot) { s.VirtualHosts[0].Routes[0].Path = "cart" }, "does not begin with /"},
		{"path with space", func(s *Snapshot) { s.VirtualHosts[0].Routes[0].Path = "/a b" }, "control or space"},
		{"unknown path type", func(s *Snapshot) { s.VirtualHosts[0].Routes[0].PathType = "Regex" }, `unknown path type "Regex"`},
		{"duplicate host", func(s *Snapshot) { s.VirtualHosts[1].Host = "SHOP.example.com" }, `virtual host "SHOP.example.com": duplicate host`},
		{"bad wildcard", func(s *Snapshot) { s.VirtualHosts[1].Host = "a.*.example.com" }, "not a DNS name"},
		{"bare star", func(s *Snapshot) { s.VirtualHosts[1].Host = "*" }, "not a DNS name"},
		{"host with port", func(s *Snapshot) { s.VirtualHosts[0].Host = "shop.example.com:80" }, "not a DNS name"},
		{"host with empty label", func(s *Snapshot) { s.VirtualHosts[0].Host = "shop..example.com" }, "empty or over-long label"},
		{"duplicate endpoint", func(s *Snapshot) { s.Backends[0].Endpoints[1].ID = "uid-1" }, `backend "shop/cart:80": endpoint "uid-1": duplicate ID`},
		{"empty endpoint id", func(s *Snapshot) { s.Backends[0].Endpoints[1].ID = "" }, "endpoint 1 ([fd00::2]:8080): empty ID"},
		{"address without port", func(s *Snapshot) { s.Backends[0].Endpoints[0].Address = "10.0.0.1" }, `address "10.0.0.1" is not host:port`},
		{"negative weight", func(s *Snapshot) { s.Backends[0].Endpoints[0].Weight = -1 }, "negative weight"},
		{"unknown load balance", func(s *Snapshot) { s.Backends[0].LoadBalance = "Random" }, `unknown load balance "Random"`},
		{"two affinities", func(s *Snapshot) { s.Backends[0].Affinity.Header = &HeaderAffinity{Name: "X-User"} }, "at most one may be set"},
		{"unknown fallback", func(s *Snapshot) { s.Backends[0].Affinity.Fallback = "Maybe" }, `unknown fallback "Maybe"`},
		{"balance factor 1", func(s *Snapshot) { s.Backends[1].Affinity.BalanceFactor = 1 }, "balance factor 1"},
		{"balance factor 0.5", func(s *Snapshot) { s.Backends[1].Affinity.BalanceFactor = 0.5 }, "want 0 (unbounded) or a number > 1"},
		{"balance factor NaN", func(s *Snapshot) { s.Backends[1].Affinity.BalanceFactor = math.NaN() }, "balance factor NaN"},
		{"cookie name with space", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Name = "MY COOKIE" }, `cookie name "MY COOKIE"`},
		{"cookie name empty", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Name = "" }, `cookie name ""`},
		{"cookie name with equals", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Name = "a=b" }, `cookie name "a=b"`},
		{"cookie path relative", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Path = "cart" }, `cookie path "cart" does not begin with /`},
		{"cookie path with semicolon", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Path = "/a;b" }, "cannot carry"},
		{"cookie domain", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Domain = "bad domain" }, `cookie domain "bad domain"`},
		{"cookie max age", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.MaxAge = -time.Second }, "max age -1s is negative"},
		{"cookie secure", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.Secure = "Sometimes" }, `unknown cookie secure mode "Sometimes"`},
		{"cookie samesite", func(s *Snapshot) { s.Backends[0].Affinity.Cookie.SameSite = "Loose" }, `unknown cookie SameSite "Loose"`},
		{"samesite none never secure", func(s *Snapshot) {
			s.Backends[0].Affinity.Cookie.SameSite, s.Backends[0].Affinity.Cookie.Secure = SameSiteNone, SecureNever
		}, "SameSite=None requires Secure"},
		{"ipv4 prefix", func(s *Snapshot) { s.Backends[1].Affinity.SourceIP.IPv4PrefixLength = 33 }, "IPv4 prefix length 33"},
		{"ipv6 prefix", func(s *Snapshot) { s.Backends[1].Affinity.SourceIP.IPv6PrefixLength = -1 }, "IPv6 prefix length -1"},
		{"header name", func(s *Snapshot) {
			s.Backends[1].Affinity = AffinityPolicy{Header: &HeaderAffinity{Name: "X User"}}
		}, `hash header name "X User"`},
		{"header source", func(s *Snapshot) {
			s.Backends[1].Affinity = AffinityPolicy{Header: &HeaderAffinity{Name: "x", Source: "Body"}}
		}, `unknown hash key source "Body"`},
		{"empty query name", func(s *Snapshot) {
			s.Backends[1].Affinity = AffinityPolicy{Header: &HeaderAffinity{Source: KeyFromQuery}}
		}, "hash query parameter name is empty"},
		{"certificate host", func(s *Snapshot) { s.Certificates = []Certificate{{Hosts: []string{"a b"}, Source: "shop/tls"}} }, `certificate shop/tls: host "a b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			tc.mutate(s)
			err := s.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateBoundsTheError(t *testing.T) {
	s := &Snapshot{}
	for i := 0; i < 100; i++ {
		s.Backends = append(s.Backends, Backend{Name: "dup"})
	}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "and 79 more problems") {
		t.Fatalf("got %v", err)
	}
	if n := strings.Count(err.Error(), "\n"); n != 20 {
		t.Fatalf("%d lines, want 21", n+1)
	}
}
