//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkerProcesses runs the controller with --workers=2: two worker processes
// serve on shared listeners, cookies they issue work in the other worker and in a
// single-process replica, a TLS Secret and an EndpointSlice change reach every
// worker, /metrics counts both workers' requests, and SIGTERM drains and leaves no
// worker behind.
func TestWorkerProcesses(t *testing.T) {
	c, err := launchController("workers", "--workers=2", "--cookie-key-file="+sharedKeyFile, "--shutdown-delay=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	workers := childrenOf(c.cmd.Process.Pid)
	if len(workers) != 2 {
		t.Fatalf("%d worker processes, want 2", len(workers))
	}

	a := deploy(t, c, "workers", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	routed(t, shared, a.host)
	requests := 0
	for i := 0; i < 6; i++ {
		u := newUser(fmt.Sprintf("198.18.62.%d", i+1)) // every request a new connection, spread over the workers
		pinned := stickTo(t, u, c, a.host, 4)
		if got := stickTo(t, u, shared, a.host, 2); got != pinned {
			t.Fatalf("the workers pinned %s, the single-process replica sent the same cookie to %s", pinned, got)
		}
		requests += 4
	}

	// An EndpointSlice change: one backend left. Every worker sends everyone there.
	setEndpoints(t, a.ns, "web", ready(a.backends[0])...)
	eventually(t, 10*time.Second, func() error {
		for i := 0; i < 8; i++ {
			r, err := newUser("198.18.63.1").try(c, a.host, "/")
			if err != nil {
				return err
			}
			if r.server != a.backends[0].name {
				return fmt.Errorf("served by %s, want %s", r.server, a.backends[0].name)
			}
		}
		return nil
	})

	body := scrape(t, c)
	served := 0.0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "sticky_ingress_requests_total{") && strings.Contains(line, a.host) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			served += v
		}
	}
	if served < float64(requests) {
		t.Errorf("/metrics counts %v requests for %s; the test made at least %d", served, a.host, requests)
	}
	if !strings.Contains(body, "sticky_ingress_snapshot_swaps_total{result=\"ok\"}") || !strings.Contains(body, "controller_runtime_") {
		t.Error("/metrics lacks the supervisor's own series (route-table swaps, controller-runtime)")
	}

	// A TLS Secret reaches every worker (after the count above: the second Ingress
	// renames the backend, whose series start again): each new connection is served its certificate.
	secureHost(t, a)
	eventually(t, 10*time.Second, func() error {
		for i := 0; i < 8; i++ {
			if err := servesCertificateOf(c, a.host); err != nil {
				return err
			}
		}
		return nil
	})

	// SIGTERM: not ready at once, still serving during the delay, then every process gone.
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, func() error {
		if code, err := c.readyz(); err == nil && code == http.StatusOK {
			return fmt.Errorf("still ready")
		}
		return nil
	})
	if r := newUser("198.18.63.2").get(t, c, a.host, "/"); r.status != http.StatusOK {
		t.Fatalf("request during the shutdown delay: %d", r.status)
	}
	select {
	case <-c.done:
	case <-time.After(40 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	for _, pid := range workers {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil && !zombie(pid) {
			t.Errorf("worker %d still running after the supervisor exited", pid)
		}
	}
}

// scrape returns c's /metrics.
func scrape(t *testing.T, c *controller) string {
	t.Helper()
	res, err := http.Get("http://" + c.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d: %s", res.StatusCode, b)
	}
	return string(b)
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	all, _ := pids()
	for _, child := range all {
		if ppid, _ := statField(child, 4); ppid == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

func zombie(pid int) bool {
	state, _ := statField(pid, 3)
	return state == "Z"
}

// statField is field n (1-based, as proc(5) numbers them) of /proc/pid/stat.
func statField(pid, n int) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	fields := strings.Fields(s[i+1:])
	if n-3 < 0 || n-3 >= len(fields) {
		return "", fmt.Errorf("no field %d", n)
	}
	return fields[n-3], nil
}
