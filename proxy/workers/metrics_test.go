package workers

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// registryLike is one process's proxy series: traffic (counters, a histogram, an
// in-flight gauge) and a route-table series.
func registryLike(t *testing.T, requests float64, latencies ...float64) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sticky_ingress_requests_total", Help: "r"}, []string{"backend", "code"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sticky_ingress_upstream_duration_seconds", Help: "l", Buckets: []float64{.001, .01}}, []string{"backend"})
	swaps := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sticky_ingress_snapshot_swaps_total", Help: "s"}, []string{"result"})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "in_flight", Help: "g"})
	reg.MustRegister(req, lat, swaps, inFlight)
	if requests > 0 {
		req.WithLabelValues("shop/cart:80", "200").Add(requests)
	}
	for _, l := range latencies {
		lat.WithLabelValues("shop/cart:80").Observe(l)
	}
	swaps.WithLabelValues("ok").Add(3)
	inFlight.Set(7)
	return reg
}

func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	fs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestMergeTrafficSumsWorkersCountersAndHistogramsAndKeepsTheSupervisorsTableAndGauges(t *testing.T) {
	supervisor := registryLike(t, 0) // the validator: no traffic, the table's series
	w0 := registryLike(t, 5, .0005, .005)
	w1 := registryLike(t, 2, .5)
	merged := mergeTraffic(gather(t, supervisor), gather(t, w0), gather(t, w1))

	want := `
# HELP in_flight g
# TYPE in_flight gauge
in_flight 7
# HELP sticky_ingress_requests_total r
# TYPE sticky_ingress_requests_total counter
sticky_ingress_requests_total{backend="shop/cart:80",code="200"} 7
# HELP sticky_ingress_snapshot_swaps_total s
# TYPE sticky_ingress_snapshot_swaps_total counter
sticky_ingress_snapshot_swaps_total{result="ok"} 3
# HELP sticky_ingress_upstream_duration_seconds l
# TYPE sticky_ingress_upstream_duration_seconds histogram
sticky_ingress_upstream_duration_seconds_bucket{backend="shop/cart:80",le="0.001"} 1
sticky_ingress_upstream_duration_seconds_bucket{backend="shop/cart:80",le="0.01"} 2
sticky_ingress_upstream_duration_seconds_bucket{backend="shop/cart:80",le="+Inf"} 3
sticky_ingress_upstream_duration_seconds_sum{backend="shop/cart:80"} 0.5055
sticky_ingress_upstream_duration_seconds_count{backend="shop/cart:80"} 3
`
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return merged, nil })
	if err := testutil.GatherAndCompare(g, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
