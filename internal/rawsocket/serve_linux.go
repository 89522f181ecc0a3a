//go:build linux && !386 && !race

package rawsocket

import (
	"net"
	"syscall"
	"unsafe"
)

// ServeReads runs a connection's reads as an event loop runs them: it holds c's
// read side and calls step, during which c's Read never waits; a Read that finds
// nothing returns ErrWouldBlock, and step then returns false. ServeReads waits for
// the socket to become readable and calls step again; it returns when step reports
// done (true), or with the poller's error (a deadline, a close).
//
// Why: Go's poller begins every read with an attempt, and a server's read for the
// next request, made right after its answer, finds nothing (EAGAIN): a system call
// per request. Here no read is made once the socket has shown it has nothing more
// (a read found nothing, or less than it asked for) until the poller reports new
// bytes: readiness is reset once, as ServeReads begins, and every byte that arrives
// after that wakes it, however long step runs. (A Read's own reset would forget
// bytes that came while the last request was served: a pipelining client's.)
//
// ok is false, and step is not called, when c is not a raw socket (Wrap's). While
// ServeReads runs, c's Read is step's alone: another goroutine must not read c.
func ServeReads(c net.Conn, step func() (done bool)) (ok bool, err error) {
	s, ok := c.(*rawSocketConn)
	if !ok {
		return false, nil
	}
	return true, s.serveReads(step)
}

func (s *rawSocketConn) serveReads(step func() bool) error {
	s.rd.mu.Lock()
	defer func() {
		s.inline, s.step = false, nil
		s.rd.mu.Unlock()
	}()
	s.step = step
	if err := s.rc.Read(s.stepCall); err != nil {
		return renameRawOp(err, "read")
	}
	return nil
}

// runStep is ServeReads' poller call: readiness was reset (or reported) just before
// it, so the socket may have bytes again. false: wait for readiness.
func (s *rawSocketConn) runStep(fd uintptr) bool {
	s.fd, s.drained, s.inline = fd, false, true
	done := s.step()
	// A step that stops before a read found the socket empty would be left
	// waiting for bytes that are already there.
	for !done && !s.drained {
		done = s.step()
	}
	s.inline = false
	return done
}

// readNow is Read within ServeReads: one recvfrom(2), or none once the socket has
// shown it is empty.
func (s *rawSocketConn) readNow(p []byte) (int, error) {
	if s.drained {
		return 0, ErrWouldBlock
	}
	op := &s.rd
	op.p, op.n, op.errno = p, 0, 0
	ready := op.read(s.fd)
	n, errno := op.n, op.errno
	op.p = nil
	if !ready {
		s.drained = true
		return 0, ErrWouldBlock
	}
	// Less than asked for: the socket's queue was emptied; what comes later
	// reports readiness.
	s.drained = errno == 0 && n < len(p)
	return s.readResult(n, errno, nil)
}

// PeekWhileServing looks at c's socket without waiting and without its read side,
// which ServeReads may be holding on another goroutine: gone is true when the
// peer has closed or reset the connection, sent when it has sent bytes not yet
// read. Neither: nothing has happened. (A connection that is not a raw socket
// reports neither.)
func PeekWhileServing(c net.Conn) (gone, sent bool) {
	s, ok := c.(*rawSocketConn)
	if !ok {
		return false, false
	}
	var buf [1]byte
	_ = s.rc.Control(func(fd uintptr) {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch {
		case errno == syscall.EAGAIN || errno == syscall.EINTR:
		case errno != 0 || n == 0:
			gone = true
		default:
			sent = true
		}
	})
	return gone, sent
}
