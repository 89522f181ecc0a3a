//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackendKilledMidLoad: sticky users keep sending while one backend dies without
// its EndpointSlice changing (a crash the control plane has not seen yet). Under
// rebalance no request fails — a refused connection is retried elsewhere and the
// session re-pinned — and users of the surviving backends never move.
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
