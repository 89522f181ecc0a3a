package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// sticks sends each key's request three times and returns the backend of each key,
// failing the test when a key moves.
func sticks(t *testing.T, p *testProxy, host string, keys []string, headersFor func(key string) []string) map[string]string {
	t.Helper()
	seen := map[string]string{}
	for round := 0; round < 3; round++ {
		for _, k := range keys {
			r := p.get(t, host, headersFor(k)...)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("key %q: status %d", k, r.StatusCode)
			}
			got := r.Header.Get("X-Server-Id")
			if prev, ok := seen[k]; ok && prev != got {
				t.Fatalf("key %q moved from %s to %s", k, prev, got)
			}
			seen[k] = got
		}
	}
	return seen
}

func distinct(m map[string]string) int {
	set := map[string]bool{}
	for _, v := range m {
		set[v] = true
	}
	return len(set)
}

func TestHeaderAffinity(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)}
	for _, tc := range []struct {
		name    string
		aff     routetable.HeaderAffinity
		headers func(key string) []string
	}{
		{"header", routetable.HeaderAffinity{Name: "X-User-Id"}, func(k string) []string { return []string{"X-User-Id", k} }},
		{"application cookie", routetable.HeaderAffinity{Name: "JSESSIONID", Source: routetable.KeyFromCookie}, func(k string) []string { return []string{"Cookie", "JSESSIONID=" + k} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aff := tc.aff
			p := startProxy(t, oneHost("h.test", backendsOf(bs...), routetable.AffinityPolicy{Header: &aff}))
			var keys []string
			for i := 0; i < 24; i++ {
				keys = append(keys, fmt.Sprintf("user-%d", i))
			}
			seen := sticks(t, p, "h.test", keys, tc.headers)
			if n := distinct(seen); n < 2 {
				t.Errorf("24 keys all went to %d backend(s)", n)
			}
			// No key: load-balanced, never an error, no cookie.
			for i := 0; i < 3; i++ {
				r := p.get(t, "h.test")
				if r.StatusCode != http.StatusOK || len(r.Cookies()) != 0 {
					t.Fatalf("keyless request: %d, cookies %v", r.StatusCode, r.Cookies())
				}
			}
		})
	}
}

// TestSourceIPAffinityBehindTrustedProxies: behind a trusted proxy each client (from
// X-Forwarded-For) keeps its backend and clients spread out; an untrusted peer's
// X-Forwarded-For changes nothing, since its own address is the key.
func TestSourceIPAffinityBehindTrustedProxies(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)}
	snap := oneHost("ip.test", backendsOf(bs...), routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}})
	var clients []string
	for i := 1; i <= 24; i++ {
		clients = append(clients, fmt.Sprintf("198.51.100.%d", i))
	}
	xff := func(c string) []string { return []string{"X-Forwarded-For", c} }

	trusted := startProxy(t, snap, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	seen := sticks(t, trusted, "ip.test", clients, xff)
	if n := distinct(seen); n < 2 {
		t.Errorf("24 clients behind a trusted proxy all went to %d backend(s)", n)
	}

	untrusted := startProxy(t, snap)
	if n := distinct(sticks(t, untrusted, "ip.test", clients, xff)); n != 1 {
		t.Errorf("an untrusted peer's forged addresses spread it over %d backends", n)
	}
}

// TestCookieKeyRotation: after SetCookieKeys([new, old]) a session signed by the old
// key stays where it is and is re-signed under the new key; dropping the old key
// makes its cookie no session (a new pick), never an error.
func TestCookieKeyRotation(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)}
	p := startProxy(t, oneHost("rot.test", backendsOf(bs...), cookieAffinity()))
	oldKey := []byte("proxy-test-cookie-key-0123456789")
	newKey := []byte("a-brand-new-cookie-key-987654321")
	ck, server := pinnedTo(t, p, "rot.test")

	if err := p.SetCookieKeys([][]byte{newKey, oldKey}); err != nil {
		t.Fatal(err)
	}
	r := p.get(t, "rot.test", "Cookie", "STICKY="+ck)
	if got := r.Header.Get("X-Server-Id"); got != server {
		t.Fatalf("rotation moved the session from %s to %s", server, got)
	}
	resigned := cookieOf(r, "STICKY")
	if resigned == nil || resigned.Value == ck {
		t.Fatalf("old-key session not re-signed: %v", r.Header["Set-Cookie"])
	}
	if got := p.get(t, "rot.test", "Cookie", "STICKY="+resigned.Value).Header.Get("X-Server-Id"); got != server {
		t.Fatalf("re-signed cookie went to %s, want %s", got, server)
	}

	if err := p.SetCookieKeys([][]byte{newKey}); err != nil {
		t.Fatal(err)
	}
	r = p.get(t, "rot.test", "Cookie", "STICKY="+ck)
	if r.StatusCode != http.StatusOK || cookieOf(r, "STICKY") == nil {
		t.Fatalf("retired-key cookie: %d, new cookie %v", r.StatusCode, r.Header["Set-Cookie"])
	}
	if err := p.SetCookieKeys(nil); err == nil {
		t.Fatal("an empty key set was accepted")
	}
	if got := p.get(t, "rot.test", "Cookie", "STICKY="+resigned.Value).Header.Get("X-Server-Id"); got != server {
		t.Fatalf("a refused key set changed the keys in force: %s", got)
	}
}
