package affinity

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// TestIndependentReplicasAgree: two pickers compiled separately (separate registries,
// as on two replicas) from the same backend and key make the same decision for every
// session key. This, and nothing shared at run time, is what lets any replica serve
// any request.
func TestIndependentReplicasAgree(t *testing.T) {
	endpoints := eps(25)
	endpoints[3].Weight = 3
	endpoints[7].Ready, endpoints[7].Terminating = false, true
	cases := []struct {
		name    string
		backend *routetable.Backend
		request func(i int, rnd *rand.Rand) *Request
	}{
		{"cookie", cookieBackend(endpoints, routetable.CookieAffinity{}), func(i int, _ *rand.Rand) *Request {
			return withCookie("STICKY", testKeys.Token(endpoints[i%len(endpoints)].ID))
		}},
		{"source-ip /24", sourceIPBackend(endpoints, 24), func(_ int, rnd *rand.Rand) *Request {
			var b [4]byte
			for j := range b {
				b[j] = byte(rnd.Uint32())
			}
			return ipRequest(netip.AddrFrom4(b).String())
		}},
		{"source-ip IPv6", sourceIPBackend(endpoints, 0), func(_ int, rnd *rand.Rand) *Request {
			var b [16]byte
			for j := range b {
				b[j] = byte(rnd.Uint32())
			}
			return ipRequest(netip.AddrFrom16(b).String())
		}},
		{"header", headerBackend(endpoints, "x-user-id", ""), func(_ int, rnd *rand.Rand) *Request {
			return request("X-User-Id", fmt.Sprintf("user-%d", rnd.Uint64()))
		}},
		{"application cookie", headerBackend(endpoints, "JSESSIONID", routetable.KeyFromCookie), func(_ int, rnd *rand.Rand) *Request {
			return withCookie("JSESSIONID", fmt.Sprintf("%x", rnd.Uint64()))
		}},
		{"query parameter", headerBackend(endpoints, "user", routetable.KeyFromQuery), func(_ int, rnd *rand.Rand) *Request {
			return &Request{HTTP: &http.Request{URL: &url.URL{RawQuery: fmt.Sprintf("a=1&user=%d", rnd.Uint64())}}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := mustKeyRing([]byte("shared-cluster-key-0123456789abcdef"))
			if tc.name == "cookie" {
				keys = testKeys
			}
			a := mustCompile(t, tc.backend, keys, NewRegistry(RegistryOptions{}), Options{})
			b := mustCompile(t, tc.backend, keys, NewRegistry(RegistryOptions{}), Options{})
			for i, e := range a.Endpoints() {
				if e.Token != b.Endpoints()[i].Token {
					t.Fatalf("%s: tokens differ", e.ID)
				}
			}
			rnd := rand.New(rand.NewPCG(7, 7))
			outcomes := map[Outcome]int{}
			for i := range 20000 {
				r := tc.request(i, rnd)
				da, db := a.Pick(r), b.Pick(r)
				if id(da) != id(db) || da.Outcome != db.Outcome {
					t.Fatalf("request %d: replica A %v %s, replica B %v %s", i, da.Outcome, id(da), db.Outcome, id(db))
				}
				outcomes[da.Outcome]++
			}
			t.Logf("20000 requests agreed: %v", outcomes)
		})
	}
}
