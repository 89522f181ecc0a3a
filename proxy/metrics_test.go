package proxy

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountRequestsAndDecisions(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("m.test", backendsOf(b), cookieAffinity()))
	ck, _ := pinnedTo(t, p, "m.test")
	p.get(t, "m.test", "Cookie", "STICKY="+ck)
	p.get(t, "nothing.test")
	want := `
# HELP sticky_ingress_affinity_decisions_total Affinity decisions by backend and outcome (none, hit, new, rebalanced, strict_miss, drained, no_endpoint).
# TYPE sticky_ingress_affinity_decisions_total counter
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="drained"} 0
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="hit"} 1
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="new"} 1
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="no_endpoint"} 0
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="none"} 0
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="rebalanced"} 0
sticky_ingress_affinity_decisions_total{backend="ns/web:80",outcome="strict_miss"} 0
# HELP sticky_ingress_requests_total Requests served, by virtual host, backend and status code.
# TYPE sticky_ingress_requests_total counter
sticky_ingress_requests_total{backend="ns/web:80",code="200",host="m.test"} 2
# HELP sticky_ingress_unmatched_requests_total Requests no route matched (404).
# TYPE sticky_ingress_unmatched_requests_total counter
sticky_ingress_unmatched_requests_total 1
`
	if err := testutil.GatherAndCompare(p.reg, strings.NewReader(want),
		"sticky_ingress_affinity_decisions_total", "sticky_ingress_requests_total", "sticky_ingress_unmatched_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(p.metrics.upstreamLatency); n != 1 {
		t.Fatalf("%d upstream latency series", n)
	}
}
