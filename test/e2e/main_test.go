//go:build e2e

// Package e2e runs the real sticky-ingress binary against a real kube-apiserver and
// etcd, with real HTTP backends that EndpointSlices point at, inside a private network
// namespace (hack/netns-run.sh) where 198.18.0.0/16 is local. Run it with `make test-e2e`.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

var (
	env        *testenv.Environment
	scheme     = runtime.NewScheme()
	k8s        client.Client
	kubeconfig string // admin kubeconfig file for the binary
	binary     string
	workDir    string
	// shared is the controller most tests drive; it runs with sharedKeyFile.
	shared        *controller
	sharedKeyFile string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv("STICKY_IN_NETNS") != "1" {
		fmt.Fprintln(os.Stderr, "e2e: must run inside the private network namespace: use `make test-e2e`")
		return 1
	}
	binary = os.Getenv("STICKY_BINARY")
	if binary == "" {
		binary = filepath.Join(testenv.RepoRoot(), "bin", "sticky-ingress")
	}
	_ = clientgoscheme.AddToScheme(scheme)
	_ = stickyv1.AddToScheme(scheme)
	var err error
	if workDir, err = os.MkdirTemp("", "sticky-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)

	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("e2e: real kube-apiserver %s at %s\n", env.ServerVersion, env.Config.Host)
	if k8s, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := setupCluster(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 1
	}
	sharedKeyFile = filepath.Join(workDir, "cookie-keys")
	if err := os.WriteFile(sharedKeyFile, []byte("e2e-shared-cookie-key-0123456789\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if shared, err = launchController("shared", "--cookie-key-file="+sharedKeyFile); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the controller:", err)
		return 1
	}
	code := m.Run()
	shared.stop()
	if code != 0 {
		shared.dumpLogs(os.Stderr)
	}
	return code
}

// setupCluster writes an admin kubeconfig for the binary and creates the IngressClass.
func setupCluster() error {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return err
	}
	class := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec:       networkingv1.IngressClassSpec{Controller: "sticky-ingress.io/ingress-controller"},
	}
	return k8s.Create(context.Background(), class)
}
