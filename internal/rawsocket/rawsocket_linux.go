//go:build linux && !386 && !race

package rawsocket

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Wrap wraps c, a TCP connection, so that its Read and Write make raw system calls;
// c is returned as it is when it has no file descriptor to reach.
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	s := &rawSocketConn{TCPConn: sc, rc: rc}
	// Method values made once, not per call.
	s.rd.call, s.wr.call, s.rest.call, s.askCall, s.stepCall = s.rd.read, s.wr.write, s.rest.write, s.askStep, s.runStep
	return s
}

// rawSocketConn is a TCP connection whose reads and writes are raw system calls.
// A read and a write may run at once (a client watch reads while the handler
// writes): each direction has its own operation state.
type rawSocketConn struct {
	// The connection itself: deadlines, addresses, Close, and the rest of its
	// methods, which callers look for (net/http half-closes with CloseWrite).
	*net.TCPConn
	rc     syscall.RawConn
	rd, wr rawSocketOp
	// ask is what the next Read sends before it waits (WriteOnNextRead), and
	// askCall the poller call that does it.
	ask     []byte
	askCall func(fd uintptr) bool

	// batched is the connection's part in the batch of sends (batch_linux.go), and
	// rest the writing of what a batched send could not send.
	batched connBatch
	rest    rawSocketOp

	// ServeReads' state: step, run with inline set and the socket's descriptor in
	// fd; drained once a read showed the socket empty since readiness was reset.
	step     func() bool
	stepCall func(fd uintptr) bool
	fd       uintptr
	inline   atomic.Bool // set and cleared under wr.mu: writers check it there
	drained  bool
	inq      inqRead
}

// rawSocketOp is one direction's call in progress: its buffer in, its count and
// errno out. call is the method value RawConn runs, which reports false to wait
// for readiness. mu keeps net.Conn's promise that calls may come from several
// goroutines at once: two reads (or two writes) take turns, each with its own
// buffer, and a write's bytes are never interleaved with another's.
type rawSocketOp struct {
	mu    sync.Mutex
	p     []byte
	n     int
	errno syscall.Errno
	call  func(fd uintptr) bool

	// The read direction's askThenRead: the bytes still to send, and whether the
	// send failed (errno is then the send's).
	ask       []byte
	askFailed bool
}

func (s *rawSocketConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.inline.Load() {
		return s.readNow(p)
	}
	if s.ask != nil {
		return s.askThenRead(p)
	}
	n, errno, err := s.run(&s.rd, p, s.rc.Read)
	return s.readResult(n, errno, err)
}

func (s *rawSocketConn) readResult(n int, errno syscall.Errno, err error) (int, error) {
	switch {
	case err != nil: // closed, or the deadline passed
		return 0, renameRawOp(err, "read")
	case errno != 0:
		return 0, s.opError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (s *rawSocketConn) Write(p []byte) (int, error) {
	if s.inline.Load() {
		if n, err, ok := s.writeNow(p); ok {
			return n, err
		}
	}
	if err := s.awaitQueued(); err != nil {
		return 0, err
	}
	n, errno, err := s.run(&s.wr, p, s.rc.Write)
	return s.writeResult(n, errno, err)
}

// writeNow is Write while a ServeReads step runs, whose poller call holds the
// descriptor open: p joins the batch of sends (batch_linux.go), or the sendto(2)
// calls are made on the descriptor directly, and only what the socket has no room
// for waits, through the poller. ok is false when the step has ended meanwhile
// (runStep ends it under the write mutex): the descriptor may be gone, and the
// write is the poller's.
func (s *rawSocketConn) writeNow(p []byte) (n int, err error, ok bool) {
	op := &s.wr
	op.mu.Lock()
	defer op.mu.Unlock()
	if !s.inline.Load() {
		return 0, nil, false
	}
	if b := batch.Load(); b != nil {
		if err := s.awaitQueued(); err != nil {
			return 0, err, true
		}
		if b.queue(s, s.fd, p) {
			return len(p), nil, true
		}
	}
	n, errno := send(s.fd, p)
	if errno == syscall.EAGAIN {
		n, errno, err = op.wait(p, n, s.rc.Write)
	}
	n, err = s.writeResult(n, errno, err)
	return n, err, true
}

// Close closes the connection once no batched send of its waits for its descriptor.
func (s *rawSocketConn) Close() error {
	s.closeBatched()
	return s.TCPConn.Close()
}

// CloseWrite half-closes the connection after what it has written: its FIN follows
// a batched send, as the bytes of a Write would.
func (s *rawSocketConn) CloseWrite() error {
	if err := s.awaitQueued(); err != nil {
		return err
	}
	return s.TCPConn.CloseWrite()
}

// ReadFrom copies r to the connection (splicing, where the kernel can) after what
// it has written.
func (s *rawSocketConn) ReadFrom(r io.Reader) (int64, error) {
	if err := s.awaitQueued(); err != nil {
		return 0, err
	}
	return s.TCPConn.ReadFrom(r)
}

func (s *rawSocketConn) writeResult(n int, errno syscall.Errno, err error) (int, error) {
	switch {
	case err != nil:
		return n, renameRawOp(err, "write")
	case errno != 0:
		return n, s.opError("write", errno)
	}
	return n, nil
}

// run makes op's call on p through the poller (rc's Read or Write), one call per
// direction at a time.
func (s *rawSocketConn) run(op *rawSocketOp, p []byte, through func(func(fd uintptr) bool) error) (int, syscall.Errno, error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.wait(p, 0, through)
}

// wait makes op's call on p, of which done bytes are done already, through the
// poller; op.mu is held.
func (op *rawSocketOp) wait(p []byte, done int, through func(func(fd uintptr) bool) error) (int, syscall.Errno, error) {
	op.p, op.n, op.errno = p, done, 0
	err := through(op.call)
	op.p = nil
	return op.n, op.errno, err
}

// read makes one recvfrom(2); false means "not ready yet: wait and call again".
func (op *rawSocketOp) read(fd uintptr) bool {
	for {
		n, errno := recvfrom(fd, op.p)
		switch errno {
		case 0:
			op.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		op.errno = errno
		return true
	}
}

// recvfrom is one recvfrom(2) into p (len(p) > 0).
func recvfrom(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return int(n), errno
}

// write writes all of op.p, as net.Conn's Write does; false means "the socket's
// buffer is full: wait and call again".
func (op *rawSocketOp) write(fd uintptr) bool {
	n, errno := send(fd, op.p[op.n:])
	op.n += n
	if errno == syscall.EAGAIN {
		return false
	}
	op.errno = errno
	return true
}

// send makes sendto(2) calls until b is sent, the socket's buffer is full (EAGAIN)
// or a call fails; it returns how much was sent.
func send(fd uintptr, b []byte) (int, syscall.Errno) {
	sent := 0
	for sent < len(b) {
		rest := b[sent:]
		n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)), syscall.MSG_NOSIGNAL, 0, 0)
		switch {
		case errno == 0 && n > 0:
			sent += int(n)
		case errno == syscall.EINTR:
		case errno == 0:
			return sent, syscall.EIO // as poll.FD's io.ErrUnexpectedEOF: no progress, no error
		default:
			return sent, errno
		}
	}
	return sent, 0
}

// opError is the error net.Conn returns for a failed call.
func (s *rawSocketConn) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

// renameRawOp gives the poller's errors (a deadline, a closed connection) the
// operation names net.Conn's own would carry, for logs that compare them.
func renameRawOp(err error, op string) error {
	if e, ok := err.(*net.OpError); ok {
		e.Op = op
	}
	return err
}
