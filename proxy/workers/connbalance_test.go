package workers

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// openConnectionsMetric is what /metrics says of the workers' open connections.
func openConnectionsMetric(a, b int64) string {
	return fmt.Sprintf(`
# HELP sticky_ingress_worker_open_connections Client connections open in each worker process (--workers).
# TYPE sticky_ingress_worker_open_connections gauge
sticky_ingress_worker_open_connections{worker="0"} %d
sticky_ingress_worker_open_connections{worker="1"} %d
`, a, b)
}

// waitOpenConnections waits, boundedly, until /metrics shows want.
func waitOpenConnections(t *testing.T, reg prometheus.Gatherer, want string) {
	t.Helper()
	var err error
	for range 250 {
		if err = testutil.GatherAndCompare(reg, strings.NewReader(want), "sticky_ingress_worker_open_connections"); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(err)
}

// Keep-alive connections are shared out one for one between real worker processes,
// whichever worker SO_REUSEPORT hands each to, and counted down as they close.
func TestKeepAliveConnectionsAreSharedOutEvenlyBetweenWorkers(t *testing.T) {
	s, url, reg := startedWith(t, 2, Options{BalanceConnections: true})
	conns := openKeepAlive(t, s, url, reg, 6)
	waitOpenConnections(t, reg, openConnectionsMetric(3, 3))
	for _, c := range conns {
		c.Close()
	}
	waitOpenConnections(t, reg, openConnectionsMetric(0, 0))
}

// Without BalanceConnections the connections stay where SO_REUSEPORT put them, and
// /metrics counts them there.
func TestWorkersCountTheirConnectionsWithoutSharingThem(t *testing.T) {
	s, url, reg := started(t, 2)
	conns := openKeepAlive(t, s, url, reg, 6)
	// Each connection was counted before its answer was sent: all six are in.
	a, b := int64(s.openConnections(0)), int64(s.openConnections(1))
	if a+b != 6 {
		t.Fatalf("counts %d and %d, want 6 in all", a, b)
	}
	waitOpenConnections(t, reg, openConnectionsMetric(a, b))
	for _, c := range conns {
		c.Close()
	}
	waitOpenConnections(t, reg, openConnectionsMetric(0, 0))
}

// openKeepAlive serves a table, opens n keep-alive connections one after another and
// has a request answered on each.
func openKeepAlive(t *testing.T, s *Supervisor, url string, reg prometheus.Gatherer, n int) []net.Conn {
	t.Helper()
	if err := s.Update(cookieTable(backend(t, "a"))); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	waitOpenConnections(t, reg, openConnectionsMetric(0, 0))
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	var conns []net.Conn
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "a" {
			t.Fatalf("connection %d: %d %q", i, res.StatusCode, body)
		}
	}
	return conns
}
