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
// (a read found nothing, or left nothing: inq_linux.go) until the poller reports new
// bytes: readiness is reset once, as ServeReads begins, and every byte that arrives
// after that wakes it, however long step runs. (A Read's own reset would forget
// bytes that came while the last request was served: a pipelining client's.)
//
// Writes while a step runs (the answers it sends) are sendto(2) calls on the
// descriptor the poller call holds open, without the poller's write lock and
// readiness reset; writes from other goroutines are as welcome as ever.
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
		s.setInline(false) // already, unless step panicked
		s.step = nil
		s.rd.mu.Unlock()
	}()
	s.step = step
	s.inq.enable(s.rc)
	if err := s.rc.Read(s.stepCall); err != nil {
		return renameRawOp(err, "read")
	}
	return nil
}

// runStep is ServeReads' poller call: readiness was reset (or reported) just before
// it, so the socket may have bytes again. false: wait for readiness.
func (s *rawSocketConn) runStep(fd uintptr) bool {
	s.fd, s.drained = fd, false
	s.setInline(true)
	done := s.step()
	// A step that stops before a read found the socket empty would be left
	// waiting for bytes that are already there.
	for !done && !s.drained {
		done = s.step()
	}
	s.setInline(false)
	return done
}

// setInline marks whether a step runs, under the write mutex: a write that finds it
// set there may use the descriptor, which the step's poller call holds open.
func (s *rawSocketConn) setInline(on bool) {
	s.wr.mu.Lock()
	s.inline.Store(on)
	s.wr.mu.Unlock()
}

// readNow is Read within ServeReads: one read, or none once the socket has shown it
// holds nothing.
func (s *rawSocketConn) readNow(p []byte) (int, error) {
	if s.drained {
		return 0, ErrWouldBlock
	}
	for {
		n, errno, more := s.inq.recv(s.fd, p)
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			s.drained = true
			return 0, ErrWouldBlock
		}
		// Nothing left after these bytes, not even a FIN: what comes later
		// reports readiness. (After EOF, a read finds EOF again.)
		s.drained = errno == 0 && n > 0 && !more
		return s.readResult(n, errno, nil)
	}
}

// PeerGone reports whether c's peer has closed or reset the connection: its FIN
// or RST has arrived (the socket's TCP state is no longer ESTABLISHED), whatever
// it sent before that. It reads nothing and waits for nothing, so another
// goroutine may ask while ServeReads holds c's reads. A FIN is found though bytes
// wait unread before it (a TLS client's close_notify), as a peek would not.
// (A connection that is not a raw socket reports false.)
func PeerGone(c net.Conn) bool {
	s, ok := c.(*rawSocketConn)
	if !ok {
		return false
	}
	var state byte // tcp_info's first field, tcpi_state
	size := uint32(1)
	gone := false
	_ = s.rc.Control(func(fd uintptr) {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&state)), uintptr(unsafe.Pointer(&size)), 0)
		gone = errno == 0 && state != tcpEstablished
	})
	return gone
}

// tcpEstablished is TCP_ESTABLISHED of the kernel's TCP states.
const tcpEstablished = 1
