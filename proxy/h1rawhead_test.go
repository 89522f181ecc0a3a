package proxy

import (
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func TestScanRawHead(t *testing.T) {
	for _, tc := range []struct {
		fields string
		ok     bool
		want   rawHead
	}{
		{"Content-Type: text/plain\r\nContent-Length: 2\r\nX-A: 1\r\n", true, rawHead{
			before: "Content-Type: text/plain\r\n", after: "X-A: 1\r\n", contentLength: "2", length: 2, hasType: true}},
		{"Content-Length: 007\r\nDate: Mon\r\nContent-Encoding: gzip\r\n", true, rawHead{
			after: "Date: Mon\r\nContent-Encoding: gzip\r\n", contentLength: "007", length: 7, hasEncoding: true, hasDate: true}},
		{"Content-Length: 1\r\nX-Empty: \r\nContent-Encoding: \r\n", true, rawHead{
			after: "X-Empty: \r\nContent-Encoding: \r\n", contentLength: "1", length: 1}},
		{"Content-Length: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n", true, rawHead{
			after: "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n", contentLength: "1", length: 1}},

		{"Content-Length: 0\r\n", false, rawHead{}},                      // no body: the NoBody path
		{"X-A: 1\r\n", false, rawHead{}},                                 // no length
		{"Content-Length: 2\r\nContent-Length: 2\r\n", false, rawHead{}}, // net/http dedupes
		{"Content-Length: +2\r\n", false, rawHead{}},
		{"content-length: 2\r\n", false, rawHead{}}, // not canonical
		{"Content-Length: 2\r\nX-a: 1\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nX-A:1\r\n", false, rawHead{}},   // no space: the map path adds one
		{"Content-Length: 2\r\nX-A:  1\r\n", false, rawHead{}}, // trimmed by the map path
		{"Content-Length: 2\r\nX-A: 1 \r\n", false, rawHead{}},
		{"Content-Length: 2\r\nX-A: 1\t\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nX A: 1\r\n", false, rawHead{}},
		{"Content-Length: 2\r\n X-A: 1\r\n", false, rawHead{}}, // obs-fold
		{"Content-Length: 2\r\nX-A: 1\r2\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nX-A: \x01\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nConnection: keep-alive\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nKeep-Alive: timeout=5\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nTrailer: X-T\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nUpgrade: h2c\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nProxy-Authenticate: Basic\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nPragma: no-cache\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\n", false, rawHead{}},
		{"Content-Length: 2\r\nContent-Encoding: gzip\r\nContent-Encoding: br\r\n", false, rawHead{}},
	} {
		var rh rawHead
		n, ok := scanRawHead(tc.fields, &rh)
		if ok != tc.ok {
			t.Errorf("%q: ok %v, want %v", tc.fields, ok, tc.ok)
			continue
		}
		if ok && (rh != tc.want || n != tc.want.length) {
			t.Errorf("%q: %+v (length %d), want %+v", tc.fields, rh, n, tc.want)
		}
	}
}

// TestRawHeadsMatchMapPath: what a client receives is the same whether the pod's
// head is sent on raw or through a header map, for heads that qualify and heads that
// do not, with the affinity cookie added and without. Header order aside: the map
// path's is the map's.
func TestRawHeadsMatchMapPath(t *testing.T) {
	t.Cleanup(func() { noRawHeads.Store(false) })
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n<html></html>"[:len("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n")+12], // sniffed
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",                                            // not sniffed
		"HTTP/1.1 201 Created\r\nDate: Mon, 30 Nov 2026 10:00:00 GMT\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 003\r\n\r\nabc",
		"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 4\r\nCache-Control: no-store\r\n\r\nnope",
		"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy",
		"HTTP/1.1 299 Whatever\r\nContent-Length: 1\r\nX-Empty: \r\n\r\n.",
		// Not raw: the map path's, either way.
		"HTTP/1.1 200 OK\r\nx-lower: v\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX-A:  spaced  \r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 2\r\n\r\nok",
	} {
		pod := startCannedPod(t, answer)
		eps := []routetable.Endpoint{{ID: "uid-a", Address: pod, Ready: true, Serving: true}}
		p := startProxy(t, oneHost("raw.test", eps, cookieAffinity()))
		for _, cookie := range []bool{false, true} {
			request := "GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n"
			if cookie {
				ck := cookieOf(p.get(t, "raw.test"), "STICKY")
				request = "GET / HTTP/1.1\r\nHost: raw.test\r\nCookie: STICKY=" + ck.Value + "\r\n\r\n"
			}
			noRawHeads.Store(false)
			raw := answerLines(t, p.httpURL, request)
			noRawHeads.Store(true)
			mapped := answerLines(t, p.httpURL, request)
			if !slices.Equal(raw, mapped) {
				t.Errorf("pod answer %q, cookie %v:\nraw heads: %q\nheader map: %q", answer, cookie, raw, mapped)
			}
		}
	}
}

// answerLines sends request on a new connection and returns the answer as it came
// on the wire: its status line, its header lines sorted (Date left out: a second may
// pass between two answers) and its body.
func answerLines(t *testing.T, url, request string) []string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4<<10)
	if err := readCannedResponse(c, buf); err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(strings.TrimRight(string(buf), "\x00"), "\r\n\r\n")
	status, fields, _ := strings.Cut(head, "\r\n")
	var lines []string
	for _, l := range strings.Split(fields, "\r\n") {
		if !strings.HasPrefix(l, "Date: ") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return append(append([]string{status}, lines...), "body: "+body)
}
