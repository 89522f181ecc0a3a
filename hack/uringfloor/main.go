//go:build linux

// Command uringfloor does evfloor's work (hack/evfloor: read a keep-alive GET's
// head, write it as it is to a backend, copy back the answer's head and
// Content-Length body) on io_uring: one loop per core, each with a ring, every
// receive and send an operation queued in it, and one io_uring_enter(2) per turn
// of the loop that hands over all of the turn's operations and waits for results.
// evfloor makes a system call per receive and per send, as nginx and we do.
//
// `make bench` runs it beside the other floors: the difference between it and
// evfloor is what the system calls themselves cost on this machine, over the work
// the kernel does for the bytes, which they share. On a paravirtualised machine a
// system call is dear.
//
// It is a measuring instrument, not a proxy: each client connection has a
// connection to a backend of its own, dialled blocking when the client's is
// accepted (the benchmark's keep-alive clients make that once), round robin over
// the backends; errors close the pair and nothing else.
//
//	uringfloor LISTEN BACKEND...
package main

import (
	"bytes"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/sticky-ingress/sticky-ingress/hack/internal/heads"
	"github.com/sticky-ingress/sticky-ingress/hack/internal/loops"
	"github.com/sticky-ingress/sticky-ingress/internal/uring"
)

// A completion's user data is the pair's slot in its loop, shifted, and the
// operation it reports.
const (
	doneAccept = iota
	doneClientRecv
	doneBackendRecv
	doneSend // only failures (uring.CQESkipSuccess)
	opBits   = 2
)

// msgWaitAll: a send is completed whole by the ring, however the socket's room comes.
const msgFlags = unix.MSG_NOSIGNAL | unix.MSG_WAITALL

type pair struct {
	client, backend int
	req             [4 << 10]byte
	resp            []byte // the answer so far
	need            int    // its whole length, once its head is in
}

type loop struct {
	r        *uring.Ring
	listener int
	backends []unix.SockaddrInet4
	next     int
	pairs    []*pair // by slot; nil: free
	free     []int
}

func (l *loop) acceptNext() { l.r.Accept(l.listener, unix.SOCK_CLOEXEC, doneAccept) }

func (l *loop) recv(slot, fd int, b []byte, done uint64) { l.r.Recv(fd, b, uint64(slot)<<opBits|done) }

func (l *loop) send(slot, fd int, b []byte) {
	l.r.Send(fd, b, msgFlags, uring.CQESkipSuccess, uint64(slot)<<opBits|doneSend)
}

func (l *loop) accepted(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	bfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = unix.Close(fd)
		return
	}
	sa := l.backends[l.next%len(l.backends)]
	l.next++
	if err := unix.Connect(bfd, &sa); err != nil {
		_ = unix.Close(fd)
		_ = unix.Close(bfd)
		return
	}
	_ = unix.SetsockoptInt(bfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	p := &pair{client: fd, backend: bfd, resp: make([]byte, 0, 16<<10)}
	slot := len(l.pairs)
	if n := len(l.free); n > 0 {
		slot, l.free = l.free[n-1], l.free[:n-1]
		l.pairs[slot] = p
	} else {
		l.pairs = append(l.pairs, p)
	}
	l.recv(slot, fd, p.req[:], doneClientRecv)
}

// close ends a pair. It has no receive outstanding: the one that failed was its only one.
func (l *loop) close(slot int) {
	p := l.pairs[slot]
	_ = unix.Close(p.client)
	_ = unix.Close(p.backend)
	l.pairs[slot] = nil
	l.free = append(l.free, slot)
}

func (l *loop) completed(userData uint64, res int32) {
	slot, done := int(userData>>opBits), userData&(1<<opBits-1)
	switch done {
	case doneAccept:
		l.acceptNext()
		if res >= 0 {
			l.accepted(int(res))
		}
		return
	case doneSend:
		return // the pair's outstanding receive ends too
	}
	p := l.pairs[slot]
	if res <= 0 {
		l.close(slot)
		return
	}
	switch done {
	case doneClientRecv: // a request head: the benchmark's clients send one whole
		l.send(slot, p.backend, p.req[:res])
		p.resp, p.need = p.resp[:0], 0
		l.recv(slot, p.backend, p.resp[:cap(p.resp)], doneBackendRecv)
	case doneBackendRecv:
		p.resp = p.resp[:len(p.resp)+int(res)]
		if p.need == 0 {
			if i := bytes.Index(p.resp, heads.End); i >= 0 {
				p.need = i + 4 + heads.ContentLength(p.resp[:i+4])
			}
		}
		if p.need == 0 || len(p.resp) < p.need {
			if len(p.resp) == cap(p.resp) {
				l.close(slot)
				return
			}
			l.recv(slot, p.backend, p.resp[len(p.resp):cap(p.resp)], doneBackendRecv)
			return
		}
		l.send(slot, p.client, p.resp[:p.need])
		l.recv(slot, p.client, p.req[:], doneClientRecv)
	}
}

// run makes the loop's ring on its own thread: the thread that makes a ring is the
// one that may submit to it (uring.SetupSingleIssuer).
func (l *loop) run(ready chan<- error) {
	runtime.LockOSThread() // the loop is its thread's, as an nginx worker is its process's
	r, err := uring.New(256, uring.SetupCoopTaskrun|uring.SetupSingleIssuer|uring.SetupDeferTaskrun)
	ready <- err
	if err != nil {
		return
	}
	l.r = r
	l.acceptNext()
	for {
		_ = l.r.Enter(true) // a refusal (out of memory) is tried again on the next turn
		l.r.Reap(l.completed)
	}
}

func main() {
	addr, backends := loops.Args("uringfloor")
	for range runtime.GOMAXPROCS(0) {
		ln, err := loops.Listen(addr, 0)
		if err != nil {
			loops.Fail("uringfloor", err)
		}
		ready := make(chan error)
		go (&loop{listener: ln, backends: backends}).run(ready)
		if err := <-ready; err != nil {
			loops.Fail("uringfloor", err)
		}
	}
	select {}
}
