package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/sticky-ingress/sticky-ingress/controllers"
	"github.com/sticky-ingress/sticky-ingress/controllers/manifests"
)

// runManifests serves a directory of YAML without a cluster: the same translator, the
// same proxy, with health and metrics endpoints of its own (no manager to host them).
func runManifests(ctx context.Context, opts *options, log logr.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, gather, err := newDataPlane(ctx, opts, log, reg)
	if err != nil {
		return err
	}
	serving := &servingProxy{srv: srv, delay: opts.shutdownDelay, log: log}
	source := &manifests.Source{
		Dir:     opts.manifests,
		Builder: controllers.NewTranslator(opts.ingressClass),
		Sink:    srv,
		Log:     log.WithName("manifests"),
	}

	health := http.NewServeMux()
	health.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	health.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := serving.readyCheck(r); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return source.Start(gctx) })
	g.Go(func() error { return serving.Start(gctx) })
	g.Go(func() error { return serveUntil(gctx, opts.healthAddr, health) })
	if opts.metricsAddr != "" && opts.metricsAddr != "0" {
		g.Go(func() error { return serveUntil(gctx, opts.metricsAddr, metrics) })
	}
	return g.Wait()
}

// serveUntil runs a small HTTP server until ctx ends.
func serveUntil(ctx context.Context, addr string, h http.Handler) error {
	s := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
