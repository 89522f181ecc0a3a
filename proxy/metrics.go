package proxy

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Metric label values for requests that no virtual host pattern names.
const (
	hostLabelCatchAll = "*"         // the route of a rule without a host
	hostLabelDefault  = "(default)" // the snapshot's default backend
)

// metrics are the proxy's Prometheus series. Label values are bounded: host is the
// matched virtual-host pattern (never the raw Host header), backend a snapshot name,
// code an HTTP status. Series of backends and hosts that leave the route table are
// deleted, so cardinality follows the table, not its history.
//
// The request path does no label lookup: the children it needs are resolved when a
// snapshot is compiled (per backend, per virtual host and backend) and status codes
// are cached per pair on first use.
type metrics struct {
	requests        *prometheus.CounterVec
	upstreamLatency *prometheus.HistogramVec
	decisions       *prometheus.CounterVec
	ejections       *prometheus.CounterVec
	swaps           *prometheus.CounterVec
	notFound        prometheus.Counter
	lastSwap        prometheus.Gauge
	objects         *prometheus.GaugeVec

	mu       sync.Mutex // guards the maps; held only while compiling
	backends map[string]*backendMetrics
	routes   map[routeKey]*routeMetrics
}

// backendMetrics are one backend's children.
type backendMetrics struct {
	upstreamLatency prometheus.Observer
	decisions       [affinity.OutcomeNoEndpoint + 1]prometheus.Counter
	ejections       prometheus.Counter
}

type routeKey struct{ host, backend string }

// routeMetrics count the requests of one (virtual host, backend) pair by status code.
type routeMetrics struct {
	host, backend string
	vec           *prometheus.CounterVec
	mu            sync.Mutex                                 // serialises inserts only
	codes         atomic.Pointer[map[int]prometheus.Counter] // copy on write: a pair sees few codes
}

// TableMetric reports whether the family named name describes the route table
// served (how many were offered, its size, when it was swapped in) rather than
// traffic: every proxy given the same tables reports the same, so where several
// serve (proxy/workers) it is reported once, not summed.
func TableMetric(name string) bool { return strings.HasPrefix(name, tableMetricPrefix) }

const tableMetricPrefix = "sticky_ingress_snapshot_"

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_requests_total",
			Help: `Requests served, by virtual host pattern ("*" for rules without a host, "(default)" for the default backend), backend and status code.`,
		}, []string{"host", "backend", "code"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sticky_ingress_upstream_duration_seconds",
			Help:    "Time from sending a request upstream to its response headers, retry included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_affinity_decisions_total",
			Help: "Affinity decisions by backend and outcome (none, hit, new, rebalanced, strict_miss, drained, no_endpoint). A retry after a connect failure is a second decision.",
		}, []string{"backend", "outcome"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_endpoint_ejections_total",
			Help: "Endpoints ejected by passive health checking, by backend (an endpoint shared by several backends counts for each).",
		}, []string{"backend"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sticky_ingress_snapshot_swaps_total",
			Help: "Route tables offered to the proxy, by result (ok, rejected).",
		}, []string{"result"}),
		notFound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sticky_ingress_unmatched_requests_total",
			Help: "Requests no route matched (404).",
		}),
		lastSwap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sticky_ingress_snapshot_last_swap_timestamp_seconds",
			Help: "When the route table being served was swapped in (Unix time).",
		}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sticky_ingress_snapshot_objects",
			Help: "Size of the route table being served, by kind (virtual_hosts, routes, backends, endpoints, certificates).",
		}, []string{"kind"}),
		backends: map[string]*backendMetrics{},
		routes:   map[routeKey]*routeMetrics{},
	}
	// The swap counters exist from the start, so a dashboard sees 0 rejections.
	m.swaps.WithLabelValues("ok")
	m.swaps.WithLabelValues("rejected")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.upstreamLatency, m.decisions, m.ejections, m.swaps, m.notFound, m.lastSwap, m.objects} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// forBackend returns the backend's children, made once per backend name.
func (m *metrics) forBackend(name string) *backendMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.backends[name]; b != nil {
		return b
	}
	b := &backendMetrics{
		upstreamLatency: m.upstreamLatency.WithLabelValues(name),
		ejections:       m.ejections.WithLabelValues(name),
	}
	for o := range b.decisions {
		b.decisions[o] = m.decisions.WithLabelValues(name, affinity.Outcome(o).String())
	}
	m.backends[name] = b
	return b
}

// forRoute returns the request counters of a (virtual host label, backend) pair.
func (m *metrics) forRoute(host, backend string) *routeMetrics {
	k := routeKey{host, backend}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.routes[k]; r != nil {
		return r
	}
	r := &routeMetrics{host: host, backend: backend, vec: m.requests}
	m.routes[k] = r
	return r
}

// retain deletes the series of backends and pairs that the new route table no longer
// has. Requests still running on the old table count into detached children: a few
// increments are lost, which beats series that live forever.
func (m *metrics) retain(backends map[string]bool, routes map[routeKey]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.backends {
		if !backends[name] {
			delete(m.backends, name)
			l := prometheus.Labels{"backend": name}
			m.upstreamLatency.DeletePartialMatch(l)
			m.decisions.DeletePartialMatch(l)
			m.ejections.DeletePartialMatch(l)
		}
	}
	for k := range m.routes {
		if !routes[k] {
			delete(m.routes, k)
			m.requests.DeletePartialMatch(prometheus.Labels{"host": k.host, "backend": k.backend})
		}
	}
}

// swapped records a route table that went live.
func (m *metrics) swapped(s *routetable.Snapshot, now time.Time) {
	m.swaps.WithLabelValues("ok").Inc()
	m.lastSwap.Set(float64(now.UnixNano()) / 1e9)
	routes, endpoints := 0, 0
	for i := range s.VirtualHosts {
		routes += len(s.VirtualHosts[i].Routes)
	}
	for i := range s.Backends {
		endpoints += len(s.Backends[i].Endpoints)
	}
	m.objects.WithLabelValues("virtual_hosts").Set(float64(len(s.VirtualHosts)))
	m.objects.WithLabelValues("routes").Set(float64(routes))
	m.objects.WithLabelValues("backends").Set(float64(len(s.Backends)))
	m.objects.WithLabelValues("endpoints").Set(float64(endpoints))
	m.objects.WithLabelValues("certificates").Set(float64(len(s.Certificates)))
}

func (b *backendMetrics) decision(o affinity.Outcome) {
	if int(o) < len(b.decisions) {
		b.decisions[o].Inc()
	}
}

// count adds one request with status code to the pair. After a code's first request
// it costs an atomic load and a map read.
func (r *routeMetrics) count(code int) {
	if code < 100 || code >= 600 {
		code = 0 // one "other" series, not one per odd code
	}
	if m := r.codes.Load(); m != nil {
		if c := (*m)[code]; c != nil {
			c.Inc()
			return
		}
	}
	r.counter(code).Inc()
}

func (r *routeMetrics) counter(code int) prometheus.Counter {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.codes.Load()
	if old != nil {
		if c := (*old)[code]; c != nil {
			return c
		}
	}
	label := "other"
	if code != 0 {
		label = strconv.Itoa(code)
	}
	c := r.vec.WithLabelValues(r.host, r.backend, label)
	next := make(map[int]prometheus.Counter, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[code] = c
	r.codes.Store(&next)
	return c
}
