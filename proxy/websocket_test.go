package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// wsBackend answers an Upgrade with 101 and then echoes lines, prefixed by its name.
func wsBackend(t *testing.T, name string) *testBackend {
	return startBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			w.Header().Set("X-Server-Id", name)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Server-Id: %s\r\n\r\n", name)
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprintf(brw, "%s:%s", name, line)
			brw.Flush()
		}
	})
}

// TestWebSocketUpgradeKeepsAffinity: the upgrade is pinned like any request, the 101
// carries the affinity cookie, and the tunnel carries data both ways.
func TestWebSocketUpgradeKeepsAffinity(t *testing.T) {
	bs := []*testBackend{wsBackend(t, "a"), wsBackend(t, "b"), wsBackend(t, "c")}
	p := startProxy(t, oneHost("ws.test", backendsOf(bs...), cookieAffinity()))
	ck, server := pinnedTo(t, p, "ws.test")

	for i := 0; i < 3; i++ {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(p.httpURL, "http://"), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: STICKY=%s\r\n\r\n", ck)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Server-Id") != server {
			t.Fatalf("upgrade %d: %d from %q, want 101 from %s", i, resp.StatusCode, resp.Header.Get("X-Server-Id"), server)
		}
		fmt.Fprintf(conn, "hello %d\n", i)
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s:hello %d\n", server, i); line != want {
			t.Fatalf("tunnel echoed %q, want %q", line, want)
		}
		conn.Close()
	}

	// A new client's upgrade gets its cookie on the 101.
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.httpURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || cookieOf(resp, "STICKY") == nil {
		t.Fatalf("new upgrade: %d, cookies %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	conn.Close()

	// The tunnels are counted as 101s once they close, and hold no in-flight count.
	waitInFlightZero(t, p, backendsOf(bs...)...)
	deadline := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(p.metrics.requests.WithLabelValues("ws.test", "ns/web:80", "101")) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("101s counted: %v", testutil.ToFloat64(p.metrics.requests.WithLabelValues("ws.test", "ns/web:80", "101")))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestShutdownWaitsForTunnelsThenClosesThem: an open WebSocket holds the shutdown up
// to ShutdownTimeout and no longer; then both sides of the tunnel are closed.
func TestShutdownWaitsForTunnelsThenClosesThem(t *testing.T) {
	b := wsBackend(t, "a")
	for _, tc := range []struct {
		name        string
		clientEnds  bool // the client closes the tunnel during the shutdown
		wantErr     bool
		minDuration time.Duration
	}{
		{"tunnel ends by itself", true, false, 0},
		{"tunnel cut at the timeout", false, true, 400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, oneHost("ws.test", backendsOf(b), cookieAffinity()), func(o *Options) { o.ShutdownTimeout = 400 * time.Millisecond })
			conn, err := net.Dial("tcp", strings.TrimPrefix(p.httpURL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			br := bufio.NewReader(conn)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			begin := time.Now()
			result := make(chan error, 1)
			go func() { result <- p.shutdown() }()
			// The tunnel still works while the shutdown waits.
			fmt.Fprint(conn, "ping\n")
			if line, err := br.ReadString('\n'); err != nil || line != "a:ping\n" {
				t.Fatalf("tunnel during shutdown: %q %v", line, err)
			}
			if tc.clientEnds {
				conn.Close()
			} else if _, err := br.ReadString('\n'); err == nil {
				t.Fatal("the tunnel was not closed at the timeout")
			}
			err = <-result
			if (err != nil) != tc.wantErr {
				t.Fatalf("shutdown error %v, want error %v", err, tc.wantErr)
			}
			if d := time.Since(begin); d < tc.minDuration || d > 3*time.Second {
				t.Fatalf("shutdown took %s", d)
			}
		})
	}
}
