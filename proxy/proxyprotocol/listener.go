package proxyprotocol

import (
	"bufio"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Listener wraps a listener whose connections start with a PROXY header. The header
// is read lazily, in the connection's own goroutine (net/http asks for RemoteAddr
// first thing), so a slow or silent client never holds up Accept.
type Listener struct {
	net.Listener
	// Timeout bounds the wait for the header.
	Timeout time.Duration
	// OnError is told about malformed headers (the connection is then closed).
	OnError func(peer net.Addr, err error)
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c, timeout: l.Timeout, onError: l.OnError}, nil
}

// Conn is a connection whose RemoteAddr is the client named in its PROXY header.
type Conn struct {
	net.Conn
	timeout time.Duration
	onError func(net.Addr, error)

	once   sync.Once
	br     *bufio.Reader
	remote net.Addr
	err    error
}

func (c *Conn) parse() {
	c.once.Do(func() {
		c.remote = c.Conn.RemoteAddr()
		if c.timeout > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		}
		c.br = bufio.NewReaderSize(c.Conn, 256)
		src, err := Parse(c.br)
		_ = c.Conn.SetReadDeadline(time.Time{})
		if err != nil {
			c.err = err
			if c.onError != nil {
				c.onError(c.remote, err)
			}
			_ = c.Conn.Close()
			return
		}
		if src.IsValid() {
			c.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
		}
	})
}

// RemoteAddr is the client named in the header (or the peer for LOCAL/UNKNOWN).
func (c *Conn) RemoteAddr() net.Addr {
	c.parse()
	return c.remote
}

// Read reads the stream after the header.
func (c *Conn) Read(b []byte) (int, error) {
	c.parse()
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(b)
}
