package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
	"github.com/sticky-ingress/sticky-ingress/proxy"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
	"github.com/sticky-ingress/sticky-ingress/proxy/workers"
)

// dataPlane is what serves the route table: a proxy.Server in this process, or a
// workers.Supervisor feeding worker processes (--workers).
type dataPlane interface {
	Update(snap *routetable.Snapshot) error
	SetCookieKeys(keys [][]byte) error
	Ready() bool
	Start(ctx context.Context) error
}

// registry is where the proxy's metrics go and /metrics gathers from.
type registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// newDataPlane builds the proxy from the flags and starts following the cookie key
// file. Its metrics go to reg; what /metrics serves is the returned gatherer: reg,
// with the workers' traffic added when there are workers.
func newDataPlane(ctx context.Context, opts *options, log logr.Logger, reg registry) (dataPlane, prometheus.Gatherer, error) {
	po, err := proxyOptions(opts, log, reg)
	if err != nil {
		return nil, nil, err
	}
	var dp dataPlane
	var gather prometheus.Gatherer = reg
	if opts.workers <= 1 {
		batchSends(opts, log)
		if dp, err = proxy.New(po); err != nil {
			return nil, nil, err
		}
	} else {
		// The validator serves nothing: its listeners are the workers'.
		po.HTTPAddr, po.HTTPSAddr, po.AccessLog = "", "", nil
		validator, err := proxy.New(po)
		if err != nil {
			return nil, nil, err
		}
		sup, err := workers.New(workers.Options{
			Workers:            opts.workers,
			BalanceConnections: opts.balanceConnections,
			HTTPAddr:           opts.httpAddr,
			HTTPSAddr:          opts.httpsAddr,
			Validator:          validator,
			ShutdownTimeout:    opts.shutdownTimeout,
			Logger:             log.WithName("workers"),
			Registerer:         reg,
		})
		if err != nil {
			return nil, nil, err
		}
		dp, gather = sup, sup.Gatherer(gather)
	}
	var keys [][]byte
	if opts.cookieKeyFile != "" {
		if keys, err = readCookieKeys(opts.cookieKeyFile); err != nil {
			return nil, nil, err
		}
		go watchCookieKeys(ctx, opts.cookieKeyFile, 2*time.Second, keys, dp.SetCookieKeys, log.WithName("cookie-keys"))
	} else {
		keys = ephemeralCookieKey(log)
	}
	if err := dp.SetCookieKeys(keys); err != nil {
		return nil, nil, err
	}
	return dp, gather, nil
}

// proxyOptions are the proxy's options from the flags, the same in every process.
func proxyOptions(opts *options, log logr.Logger, reg prometheus.Registerer) (proxy.Options, error) {
	trusted, err := opts.trustedPrefixes()
	if err != nil {
		return proxy.Options{}, err
	}
	po := proxy.Options{
		HTTPAddr:        opts.httpAddr,
		HTTPSAddr:       opts.httpsAddr,
		TrustedProxies:  trusted,
		ProxyProtocol:   opts.proxyProtocol,
		ShutdownTimeout: opts.shutdownTimeout,
		Logger:          log.WithName("proxy"),
		Registerer:      reg,
	}
	if opts.accessLog {
		po.AccessLog = os.Stdout
	}
	return po, nil
}

// runWorker is a worker process of a supervisor (--workers): a proxy on the
// supervisor's listeners, fed by it. Its metrics reach /metrics through the
// supervisor, so they are the proxy's alone.
func runWorker(opts *options, log logr.Logger) error {
	reg := prometheus.NewRegistry()
	po, err := proxyOptions(opts, log.WithValues("worker", workers.Index()), reg)
	if err != nil {
		return err
	}
	srv, err := proxy.New(po)
	if err != nil {
		return err
	}
	batchSends(opts, log.WithValues("worker", workers.Index()))
	return workers.Serve(srv, reg)
}

// batchSends turns on batched sends (rawsocket.BatchSends, --io-uring) where they
// pay: in a process whose Go code runs on one thread, as a worker's does.
func batchSends(opts *options, log logr.Logger) {
	if !opts.ioUring || runtime.GOMAXPROCS(0) != 1 {
		return
	}
	if err := rawsocket.BatchSends(); err != nil {
		log.Info("io_uring unavailable: each socket write is a system call of its own", "reason", err.Error())
		return
	}
	log.V(1).Info("small socket writes are sent in batches through io_uring")
}

// servingProxy runs the proxy on every replica (it needs no leadership). At shutdown it
// first reports not-ready for --shutdown-delay while still serving, so load balancers
// and EndpointSlices drop this replica before its listeners close; then in-flight
// requests get --shutdown-timeout to finish.
type servingProxy struct {
	srv      dataPlane
	delay    time.Duration
	log      logr.Logger
	draining atomic.Bool
}

func (p *servingProxy) NeedLeaderElection() bool { return false }

func (p *servingProxy) Start(ctx context.Context) error {
	serveCtx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.srv.Start(serveCtx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	p.draining.Store(true)
	if p.delay > 0 {
		p.log.Info("shutting down: not ready, still serving", "for", p.delay.String())
		time.Sleep(p.delay)
	}
	stop()
	return <-done
}

// readyCheck is the /readyz check: ready once the first route table is served, and
// not ready again from the moment shutdown begins.
func (p *servingProxy) readyCheck(*http.Request) error {
	switch {
	case p.draining.Load():
		return errors.New("shutting down")
	case !p.srv.Ready():
		return errors.New("no route table served yet")
	}
	return nil
}
