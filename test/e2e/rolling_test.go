//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestRollingRestartUnderLoad: two replicas with one cookie key file sit behind a load
// balancer that, like a cloud one, sends only to replicas whose /readyz answers 200
// (polled every 100ms). Under continuous load replica A gets SIGTERM — readiness drops,
// it keeps serving through --shutdown-delay, then drains and exits — a new A' starts and
// becomes ready, then the same for B. No request may fail and no session may leave its
// pod: cookies made by the old replicas are honoured by the new ones.
func TestRollingRestartUnderLoad(t *testing.T) {
	launch := func(name string) *controller {
		c, err := launchController(name, "--cookie-key-file="+sharedKeyFile, "--shutdown-delay=2s")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.stop()
			if t.Failed() {
				c.dumpLogs(os.Stderr)
			}
		})
		return c
	}
	first, second := launch("rolling-a"), launch("rolling-b")
	a := deploy(t, first, "rolling", 4, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	routed(t, second, a.host)
	lb := newTestLB(first, second)
	defer lb.close()
	eventually(t, 10*time.Second, func() error {
		if n := lb.readyCount(); n != 2 {
			return fmt.Errorf("%d replicas ready behind the balancer", n)
		}
		return nil
	})

	// Half the users open a connection per request, half keep theirs alive.
	const users = 12
	us := make([]*user, users)
	pinned := make([]string, users)
	for i := range us {
		us[i] = newUser(fmt.Sprintf("198.18.93.%d", i+1))
		if i%2 == 1 {
			us[i].http.Transport.(*http.Transport).DisableKeepAlives = false
		}
		pinned[i] = stickTo(t, us[i], lb.pick(), a.host, 2)
	}

	var requests, failures, noReplica atomic.Int64
	moved := make([]atomic.Int64, users)
	stopLoad := startLoad(len(us), func(i int) {
		c := lb.pick()
		if c == nil { // a real balancer would answer 503
			noReplica.Add(1)
			failures.Add(1)
			time.Sleep(10 * time.Millisecond)
			return
		}
		r, err := us[i].try(c, a.host, "/")
		requests.Add(1)
		switch {
		case err != nil || r.status != http.StatusOK:
			if failures.Add(1) <= 5 {
				t.Logf("user %d via %s: status %d, %v", i, c.name, r.status, err)
			}
		case r.server != pinned[i]:
			moved[i].Add(1)
		}
		time.Sleep(2 * time.Millisecond)
	})
	defer stopLoad() // also when the test stops early

	time.Sleep(time.Second)
	// replace sends old SIGTERM, starts its successor, and waits until old has exited
	// and the balancer sends to the successor.
	replace := func(old *controller, name string) *controller {
		start := time.Now()
		lb.terminating(old)
		if err := old.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		next := launch(name)
		lb.add(next)
		select {
		case <-old.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s did not exit after SIGTERM", old.name)
		}
		exited := time.Since(start)
		eventually(t, 15*time.Second, func() error {
			if lb.stats(next).sent == 0 {
				return fmt.Errorf("no request sent to %s yet", name)
			}
			return nil
		})
		st := lb.stats(old)
		t.Logf("%s: %d requests sent to it, %d after SIGTERM (inside the shutdown delay); balancer saw it not ready: %v; exited %s after SIGTERM; %s took traffic %s after SIGTERM",
			old.name, st.sent, st.sentAfterTerm, st.sawNotReady, exited.Round(time.Millisecond), name, time.Since(start).Round(time.Millisecond))
		return next
	}
	last := []*controller{replace(first, "rolling-a2"), replace(second, "rolling-b2")}
	time.Sleep(time.Second)
	stopLoad()

	for _, old := range []*controller{first, second} {
		if !lb.stats(old).sawNotReady {
			t.Errorf("the balancer never saw %s report not-ready while it was still up", old.name)
		}
	}
	kept := 0
	for i, u := range us { // and the old cookies on each new replica
		ok := moved[i].Load() == 0
		for _, c := range last {
			if got := stickTo(t, u, c, a.host, 1); got != pinned[i] {
				t.Errorf("session %d pinned to %s lands on %s via %s after the rolling restart", i, pinned[i], got, c.name)
				ok = false
			}
		}
		if ok {
			kept++
		}
	}
	var per string
	for _, c := range []*controller{first, second, last[0], last[1]} {
		per += fmt.Sprintf(" %s=%d", c.name, lb.stats(c).sent)
	}
	msg := fmt.Sprintf("rolling restart of 2 replicas under load: %d requests (%s), %d failed (%d with no ready replica), %d/%d sessions kept their pods",
		requests.Load(), per[1:], failures.Load(), noReplica.Load(), kept, users)
	t.Log(msg)
	fmt.Println("e2e figure:", msg)
	if failures.Load() != 0 || kept != users {
		t.Fatal(msg)
	}
}

// testLB sends to the members whose /readyz answered 200 at the last poll, round-robin.
type testLB struct {
	mu      sync.Mutex
	members []*lbMember
	next    int
	done    chan struct{}
	wg      sync.WaitGroup
}

type lbMember struct {
	c             *controller
	ready         bool
	sawNotReady   bool // a poll got an answer other than 200: up, but not ready
	terminating   bool
	sent          int
	sentAfterTerm int
}

type lbStats struct {
	sawNotReady   bool
	sent          int
	sentAfterTerm int
}

func newTestLB(cs ...*controller) *testLB {
	lb := &testLB{done: make(chan struct{})}
	for _, c := range cs {
		lb.add(c)
	}
	return lb
}

// add polls c's /readyz every 100ms until the balancer closes or c exits.
func (lb *testLB) add(c *controller) {
	m := &lbMember{c: c}
	lb.mu.Lock()
	lb.members = append(lb.members, m)
	lb.mu.Unlock()
	hc := &http.Client{Timeout: time.Second}
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			ok, answered := false, false
			if resp, err := hc.Get("http://" + c.healthAddr + "/readyz"); err == nil {
				resp.Body.Close()
				answered, ok = true, resp.StatusCode == http.StatusOK
			}
			lb.mu.Lock()
			m.ready = ok
			if answered && !ok {
				m.sawNotReady = true
			}
			lb.mu.Unlock()
			select {
			case <-lb.done:
				return
			case <-c.done:
				lb.mu.Lock()
				m.ready = false
				lb.mu.Unlock()
				return
			case <-tick.C:
			}
		}
	}()
}

// pick returns the next ready member (and counts a request for it), or nil when none
// is ready.
func (lb *testLB) pick() *controller {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for range lb.members {
		m := lb.members[lb.next%len(lb.members)]
		lb.next++
		if m.ready {
			m.sent++
			if m.terminating {
				m.sentAfterTerm++
			}
			return m.c
		}
	}
	return nil
}

func (lb *testLB) member(c *controller) *lbMember {
	for _, m := range lb.members {
		if m.c == c {
			return m
		}
	}
	panic("not a member: " + c.name)
}

func (lb *testLB) readyCount() int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	n := 0
	for _, m := range lb.members {
		if m.ready {
			n++
		}
	}
	return n
}

// terminating marks c as about to get SIGTERM, for the figures.
func (lb *testLB) terminating(c *controller) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.member(c).terminating = true
}

func (lb *testLB) stats(c *controller) lbStats {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	m := lb.member(c)
	return lbStats{sawNotReady: m.sawNotReady, sent: m.sent, sentAfterTerm: m.sentAfterTerm}
}

func (lb *testLB) close() {
	close(lb.done)
	lb.wg.Wait()
}
