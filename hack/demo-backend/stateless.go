package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sticky-ingress/sticky-ingress/hack/internal/heads"
)

// The benchmarks' backend (--stateless): every request gets the same answer,
// "server: NAME", read and written through fixed buffers of its connection. It
// allocates nothing per request, where net/http allocates about a kilobyte: at the
// thirty-odd thousand requests a second a benchmark sends one backend, that was a
// collection every 35 ms, each stopping the backend for up to half a millisecond and
// taking a quarter of its CPU for a few more. Those pauses set the tail of every
// proxy measured in front of it alike (direct to the backend, its p99 was six times
// its p50), and hid the proxies' own. The answer's headers are net/http's.

// statelessHeadMax bounds a request head (net/http's default is 1 MiB; benchmark
// requests are a few hundred bytes). A larger one is refused with 431.
const statelessHeadMax = 16 << 10

type statelessServer struct {
	name string
	date atomic.Pointer[[]byte] // the Date header's value, renewed every second
}

// serveStateless serves ln until it fails or is closed.
func serveStateless(ln net.Listener, name string) error {
	s := &statelessServer{name: name}
	s.renewDate()
	tick, done := time.NewTicker(time.Second), make(chan struct{})
	defer func() { tick.Stop(); close(done) }()
	go func() {
		for {
			select {
			case <-tick.C:
				s.renewDate()
			case <-done:
				return
			}
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go s.serve(c)
	}
}

func (s *statelessServer) renewDate() {
	d := []byte(time.Now().UTC().Format(http.TimeFormat))
	s.date.Store(&d)
}

// serve answers the requests of one connection until the client closes it, asks to,
// or sends what this server does not read (a chunked body, an oversized head): then
// it answers with an error and closes.
func (s *statelessServer) serve(c net.Conn) {
	defer c.Close()
	in := make([]byte, statelessHeadMax)
	out := make([]byte, 0, 4<<10)
	body := []byte("server: " + s.name + "\n")
	filled, skip := 0, 0 // skip: body bytes of the last request still to come
	for {
		n, err := c.Read(in[filled:])
		if n == 0 && err != nil {
			return
		}
		filled += n
		start := 0
		if skip > 0 {
			k := min(skip, filled)
			skip -= k
			start = k
		}
		out = out[:0]
		closeAfter := false
		for skip == 0 && !closeAfter {
			end := bytes.Index(in[start:filled], heads.End)
			if end < 0 {
				break
			}
			head := in[start : start+end+2] // with its last line's CRLF
			start += end + len(heads.End)
			req := parseStatelessHead(head)
			status := http.StatusOK
			switch {
			case req.bad:
				status, closeAfter = http.StatusBadRequest, true
			case req.chunked:
				status, closeAfter = http.StatusNotImplemented, true
			}
			closeAfter = closeAfter || req.close
			out = s.appendAnswer(out, status, req.isHEAD, closeAfter, body)
			k := min(req.length, filled-start)
			start += k
			skip = req.length - k
		}
		if start == 0 && filled == len(in) && skip == 0 {
			out = s.appendAnswer(out[:0], http.StatusRequestHeaderFieldsTooLarge, false, true, nil)
			closeAfter = true
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if closeAfter {
			lingeringClose(c)
			return
		}
		filled = copy(in, in[start:filled])
	}
}

// lingeringClose closes the sending side and reads what the client still sends for
// a moment before closing: closed with unread bytes, the connection would be reset,
// and the client could lose the answer before reading it.
func lingeringClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = tc.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, tc)
	}
}

// appendAnswer appends a response with body (only the status text when the status
// is not 200), and Connection: close when closing.
func (s *statelessServer) appendAnswer(out []byte, status int, isHEAD, closing bool, body []byte) []byte {
	if status != http.StatusOK {
		body = []byte(http.StatusText(status))
	}
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(status)...)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\nContent-Type: text/plain; charset=utf-8\r\nDate: "...)
	out = append(out, *s.date.Load()...)
	if status == http.StatusOK {
		out = append(out, "\r\nX-Server-Id: "...)
		out = append(out, s.name...)
	}
	if closing {
		out = append(out, "\r\nConnection: close"...)
	}
	out = append(out, "\r\n\r\n"...)
	if !isHEAD {
		out = append(out, body...)
	}
	return out
}

// statelessRequest is what the server reads of a request head.
type statelessRequest struct {
	isHEAD  bool // a HEAD request: the answer has no body
	close   bool // the client asked to close (Connection: close, or HTTP/1.0 without keep-alive)
	chunked bool // a chunked body, which this server does not read
	length  int  // the body's Content-Length
	bad     bool // a head it cannot read
}

// parseStatelessHead reads head: the request line and the header lines, each ending
// in CRLF.
func parseStatelessHead(head []byte) statelessRequest {
	var r statelessRequest
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	method, _, _ := bytes.Cut(line, []byte(" "))
	r.isHEAD = string(method) == http.MethodHead
	http10 := bytes.HasSuffix(line, []byte(" HTTP/1.0"))
	keepAlive := false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			r.bad = true
			return r
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				r.bad = true
				return r
			}
			r.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			r.chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			r.close = r.close || bytes.EqualFold(value, []byte("close"))
			keepAlive = keepAlive || bytes.EqualFold(value, []byte("keep-alive"))
		}
	}
	r.close = r.close || http10 && !keepAlive
	return r
}
