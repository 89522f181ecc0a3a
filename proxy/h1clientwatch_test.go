package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the calls that lift a connection's read deadline: the
// client watch makes one when it starts (as does a hand-off, which these tests avoid).
type countingListener struct {
	net.Listener
	lifted *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, lifted: l.lifted}, nil
}

type countingConn struct {
	net.Conn
	lifted *atomic.Int32
}

func (c *countingConn) SetReadDeadline(d time.Time) error {
	if d.IsZero() {
		c.lifted.Add(1)
	}
	return c.Conn.SetReadDeadline(d)
}

func TestFastServerClientWatch(t *testing.T) {
	released := make(chan time.Time, 1)
	var lifted atomic.Int32
	fs := serveFast(t, countingListener{listenLocal(t), &lifted}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait":
			select {
			case <-r.Context().Done():
				released <- time.Now()
			case <-time.After(5 * time.Second):
				released <- time.Time{}
			}
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	}), nil)
	// A plain TCP listener's connections are served inline (rawsocket.ServeReads),
	// and a long request's client is peeked at; the counting listener's wrapped
	// connections are served with reads that wait, and watched by a read.
	inline := serveFast(t, listenLocal(t), fs.srv.Handler, nil)
	for _, srv := range []struct {
		name string
		fs   *fastServer
	}{{"watched by a read", fs}, {"served inline", inline}} {
		for _, after := range []time.Duration{20 * time.Millisecond, 300 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s, client leaves after %v", srv.name, after), func(t *testing.T) {
				c := dialRaw(t, srv.fs.addr)
				c.send("GET /wait HTTP/1.1\r\nHost: test\r\n\r\n")
				time.Sleep(after)
				left := time.Now()
				c.c.Close()
				at := <-released
				if at.IsZero() || at.Sub(left) > time.Second {
					t.Fatalf("handler released %v after the client left", at.Sub(left))
				}
			})
		}
	}
	t.Run("fast requests start no watch", func(t *testing.T) {
		c := dialRaw(t, fs.addr)
		base := lifted.Load()
		for range 50 {
			c.send("GET /fast HTTP/1.1\r\nHost: test\r\n\r\n")
			c.expect("GET", 200, "ok")
		}
		if n := lifted.Load() - base; n != 0 {
			t.Fatalf("%d watches started for 50 fast requests", n)
		}
		c.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
		c.expect("GET", 200, "ok")
		if lifted.Load() == base {
			t.Fatal("a 200 ms request started no watch: the counter does not see it")
		}
	})
}

// pipeWatched is a connection on a pipe with its client watch ready: for tests that
// drive the watch by hand (a pipe is no raw socket: peeks find nothing).
func pipeWatched(t *testing.T) *h1ServerConn {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	sc := &h1ServerConn{c: a, raw: a, rw: a, br: bufio.NewReader(a)}
	sc.cancel.init(context.Background())
	sc.watch.init(sc)
	return sc
}

// TestClientWatchEndsTwice: end after end (a panic after the first, recovered by
// serveRequest) returns at once, whether or not the watch had started, for a
// request served inline (peeked at) or not (read from).
func TestClientWatchEndsTwice(t *testing.T) {
	sc := pipeWatched(t)
	for _, inline := range []bool{false, true} {
		fired := watchFired
		if inline {
			fired = watchPeeking
		}
		for _, ticks := range []int{0, 3} {
			sc.watch.begin(nil, inline)
			for range ticks {
				sc.watch.tick()
			}
			if started := sc.watch.state.Load() == fired; started != (ticks > 0) {
				t.Fatalf("inline %v, %d ticks: watch started %v", inline, ticks, started)
			}
			sc.watch.end()
			done := make(chan struct{})
			go func() { sc.watch.end(); close(done) }()
			waitDone(t, done, "the second end")
		}
	}
}

// A request served inline that runs on is peeked at ever more rarely: the gaps
// double from one tick to maxPeekGap, and the schedule starts over with the next
// request.
func TestClientWatchPeeksLessOftenAsARequestRunsOn(t *testing.T) {
	sc := pipeWatched(t)
	fire := func() {
		sc.watch.begin(nil, true)
		for sc.watch.state.Load() != watchPeeking {
			sc.watch.tick()
		}
	}
	fire()
	// Peeks at watch ticks 0 (firing), 1, 3, 7, 15, 31, then every 32: 63, 95,
	// 127, 159, 191.
	for range 200 {
		sc.watch.tick()
	}
	if got := sc.watch.peeks; got != 11 {
		t.Errorf("%d peeks in 200 ticks of a long request, want 11", got)
	}
	sc.watch.end()
	sc.watch.peeks = 0
	fire()
	sc.watch.tick()
	sc.watch.tick()
	if got := sc.watch.peeks; got != 2 {
		t.Errorf("the next request: %d peeks on its firing and 2 ticks after, want 2", got)
	}
	sc.watch.end()
}
