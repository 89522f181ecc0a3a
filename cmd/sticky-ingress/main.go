// Command sticky-ingress is a Kubernetes ingress controller and reverse proxy whose
// specialty is session affinity. One process per replica: a controller that watches the
// cluster (or, with --manifests, a directory of YAML) and rebuilds the route table, and
// a proxy that serves it; with --workers N the proxy serves from N worker processes
// that this one starts and feeds (proxy/workers).
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/sticky-ingress/sticky-ingress/proxy/workers"
)

// version is stamped by the build (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	opts, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	// controller-runtime's zap options build a zap logger wrapped by zapr.
	log := crzap.New(crzap.UseFlagOptions(&opts.zap))
	ctrl.SetLogger(log)
	if workers.IsWorker() {
		// Before the signal handler: a worker stops when its supervisor says so.
		if err := runWorker(opts, log); err != nil {
			log.Error(err, "worker stopped", "worker", workers.Index())
			os.Exit(1)
		}
		return
	}
	log.Info("starting sticky-ingress", "version", version)

	ctx := ctrl.SetupSignalHandler()
	if opts.manifests != "" {
		err = runManifests(ctx, opts, log)
	} else {
		err = runCluster(ctx, opts, log)
	}
	if err != nil {
		log.Error(err, "sticky-ingress stopped")
		fmt.Fprintln(os.Stderr, "sticky-ingress:", err)
		os.Exit(1)
	}
	log.Info("sticky-ingress stopped")
}
