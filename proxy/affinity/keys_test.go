package affinity

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func TestSourceIPPrefixMasking(t *testing.T) {
	cases := []struct {
		name   string
		v4, v6 int
		a, b   string
		same   bool
	}{
		{"/32 default distinguishes hosts", 0, 0, "192.0.2.1", "192.0.2.2", false},
		{"/24 groups a subnet (nginx ip_hash)", 24, 0, "192.0.2.1", "192.0.2.200", true},
		{"/24 separates subnets", 24, 0, "192.0.2.1", "192.0.3.1", false},
		{"/16", 16, 0, "10.1.2.3", "10.1.200.3", true},
		{"IPv4-mapped IPv6 is IPv4", 0, 0, "::ffff:192.0.2.1", "192.0.2.1", true},
		{"/128 default distinguishes hosts", 0, 0, "2001:db8::1", "2001:db8::2", false},
		{"/64 groups an IPv6 subnet", 0, 64, "2001:db8:0:1::1", "2001:db8:0:1:ffff::2", true},
		{"/64 separates IPv6 subnets", 0, 64, "2001:db8:0:1::1", "2001:db8:0:2::1", false},
		{"zone ignored", 0, 0, "fe80::1%eth0", "fe80::1", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := sourceIPBackend(eps(3), tc.v4)
			b.Affinity.SourceIP.IPv6PrefixLength = tc.v6
			p := mustCompile(t, b, nil, nil, Options{}).(*sourceIPPicker)
			ka, _ := p.key(&Request{ClientIP: netip.MustParseAddr(tc.a)})
			kb, _ := p.key(&Request{ClientIP: netip.MustParseAddr(tc.b)})
			if (ka == kb) != tc.same {
				t.Fatalf("keys of %s and %s equal: %v, want %v", tc.a, tc.b, ka == kb, tc.same)
			}
		})
	}
}

func TestSourceIPStickyAndMissingAddress(t *testing.T) {
	p := mustCompile(t, sourceIPBackend(eps(5), 24), nil, nil, Options{})
	first := p.Pick(ipRequest("198.51.100.7"))
	if first.Outcome != OutcomeHit || first.Cookie != nil {
		t.Fatalf("%v cookie %v", first.Outcome, first.Cookie)
	}
	for _, ip := range []string{"198.51.100.7", "198.51.100.99", "::ffff:198.51.100.1"} {
		if d := p.Pick(ipRequest(ip)); id(d) != id(first) {
			t.Fatalf("%s went to %s, its /24 to %s", ip, id(d), id(first))
		}
	}
	if d := p.Pick(&Request{}); d.Outcome != OutcomeNew || d.Endpoint == nil {
		t.Fatalf("no client address: %v %s, want a load-balanced new pick", d.Outcome, id(d))
	}
}

func TestHeaderKeySources(t *testing.T) {
	q := func(raw string) *Request {
		return &Request{HTTP: &http.Request{URL: &url.URL{RawQuery: raw}, Header: http.Header{}}}
	}
	cases := []struct {
		name    string
		src     routetable.KeySource
		keyName string
		req     *Request
		key     string // "" = no key
	}{
		{"header", "", "x-user-id", request("X-User-Id", "alice"), "alice"},
		{"header explicit source", routetable.KeyFromHeader, "X-User-Id", request("X-User-Id", "alice"), "alice"},
		{"header first value", "", "X-User-Id", request("X-User-Id", "alice", "X-User-Id", "bob"), "alice"},
		{"header empty first value", "", "X-User-Id", request("X-User-Id", "", "X-User-Id", "bob"), "bob"},
		{"header missing", "", "X-User-Id", request("X-Other", "alice"), ""},
		{"header empty", "", "X-User-Id", request("X-User-Id", ""), ""},
		{"nil http request", "", "X-User-Id", &Request{}, ""},
		{"cookie", routetable.KeyFromCookie, "JSESSIONID", withCookie("JSESSIONID", "abc123"), "abc123"},
		{"cookie among others", routetable.KeyFromCookie, "JSESSIONID", request("Cookie", "a=1; JSESSIONID=abc123; b=2"), "abc123"},
		{"cookie quoted", routetable.KeyFromCookie, "JSESSIONID", request("Cookie", `JSESSIONID="abc123"`), "abc123"},
		{"cookie name is case sensitive", routetable.KeyFromCookie, "JSESSIONID", request("Cookie", "jsessionid=abc"), ""},
		{"cookie missing", routetable.KeyFromCookie, "JSESSIONID", request("Cookie", "a=1"), ""},
		{"query", routetable.KeyFromQuery, "user", q("user=alice"), "alice"},
		{"query among others", routetable.KeyFromQuery, "user", q("a=1&user=alice&b=2"), "alice"},
		{"query escaped", routetable.KeyFromQuery, "user", q("us%65r=al%69ce+x"), "alice x"},
		{"query bad escape skipped", routetable.KeyFromQuery, "user", q("user=%zz&user=bob"), "bob"},
		{"query missing", routetable.KeyFromQuery, "user", q("username=alice"), ""},
		{"query empty", routetable.KeyFromQuery, "user", q("user="), ""},
		{"query without URL", routetable.KeyFromQuery, "user", request(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, headerBackend(eps(3), tc.keyName, tc.src), nil, nil, Options{}).(*headerPicker)
			k, ok := p.key(tc.req)
			if tc.key == "" {
				if ok {
					t.Fatalf("found a key, want none")
				}
				if d := p.Pick(tc.req); d.Outcome != OutcomeNew || d.Endpoint == nil {
					t.Fatalf("missing key: %v %s, want a load-balanced new pick", d.Outcome, id(d))
				}
				return
			}
			if !ok || k != fnv1a(tc.key) {
				t.Fatalf("key hash %x ok %v, want the hash of %q", k, ok, tc.key)
			}
			if d := p.Pick(tc.req); d.Outcome != OutcomeHit {
				t.Fatalf("%v", d.Outcome)
			}
		})
	}
}

func TestMissingKeyFallbackSpreads(t *testing.T) {
	p := mustCompile(t, headerBackend(eps(4), "X-User", ""), nil, nil, Options{})
	seen := map[string]bool{}
	for range 8 {
		seen[id(p.Pick(request()))] = true
	}
	if len(seen) != 4 {
		t.Fatalf("requests without a key reached %d of 4 endpoints, want round-robin over all", len(seen))
	}
}

func TestHashingStrictAndRetry(t *testing.T) {
	b := headerBackend(eps(5), "X-User", "")
	b.Affinity.Fallback = routetable.Strict
	reg := NewRegistry(RegistryOptions{FailureThreshold: 1})
	p := mustCompile(t, b, nil, reg, Options{})
	r := request("X-User", "alice")
	d := p.Pick(r)
	if d.Outcome != OutcomeHit {
		t.Fatal(d.Outcome)
	}
	if rd := p.Retry(r, d.Endpoint); rd.Outcome != OutcomeStrictMiss || rd.Endpoint != nil {
		t.Fatalf("strict retry: %v %s", rd.Outcome, id(rd))
	}
	d.Endpoint.State.ReportFailure() // ejected
	if sd := p.Pick(r); sd.Outcome != OutcomeStrictMiss {
		t.Fatalf("strict, ejected: %v %s", sd.Outcome, id(sd))
	}
	b.Affinity.Fallback = routetable.Rebalance
	rp := mustCompile(t, b, nil, reg, Options{})
	rd := rp.Pick(r)
	if rd.Outcome != OutcomeRebalanced || id(rd) == id(d) {
		t.Fatalf("rebalance, ejected: %v %s", rd.Outcome, id(rd))
	}
	if again := rp.Retry(r, rd.Endpoint); again.Outcome != OutcomeRebalanced || id(again) == id(rd) || id(again) == id(d) {
		t.Fatalf("rebalanced request's retry: %v %s", again.Outcome, id(again))
	}
	if nk := rp.Retry(request(), rd.Endpoint); nk.Outcome != OutcomeNew || id(nk) == id(rd) {
		t.Fatalf("retry without key: %v %s", nk.Outcome, id(nk))
	}
}

func TestNoAffinityPicker(t *testing.T) {
	p := mustCompile(t, &routetable.Backend{Name: "b", Endpoints: eps(2)}, nil, nil, Options{})
	d := p.Pick(withCookie("STICKY", "x"))
	if d.Outcome != OutcomeNone || d.Endpoint == nil || d.Cookie != nil {
		t.Fatalf("%v %s %v", d.Outcome, id(d), d.Cookie)
	}
	if r := p.Retry(nil, d.Endpoint); r.Outcome != OutcomeNone || id(r) == id(d) {
		t.Fatalf("retry: %v %s", r.Outcome, id(r))
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{OutcomeNone: "none", OutcomeHit: "hit", OutcomeNew: "new", OutcomeRebalanced: "rebalanced",
		OutcomeStrictMiss: "strict_miss", OutcomeDrained: "drained", OutcomeNoEndpoint: "no_endpoint", 99: "unknown"} {
		if o.String() != want {
			t.Errorf("%d: %q, want %q", o, o.String(), want)
		}
	}
}
