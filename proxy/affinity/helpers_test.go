package affinity

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// eps returns n ready endpoints "pod-000".. with distinct addresses.
func eps(n int) []routetable.Endpoint {
	out := make([]routetable.Endpoint, n)
	for i := range out {
		out[i] = routetable.Endpoint{
			ID:      fmt.Sprintf("pod-%03d", i),
			Address: fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250+1),
			Ready:   true, Serving: true,
		}
	}
	return out
}

func cookieBackend(endpoints []routetable.Endpoint, c routetable.CookieAffinity) *routetable.Backend {
	if c.Name == "" {
		c.Name = "STICKY"
	}
	return &routetable.Backend{Name: "ns/web:80", Endpoints: endpoints, Affinity: routetable.AffinityPolicy{Cookie: &c}}
}

func sourceIPBackend(endpoints []routetable.Endpoint, v4 int) *routetable.Backend {
	return &routetable.Backend{Name: "ns/web:80", Endpoints: endpoints,
		Affinity: routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{IPv4PrefixLength: v4}}}
}

func headerBackend(endpoints []routetable.Endpoint, name string, src routetable.KeySource) *routetable.Backend {
	return &routetable.Backend{Name: "ns/web:80", Endpoints: endpoints,
		Affinity: routetable.AffinityPolicy{Header: &routetable.HeaderAffinity{Name: name, Source: src}}}
}

// hashingModes are the two consistent-hashing schemes. Compile hashes 10 endpoints by
// rendezvous; a TableSize forces a Maglev table, so both are held to the same bounds.
var hashingModes = []struct {
	name string
	opts Options
}{
	{"rendezvous", Options{}},
	{"maglev", Options{TableSize: 65521}},
}

var testKeys = mustKeyRing([]byte("test-signing-key-0123456789abcdef"))

func mustKeyRing(keys ...[]byte) *KeyRing {
	k, err := NewKeyRing(keys)
	if err != nil {
		panic(err)
	}
	return k
}

func mustCompile(t testing.TB, b *routetable.Backend, keys *KeyRing, reg *Registry, opts Options) Picker {
	t.Helper()
	p, err := Compile(b, keys, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// request builds an affinity Request; kv are header name/value pairs.
func request(kv ...string) *Request {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &Request{HTTP: &http.Request{Header: h, URL: nil}, RoutePath: "/"}
}

func withCookie(name, value string) *Request { return request("Cookie", name+"="+value) }

func ipRequest(ip string) *Request {
	return &Request{HTTP: &http.Request{Header: http.Header{}}, ClientIP: netip.MustParseAddr(ip)}
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// ids maps decisions to endpoint IDs ("" for none).
func id(d Decision) string {
	if d.Endpoint == nil {
		return ""
	}
	return d.Endpoint.ID
}

// keyOwner is the endpoint a hashing picker pins key k to (all endpoints available).
func keyOwner(p Picker, k uint64) string {
	switch h := p.(type) {
	case *sourceIPPicker:
		return h.pinned(k).ID
	case *headerPicker:
		return h.pinned(k).ID
	}
	panic("not a hashing picker")
}
