//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBackendKilledMidLoad: sticky users keep sending while one backend dies without
// its EndpointSlice changing (a crash the control plane has not seen yet). Under
// rebalance no request fails — a refused connection, and a GET the backend had in
// hand as it died, is retried elsewhere and the session re-pinned — and users of the
// surviving backends never move.
func TestBackendKilledMidLoad(t *testing.T) {
	a := deploy(t, shared, "crash", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	const users = 12
	pinned := make([]string, users)
	us := make([]*user, users)
	for i := range us {
		us[i] = newUser(fmt.Sprintf("198.18.90.%d", i+1))
		pinned[i] = stickTo(t, us[i], shared, a.host, 2)
	}
	victim := a.backends[0]

	var requests, failures, moved atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(3 * time.Second)
	for i := range us {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(stop) {
				r, err := us[i].try(shared, a.host, "/")
				requests.Add(1)
				if err != nil || r.status != http.StatusOK {
					failures.Add(1)
					continue
				}
				if pinned[i] != victim.name && r.server != pinned[i] {
					moved.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}(i)
	}
	time.Sleep(time.Second)
	victim.kill()
	wg.Wait()
	t.Logf("%d requests, %d failed, %d moved off a surviving backend", requests.Load(), failures.Load(), moved.Load())
	fmt.Printf("e2e figure: backend killed mid-load: %d requests, %d failed, %d sessions of surviving backends moved\n",
		requests.Load(), failures.Load(), moved.Load())
	if failures.Load() != 0 || moved.Load() != 0 {
		t.Fatalf("%d failed requests, %d moved sessions", failures.Load(), moved.Load())
	}
	for i := range us {
		if pinned[i] == victim.name {
			if got := stickTo(t, us[i], shared, a.host, 3); got == victim.name {
				t.Fatalf("user %d still routed to the dead backend", i)
			}
		}
	}
}

// TestSIGTERMDrains: on SIGTERM a replica reports not-ready at once but keeps serving
// for --shutdown-delay (so load balancers stop sending), then finishes what is in
// flight: no request sent to it fails.
func TestSIGTERMDrains(t *testing.T) {
	c, err := launchController("sigterm", "--cookie-key-file="+sharedKeyFile, "--shutdown-delay=1500ms")
	if err != nil {
		t.Fatal(err)
	}
	a := deploy(t, c, "drainload", 2, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	u := newUser("198.18.91.1")
	stickTo(t, u, c, a.host, 2)

	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, time.Second, func() error {
		code, err := c.readyz()
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			return fmt.Errorf("still ready")
		}
		return nil
	})
	notReadyAfter := time.Since(start)
	served := 0
	for time.Since(start) < time.Second { // inside the shutdown delay
		if r := u.get(t, c, a.host, "/"); r.status != http.StatusOK {
			t.Fatalf("request during the shutdown delay: %d", r.status)
		}
		served++
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	t.Logf("not ready %s after SIGTERM; %d requests served while draining; exited after %s",
		notReadyAfter.Round(time.Millisecond), served, time.Since(start).Round(time.Millisecond))
}
