// Package proxy is the data plane: an HTTP(S) reverse proxy that serves a
// routetable.Snapshot, choosing endpoints through the affinity pickers. It imports no
// Kubernetes package; the controller hands it snapshots through Update.
//
// Use: New, SetCookieKeys, then Update with every new route table, and Start (a
// controller-runtime Runnable) or Serve on listeners of your own. Ready turns true
// once a table is served.
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
	"github.com/sticky-ingress/sticky-ingress/proxy/clientip"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Options configure a Server. Zero values are sensible defaults.
type Options struct {
	HTTPAddr  string // "" = no HTTP listener (Start only)
	HTTPSAddr string // "" = no HTTPS listener (Start only)
	// TrustedProxies are the peers whose X-Forwarded-For / X-Real-IP (the client's
	// address) and X-Forwarded-Proto / -Host / -Port are believed.
	TrustedProxies []netip.Prefix
	// ProxyProtocol expects a PROXY protocol v1/v2 header on every connection.
	ProxyProtocol bool

	ReadHeaderTimeout             time.Duration // default 10s: slowloris clients are cut off
	IdleTimeout                   time.Duration // default 120s: idle client keep-alive
	UpstreamConnectTimeout        time.Duration // default 5s
	UpstreamResponseHeaderTimeout time.Duration // default 60s; then 504
	UpstreamMaxIdleConnsPerHost   int           // default 512
	MaxHeaderBytes                int           // default 64 KiB; larger requests get 431
	ShutdownTimeout               time.Duration // default 25s: in-flight requests get this long

	// Passive health: consecutive failed upstream attempts that eject an endpoint
	// (0 = 5, negative = never), for how long the first time (0 = 10s), and the cap of
	// the doubling for repeated ejections (0 = 5m). See the health policy in upstream.go.
	FailureThreshold int
	EjectionTime     time.Duration
	MaxEjectionTime  time.Duration

	Logger     logr.Logger
	AccessLog  io.Writer             // nil = off; one JSON line per request
	Registerer prometheus.Registerer // nil = metrics kept but not registered
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
	if o.UpstreamMaxIdleConnsPerHost <= 0 {
		o.UpstreamMaxIdleConnsPerHost = 512
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
	clientIP clientip.Resolver
	access   accessLog

	// tunnels are the upgraded connections of the running Serve.
	tunnels atomic.Pointer[tunnels]

	// current is what requests load; compiled snapshots are immutable.
	current atomic.Pointer[compiled]
	// updateMu serialises compiles: affinity.CompileAll calls must not overlap, and
	// snapshot and keys change together.
	updateMu sync.Mutex
	snapshot *routetable.Snapshot
	keys     *affinity.KeyRing
}

// New builds a server; it listens only when Start (or Serve) is called. Set cookie
// keys (SetCookieKeys) before the first Update.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		clientIP: clientip.New(opts.TrustedProxies),
		access:   accessLog{w: opts.AccessLog},
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("proxy: registering metrics: %w", err)
	}
	s.metrics = m
	s.registry = affinity.NewRegistry(affinity.RegistryOptions{
		FailureThreshold: opts.FailureThreshold,
		EjectionTime:     opts.EjectionTime,
		MaxEjectionTime:  opts.MaxEjectionTime,
		OnEject:          s.onEject,
	})
	s.upstream = newUpstream(opts, s)
	certs, err := newCertStore()
	if err != nil {
		return nil, fmt.Errorf("proxy: default certificate: %w", err)
	}
	s.certs = certs
	return s, nil
}

// onEject counts and logs an ejection. It runs on the request path of the failure
// that tipped the count: a map read, a counter per backend and a log line.
func (s *Server) onEject(id, addr string, d time.Duration) {
	var backends []*backendMetrics
	if c := s.current.Load(); c != nil {
		backends = c.endpointBackends[endpointKey{id, addr}]
	}
	for _, b := range backends {
		b.ejections.Inc()
	}
	s.log.Info("endpoint ejected after consecutive failures", "endpoint", id, "address", addr, "for", d.String())
}

// SetCookieKeys installs cookie keys (the first signs, all verify) and recompiles the
// current snapshot with them. On error the previous keys stay in force.
func (s *Server) SetCookieKeys(keys [][]byte) error {
	ring, err := affinity.NewKeyRing(keys)
	if err != nil {
		return fmt.Errorf("proxy: cookie keys: %w", err)
	}
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	if s.snapshot != nil {
		c, err := s.compile(s.snapshot, ring)
		if err != nil {
			return err
		}
		s.current.Store(c)
	}
	s.keys = ring
	return nil
}

// Update validates and compiles a snapshot (matcher, one picker per backend, TLS
// certificates) and swaps it in. A snapshot that does not compile is refused with an
// error and the previous one keeps serving; requests in flight finish on the snapshot
// they started with. The snapshot must not be modified afterwards.
func (s *Server) Update(snap *routetable.Snapshot) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	if snap == nil {
		s.metrics.swaps.WithLabelValues("rejected").Inc()
		return errors.New("proxy: nil route table")
	}
	if s.keys == nil {
		s.metrics.swaps.WithLabelValues("rejected").Inc()
		return errors.New("proxy: no cookie keys set (call SetCookieKeys first)")
	}
	c, err := s.compile(snap, s.keys)
	if err != nil {
		s.metrics.swaps.WithLabelValues("rejected").Inc()
		return err
	}
	s.current.Store(c)
	s.snapshot = snap
	s.metrics.swapped(snap, time.Now())
	return nil
}

// Ready reports whether a snapshot is being served.
func (s *Server) Ready() bool { return s.current.Load() != nil }

// NeedLeaderElection tells controller-runtime that every replica serves traffic.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens on Options.HTTPAddr and HTTPSAddr and serves until ctx ends, then
// shuts down gracefully. With this signature the Server is a controller-runtime
// Runnable.
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
	if httpLn == nil && httpsLn == nil {
		return errors.New("proxy: neither an HTTP nor an HTTPS address to listen on")
	}
	return s.Serve(ctx, httpLn, httpsLn)
}

// Serve serves plain HTTP on httpLn and HTTPS on httpsLn (either may be nil) until ctx
// ends or a listener fails. It then stops accepting, lets in-flight requests and
// WebSocket tunnels finish for up to Options.ShutdownTimeout, and closes what is
// left. The listeners are closed on return. Call it once per Server. A listener with
// a ConnDone method is told when each connection it gave is done (conndone.go).
func (s *Server) Serve(ctx context.Context, httpLn, httpsLn net.Listener) error {
	var servers []*http.Server
	var fast []*h1Server
	errc := make(chan error, 4)
	tun := newTunnels()
	s.tunnels.Store(tun)
	serve := func(ln net.Listener, tlsConf *tls.Config) {
		connDone := connDoneOf(ln) // before the PROXY protocol wraps it
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
			ConnState:         connDoneOnState(connDone),
		}
		servers = append(servers, srv)
		report := func(err error) {
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}
		// The fast path accepts (and shakes hands), and hands net/http what it does
		// not serve: HTTP/2, upgrades, and whatever else is not an ordinary request.
		f := newH1Server(srv, ln.Addr(), connDone, s.log)
		fast = append(fast, f)
		go func() { report(srv.Serve(f.handoff)) }()
		go func() { report(f.serve(ln)) }()
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
		err = fmt.Errorf("proxy: listener failed: %w", err)
	}
	s.log.Info("shutting down: in-flight requests may finish", "timeout", s.opts.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2*len(servers))
	for i, f := range fast {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e := f.Shutdown(shutdownCtx); e != nil {
				f.Close()
				errs[len(servers)+i] = fmt.Errorf("proxy: graceful shutdown: %w", e)
			}
		}()
	}
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e := srv.Shutdown(shutdownCtx); e != nil {
				// Out of time: cut the connections still open.
				_ = srv.Close()
				errs[i] = fmt.Errorf("proxy: graceful shutdown: %w", e)
			}
		}()
	}
	wg.Wait()
	// Keep-alive connections to pods would otherwise stay open until their idle
	// timeout, holding a socket on each pod after this replica is gone.
	s.upstream.h1.CloseIdleConnections()
	// No request can start now: wait for the WebSockets and other upgraded
	// connections, which Shutdown leaves alone.
	if tun.close(shutdownCtx) {
		errs = append(errs, errors.New("proxy: graceful shutdown: upgraded connections (WebSockets) closed at the timeout"))
	}
	return errors.Join(append([]error{err}, errs...)...)
}
