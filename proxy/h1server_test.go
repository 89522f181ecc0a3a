package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/internal/loopback"
	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
)

// echoHandler answers with whether the fast path served the request, its method and
// target, and its body.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	_, fast := w.(*h1ResponseWriter)
	fmt.Fprintf(w, "fast=%v %s %s body=%q err=%v", fast, r.Method, r.RequestURI, body, err)
}

// expect reads one response and checks its status and body.
func (c *rawClient) expect(method string, status int, body string) *wireResponse {
	c.t.Helper()
	resp, err := c.read(method, 5*time.Second)
	if err != nil {
		c.t.Fatalf("want %d %q: %v", status, body, err)
	}
	if resp.Status != status || resp.Body != body || resp.BodyErr != "" {
		c.t.Fatalf("got %d %q (%s), want %d %q", resp.Status, resp.Body, resp.BodyErr, status, body)
	}
	return resp
}

// closedWithin reports whether the server closes c within d, and when.
func (c *rawClient) closedWithin(d time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = c.c.SetReadDeadline(start.Add(d))
	_, err := c.br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, false
	}
	return time.Since(start), err != nil
}

func TestFastServerHandsOffMidConnection(t *testing.T) {
	fs := startFastServer(t, http.HandlerFunc(echoHandler), nil)
	c := dialRaw(t, fs.addr)
	c.send("GET /1 HTTP/1.1\r\nHost: test\r\n\r\n")
	c.expect("GET", 200, `fast=true GET /1 body="" err=<nil>`)

	c.send("POST /2 HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	cont, err := http.ReadResponse(c.br, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v, %v", cont, err)
	}
	c.send("hello")
	c.expect("POST", 200, `fast=false POST /2 body="hello" err=<nil>`)

	c.send("POST /3 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	c.expect("POST", 200, `fast=false POST /3 body="abcde" err=<nil>`)
	c.send("GET /4 HTTP/1.1\r\nHost: test\r\n\r\n")
	c.expect("GET", 200, `fast=false GET /4 body="" err=<nil>`)
}

func TestFastServerUpgradeIsHijackedByNetHTTP(t *testing.T) {
	fs := startFastServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4)
		if _, err := io.ReadFull(brw, b); err == nil {
			_, _ = conn.Write(b)
		}
	}), nil)
	c := dialRaw(t, fs.addr)
	c.send("GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("want 101, got %v, %v", resp, err)
	}
	c.send("ping")
	b := make([]byte, 4)
	if _, err := io.ReadFull(c.br, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo: %q, %v", b, err)
	}
}

func TestFastServerPipelining(t *testing.T) {
	fs := startFastServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(250 * time.Millisecond) // the client watch starts meanwhile
		}
		echoHandler(w, r)
	}), nil)
	get := func(p string) string { return "GET " + p + " HTTP/1.1\r\nHost: test\r\n\r\n" }
	c := dialRaw(t, fs.addr)
	c.send(get("/1") + get("/2") + get("/3"))
	for _, p := range []string{"/1", "/2", "/3"} {
		c.expect("GET", 200, `fast=true GET `+p+` body="" err=<nil>`)
	}
	c.send(get("/slow") + get("/after-slow"))
	c.expect("GET", 200, `fast=true GET /slow body="" err=<nil>`)
	c.expect("GET", 200, `fast=true GET /after-slow body="" err=<nil>`)
	// The one in the middle is net/http's, and so is everything after it.
	c.send(get("/4") + "POST /5 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n" + get("/6"))
	c.expect("GET", 200, `fast=true GET /4 body="" err=<nil>`)
	c.expect("POST", 200, `fast=false POST /5 body="x" err=<nil>`)
	c.expect("GET", 200, `fast=false GET /6 body="" err=<nil>`)
}

// A client that sends its next request while the last is served, after the server
// read its socket empty: served inline, the bytes that came meanwhile wake the
// connection's wait for them (a read per request would have reset the readiness
// they reported, and waited for ever); with a body, the same.
func TestFastServerRequestSentDuringTheLastOne(t *testing.T) {
	sent := make(chan struct{}, 1)
	fs := startFastServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			select {
			case <-sent:
			case <-time.After(5 * time.Second):
			}
			time.Sleep(20 * time.Millisecond) // the bytes arrive and are reported
		}
		echoHandler(w, r)
	}), nil)
	c := dialRaw(t, fs.addr)
	for _, next := range []string{
		"GET /second HTTP/1.1\r\nHost: test\r\n\r\n",
		"POST /second HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc",
	} {
		c.send("GET /first HTTP/1.1\r\nHost: test\r\n\r\n")
		time.Sleep(20 * time.Millisecond) // the server reads it and serves it
		c.send(next)
		sent <- struct{}{}
		c.expect("GET", 200, `fast=true GET /first body="" err=<nil>`)
		method, body := "GET", ""
		if strings.HasPrefix(next, "POST") {
			method, body = "POST", "abc"
		}
		c.expect(method, 200, fmt.Sprintf("fast=true %s /second body=%q err=<nil>", method, body))
	}
}

// A client that half-closes right after its request (printf … | nc) gets its answer
// and then the server's close, not a wait for the idle timeout: served inline, its
// FIN came with the request and is found though no readiness reports it again.
func TestFastServerClientHalfClosesAfterItsRequest(t *testing.T) {
	fs := startFastServer(t, http.HandlerFunc(echoHandler), nil)
	c := dialRaw(t, fs.addr)
	c.send("GET /last HTTP/1.1\r\nHost: test\r\n\r\n")
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expect("GET", 200, `fast=true GET /last body="" err=<nil>`)
	if _, closed := c.closedWithin(5 * time.Second); !closed {
		t.Fatal("the server kept the half-closed connection open")
	}
}

func TestFastServerHeads(t *testing.T) {
	fs := startFastServer(t, http.HandlerFunc(echoHandler), nil)
	t.Run("split across two writes", func(t *testing.T) {
		c := dialRaw(t, fs.addr)
		c.send("GET /split HTTP/1.1\r\nHo")
		time.Sleep(50 * time.Millisecond)
		c.send("st: test\r\n\r\n")
		c.expect("GET", 200, `fast=true GET /split body="" err=<nil>`)
	})
	t.Run("larger than 4 KiB", func(t *testing.T) {
		c := dialRaw(t, fs.addr)
		c.send("GET /big HTTP/1.1\r\nHost: test\r\nCookie: c=" + strings.Repeat("x", 6000) + "\r\n\r\n")
		c.expect("GET", 200, `fast=false GET /big body="" err=<nil>`)
	})
	t.Run("bare LF", func(t *testing.T) {
		c := dialRaw(t, fs.addr)
		c.send("GET /lf HTTP/1.1\nHost: test\n\n")
		c.expect("GET", 200, `fast=false GET /lf body="" err=<nil>`)
	})
}

func TestFastServerRequestBodies(t *testing.T) {
	fs := startFastServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("ignore") {
			_, _ = io.WriteString(w, "ignored")
			return
		}
		echoHandler(w, r)
	}), nil)
	c := dialRaw(t, fs.addr)
	c.send("POST /read HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
	c.expect("POST", 200, `fast=true POST /read body="hello" err=<nil>`)
	c.send("GET /next HTTP/1.1\r\nHost: test\r\n\r\n")
	c.expect("GET", 200, `fast=true GET /next body="" err=<nil>`)
	// A body the handler leaves alone, one that looks like a request, then one in
	// two parts: none of it may be taken for the next request.
	fake := "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n"
	c.send(fmt.Sprintf("POST /x?ignore HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", len(fake), fake))
	c.expect("POST", 200, "ignored")
	c.send("PUT /y?ignore HTTP/1.1\r\nHost: test\r\nContent-Length: 20000\r\n\r\n" + strings.Repeat("a", 10000))
	time.Sleep(20 * time.Millisecond)
	c.send(strings.Repeat("a", 10000))
	c.expect("PUT", 200, "ignored")
	c.send("GET /last HTTP/1.1\r\nHost: test\r\n\r\n")
	c.expect("GET", 200, `fast=true GET /last body="" err=<nil>`)
	big := strings.Repeat("c", h1SyncBodyMax+1) // too large for the fast path
	c.send(fmt.Sprintf("POST /big HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", len(big), big))
	c.expect("POST", 200, fmt.Sprintf("fast=false POST /big body=%q err=<nil>", big))
}

// sameAsNetHTTP runs talk against net/http's server and the fast one, both with cfg,
// and compares what it returns; bug marks a known difference.
func sameAsNetHTTP(t *testing.T, h http.HandlerFunc, cfg func(*http.Server), bug string, talk func(c *rawClient) string) {
	std := talk(dialRaw(t, startStdServer(t, h, cfg)))
	fast := talk(dialRaw(t, startFastServer(t, h, cfg).addr))
	switch {
	case std != fast && bug != "":
		t.Skipf("BUG: %s\nnet/http: %s\nfast:     %s", bug, std, fast)
	case std == fast && bug != "":
		t.Fatalf("marked %q but now the same as net/http (%s): remove the mark", bug, std)
	case std != fast:
		t.Fatalf("net/http: %s\nfast:     %s", std, fast)
	}
}

// outcome reads one response and says what came.
func (c *rawClient) outcome(method string) string {
	resp, err := c.read(method, 3*time.Second)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%d %q close=%v", resp.Status, resp.Body, resp.Close)
}

func TestFastServerMatchesNetHTTPOnTheWire(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%q err=%v", r.Method, r.RequestURI, b, err)
	}
	t.Run("CRLF after a POST body", func(t *testing.T) {
		sameAsNetHTTP(t, echo, nil, "",
			func(c *rawClient) string {
				c.send("POST /p HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc\r\nGET /g HTTP/1.1\r\nHost: test\r\n\r\n")
				return c.outcome("POST") + " | " + c.outcome("GET")
			})
	})
	t.Run("body slower than ReadHeaderTimeout", func(t *testing.T) {
		cfg := func(s *http.Server) { s.ReadHeaderTimeout = 200 * time.Millisecond }
		sameAsNetHTTP(t, echo, cfg, "",
			func(c *rawClient) string {
				c.send("POST /slow-body HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\n")
				time.Sleep(400 * time.Millisecond)
				c.send("hello")
				return c.outcome("POST")
			})
	})
	t.Run("head trickled past ReadHeaderTimeout", func(t *testing.T) {
		cfg := func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond }
		sameAsNetHTTP(t, echo, cfg, "",
			func(c *rawClient) string {
				c.send("GET /trickle HTTP/1.1\r\nHost: test\r\n")
				for i := range 8 {
					time.Sleep(100 * time.Millisecond)
					if _, err := fmt.Fprintf(c.c, "X-%d: y\r\n", i); err != nil {
						return "closed"
					}
				}
				_, _ = io.WriteString(c.c, "\r\n")
				if s := c.outcome("GET"); !strings.HasPrefix(s, "error: ") {
					return s
				}
				return "closed"
			})
	})
	t.Run("keep-alive with no IdleTimeout", func(t *testing.T) {
		cfg := func(s *http.Server) { s.ReadHeaderTimeout = 200 * time.Millisecond }
		sameAsNetHTTP(t, echo, cfg, "",
			func(c *rawClient) string {
				c.send("GET /1 HTTP/1.1\r\nHost: test\r\n\r\n")
				first := c.outcome("GET")
				time.Sleep(400 * time.Millisecond)
				_, _ = io.WriteString(c.c, "GET /2 HTTP/1.1\r\nHost: test\r\n\r\n")
				return first + " | " + c.outcome("GET")
			})
	})
	t.Run("request context ends when the handler returns", func(t *testing.T) {
		var ended atomic.Pointer[chan struct{}] // the last /start request's context ended
		h := func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/start" {
				ch, ctx := make(chan struct{}), r.Context()
				ended.Store(&ch)
				go func() {
					select {
					case <-ctx.Done():
						close(ch)
					case <-time.After(2 * time.Second):
					}
				}()
				return
			}
			select {
			case <-*ended.Load():
				_, _ = io.WriteString(w, "ended")
			case <-time.After(500 * time.Millisecond):
				_, _ = io.WriteString(w, "still live")
			}
		}
		sameAsNetHTTP(t, h, nil, "the request's context is the connection's: it is not cancelled when ServeHTTP returns (net/http cancels it), so work tied to it outlives the request until the connection closes",
			func(c *rawClient) string {
				c.send("GET /start HTTP/1.1\r\nHost: test\r\n\r\n")
				first := c.outcome("GET")
				c.send("GET /check HTTP/1.1\r\nHost: test\r\n\r\n")
				return first + " | " + c.outcome("GET")
			})
	})
}

// shutdownView is what clients see of a graceful shutdown with one idle and one
// active connection.
type shutdownView struct {
	IdleClosed, Refused, WaitedForActive, ActiveClosedAfter, Returned bool
	Active                                                            string
	ActiveSaysClose                                                   bool
}

func shutdownFlow(t *testing.T, h func(http.HandlerFunc) string, shutdown func(context.Context) error) shutdownView {
	started, release := make(chan struct{}, 1), make(chan struct{})
	addr := h(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	})
	var v shutdownView
	idle, active := dialRaw(t, addr), dialRaw(t, addr)
	idle.send("GET /idle HTTP/1.1\r\nHost: test\r\n\r\n")
	idle.expect("GET", 200, "done /idle")
	active.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
	<-started
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- shutdown(ctx)
	}()
	_, v.IdleClosed = idle.closedWithin(time.Second)
	for deadline := time.Now().Add(time.Second); !v.Refused && time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
			v.Refused = true
		} else {
			c.Close()
			time.Sleep(20 * time.Millisecond)
		}
	}
	select {
	case <-errc:
	case <-time.After(100 * time.Millisecond):
		v.WaitedForActive = true
	}
	close(release)
	if resp, err := active.read("GET", 5*time.Second); err != nil {
		v.Active = err.Error()
	} else {
		v.Active, v.ActiveSaysClose = fmt.Sprintf("%d %q", resp.Status, resp.Body), resp.Close
	}
	_, v.ActiveClosedAfter = active.closedWithin(time.Second)
	select {
	case err := <-errc:
		v.Returned = err == nil
	case <-time.After(2 * time.Second):
	}
	return v
}

func TestFastServerShutdown(t *testing.T) {
	want := shutdownView{IdleClosed: true, Refused: true, WaitedForActive: true, ActiveClosedAfter: true, Returned: true,
		Active: `200 "done /slow"`, ActiveSaysClose: true}
	var srv *http.Server
	std := shutdownFlow(t, func(h http.HandlerFunc) string {
		ln := listenLocal(t)
		srv = quietServer(h, nil)
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return ln.Addr().String()
	}, func(ctx context.Context) error { return srv.Shutdown(ctx) })
	if std != want {
		t.Fatalf("net/http's shutdown: %+v, want %+v", std, want)
	}
	var fs *fastServer
	fast := shutdownFlow(t, func(h http.HandlerFunc) string {
		fs = startFastServer(t, h, nil)
		return fs.addr
	}, func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- fs.srv.Shutdown(ctx) }()
		return errors.Join(fs.fast.Shutdown(ctx), <-errc)
	})
	t.Run("idle closed, new refused, active finished, Shutdown returned", func(t *testing.T) {
		got := fast
		got.ActiveSaysClose = true
		if got != want {
			t.Fatalf("got %+v, want %+v", fast, want)
		}
	})
	t.Run("the active response says Connection: close", func(t *testing.T) {
		if !fast.ActiveSaysClose {
			t.Fatal("the answer to a request that began before Shutdown lacks \"Connection: close\", yet the connection closes after it (net/http decides at WriteHeader and says close)")
		}
	})
}

func TestFastServerTimeouts(t *testing.T) {
	const header, idle = 200 * time.Millisecond, 300 * time.Millisecond
	fs := startFastServer(t, http.HandlerFunc(echoHandler), func(s *http.Server) {
		s.ReadHeaderTimeout, s.IdleTimeout = header, idle
	})
	t.Run("silent connection closed after ReadHeaderTimeout", func(t *testing.T) {
		c := dialRaw(t, fs.addr)
		if d, ok := c.closedWithin(3 * time.Second); !ok || d < header*3/4 || d > header+time.Second {
			t.Fatalf("closed %v (%v) after connecting; ReadHeaderTimeout is %v", ok, d, header)
		}
	})
	c := dialRaw(t, fs.addr)
	c.send("GET /1 HTTP/1.1\r\nHost: test\r\n\r\n")
	c.expect("GET", 200, `fast=true GET /1 body="" err=<nil>`)
	d, closed := c.closedWithin(3 * time.Second)
	t.Run("idle connection closed after IdleTimeout", func(t *testing.T) {
		if !closed || d > idle+time.Second {
			t.Fatalf("closed %v (%v) after the response; IdleTimeout is %v", closed, d, idle)
		}
	})
	t.Run("idle connection not closed before IdleTimeout", func(t *testing.T) {
		if d < idle*3/4 {
			t.Fatalf("idle connection closed %v after the response, before IdleTimeout %v", d, idle)
		}
	})
}

func TestFastServerLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("traffic", func(t *testing.T) {
		fs := startFastServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/wait" {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}
			echoHandler(w, r)
		}), nil)
		// The server's own goroutines (its accept loop, the clients' watchdog)
		// start as it serves: counted once a connection has come and gone.
		warm := dialRaw(t, fs.addr)
		warm.send("GET /a HTTP/1.1\r\nHost: test\r\n\r\n")
		warm.expect("GET", 200, `fast=true GET /a body="" err=<nil>`)
		warm.c.Close()
		serving := steadyGoroutines()
		var clients []*rawClient
		for i := range 10 {
			c := dialRaw(t, fs.addr)
			clients = append(clients, c)
			c.send("GET /a HTTP/1.1\r\nHost: test\r\n\r\nPOST /b HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\n\r\nx")
			c.expect("GET", 200, `fast=true GET /a body="" err=<nil>`)
			c.expect("POST", 200, `fast=true POST /b body="x" err=<nil>`)
			if i%3 == 0 { // now net/http's
				c.send("POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
				c.expect("POST", 200, `fast=false POST /c body="" err=<nil>`)
			}
		}
		leaver := dialRaw(t, fs.addr)
		leaver.send("GET /wait HTTP/1.1\r\nHost: test\r\n\r\n")
		time.Sleep(150 * time.Millisecond)
		clients = append(clients, leaver, dialRaw(t, fs.addr)) // and one that never speaks
		for _, c := range clients {
			c.c.Close()
		}
		waitGoroutines(t, serving, "after the clients left")
	})
	waitGoroutines(t, before, "after the server closed")
}

// steadyGoroutines is the number of goroutines once it has stopped changing.
func steadyGoroutines() int {
	n := runtime.NumGoroutine()
	for range 40 {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

func waitGoroutines(t *testing.T, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > want {
		buf := make([]byte, 1<<20)
		t.Fatalf("%s: %d goroutines, want at most %d\n%s", when, n, want, buf[:runtime.Stack(buf, true)])
	}
}

// A connection handed to net/http keeps its half-close (net/http's graceful close
// after an error answer) through both wrappers it may wear: the raw socket and the
// replay of what the fast server had read.
func TestHandedOffConnectionHalfCloses(t *testing.T) {
	c, peer := loopback.Pair(t)
	rc := &replayConn{Conn: rawsocket.Wrap(c), pending: []byte("GET")}
	if err := rc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("the peer read %d, %v after the half-close; want EOF", n, err)
	}
	// Only our side is closed: the client's bytes still arrive.
	if _, err := peer.Write([]byte(" /")); err != nil {
		t.Fatal(err)
	}
	_ = rc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(io.LimitReader(rc, 5))
	if err != nil || string(got) != "GET /" {
		t.Fatalf("read %q, %v after the half-close; want %q", got, err, "GET /")
	}
}
