//go:build linux && !386 && !race

package rawsocket

import "syscall"

// WriteOnNextRead hands p to the next Read, which sends it whole and then waits for
// the peer's answer without first trying to read: the read a request's answer
// would otherwise begin with finds nothing (EAGAIN), and costs a system call per
// exchange. The caller promises that nothing is due from the peer before p (an
// HTTP request on an idle keep-alive connection): the poller's readiness is reset
// as the Read begins, before p is sent, so every byte sent in answer wakes it.
// p is the caller's until that Read returns; Write and Read are not to be used in
// between. Read and WriteOnNextRead are the same goroutine's, and not within
// ServeReads, whose reads never wait.
func (s *rawSocketConn) WriteOnNextRead(p []byte) { s.ask = p }

// askThenRead is Read with bytes to send first (WriteOnNextRead). A send the socket
// has no room for is finished by Write, which waits for room; the read is then an
// ordinary one. (A batched send, BatchSends, is finished by the batch.)
func (s *rawSocketConn) askThenRead(p []byte) (int, error) {
	if err := s.awaitQueued(); err != nil { // a body sent before, still settling
		s.ask = nil
		return 0, err
	}
	op := &s.rd
	op.mu.Lock()
	op.p, op.n, op.errno, op.ask, op.askFailed = p, 0, 0, s.ask, false
	s.ask = nil
	err := s.rc.Read(s.askCall)
	n, errno, rest, failed := op.n, op.errno, op.ask, op.askFailed
	op.p, op.ask = nil, nil
	op.mu.Unlock()
	if qerr := s.queuedError(); qerr != nil { // the request was batched, and failed
		return 0, qerr
	}
	switch {
	case err != nil:
		return 0, renameRawOp(err, "read")
	case failed:
		return 0, s.opError("write", errno)
	case rest != nil:
		if _, err := s.Write(rest); err != nil {
			return 0, err
		}
		n, errno, err = s.run(&s.rd, p, s.rc.Read)
	}
	return s.readResult(n, errno, err)
}

// askStep is askThenRead's poller call. It sends op.ask (or batches it) and then
// waits for readiness without reading (false); called again once the socket is
// readable, it reads. It leaves in op.ask what the socket had no room for, and
// stops there (true).
func (s *rawSocketConn) askStep(fd uintptr) bool {
	op := &s.rd
	if op.ask == nil {
		return op.read(fd)
	}
	if b := batch.Load(); b != nil && b.queue(s, fd, op.ask) {
		op.ask = nil
		return false
	}
	n, errno := send(fd, op.ask)
	op.ask = op.ask[n:]
	switch errno {
	case 0:
		op.ask = nil
		return false
	case syscall.EAGAIN:
		return true
	}
	op.errno, op.askFailed = errno, true
	return true
}
