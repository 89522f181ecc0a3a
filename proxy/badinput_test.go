package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestOversizedHeadersAreRefused(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("big.test", backendsOf(b), cookieAffinity()), func(o *Options) { o.MaxHeaderBytes = 8 << 10 })
	r := p.get(t, "big.test", "X-Padding", strings.Repeat("x", 64<<10))
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", r.StatusCode)
	}
	if b := p.get(t, "big.test"); b.StatusCode != http.StatusOK {
		t.Fatalf("the proxy no longer serves after an oversized request: %d", b.StatusCode)
	}
}

// TestSlowClientsAreCutOffWithoutLeaks: connections that trickle a request header
// (slowloris) are closed at ReadHeaderTimeout, and their goroutines go with them.
func TestSlowClientsAreCutOffWithoutLeaks(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("slow.test", backendsOf(b), cookieAffinity()), func(o *Options) { o.ReadHeaderTimeout = 300 * time.Millisecond })
	addr := strings.TrimPrefix(p.httpURL, "http://")
	// Warm up first, so the idle keep-alive connections of a normal request (client,
	// proxy, upstream pool, backend) are counted in the baseline.
	p.get(t, "slow.test")
	before := runtime.NumGoroutine()

	const slow = 50
	closed := make(chan time.Duration, slow)
	for i := 0; i < slow; i++ {
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				closed <- -1
				return
			}
			defer conn.Close()
			start := time.Now()
			fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: slow.test\r\n") // and never the blank line
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = bufio.NewReader(conn).ReadString('\n') // returns when the proxy hangs up
			closed <- time.Since(start)
		}()
	}
	for i := 0; i < slow; i++ {
		if d := <-closed; d < 0 || d > 3*time.Second {
			t.Fatalf("slow connection %d held for %s", i, d)
		}
	}
	// A normal client is served meanwhile and after.
	if r := p.get(t, "slow.test"); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines after the slow clients left, %d before", n, before)
	}
}
