package proxy

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// metrics are the proxy's Prometheus series. Label values are bounded: host is the
// matched virtual-host pattern (never the raw Host header), backend a snapshot name.
type metrics struct {
	requests        *prometheus.CounterVec
	upstreamLatency *prometheus.HistogramVec
	decisions       *prometheus.CounterVec
	ejections       prometheus.Counter
	swaps           *prometheus.CounterVec
	notFound        prometheus.Counter

	mu       sync.Mutex
	backends map[string]*backendMetrics
}

// backendMetrics are one backend's children, resolved once per snapshot so the
// request path does no label lookups for them.
type backendMetrics struct {
	name            string
	upstreamLatency prometheus.Observer
	decisions       [affinity.OutcomeNoEndpoint + 1]prometheus.Counter
	parent          *metrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_requests_total", Help: "Requests served, by virtual host, backend and status code.",
		}, []string{"host", "backend", "code"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sticky_ingress_upstream_duration_seconds", Help: "Time from sending a request upstream to its response headers.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_affinity_decisions_total", Help: "Affinity decisions by backend and outcome (none, hit, new, rebalanced, strict_miss, drained, no_endpoint).",
		}, []string{"backend", "outcome"}),
		ejections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sticky_ingress_endpoint_ejections_total", Help: "Endpoints ejected by passive health checking.",
		}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_snapshot_swaps_total", Help: "Route tables offered to the proxy, by result (ok, rejected).",
		}, []string{"result"}),
		notFound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sticky_ingress_unmatched_requests_total", Help: "Requests no route matched (404).",
		}),
		backends: map[string]*backendMetrics{},
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.upstreamLatency, m.decisions, m.ejections, m.swaps, m.notFound)
	}
	return m
}

// forBackend returns the backend's children, made once per backend name.
func (m *metrics) forBackend(name string) *backendMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.backends[name]; b != nil {
		return b
	}
	b := &backendMetrics{name: name, parent: m, upstreamLatency: m.upstreamLatency.WithLabelValues(name)}
	for o := range b.decisions {
		b.decisions[o] = m.decisions.WithLabelValues(name, affinity.Outcome(o).String())
	}
	m.backends[name] = b
	return b
}

func (b *backendMetrics) decision(o affinity.Outcome) {
	if int(o) < len(b.decisions) {
		b.decisions[o].Inc()
	}
}

// statusText caches code strings so counting a request allocates nothing for them.
var statusText = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return
}()

func (m *metrics) observe(x *exchange, code int) {
	c := "other"
	if code >= 0 && code < len(statusText) {
		c = statusText[code]
	}
	m.requests.WithLabelValues(x.host, x.backend.name, c).Inc()
}

// hostOf names the virtual host a matched route belongs to ("" for the default backend).
func (c *compiled) hostOf(r *routetable.Route) string {
	if r == nil {
		return ""
	}
	return c.routeHosts[r]
}
