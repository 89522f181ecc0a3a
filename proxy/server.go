// Package proxy is the data plane: an HTTP(S) reverse proxy that serves a
// routetable.Snapshot, choosing endpoints through the affinity pickers. It imports no
// Kubernetes package; the controller hands it snapshots through Update.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Options configure a Server. Zero values are sensible defaults.
type Options struct {
	HTTPAddr  string // "" = no HTTP listener
	HTTPSAddr string // "" = no HTTPS listener
	// TrustedProxies are the peers whose X-Forwarded-For / X-Real-IP are believed.
	TrustedProxies []netip.Prefix
	// ProxyProtocol expects a PROXY protocol v1/v2 header on every connection.
	ProxyProtocol bool

	ReadHeaderTimeout             time.Duration // default 10s (slow clients)
	IdleTimeout                   time.Duration // default 120s
	UpstreamConnectTimeout        time.Duration // default 5s
	UpstreamResponseHeaderTimeout time.Duration // default 60s
	MaxHeaderBytes                int           // default 64 KiB
	ShutdownTimeout               time.Duration // default 25s: in-flight requests get this long

	// Health: consecutive failures that eject an endpoint, and for how long.
	FailureThreshold int
	EjectionTime     time.Duration

	Logger     logr.Logger
	AccessLog  io.Writer             // nil = off; one JSON line per request
	Registerer prometheus.Registerer // nil = metrics not registered
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, 10*time.Second)
	def(&o.IdleTimeout, 120*time.Second)
	def(&o.UpstreamConnectTimeout, 5*time.Second)
	def(&o.UpstreamResponseHeaderTimeout, 60*time.Second)
	def(&o.ShutdownTimeout, 25*time.Second)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
}

// Server serves the current snapshot. Safe for concurrent use.
type Server struct {
	opts     Options
	log      logr.Logger
	metrics  *metrics
	registry *affinity.Registry
	upstream *upstream
	certs    *certStore
	clientIP clientIPResolver

	// current is what requests load; compiled snapshots are immutable.
	current atomic.Pointer[compiled]
	// updateMu serialises compiles: affinity.CompileAll calls must not overlap.
	updateMu sync.Mutex
	snapshot *routetable.Snapshot
	keys     *affinity.KeyRing
}

// compiled is one snapshot made ready to serve.
type compiled struct {
	matcher  *routetable.Matcher
	pickers  []affinity.Picker
	backends []backendInfo
	certs    *certIndex
	// routeHosts names the virtual host of each route (the metrics' host label).
	routeHosts map[*routetable.Route]string
}

// backendInfo is per-backend data the request path needs, resolved at compile time.
type backendInfo struct {
	name    string
	metrics *backendMetrics
}

// New builds a server; it listens only when Start (or Serve) is called.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger, clientIP: clientIPResolver{trusted: opts.TrustedProxies}}
	s.metrics = newMetrics(opts.Registerer)
	s.registry = affinity.NewRegistry(affinity.RegistryOptions{
		FailureThreshold: opts.FailureThreshold,
		EjectionTime:     opts.EjectionTime,
		OnEject: func(id, addr string, d time.Duration) {
			s.metrics.ejections.Inc()
			s.log.Info("endpoint ejected after consecutive failures", "endpoint", id, "address", addr, "for", d.String())
		},
	})
	s.upstream = newUpstream(opts, s)
	certs, err := newCertStore()
	if err != nil {
		return nil, err
	}
	s.certs = certs
	return s, nil
}

// SetCookieKeys installs cookie keys (the first signs, all verify) and recompiles the
// current snapshot with them.
func (s *Server) SetCookieKeys(keys [][]byte) error {
	ring, err := affinity.NewKeyRing(keys)
	if err != nil {
		return err
	}
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	old := s.keys
	s.keys = ring
	if s.snapshot == nil {
		return nil
	}
	if err := s.compileLocked(s.snapshot); err != nil {
		s.keys = old
		return err
	}
	return nil
}

// Update compiles a snapshot and swaps it in. A snapshot that does not compile is
// refused and the previous one keeps serving; requests in flight finish on the
// snapshot they started with.
func (s *Server) Update(snap *routetable.Snapshot) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	if s.keys == nil {
		return errors.New("proxy: no cookie keys set")
	}
	if err := s.compileLocked(snap); err != nil {
		s.metrics.swaps.WithLabelValues("rejected").Inc()
		return err
	}
	s.snapshot = snap
	s.metrics.swaps.WithLabelValues("ok").Inc()
	return nil
}

func (s *Server) compileLocked(snap *routetable.Snapshot) error {
	m, err := routetable.Compile(snap)
	if err != nil {
		return fmt.Errorf("proxy: route table refused: %w", err)
	}
	pickers, err := affinity.CompileAll(snap, s.keys, s.registry, affinity.Options{})
	if err != nil {
		return fmt.Errorf("proxy: route table refused: %w", err)
	}
	certs, err := compileCerts(snap.Certificates, s.log)
	if err != nil {
		return fmt.Errorf("proxy: route table refused: %w", err)
	}
	c := &compiled{matcher: m, pickers: pickers, certs: certs, backends: make([]backendInfo, len(snap.Backends))}
	for i := range snap.Backends {
		name := snap.Backends[i].Name
		c.backends[i] = backendInfo{name: name, metrics: s.metrics.forBackend(name)}
	}
	c.routeHosts = make(map[*routetable.Route]string)
	for i := range snap.VirtualHosts {
		vh := &snap.VirtualHosts[i]
		for j := range vh.Routes {
			c.routeHosts[&vh.Routes[j]] = vh.Host
		}
	}
	s.current.Store(c)
	return nil
}

// Ready reports whether a snapshot is being served.
func (s *Server) Ready() bool { return s.current.Load() != nil }

// NeedLeaderElection: every replica serves traffic.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens on the configured addresses and serves until ctx ends, then shuts
// down gracefully.
func (s *Server) Start(ctx context.Context) error {
	var httpLn, httpsLn net.Listener
	var err error
	if s.opts.HTTPAddr != "" {
		if httpLn, err = net.Listen("tcp", s.opts.HTTPAddr); err != nil {
			return fmt.Errorf("proxy: HTTP listener: %w", err)
		}
	}
	if s.opts.HTTPSAddr != "" {
		if httpsLn, err = net.Listen("tcp", s.opts.HTTPSAddr); err != nil {
			if httpLn != nil {
				httpLn.Close()
			}
			return fmt.Errorf("proxy: HTTPS listener: %w", err)
		}
	}
	return s.Serve(ctx, httpLn, httpsLn)
}

// Serve serves on the given listeners (either may be nil) until ctx ends.
func (s *Server) Serve(ctx context.Context, httpLn, httpsLn net.Listener) error {
	var servers []*http.Server
	errc := make(chan error, 2)
	serve := func(ln net.Listener, tlsConf *tls.Config) {
		if s.opts.ProxyProtocol {
			ln = newProxyProtocolListener(ln, s.opts.ReadHeaderTimeout, s.log)
		}
		srv := &http.Server{
			Handler:           s,
			ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
			IdleTimeout:       s.opts.IdleTimeout,
			MaxHeaderBytes:    s.opts.MaxHeaderBytes,
			TLSConfig:         tlsConf,
			ErrorLog:          newServerErrorLog(s.log),
			ConnContext:       withConnInfo(tlsConf != nil),
		}
		servers = append(servers, srv)
		go func() {
			var err error
			if tlsConf != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	if httpLn != nil {
		serve(httpLn, nil)
		s.log.Info("serving HTTP", "addr", httpLn.Addr().String())
	}
	if httpsLn != nil {
		serve(httpsLn, s.tlsConfig())
		s.log.Info("serving HTTPS", "addr", httpsLn.Addr().String())
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if e := srv.Shutdown(shutdownCtx); e != nil && err == nil {
			err = fmt.Errorf("proxy: graceful shutdown: %w", e)
		}
	}
	return err
}
