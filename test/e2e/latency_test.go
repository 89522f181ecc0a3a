//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestEndpointSliceToTrafficLatency measures (and reports; it asserts no timing) how
// long an EndpointSlice update takes to reach traffic: the time from the API write
// returning to the first request routed by the new endpoints. 100 updates alternate a
// Service between two backends.
func TestEndpointSliceToTrafficLatency(t *testing.T) {
	ns := namespace(t)
	bs := startBackends(t, "latency", 2)
	service(t, ns, "web")
	setEndpoints(t, ns, "web", ready(bs[0])...)
	host := ns + ".example.test"
	ingress(t, ns, "web", host, "web", nil)
	routed(t, shared, host)

	probe := newUser("198.18.70.1")
	const updates = 100
	var samples []time.Duration
	for i := 0; i < updates; i++ {
		target := bs[(i+1)%2]
		setEndpoints(t, ns, "web", ready(target)...)
		start := time.Now()
		deadline := start.Add(10 * time.Second)
		for {
			r, err := probe.try(shared, host, "/")
			if err == nil && r.server == target.name {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("update %d: traffic never reached %s", i, target.name)
			}
			time.Sleep(200 * time.Microsecond)
		}
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	p := func(q float64) time.Duration { return samples[int(q*float64(len(samples)-1))] }
	msg := fmt.Sprintf("EndpointSlice update -> traffic over %d updates: p50 %s, p99 %s, max %s",
		updates, p(0.50).Round(time.Microsecond), p(0.99).Round(time.Microsecond), samples[len(samples)-1].Round(time.Microsecond))
	t.Log(msg)
	fmt.Println("e2e figure:", msg)
}
