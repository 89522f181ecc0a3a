package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers"
)

// runCluster is the normal mode: watch a cluster through a controller-runtime manager.
func runCluster(ctx context.Context, opts *options, log logr.Logger) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := stickyv1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the cluster (--kubeconfig, $KUBECONFIG or in-cluster): %w", err)
	}
	metricsAddr := opts.metricsAddr
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controllers.CacheOptions(opts.watchNamespace),
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        opts.healthAddr,
		LeaderElection:                opts.leaderElect,
		LeaderElectionID:              "sticky-ingress-leader." + opts.ingressClass,
		LeaderElectionNamespace:       opts.leaderElectNamespace,
		LeaderElectionReleaseOnCancel: true,
		// Shutdown waits for the proxy's drain: delay, then in-flight requests.
		GracefulShutdownTimeout: ptr(opts.shutdownDelay + opts.shutdownTimeout + 5*time.Second),
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	srv, gather, err := newDataPlane(ctx, opts, log, metrics.Registry)
	if err != nil {
		return err
	}
	// The manager's metrics server serves metrics.Registry when it starts.
	metrics.Registry = registryGatherer{metrics.Registry, gather}
	serving := &servingProxy{srv: srv, delay: opts.shutdownDelay, log: log}
	if err := mgr.Add(serving); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("route-table", serving.readyCheck); err != nil {
		return err
	}

	status := &controllers.StatusWriter{
		Client: mgr.GetClient(),
		Events: controllers.RecorderSink{Recorder: mgr.GetEventRecorder("sticky-ingress"), Log: log.WithName("events")},
		Publish: controllers.PublishOptions{
			Service:   opts.publishService,
			Addresses: splitList(opts.publishAddresses),
		},
		Log: log.WithName("status"),
	}
	rec := &controllers.SnapshotReconciler{
		Reader:    mgr.GetCache(),
		Namespace: opts.watchNamespace,
		Builder:   controllers.NewTranslator(opts.ingressClass),
		Sink:      srv,
		Status:    status,
		Log:       log.WithName("route-table"),
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

func ptr[T any](v T) *T { return &v }

// registryGatherer registers with one registry and gathers through another gatherer.
type registryGatherer struct {
	prometheus.Registerer
	prometheus.Gatherer
}
