// Command gofloor is the least a goroutine-per-connection Go proxy can do for one
// keep-alive GET: read the request head, write it as it is to a pooled connection
// to a backend (round robin), read the answer's head and Content-Length body, write
// them back. No parsing beyond that, no headers added, no affinity, no metrics.
//
// `make bench` runs it beside sticky-ingress as the floor of what Go's runtime and
// net package cost on this machine: what sticky-ingress spends above it is its own
// work per request, not the language's. Its sockets make the raw system calls
// sticky-ingress's make, and as few (internal/rawsocket: client reads served
// inline, each request sent by the read that waits for its answer), so that the
// floor stays below us.
//
//	gofloor LISTEN BACKEND...
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sticky-ingress/sticky-ingress/hack/internal/heads"
	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
)

type backend struct {
	addr string
	mu   sync.Mutex
	idle []*upstreamConn
}

type upstreamConn struct {
	c  net.Conn
	br *bufio.Reader
}

func (b *backend) get() (*upstreamConn, error) {
	b.mu.Lock()
	if n := len(b.idle); n > 0 {
		u := b.idle[n-1]
		b.idle = b.idle[:n-1]
		b.mu.Unlock()
		return u, nil
	}
	b.mu.Unlock()
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		return nil, err
	}
	c = rawsocket.Wrap(c)
	return &upstreamConn{c: c, br: bufio.NewReaderSize(c, 4<<10)}, nil
}

func (b *backend) put(u *upstreamConn) {
	b.mu.Lock()
	b.idle = append(b.idle, u)
	b.mu.Unlock()
}

// head returns the buffered bytes up to and including the blank line that ends a
// head, reading more until it is there.
func head(br *bufio.Reader) ([]byte, error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, heads.End); i >= 0 {
			return b[:i+4], nil
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, err
		}
	}
}

func serve(c net.Conn, backends []*backend, next *atomic.Uint64) {
	defer c.Close()
	c = rawsocket.Wrap(c)
	br := bufio.NewReaderSize(c, 4<<10)
	out := make([]byte, 0, 4<<10)
	// step serves the requests there are; reads that would wait end it (false)
	// where the reads are served inline (rawsocket.ServeReads), as sticky-ingress's.
	step := func() bool {
		for {
			req, err := head(br)
			if err == rawsocket.ErrWouldBlock {
				return false
			}
			if err != nil {
				return true
			}
			b := backends[next.Add(1)%uint64(len(backends))]
			u, err := b.get()
			if err != nil {
				return true
			}
			// The request goes out with the read that waits for its answer.
			if a, ok := u.c.(interface{ WriteOnNextRead([]byte) }); ok {
				a.WriteOnNextRead(req)
			} else if _, err := u.c.Write(req); err != nil {
				return true
			}
			resp, err := head(u.br)
			if err != nil {
				return true
			}
			_, _ = br.Discard(len(req))
			out = append(out[:0], resp...)
			_, _ = u.br.Discard(len(resp))
			for rest := heads.ContentLength(resp); rest > 0; {
				chunk, err := u.br.Peek(min(rest, max(u.br.Buffered(), 1)))
				if err != nil {
					return true
				}
				out = append(out, chunk...)
				_, _ = u.br.Discard(len(chunk))
				rest -= len(chunk)
			}
			b.put(u)
			if _, err := c.Write(out); err != nil {
				return true
			}
		}
	}
	if ok, _ := rawsocket.ServeReads(c, step); !ok {
		step() // reads that wait: it serves until the connection ends
	}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gofloor LISTEN BACKEND...")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var backends []*backend
	for _, a := range os.Args[2:] {
		backends = append(backends, &backend{addr: a})
	}
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go serve(c, backends, &next)
	}
}
