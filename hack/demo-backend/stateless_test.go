package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startStateless is the benchmarks' backend on a loopback port.
func startStateless(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { _ = serveStateless(ln, "app-1") }()
	return ln.Addr().String()
}

// exchange sends raw on a new connection and reads answers with net/http's reader
// until the server closes the connection or want answers have come (then it checks
// that the server keeps the connection open).
func exchange(t *testing.T, addr, raw string, methods []string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var answers []*http.Response
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("answer %d: %v", len(answers)+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		answers = append(answers, resp)
	}
	return answers
}

func bodyOf(t *testing.T, r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestStatelessAnswersKeepAliveAndPipelinedRequests(t *testing.T) {
	addr := startStateless(t)
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	post := "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	head := "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
	answers := exchange(t, addr, get+post+head+get, []string{"GET", "POST", "HEAD", "GET"})
	for i, r := range answers {
		if r.StatusCode != 200 || r.Header.Get("X-Server-Id") != "app-1" || r.Close {
			t.Errorf("answer %d: %s, X-Server-Id %q, close %v", i+1, r.Status, r.Header.Get("X-Server-Id"), r.Close)
		}
		want := "server: app-1\n"
		if i == 2 {
			want = "" // HEAD
		}
		if got := bodyOf(t, r); got != want {
			t.Errorf("answer %d: body %q, want %q", i+1, got, want)
		}
	}
	if answers[0].Header.Get("Date") == "" || answers[0].ContentLength != 14 {
		t.Errorf("headers %v, Content-Length %d", answers[0].Header, answers[0].ContentLength)
	}
}

// A body split across reads is skipped, whatever the pieces, and the request after
// it is answered.
func TestStatelessSkipsBodiesThatArriveInPieces(t *testing.T) {
	addr := startStateless(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, piece := range []string{"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01", "2345", "6789GET / HT", "TP/1.1\r\nHost: x\r\n\r\n"} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // each piece its own read
	}
	for i := range 2 {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		if got := bodyOf(t, r); r.StatusCode != 200 || got != "server: app-1\n" {
			t.Errorf("answer %d: %s %q", i+1, r.Status, got)
		}
	}
}

func TestStatelessClosesWhenAskedOrWhenItCannotRead(t *testing.T) {
	addr := startStateless(t)
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"Connection: close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 200},
		{"chunked body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"header line without a colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", statelessHeadMax) + "\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			go func() { _, _ = io.WriteString(c, tc.raw) }() // the server may stop reading
			br := bufio.NewReader(c)
			r, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(r.Body)
			if r.StatusCode != tc.status || !r.Close {
				t.Errorf("%s, close %v; want %d and close", r.Status, r.Close, tc.status)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the answer: %v, want the connection closed", err)
			}
		})
	}
}

// The point of the stateless backend: no garbage per request, so no collector pause
// lands in the middle of a benchmark.
func TestStatelessAllocatesNothingPerRequest(t *testing.T) {
	addr := startStateless(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: allocs\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
	buf := make([]byte, 4<<10)
	one := func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		// The answer is a fixed size and comes in one piece on loopback; reading
		// until its body's last byte covers the rare split.
		for n := 0; n == 0 || buf[n-1] != '\n'; {
			k, err := c.Read(buf[n:])
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
	}
	for range 20 {
		one()
	}
	if n := testing.AllocsPerRun(500, one); n > 0.1 {
		t.Errorf("%.2f allocations per request (client and server), want none", n)
	}
}
