package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// connDoneListener counts what it accepted and what the server said it is done with.
type connDoneListener struct {
	net.Listener
	accepted, done atomic.Int64
}

func (l *connDoneListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func (l *connDoneListener) ConnDone() { l.done.Add(1) }

// settled waits, boundedly, until every accepted connection is done, and fails t with
// the counts if that does not happen.
func (l *connDoneListener) settled(t *testing.T, accepted int64) {
	t.Helper()
	for range 250 {
		if l.accepted.Load() == accepted && l.done.Load() == accepted {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("accepted %d (want %d), done %d", l.accepted.Load(), accepted, l.done.Load())
}

// Every way a connection can end reaches the listener once: closed by the client
// after requests served fast, after it went to net/http, upgraded (hijacked), and
// idle at shutdown.
func TestListenerLearnsOnceWhenEachConnectionIsDone(t *testing.T) {
	ln := &connDoneListener{Listener: listenLocal(t)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			echoHandler(w, r)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		_ = brw.Flush()
		_, _ = bufio.NewReader(c).ReadByte() // the tunnel runs until the client closes
		c.Close()
	})
	fs := serveFast(t, ln, h, nil)

	fast := dialRaw(t, fs.addr)
	fast.send("GET /1 HTTP/1.1\r\nHost: test\r\n\r\n")
	fast.expect("GET", 200, `fast=true GET /1 body="" err=<nil>`)
	fast.c.Close()
	ln.settled(t, 1)

	handed := dialRaw(t, fs.addr)
	handed.send("POST /2 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	handed.expect("POST", 200, `fast=false POST /2 body="abc" err=<nil>`)
	handed.c.Close()
	ln.settled(t, 2)

	upgraded := dialRaw(t, fs.addr)
	upgraded.send("GET /ws HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	if resp, err := upgraded.read("GET", 5*time.Second); err != nil || resp.Status != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	ln.settled(t, 3) // done once upgraded, before the tunnel ends
	upgraded.c.Close()

	idle := dialRaw(t, fs.addr)
	idle.send("GET /3 HTTP/1.1\r\nHost: test\r\n\r\n")
	idle.expect("GET", 200, `fast=true GET /3 body="" err=<nil>`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fs.fast.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ln.settled(t, 4)
}
