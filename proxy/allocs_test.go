package proxy

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// TestLeanRequestAllocations counts the allocations of one keep-alive GET through the
// whole proxy (fast server, match, pick, lean forwarder, h1Transport, response
// copy), with a client and a pod that allocate nothing themselves, so that every
// allocation counted is the proxy's. The request path makes no allocation it can
// avoid, and none is left: the request head's string (which the inbound header's
// keys and values are sliced from) and the response head's (which the pod's lines
// are sent from, h1rawhead.go) come from their connections' arenas (headarena.go),
// a chunk every few requests, which the per-request count rounds away. A head that
// is not raw gets a header map and one more allocation, for its values.
func TestLeanRequestAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("counts allocations across goroutines, with pools the race detector empties at random")
	}
	for _, tc := range []struct {
		name string
		aff  routetable.AffinityPolicy
		// cookie: send the session cookie the proxy issued.
		cookie bool
		want   int
	}{
		{"cookie hit", cookieAffinity(), true, 0},
		{"new session", cookieAffinity(), false, 0},
		{"source IP", routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exchange := cannedSession(t, tc.aff, tc.cookie, "GET /page?q=1 HTTP/1.1\r\nUser-Agent: allocs\r\nAccept: */*\r\n")
			for range 50 { // pools, connection state and per-second caches warm up
				exchange()
			}
			// A ceiling with a little room: the proxy's own background work (the
			// client watchdog, metrics) may allocate once in a while during the run.
			if n := testing.AllocsPerRun(500, exchange); n > float64(tc.want)+0.5 {
				t.Errorf("%.1f allocations per proxied request, want at most %d", n, tc.want)
			} else {
				t.Logf("%.1f allocations per proxied request", n)
			}
		})
	}
}

// TestLeanRequestMakesNoGarbage: the connection rewinds its head arena after each
// request the lean forwarder released (headarena.go), so that a keep-alive GET
// through the whole proxy allocates no bytes at all, where a fresh chunk every few
// requests came to ~250 bytes each: a busy worker's collector then has next to
// nothing to do.
func TestLeanRequestMakesNoGarbage(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("counts allocations across goroutines, with pools the race detector empties at random")
	}
	was := poisonRewoundHeads.Swap(false) // poisoned bytes are never reused
	t.Cleanup(func() { poisonRewoundHeads.Store(was) })
	for _, tc := range []struct {
		name   string
		cookie bool
	}{{"cookie hit", true}, {"new session", false}} {
		t.Run(tc.name, func(t *testing.T) {
			exchange := cannedSession(t, cookieAffinity(), tc.cookie, "GET /page?q=1 HTTP/1.1\r\nUser-Agent: garbage\r\n")
			for range 50 {
				exchange()
			}
			const requests = 2000
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range requests {
				exchange()
			}
			runtime.ReadMemStats(&after)
			// The same little room as above, for the proxy's background work.
			if b := float64(after.TotalAlloc-before.TotalAlloc) / requests; b > 16 {
				t.Errorf("%.1f bytes allocated per proxied request, want none", b)
			} else {
				t.Logf("%.1f bytes allocated per proxied request", b)
			}
		})
	}
}

// cannedSession is a proxy in front of a canned pod, with affinity aff, and a
// function that sends it head (its request line and header lines; the Host, the
// session cookie the proxy issued when cookie, and the blank line are added) and
// reads the answer, on one connection.
func cannedSession(t testing.TB, aff routetable.AffinityPolicy, cookie bool, head string) func() {
	pod := startCannedPod(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"X-Server-Id: a\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok")
	eps := []routetable.Endpoint{{ID: "uid-a", Address: pod, Ready: true, Serving: true}}
	p := startProxy(t, oneHost("canned.test", eps, aff))
	head += "Host: canned.test\r\n"
	if cookie {
		ck := cookieOf(p.get(t, "canned.test"), "STICKY")
		if ck == nil {
			t.Fatal("no cookie issued")
		}
		head += "Cookie: STICKY=" + ck.Value + "\r\n"
	}
	return cannedExchange(t, p.httpURL[len("http://"):], head+"\r\n")
}

// cannedExchange connects to addr and returns a function that sends request and
// reads its answer through fixed buffers.
func cannedExchange(t testing.TB, addr, request string) func() {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req, buf := []byte(request), make([]byte, 4<<10)
	return func() {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if err := readCannedResponse(c, buf); err != nil {
			t.Fatal(err)
		}
	}
}

// startCannedPod is a pod that answers every request on a connection with the same
// bytes, reading and writing through fixed buffers: it allocates nothing per request.
func startCannedPod(t testing.TB, answer string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resp := []byte(answer)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 8<<10)
				n := 0
				for {
					m, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += m
					for {
						end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if end < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[end+4:n])
					}
					if n == len(buf) {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readCannedResponse reads one response framed by Content-Length into buf.
func readCannedResponse(c net.Conn, buf []byte) error {
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
		end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		i := bytes.Index(buf[:end], []byte("\r\nContent-Length: "))
		if i < 0 {
			return io.ErrUnexpectedEOF
		}
		v := buf[i+len("\r\nContent-Length: "):]
		length, err := strconv.Atoi(string(v[:bytes.IndexByte(v, '\r')]))
		if err != nil {
			return err
		}
		for n < end+4+length {
			m, err := c.Read(buf[n:])
			if err != nil {
				return err
			}
			n += m
		}
		return nil
	}
}
