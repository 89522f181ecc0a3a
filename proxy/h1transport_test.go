package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is a loopback HTTP server that counts the connections made to it.
type countingServer struct {
	*httptest.Server
	conns atomic.Int32
}

func startCounting(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newTestH1 is an h1Transport as the proxy builds it, with an http.Transport of its
// own behind it; fallbacks counts the requests handed to it.
func newTestH1(t *testing.T, fallbacks *atomic.Int32) *h1Transport {
	fb := &http.Transport{}
	t.Cleanup(fb.CloseIdleConnections)
	var rt http.RoundTripper = fb
	if fallbacks != nil {
		rt = countingRT{fb, fallbacks}
	}
	h1 := newH1Transport(&net.Dialer{Timeout: time.Second}, 2*time.Second, 90*time.Second, 4, rt)
	t.Cleanup(h1.CloseIdleConnections)
	return h1
}

type countingRT struct {
	rt http.RoundTripper
	n  *atomic.Int32
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// do sends a request through rt and returns the status and whole body.
func do(t *testing.T, rt http.RoundTripper, method, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

func TestH1KeepAliveReuse(t *testing.T) {
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello "+r.URL.Path) })
	h1 := newTestH1(t, nil)
	for i := 0; i < 5; i++ {
		if _, body := do(t, h1, http.MethodGet, s.URL+"/x", nil); body != "hello /x" {
			t.Fatalf("body %q", body)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential requests, want 1", n)
	}
}

func TestH1ConnectionCloseIsNotReused(t *testing.T) {
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	h1 := newTestH1(t, nil)
	for i := 0; i < 3; i++ {
		if resp, body := do(t, h1, http.MethodGet, s.URL, nil); body != "bye" || !resp.Close {
			t.Fatalf("body %q, close %v", body, resp.Close)
		}
	}
	if n := s.conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (one per Connection: close answer)", n)
	}
}

func TestH1BodyNotReadToTheEndIsNotReused(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) })
	h1 := newTestH1(t, nil)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := h1.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after Close succeeded")
	}
	if _, body := do(t, h1, http.MethodGet, s.URL, nil); body != big {
		t.Fatalf("second body: %d bytes", len(body))
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: a half-read response leaves its connection unusable", n)
	}
}

// rawServer answers on loopback with a script per connection: serve(conn index,
// conn, reader).
func rawServer(t *testing.T, serve func(i int, c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(i, c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestH1StaleConnectionIsRetriedOnce: the pod reads the second request on a kept-alive
// connection and closes it without an answer, as one closing an idle connection at
// the moment it is reused does. A GET is sent again on a new connection; a POST is
// not (the pod may have acted on it), and fails.
func TestH1StaleConnectionIsRetriedOnce(t *testing.T) {
	var served atomic.Int32
	url := rawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if n == 1 {
				return // close the kept-alive connection instead of answering
			}
			served.Add(1)
			if _, err := io.WriteString(c, okResponse); err != nil {
				return
			}
		}
	})
	h1 := newTestH1(t, nil)
	do(t, h1, http.MethodGet, url, nil)
	if _, body := do(t, h1, http.MethodGet, url, nil); body != "ok" {
		t.Fatalf("retried GET: %q", body)
	}
	if n := served.Load(); n != 2 {
		t.Fatalf("%d answers, want 2", n)
	}

	// The retry's connection, now pooled, has served one request: it closes on this.
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if _, err := h1.RoundTrip(req); err == nil {
		t.Fatal("a POST was sent again after its connection closed")
	} else if isConnectFailure(err) || isTimeout(err) {
		t.Fatalf("stale connection error %v reads as a connect failure or timeout", err)
	}
}

// TestH1IdleConnectionClosedByThePodIsNotUsed: a connection the pod closed while it
// sat in the pool is found before use, so even a POST goes through.
func TestH1IdleConnectionClosedByThePodIsNotUsed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the idle probe peeks at the socket on Linux only")
	}
	url := rawServer(t, func(i int, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, okResponse) // kept alive, then closed at once
	})
	h1 := newTestH1(t, nil)
	do(t, h1, http.MethodGet, url, nil)
	time.Sleep(staleCheckAfter + 50*time.Millisecond) // idle long enough to be probed
	if _, body := do(t, h1, http.MethodPost, url, strings.NewReader("data")); body != "ok" {
		t.Fatalf("POST after the pod closed the idle connection: %q", body)
	}
}

func TestH1RequestAndResponseBodies(t *testing.T) {
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Te", strings.Join(r.TransferEncoding, ","))
		// Two flushed parts: a chunked response.
		_, _ = fmt.Fprintf(w, "%s:", r.Method)
		w.(http.Flusher).Flush()
		_, _ = w.Write(b)
		w.Header().Set("X-Sum", fmt.Sprint(len(b)))
	})
	var fallbacks atomic.Int32
	h1 := newTestH1(t, &fallbacks)

	resp, body := do(t, h1, http.MethodPost, s.URL, strings.NewReader("sized body"))
	if body != "POST:sized body" || resp.Trailer.Get("X-Sum") != "10" || len(resp.TransferEncoding) == 0 {
		t.Fatalf("sized upload: %q trailer %v te %v", body, resp.Trailer, resp.TransferEncoding)
	}
	if fallbacks.Load() != 0 {
		t.Fatal("a small sized upload went to the fallback")
	}
	// Of unknown length: chunked, through the fallback, which writes while it reads.
	resp, body = do(t, h1, http.MethodPut, s.URL, io.MultiReader(strings.NewReader("chunked "), strings.NewReader("body")))
	if body != "PUT:chunked body" || resp.Header.Get("X-Te") != "chunked" {
		t.Fatalf("chunked upload: %q (te %q)", body, resp.Header.Get("X-Te"))
	}
	if fallbacks.Load() != 1 {
		t.Fatalf("%d requests to the fallback, want 1 (the chunked upload)", fallbacks.Load())
	}
	// Large: also the fallback.
	big := strings.Repeat("y", h1SyncBodyMax+1)
	if _, body = do(t, h1, http.MethodPost, s.URL, strings.NewReader(big)); body != "POST:"+big {
		t.Fatalf("large upload: %d bytes back", len(body))
	}
	if fallbacks.Load() != 2 {
		t.Fatalf("%d requests to the fallback, want 2", fallbacks.Load())
	}
}

func TestH1ResponsesWithoutBodies(t *testing.T) {
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}
	})
	h1 := newTestH1(t, nil)
	for _, c := range []struct {
		method, path string
		code         int
		length       int64
	}{
		{http.MethodHead, "/", 200, 5},
		{http.MethodGet, "/204", 204, 0},
		{http.MethodGet, "/304", 304, 0},
		{http.MethodHead, "/", 200, 5},
		{http.MethodGet, "/", 200, 5},
	} {
		resp, body := do(t, h1, c.method, s.URL+c.path, nil)
		want := ""
		if c.method == http.MethodGet && c.code == 200 {
			want = "hello"
		}
		if resp.StatusCode != c.code || body != want || resp.ContentLength != c.length && c.code == 200 {
			t.Fatalf("%s %s: %d %q (length %d)", c.method, c.path, resp.StatusCode, body, resp.ContentLength)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: bodiless answers leave the connection reusable", n)
	}
}

func TestH1InformationalResponses(t *testing.T) {
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "final")
	})
	h1 := newTestH1(t, nil)
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, s.URL, nil)
	resp, err := h1.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "final" {
		t.Fatalf("final answer %d %q", resp.StatusCode, b)
	}
	if len(got) != 1 || got[0] != "103 </style.css>; rel=preload" {
		t.Fatalf("informational answers seen: %q", got)
	}
}

func TestH1CancelWhileReadingTheBody(t *testing.T) {
	release := make(chan struct{})
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	h1 := newTestH1(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	resp, err := h1.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	resp.Body.Close()
}

func TestH1ResponseHeaderTimeoutAndDialFailure(t *testing.T) {
	release := make(chan struct{})
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	fb := &http.Transport{}
	h1 := newH1Transport(&net.Dialer{Timeout: time.Second}, 100*time.Millisecond, time.Minute, 4, fb)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if _, err := h1.RoundTrip(req); !isTimeout(err) || isConnectFailure(err) {
		t.Fatalf("slow pod: %v, want a timeout that is no connect failure", err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	req, _ = http.NewRequest(http.MethodGet, "http://"+addr, nil)
	if _, err := h1.RoundTrip(req); !isConnectFailure(err) {
		t.Fatalf("refused: %v, want a connect failure", err)
	}
}

// TestH1ConcurrentRequests runs many clients at once over a pool smaller than their
// number, under -race: every answer must match its request.
func TestH1ConcurrentRequests(t *testing.T) {
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	})
	h1 := newTestH1(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				path := fmt.Sprintf("/%d/%d", g, i)
				var body io.Reader
				method, want := http.MethodGet, "GET "+path+" "
				if i%3 == 0 {
					method, body, want = http.MethodPost, strings.NewReader("b"+path), "POST "+path+" b"+path
				}
				req, _ := http.NewRequest(method, s.URL+path, body)
				resp, err := h1.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					errs <- fmt.Errorf("%s: %q (%v), want %q", path, b, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProxySendsOrdinaryRequestsThroughH1: the Server's upstream path uses the
// synchronous transport, and the WebSocket tests cover the fallback.
func TestProxySendsOrdinaryRequestsThroughH1(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("h1.test", backendsOf(b), cookieAffinity()))
	if _, ok := p.upstream.base.(*h1Transport); !ok {
		t.Fatalf("upstream base is %T", p.upstream.base)
	}
	for i := 0; i < 3; i++ {
		if r := p.get(t, "h1.test"); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
	}
	pool := p.upstream.h1.pools.get(b.endpoint().Address)
	pool.mu.Lock()
	n := len(pool.conns)
	pool.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d pooled connections after 3 sequential requests, want 1", n)
	}
}

// TestH1ResponseHeaderDeadlineAcrossRequests: the response-header deadline a
// buffered answer leaves armed neither fails the connection's next use, after a
// short or a long idle spell, nor stops timing that use's header; a body streamed
// slower than the header timeout is read to its end.
func TestH1ResponseHeaderDeadlineAcrossRequests(t *testing.T) {
	const timeout = 150 * time.Millisecond
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow-header":
			time.Sleep(2 * timeout)
		case "/slow-body":
			_, _ = io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			time.Sleep(2 * timeout)
		}
		_, _ = io.WriteString(w, "done")
	})
	fb := &http.Transport{}
	h1 := newH1Transport(&net.Dialer{Timeout: time.Second}, timeout, time.Minute, 4, fb)
	t.Cleanup(h1.CloseIdleConnections)

	for _, idle := range []time.Duration{0, timeout / 3, 2 * timeout} {
		time.Sleep(idle)
		if resp, body := do(t, h1, http.MethodGet, s.URL+"/", nil); resp.StatusCode != http.StatusOK || body != "done" {
			t.Fatalf("after %v idle: %d %q", idle, resp.StatusCode, body)
		}
	}
	if _, body := do(t, h1, http.MethodGet, s.URL+"/slow-body", nil); body != "part one, done" {
		t.Fatalf("slow body: %q", body)
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want the first one reused throughout", n)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/slow-header", nil)
	if _, err := h1.RoundTrip(req); !isTimeout(err) {
		t.Fatalf("slow header on a reused connection: %v, want a timeout", err)
	}
}

// writeBuffered writes a small answer's body in one Write and hands the connection
// back as a read to the end would; a body not all buffered is left to Read.
func TestH1BufferedBodyWrittenAtOnce(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	s := startCounting(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, "hello")
	})
	h1 := newTestH1(t, nil)
	get := func(path string) *h1Body {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		resp, err := h1.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := resp.Body.(*h1Body)
		if !ok {
			t.Fatalf("body is a %T", resp.Body)
		}
		return b
	}

	var out strings.Builder
	b := get("/")
	if done, err := b.writeBuffered(&out); !done || err != nil || out.String() != "hello" {
		t.Fatalf("writeBuffered: %v, %v, wrote %q", done, err, out.String())
	}
	if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after writeBuffered: %d, %v; want io.EOF", n, err)
	}
	b.Close()

	b = get("/")
	if done, err := b.writeBuffered(shortWriter{}); !done || err != io.ErrShortWrite {
		t.Fatalf("short write: %v, %v; want io.ErrShortWrite", done, err)
	}
	b.Close()

	out.Reset()
	b = get("/big")
	if done, err := b.writeBuffered(&out); done || err != nil || out.Len() != 0 {
		t.Fatalf("a body larger than the buffer: %v, %v, wrote %d bytes; want it left to Read", done, err, out.Len())
	}
	if rest, err := io.ReadAll(b); err != nil || string(rest) != big {
		t.Fatalf("Read after a declined writeBuffered: %d bytes, %v", len(rest), err)
	}
	b.Close()
	if done, _ := b.writeBuffered(&out); done {
		t.Fatal("writeBuffered on a finished body wrote")
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: an answer written at once is read to its end", n)
	}
}

// shortWriter takes one byte less than it is given.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return max(len(p)-1, 0), nil }
