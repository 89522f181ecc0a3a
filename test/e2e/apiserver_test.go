//go:build e2e

package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

// TestAPIServerOutageKeepsServing: with its own control plane, so stopping it harms no
// other test. While the API server is gone the proxy serves the last table, sessions
// stay where they are and the replica stays ready.
func TestAPIServerOutageKeepsServing(t *testing.T) {
	own, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = own.Stop() }()
	user, err := own.ControlPlane.AddUser(envtest.User{Name: "outage-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	ownClient, err := client.New(own.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The shared helpers create objects through k8s; point them at this API server.
	saved := k8s
	k8s = ownClient
	defer func() { k8s = saved }()
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec: networkingv1.IngressClassSpec{Controller: "sticky-ingress.io/ingress-controller"}})

	c, err := launchProcess("outage", "--kubeconfig="+kcPath, "--cookie-key-file="+sharedKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	a := deploy(t, c, "outage", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	u := newUser("198.18.92.1")
	pinned := stickTo(t, u, c, a.host, 3)

	// Kill the API server outright (a graceful stop waits for the controller's watches).
	port := strings.TrimSuffix(own.Config.Host[strings.LastIndex(own.Config.Host, ":")+1:], "/")
	if out, err := exec.Command("pkill", "-KILL", "-f", "kube-apiserver.*--secure-port="+port).CombinedOutput(); err != nil {
		t.Fatalf("killing the API server on port %s: %v %s", port, err, out)
	}
	eventually(t, 5*time.Second, func() error {
		if _, err := ownClient.RESTMapper().RESTMapping(networkingv1.SchemeGroupVersion.WithKind("Ingress").GroupKind()); err == nil {
			var l networkingv1.IngressList
			if err := ownClient.List(context.Background(), &l); err == nil {
				return errors.New("API server still answering")
			}
		}
		return nil
	})
	deadline := time.Now().Add(3 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if got := stickTo(t, u, c, a.host, 1); got != pinned {
			t.Fatalf("session moved to %s while the API server was down", got)
		}
		if fresh := newUser("198.18.92.2").get(t, c, a.host, "/"); fresh.status != http.StatusOK {
			t.Fatalf("new session failed during the outage: %d", fresh.status)
		}
		n++
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + c.healthAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("not ready during the API outage: %d", resp.StatusCode)
	}
	t.Logf("served %d rounds over 3s with the API server down; sessions kept", n)
}
