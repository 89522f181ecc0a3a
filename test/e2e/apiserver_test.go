//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

// TestAPIServerOutageAndRestart: with its own control plane, so stopping it harms no
// other test. The API server is killed: the proxy serves the last table, sessions stay
// where they are and the replica stays ready. Then it is started again on the same
// address with the same certificates and etcd data: the controller resyncs by itself —
// a new Ingress and a scale-up made after the restart reach traffic — and the sessions
// made before the outage still land on their pods.
func TestAPIServerOutageAndRestart(t *testing.T) {
	cp := ownControlPlane(t, "outage")
	c, err := launchProcess("outage", "--kubeconfig="+cp.kubeconfig, "--cookie-key-file="+sharedKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.stop()
		if t.Failed() {
			c.dumpLogs(os.Stderr)
		}
	}()
	a := deploy(t, c, "outage", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	const users = 6
	us := make([]*user, users)
	pinned := make([]string, users)
	for i := range us {
		us[i] = newUser(fmt.Sprintf("198.18.92.%d", 10+i))
		pinned[i] = stickTo(t, us[i], c, a.host, 3)
	}

	// Kill the API server outright (a graceful stop waits for the controller's watches).
	apiserver := cp.kill(t)
	deadline := time.Now().Add(3 * time.Second)
	rounds := 0
	for time.Now().Before(deadline) {
		for i, u := range us {
			if got := stickTo(t, u, c, a.host, 1); got != pinned[i] {
				t.Fatalf("session %d moved from %s to %s while the API server was down", i, pinned[i], got)
			}
		}
		if fresh := newUser("198.18.92.2").get(t, c, a.host, "/"); fresh.status != http.StatusOK {
			t.Fatalf("new session failed during the outage: %d", fresh.status)
		}
		rounds++
		time.Sleep(20 * time.Millisecond)
	}
	if code := readyz(t, c); code != http.StatusOK {
		t.Fatalf("not ready during the API outage: %d", code)
	}
	t.Logf("served %d rounds of %d sessions over 3s with the API server down; sessions kept", rounds, users)

	restarted := time.Now()
	apiserver.restart(t)
	t.Logf("API server back after %s", time.Since(restarted).Round(time.Millisecond))

	// Changes made after the restart: one more pod for the app, and a new Ingress.
	extra := startBackends(t, "outage-after", 1)[0]
	setEndpoints(t, a.ns, "web", ready(append(append([]*backend{}, a.backends...), extra)...)...)
	if r := newUser("198.18.92.3").get(t, c, "after-"+a.host, "/"); r.status != http.StatusNotFound {
		t.Fatalf("host of the Ingress still to come answers %d, want 404", r.status)
	}
	ingress(t, a.ns, "after", "after-"+a.host, "web", nil)
	changed := time.Now()
	routed(t, c, "after-"+a.host) // bounded by its own timeout
	ingressAfter := time.Since(changed)
	// Fresh sessions spread round-robin; the new pod gets one once the slice is seen.
	fresh := 0
	eventually(t, 30*time.Second, func() error {
		fresh++
		if r := newUser("198.18.92.3").get(t, c, a.host, "/"); r.server != extra.name {
			return fmt.Errorf("no fresh session on the pod added after the restart (last on %s)", r.server)
		}
		return nil
	})
	sliceAfter := time.Since(changed)
	for i, u := range us {
		if got := stickTo(t, u, c, a.host, 2); got != pinned[i] {
			t.Fatalf("session %d pinned to %s before the outage lands on %s after the restart", i, pinned[i], got)
		}
	}
	if code := readyz(t, c); code != http.StatusOK {
		t.Fatalf("not ready after the restart: %d", code)
	}
	msg := fmt.Sprintf("API server killed and restarted: %d rounds served while down, new Ingress routed %s and new pod reached %s after the changes (%d fresh sessions), %d/%d sessions kept their pods",
		rounds, ingressAfter.Round(time.Millisecond), sliceAfter.Round(time.Millisecond), fresh, users, users)
	t.Log(msg)
	fmt.Println("e2e figure:", msg)
}

func readyz(t *testing.T, c *controller) int {
	t.Helper()
	code, err := c.readyz()
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// controlPlane is a test's own kube-apiserver and etcd, with an admin kubeconfig for
// the binary. While the test runs, the shared helpers (create, deploy, …) go to it.
type controlPlane struct {
	env        *testenv.Environment
	client     client.Client
	kubeconfig string
}

func ownControlPlane(t *testing.T, name string) *controlPlane {
	t.Helper()
	own, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Stop() })
	u, err := own.ControlPlane.AddUser(envtest.User{Name: name + "-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{env: own, kubeconfig: filepath.Join(t.TempDir(), "kubeconfig")}
	if err := os.WriteFile(cp.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if cp.client, err = client.New(own.Config, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	saved := k8s
	k8s = cp.client
	t.Cleanup(func() { k8s = saved })
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec: networkingv1.IngressClassSpec{Controller: "sticky-ingress.io/ingress-controller"}})
	return cp
}

// stoppedAPIServer remembers how the killed API server was started.
type stoppedAPIServer struct {
	cp   *controlPlane
	args []string
}

// kill sends SIGKILL to this control plane's kube-apiserver (found by its secure port)
// and waits until the API answers no more. etcd and the certificate directory stay.
func (cp *controlPlane) kill(t *testing.T) *stoppedAPIServer {
	t.Helper()
	port := cp.env.ControlPlane.GetAPIServer().SecureServing.Port
	pid, args, err := findAPIServer(port)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the API server (pid %d): %v", pid, err)
	}
	eventually(t, 10*time.Second, func() error {
		var l networkingv1.IngressList
		if err := cp.client.List(context.Background(), &l); err == nil {
			return errors.New("API server still answering")
		}
		return nil
	})
	return &stoppedAPIServer{cp: cp, args: args}
}

// restart runs the API server again with the command line it had — same port,
// certificates, client CA and etcd — and waits until it answers. The test's cleanup
// stops it before the control plane's etcd goes.
func (s *stoppedAPIServer) restart(t *testing.T) {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("restarting the API server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		var l networkingv1.IngressList
		err := s.cp.client.List(context.Background(), &l)
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("restarted API server exited: %v\n%s", cmd.ProcessState, tail(logs.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted API server not answering after 60s: %v\n%s", err, tail(logs.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pids lists the processes running now.
func pids() ([]int, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// findAPIServer returns the pid and command line of the kube-apiserver serving port.
func findAPIServer(port string) (int, []string, error) {
	all, err := pids()
	if err != nil {
		return 0, nil, err
	}
	flag := "--secure-port=" + port
	for _, pid := range all {
		raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		for _, a := range args[1:] {
			if a == flag {
				return pid, args, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("no kube-apiserver process with %s", flag)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
