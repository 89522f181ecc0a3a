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
}
