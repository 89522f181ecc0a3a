package main

import (
	"bufio"
	"bytes"
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

// dial connects to addr for the rest of the test, with a deadline that keeps a
// server that fails to answer from hanging it.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// exchange sends raw on a new connection and reads an answer for each of methods,
// the methods of the requests in raw (a HEAD's answer has no body), and its body.
func exchange(t *testing.T, addr, raw string, methods []string) ([]*http.Response, []string) {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var answers []*http.Response
	var bodies []string
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("answer %d: %v", len(answers)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("answer %d: %v", len(answers)+1, err)
		}
		answers, bodies = append(answers, resp), append(bodies, string(body))
	}
	return answers, bodies
}

// readAnswer reads one answer from br and its body.
func readAnswer(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(body)
}

func TestStatelessAnswersKeepAliveAndPipelinedRequests(t *testing.T) {
	addr := startStateless(t)
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	post := "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	head := "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
	answers, bodies := exchange(t, addr, get+post+head+get, []string{"GET", "POST", "HEAD", "GET"})
	for i, r := range answers {
		if r.StatusCode != 200 || r.Header.Get("X-Server-Id") != "app-1" || r.Close {
			t.Errorf("answer %d: %s, X-Server-Id %q, close %v", i+1, r.Status, r.Header.Get("X-Server-Id"), r.Close)
		}
		want := "server: app-1\n"
		if i == 2 {
			want = "" // HEAD
		}
		if bodies[i] != want {
			t.Errorf("answer %d: body %q, want %q", i+1, bodies[i], want)
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
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for _, piece := range []string{"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01", "2345", "6789GET / HT", "TP/1.1\r\nHost: x\r\n\r\n"} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // each piece its own read
	}
	for i := range 2 {
		if r, body := readAnswer(t, br); r.StatusCode != 200 || body != "server: app-1\n" {
			t.Errorf("answer %d: %s %q", i+1, r.Status, body)
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
			c := dial(t, addr)
			go func() { _, _ = io.WriteString(c, tc.raw) }() // the server may stop reading
			br := bufio.NewReader(c)
			if r, _ := readAnswer(t, br); r.StatusCode != tc.status || !r.Close {
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
	c := dial(t, addr)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: allocs\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
	buf, body := make([]byte, 4<<10), []byte("\r\n\r\nserver: app-1\n")
	one := func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		// The answer comes in one piece on loopback; reading until its body has
		// come covers the rare split.
		for n := 0; !bytes.HasSuffix(buf[:n], body); {
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
