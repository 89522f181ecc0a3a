// Package testenv starts the real kube-apiserver and etcd that the integration and
// end-to-end suites run against (controller-runtime envtest), with the flags this
// workplace needs, and installs our CRDs into it.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the repository's top folder, found from this file's location so tests
// work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Environment is a running control plane.
type Environment struct {
	*envtest.Environment
	Config        *rest.Config
	ServerVersion string
}

// Start launches etcd and kube-apiserver from KUBEBUILDER_ASSETS (hack/control-plane.sh
// provides them) and applies config/crd/bases.
func Start() (*Environment, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: run through `make test-integration` or export KUBEBUILDER_ASSETS=$(hack/control-plane.sh)")
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// etcd 3.4 stalls watches without progress notifications.
	env.ControlPlane.Etcd = &envtest.Etcd{}
	env.ControlPlane.Etcd.Configure().
		Set("experimental-watch-progress-notify-interval", "1s")
	// In a network namespace without a default route the API server cannot guess its
	// advertise address, and its endpoint reconciler would publish a loopback address
	// for the kubernetes Service, which the API refuses; tests need neither.
	env.ControlPlane.GetAPIServer().Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("asking the API server its version: %w", err)
	}
	return &Environment{Environment: env, Config: cfg, ServerVersion: info.GitVersion}, nil
}
