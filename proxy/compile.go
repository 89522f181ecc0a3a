package proxy

import (
	"fmt"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// compiled is one snapshot made ready to serve: everything the request path looks up
// is resolved here, once per snapshot, so that serving takes no lock and builds no
// label or map key.
type compiled struct {
	matcher  *routetable.Matcher
	pickers  []affinity.Picker // index-aligned with the snapshot's backends
	backends []backendInfo     // likewise
	certs    *certIndex
	// routes maps each route of the snapshot to its request counters (the metrics'
	// host label is the route's virtual-host pattern); dflt serves the default backend.
	routes map[*routetable.Route]*routeMetrics
	dflt   *routeMetrics
	// endpointBackends names the backends of each endpoint, for ejection metrics.
	endpointBackends map[endpointKey][]*backendMetrics
}

type endpointKey struct{ id, address string }

// backendInfo is per-backend data the request path needs.
type backendInfo struct {
	name    string
	metrics *backendMetrics
}

// compile builds a servable table from snap with the cookie keys ring. It changes no
// server state but the metrics' series set; the caller swaps the result in.
func (s *Server) compile(snap *routetable.Snapshot, ring *affinity.KeyRing) (*compiled, error) {
	m, err := routetable.Compile(snap)
	if err != nil {
		return nil, fmt.Errorf("proxy: route table refused: %w", err)
	}
	pickers, err := affinity.CompileAll(snap, ring, s.registry, affinity.Options{})
	if err != nil {
		return nil, fmt.Errorf("proxy: route table refused: %w", err)
	}
	certs := s.certs.compile(snap.Certificates, s.log)

	c := &compiled{
		matcher:          m,
		pickers:          pickers,
		certs:            certs,
		backends:         make([]backendInfo, len(snap.Backends)),
		routes:           make(map[*routetable.Route]*routeMetrics),
		endpointBackends: make(map[endpointKey][]*backendMetrics),
	}
	liveBackends := make(map[string]bool, len(snap.Backends))
	liveRoutes := make(map[routeKey]bool)
	for i := range snap.Backends {
		b := &snap.Backends[i]
		bm := s.metrics.forBackend(b.Name)
		c.backends[i] = backendInfo{name: b.Name, metrics: bm}
		liveBackends[b.Name] = true
		for _, e := range b.Endpoints {
			k := endpointKey{e.ID, e.Address}
			c.endpointBackends[k] = append(c.endpointBackends[k], bm)
		}
	}
	for i := range snap.VirtualHosts {
		vh := &snap.VirtualHosts[i]
		host := vh.Host
		if host == "" {
			host = hostLabelCatchAll
		}
		for j := range vh.Routes {
			r := &vh.Routes[j]
			c.routes[r] = s.metrics.forRoute(host, r.Backend)
			liveRoutes[routeKey{host, r.Backend}] = true
		}
	}
	if snap.DefaultBackend != "" {
		c.dflt = s.metrics.forRoute(hostLabelDefault, snap.DefaultBackend)
		liveRoutes[routeKey{hostLabelDefault, snap.DefaultBackend}] = true
	}
	s.metrics.retain(liveBackends, liveRoutes)
	return c, nil
}

// routeMetricsOf returns the request counters of a matched route (nil: the default
// backend).
func (c *compiled) routeMetricsOf(r *routetable.Route) *routeMetrics {
	if r == nil {
		return c.dflt
	}
	return c.routes[r]
}
