package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/proxy"
)

// newProxy builds the proxy server from the flags and starts following the cookie key file.
func newProxy(ctx context.Context, opts *options, log logr.Logger, reg prometheus.Registerer) (*proxy.Server, error) {
	trusted, err := opts.trustedPrefixes()
	if err != nil {
		return nil, err
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
	srv, err := proxy.New(po)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	if opts.cookieKeyFile != "" {
		if keys, err = readCookieKeys(opts.cookieKeyFile); err != nil {
			return nil, err
		}
		go watchCookieKeys(ctx, opts.cookieKeyFile, 2*time.Second, keys, srv.SetCookieKeys, log.WithName("cookie-keys"))
	} else {
		keys = ephemeralCookieKey(log)
	}
	if err := srv.SetCookieKeys(keys); err != nil {
		return nil, err
	}
	return srv, nil
}

// servingProxy runs the proxy on every replica (it needs no leadership). At shutdown it
// first reports not-ready for --shutdown-delay while still serving, so load balancers
// and EndpointSlices drop this replica before its listeners close; then in-flight
// requests get --shutdown-timeout to finish.
type servingProxy struct {
	srv      *proxy.Server
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
