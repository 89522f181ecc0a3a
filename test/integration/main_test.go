//go:build integration

// Package integration runs against a real kube-apiserver and etcd (envtest): the CRD's
// schema and CEL rules, the controller's wiring, and its RBAC.
package integration

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

var (
	env    *testenv.Environment
	scheme = runtime.NewScheme()
	k8s    client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = stickyv1.AddToScheme(scheme)
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("integration: real kube-apiserver %s at %s\n", env.ServerVersion, env.Config.Host)
	k8s, err = client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
