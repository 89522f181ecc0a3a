package affinity

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// TestConcurrentPicks drives every picker from several goroutines while endpoints
// fail, get ejected and recover; run with -race it shows the request path shares
// nothing unsynchronized.
func TestConcurrentPicks(t *testing.T) {
	bounded := headerBackend(eps(8), "X-User", "")
	bounded.Affinity.BalanceFactor = 1.5
	backends := map[string]*routetable.Backend{
		"cookie":        cookieBackend(eps(8), routetable.CookieAffinity{}),
		"source-ip":     sourceIPBackend(eps(8), 24),
		"header":        bounded,
		"least-request": withLB(&routetable.Backend{Name: "b", Endpoints: eps(8)}, routetable.LeastRequest),
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			reg := NewRegistry(RegistryOptions{FailureThreshold: 3})
			p := mustCompile(t, b, testKeys, reg, Options{})
			tokens := make([]string, 0, 8)
			for _, e := range p.Endpoints() {
				tokens = append(tokens, e.Token)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 2000 {
						r := request("X-User", fmt.Sprint(i), "Cookie", "STICKY="+tokens[i%len(tokens)])
						r.ClientIP = ipRequest(fmt.Sprintf("10.%d.%d.1", g, i%256)).ClientIP
						d := p.Pick(r)
						if d.Endpoint == nil {
							continue
						}
						d.Endpoint.State.Begin()
						failed := i%7 == g
						d.Endpoint.State.End(!failed)
						if failed {
							p.Retry(r, d.Endpoint)
						}
					}
				})
			}
			wg.Wait()
			for _, e := range p.Endpoints() {
				if n := e.State.InFlight(); n != 0 {
					t.Fatalf("%s: %d in flight after every request ended", e.ID, n)
				}
			}
		})
	}
}
