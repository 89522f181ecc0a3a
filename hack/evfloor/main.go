//go:build linux

// Command evfloor does gofloor's work (hack/gofloor: read a keep-alive GET's head,
// write it as it is to a pooled connection to a backend, round robin, copy back the
// answer's head and Content-Length body) the way nginx and HAProxy do it: one event
// loop per core on epoll, non-blocking sockets, no goroutine per connection, no Go
// netpoller or scheduler between a socket and its handler.
//
// `make bench` runs it beside gofloor. The two do the same work per request; the
// difference between them is what Go's goroutine-per-connection I/O costs on this
// machine, and evfloor's CPU per request beside nginx's is how much room an
// event-loop design would leave for a proxy's own work.
//
// It is a measuring instrument, not a proxy: a write that would block waits for the
// socket in poll(2), stalling its loop; backends are dialled blocking; errors close
// the connections involved and nothing else.
//
//	evfloor LISTEN BACKEND...
package main

import (
	"bytes"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sticky-ingress/sticky-ingress/hack/internal/heads"
	"github.com/sticky-ingress/sticky-ingress/hack/internal/loops"
)

// conn is a socket of a loop's: a client's, or a pooled one to a backend.
type conn struct {
	fd       int
	upstream bool
	backend  int // upstream: which backend
	buf      []byte
	// peer is the other side of the exchange in flight (nil between exchanges).
	peer *conn
	// need is the length of the answer in flight once its head is in (upstream).
	need int
}

// loop owns its listener's clients and its own connections to the backends.
type loop struct {
	ep       int
	listener int
	conns    map[int]*conn
	idle     [][]*conn // per backend
	backends []unix.SockaddrInet4
	next     int
}

func (l *loop) watch(c *conn) error {
	l.conns[c.fd] = c
	return unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd)})
}

// close closes c and the exchange it is part of.
func (l *loop) close(c *conn) {
	if _, ok := l.conns[c.fd]; !ok {
		return
	}
	delete(l.conns, c.fd)
	_ = unix.Close(c.fd)
	if c.upstream && c.peer == nil { // idle: take it out of its pool
		idle := l.idle[c.backend]
		for i, u := range idle {
			if u == c {
				l.idle[c.backend] = append(idle[:i], idle[i+1:]...)
				break
			}
		}
	}
	if p := c.peer; p != nil {
		c.peer, p.peer = nil, nil
		l.close(p)
	}
}

func (l *loop) upstreamTo(b int) (*conn, error) {
	if n := len(l.idle[b]); n > 0 {
		u := l.idle[b][n-1]
		l.idle[b] = l.idle[b][:n-1]
		return u, nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := l.backends[b]
	if err := unix.Connect(fd, &sa); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	_ = unix.SetNonblock(fd, true)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	u := &conn{fd: fd, upstream: true, backend: b, buf: make([]byte, 0, 4<<10)}
	return u, l.watch(u)
}

// writeAll writes b whole, waiting in poll(2) when the socket is full.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := sendto(fd, b)
		switch {
		case err == unix.EAGAIN:
			if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1); err != nil && err != unix.EINTR {
				return err
			}
		case err == unix.EINTR:
		case err != nil:
			return err
		default:
			b = b[n:]
		}
	}
	return nil
}

// fill reads what c's socket has; false: c is closed (or failed), or its buffer is full.
func fill(c *conn) bool {
	if len(c.buf) == cap(c.buf) {
		return false
	}
	n, err := recvfrom(c.fd, c.buf[len(c.buf):cap(c.buf)])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return true
	case err != nil || n == 0:
		return false
	}
	c.buf = c.buf[:len(c.buf)+n]
	return true
}

// clientReadable reads a client's request head and sends it to the next backend.
func (l *loop) clientReadable(c *conn) {
	if !fill(c) {
		l.close(c)
		return
	}
	l.forward(c)
}

// forward sends the client's next buffered request head, if one is complete and no
// exchange is in flight.
func (l *loop) forward(c *conn) {
	if c.peer != nil {
		return
	}
	i := bytes.Index(c.buf, heads.End)
	if i < 0 {
		return
	}
	b := l.next % len(l.backends)
	l.next++
	u, err := l.upstreamTo(b)
	if err != nil {
		l.close(c)
		return
	}
	c.peer, u.peer = u, c
	if err := writeAll(u.fd, c.buf[:i+4]); err != nil {
		l.close(u)
		return
	}
	c.buf = c.buf[:copy(c.buf, c.buf[i+4:])]
}

// upstreamReadable reads a backend's answer and, once it is whole, writes it to the
// client and pools the connection.
func (l *loop) upstreamReadable(u *conn) {
	if !fill(u) || u.peer == nil { // an idle connection has nothing to say but EOF
		l.close(u)
		return
	}
	if u.need == 0 {
		i := bytes.Index(u.buf, heads.End)
		if i < 0 {
			return
		}
		u.need = i + 4 + heads.ContentLength(u.buf[:i+4])
		if u.need > cap(u.buf) {
			grown := make([]byte, len(u.buf), u.need)
			copy(grown, u.buf)
			u.buf = grown
		}
	}
	if len(u.buf) < u.need {
		return
	}
	c := u.peer
	err := writeAll(c.fd, u.buf[:u.need])
	u.buf, u.need = u.buf[:copy(u.buf, u.buf[u.need:])], 0
	c.peer, u.peer = nil, nil
	if len(u.buf) > 0 { // bytes past the answer: an answer to nothing
		l.close(u)
	} else {
		l.idle[u.backend] = append(l.idle[u.backend], u)
	}
	if err != nil {
		l.close(c)
		return
	}
	l.forward(c) // a pipelined request may be waiting
}

func (l *loop) accept() {
	for {
		fd, _, err := unix.Accept4(l.listener, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: all taken
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := l.watch(&conn{fd: fd, buf: make([]byte, 0, 4<<10)}); err != nil {
			_ = unix.Close(fd)
		}
	}
}

func (l *loop) run() {
	runtime.LockOSThread() // the loop is its thread's, as an nginx worker is its process's
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := waitEvents(l.ep, events)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == l.listener {
				l.accept()
				continue
			}
			c := l.conns[fd]
			switch {
			case c == nil:
			case c.upstream:
				l.upstreamReadable(c)
			default:
				l.clientReadable(c)
			}
		}
	}
}

func main() {
	addr, backends := loops.Args("evfloor")
	for range runtime.GOMAXPROCS(0) {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			loops.Fail("evfloor", err)
		}
		ln, err := loops.Listen(addr, unix.SOCK_NONBLOCK)
		if err != nil {
			loops.Fail("evfloor", err)
		}
		l := &loop{ep: ep, listener: ln, conns: map[int]*conn{}, idle: make([][]*conn, len(backends)), backends: backends}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ln, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ln)}); err != nil {
			loops.Fail("evfloor", err)
		}
		go l.run()
	}
	select {}
}

// The loop's system calls are raw ones, as sticky-ingress's are
// (internal/rawsocket), the wait for events included: unix.Read, Write and
// EpollWait tell the scheduler that a call is under way, sysmon retakes the P of a
// call that outlasts its tick, and the loop's thread then waits for a P back, in
// futex calls and context switches an nginx worker does not make. Measured against
// that build, this one cost 3–4 µs less per request. The loop keeps its P while it
// waits, as each loop has one of its own (main starts GOMAXPROCS loops); the wait
// ends every 10 ms, so that a collection's stop of the world is not held up longer.

func recvfrom(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func sendto(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// waitEvents is epoll_wait(2), for at most 10 ms.
func waitEvents(ep int, events []unix.EpollEvent) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 10, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
