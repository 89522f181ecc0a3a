package clientip

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	trusting := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	cases := []struct {
		name   string
		r      Resolver
		peer   string
		xff    []string
		realIP string
		want   string
	}{
		{"no trust: the peer", Resolver{}, "192.0.2.1:5000", []string{"198.51.100.7"}, "198.51.100.8", "192.0.2.1"},
		{"untrusted peer's headers ignored", trusting, "192.0.2.1:5000", []string{"198.51.100.7"}, "198.51.100.8", "192.0.2.1"},
		{"trusted peer, one hop", trusting, "10.1.2.3:5000", []string{"198.51.100.7"}, "", "198.51.100.7"},
		{"rightmost untrusted hop wins over a forged left part", trusting, "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9"}, "", "198.51.100.7"},
		{"several header lines", trusting, "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.7,10.9.9.9"}, "", "198.51.100.7"},
		{"all hops trusted: X-Real-IP", trusting, "10.1.2.3:5000", []string{"10.9.9.9"}, "198.51.100.8", "198.51.100.8"},
		{"all hops trusted, no X-Real-IP: the peer", trusting, "10.1.2.3:5000", []string{"10.9.9.9"}, "", "10.1.2.3"},
		{"X-Real-IP alone", trusting, "10.1.2.3:5000", nil, "198.51.100.8", "198.51.100.8"},
		{"garbled chain: the peer", trusting, "10.1.2.3:5000", []string{"198.51.100.7, not-an-ip"}, "198.51.100.8", "10.1.2.3"},
		{"empty elements skipped", trusting, "10.1.2.3:5000", []string{"198.51.100.7, ,"}, "", "198.51.100.7"},
		{"hop with a port", trusting, "10.1.2.3:5000", []string{"198.51.100.7:4444"}, "", "198.51.100.7"},
		{"bracketed IPv6 hop with a port", trusting, "10.1.2.3:5000", []string{"[2001:db8::7]:4444"}, "", "2001:db8::7"},
		{"IPv6 trusted peer", trusting, "[fd00::1]:5000", []string{"2001:db8::7"}, "", "2001:db8::7"},
		{"IPv4-mapped peer is unmapped", trusting, "[::ffff:10.1.2.3]:5000", []string{"198.51.100.7"}, "", "198.51.100.7"},
		{"IPv4-mapped hop is unmapped", trusting, "10.1.2.3:5000", []string{"::ffff:198.51.100.7"}, "", "198.51.100.7"},
		{"zone dropped", trusting, "10.1.2.3:5000", []string{"fe80::1%eth0"}, "", "fe80::1"},
		{"unparsable peer", trusting, "@unix", []string{"198.51.100.7"}, "", "invalid IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				req.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := tc.r.Resolve(req).String(); got != tc.want {
				t.Fatalf("Resolve = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestTrustedPeer(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}})
	for addr, want := range map[string]bool{"10.0.0.1:1": true, "[::ffff:10.0.0.1]:1": true, "11.0.0.1:1": false, "garbage": false} {
		if got := r.TrustedPeer(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("TrustedPeer(%s) = %v", addr, got)
		}
	}
	if (Resolver{}).TrustedPeer(&http.Request{RemoteAddr: "10.0.0.1:1"}) {
		t.Error("the zero Resolver trusts someone")
	}
}

func TestResolveAllocatesNothing(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	req := &http.Request{RemoteAddr: "10.1.2.3:5000", Header: http.Header{
		"X-Forwarded-For": {"6.6.6.6, 2001:db8::7, 10.9.9.9"},
		"X-Real-Ip":       {"198.51.100.8"},
	}}
	if n := testing.AllocsPerRun(100, func() { _ = r.Resolve(req) }); n != 0 {
		t.Fatalf("%v allocations per Resolve", n)
	}
}

func BenchmarkResolveTrustedChain(b *testing.B) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	req := &http.Request{RemoteAddr: "10.1.2.3:5000", Header: http.Header{"X-Forwarded-For": {"198.51.100.7, 10.9.9.9"}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Resolve(req)
	}
}
