package proxy

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountRequestsAndDecisions(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("m.test", backendsOf(b), cookieAffinity()))
	ck, _ := pinnedTo(t, p, "m.test")
	p.get(t, "m.test", "Cookie", "STICKY="+ck)
	p.get(t, "nothing.test")
	m := p.metrics
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"requests 200", testutil.ToFloat64(m.requests.WithLabelValues("m.test", "ns/web:80", "200")), 2},
		{"decisions hit", testutil.ToFloat64(m.decisions.WithLabelValues("ns/web:80", "hit")), 1},
		{"decisions new", testutil.ToFloat64(m.decisions.WithLabelValues("ns/web:80", "new")), 1},
		{"decisions strict_miss", testutil.ToFloat64(m.decisions.WithLabelValues("ns/web:80", "strict_miss")), 0},
		{"unmatched", testutil.ToFloat64(m.notFound), 1},
		{"swaps ok", testutil.ToFloat64(m.swaps.WithLabelValues("ok")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.upstreamLatency); n != 1 {
		t.Fatalf("%d upstream latency series", n)
	}
}
