//go:build linux && !386 && !race

package rawsocket

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sticky-ingress/sticky-ingress/internal/uring"
)

// Batched sends (BatchSends): a write made while a connection's reads are served
// inline (an answer to a client), and a request sent with the read that waits for
// its answer (WriteOnNextRead), are not system calls of their own. Their bytes are
// copied into the process's batch and queued on an io_uring; a flusher goroutine
// hands the whole batch to the kernel with one io_uring_enter(2) once every
// goroutine that was ready to run has run, so under load one call sends the
// answers and requests of many connections. On this workplace's paravirtualised
// machines a system call costs more than the kernel's work for a small send, and
// this took a sixth of the proxy's CPU time per request away.
//
// Every send is queued with MSG_DONTWAIT: the kernel makes it while it takes the
// batch, or fails it with EAGAIN, so once io_uring_enter has returned the batch's
// bytes are free again. A send the socket had no room for (EAGAIN, or part of it)
// is finished by a goroutine of its own, through the poller; a send that failed
// leaves its error for the connection's next write, and ends (with a read deadline
// in the past) the read that waits for an answer that cannot come, or for a client
// whose reset it has already seen. Until a connection's queued send is settled so,
// its next write, half-close or splice waits: bytes go out in the order written.
// Close flushes the batch first, so no queued send outlives its descriptor (whose
// number the next accepted connection may take).

// maxBatched is the largest write that is batched; a larger one is sent directly
// (after whatever the connection has queued), as the copy would cost more than the
// system call it saves.
const maxBatched = 16 << 10

// batchArena is how many bytes a batch holds, and maxBatch how many sends: a full
// batch is flushed by the writer that finds it so. The count bounds how long a
// send waits for the others: against 32, 8 served 1–4% more requests a second in
// each of 5 alternating rounds, with the machine idle less; 4 saved nothing more.
const (
	batchArena = 64 << 10
	maxBatch   = 8
)

type sendBatch struct {
	mu      sync.Mutex
	ring    *uring.Ring
	broken  bool // the kernel refused the ring's operations: every send is direct
	arena   [batchArena]byte
	used    int
	queued  []queuedSend
	flusher chan struct{}
}

// queuedSend is a send in the batch: the connection's, of arena[off:off+n].
type queuedSend struct {
	s      *rawSocketConn
	off, n int
	done   bool
}

// connBatch is a connection's state in the batch, under sendBatch.mu; active is
// set while any of it is, so a connection with nothing queued need not take the lock.
type connBatch struct {
	active   atomic.Bool
	b        *sendBatch    // the batch it has been part of
	queued   bool          // a send of its waits in the batch
	settling chan struct{} // the rest of a send is being written; closed when it is
	err      error         // a queued send failed: every later write fails so
	closed   bool
}

var batch atomic.Pointer[sendBatch]

// BatchSends turns batched sends on for the process. They pay only where one thread
// runs the proxy (GOMAXPROCS=1, as a worker process does): the flusher then runs
// once the other goroutines are waiting, and finds their sends in the batch. With
// more threads it would run at once, on another, and batch little. The error says
// why io_uring cannot be used here (a seccomp profile, the kernel.io_uring_disabled
// sysctl, a kernel before 5.19); sends are then system calls, as before.
func BatchSends() error {
	if batch.Load() != nil {
		return nil
	}
	r, err := uring.New(1024, uring.SetupCoopTaskrun)
	if err != nil {
		return err
	}
	if err := probeSend(r); err != nil {
		r.Close()
		return err
	}
	b := &sendBatch{ring: r, flusher: make(chan struct{}, 1)}
	if !batch.CompareAndSwap(nil, b) {
		r.Close()
		return nil
	}
	go b.flush()
	return nil
}

// probeSend sends a byte over a socket pair through r: kernels before 5.19 take
// the ring but not every flag a batched send needs.
func probeSend(r *uring.Ring) error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	r.Send(fds[0], []byte{1}, syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT, 0, 0)
	if err := r.Enter(false); err != nil {
		return err
	}
	var res int32 = -1
	r.Reap(func(_ uint64, n int32) { res = n })
	if res != 1 {
		return syscall.Errno(-res)
	}
	return nil
}

// queue copies p into the batch as s's next send on fd, and reports whether it did:
// not when p is large, the batch is broken, or s has a send of its own to settle
// first (awaitQueued). fd must stay open until the batch is flushed: the caller
// holds it through the poller, and Close flushes before it closes.
func (b *sendBatch) queue(s *rawSocketConn, fd uintptr, p []byte) bool {
	if len(p) > maxBatched || len(p) == 0 || s.batched.active.Load() {
		return false
	}
	b.mu.Lock()
	if b.broken || s.batched.closed {
		b.mu.Unlock()
		return false
	}
	if b.used+len(p) > batchArena || len(b.queued) == maxBatch || b.ring.Room() == 0 {
		b.flushLocked()
		if b.broken {
			b.mu.Unlock()
			return false
		}
	}
	off := b.used
	b.used += copy(b.arena[off:], p)
	b.ring.Send(int(fd), b.arena[off:b.used], syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT, 0, uint64(len(b.queued)))
	b.queued = append(b.queued, queuedSend{s: s, off: off, n: len(p)})
	s.batched.queued, s.batched.b = true, b
	s.batched.active.Store(true)
	first := len(b.queued) == 1
	b.mu.Unlock()
	if first {
		select {
		case b.flusher <- struct{}{}:
		default:
		}
	}
	return true
}

// flush is the flusher goroutine. Woken by a batch's first send, it first lets
// every goroutine that is ready run (Gosched puts it behind them), so that their
// sends join the batch, and then hands the batch over.
func (b *sendBatch) flush() {
	for range b.flusher {
		runtime.Gosched()
		b.mu.Lock()
		b.flushLocked()
		b.mu.Unlock()
	}
}

// flushLocked hands the kernel the batch and settles each send by its result.
func (b *sendBatch) flushLocked() {
	if len(b.queued) == 0 {
		return
	}
	for b.ring.Queued() > 0 && !b.broken {
		if err := b.ring.Enter(false); err != nil {
			// The kernel took none of them (out of memory): they are never
			// handed over now (nothing enters this ring again), and are sent
			// directly, as unsent ones.
			b.broken = true
		}
	}
	b.ring.Reap(func(i uint64, res int32) {
		if i < uint64(len(b.queued)) {
			b.queued[i].done = true
			b.settle(&b.queued[i], res)
		}
	})
	for i := range b.queued {
		if q := &b.queued[i]; !q.done {
			b.settle(q, -int32(syscall.EAGAIN))
		}
	}
	clear(b.queued)
	b.queued, b.used = b.queued[:0], 0
}

// settle ends a queued send by its result res (bytes sent, or -errno).
func (b *sendBatch) settle(q *queuedSend, res int32) {
	cb := &q.s.batched
	cb.queued = false
	switch {
	case int(res) == q.n:
	case res >= 0 || res == -int32(syscall.EAGAIN):
		rest := make([]byte, q.n-max(int(res), 0))
		copy(rest, b.arena[q.off+q.n-len(rest):q.off+q.n])
		done := make(chan struct{})
		cb.settling = done
		go b.sendRest(q.s, rest, done)
		return
	default:
		cb.err = q.s.opError("write", syscall.Errno(-res))
		q.s.wakeReader()
	}
	cb.active.Store(cb.err != nil)
}

// wakeReader ends the read of a connection whose batched send failed: it would
// wait for an answer to bytes that never went, or for a client that is gone
// (whose reset was reported before, and is not again). The read finds the
// deadline passed, and the connection's error is the send's.
func (s *rawSocketConn) wakeReader() { _ = s.TCPConn.SetReadDeadline(aLongTimeAgo) }

var aLongTimeAgo = time.Unix(1, 0)

// sendRest writes what the socket had no room for, waiting for room as Write does.
func (b *sendBatch) sendRest(s *rawSocketConn, rest []byte, done chan struct{}) {
	n, errno, err := s.rest.wait(rest, 0, s.rc.Write)
	_, err = s.writeResult(n, errno, err)
	b.mu.Lock()
	cb := &s.batched
	cb.settling = nil
	if err != nil && cb.err == nil {
		cb.err = err
		s.wakeReader()
	}
	cb.active.Store(cb.err != nil)
	b.mu.Unlock()
	close(done)
}

// awaitQueued settles s's queued send before s writes again: a send still in the
// batch is flushed at once, and the rest of one is waited for. It returns the
// error a failed queued send left.
func (s *rawSocketConn) awaitQueued() error {
	if !s.batched.active.Load() {
		return nil
	}
	b := s.batched.b
	b.mu.Lock()
	if s.batched.queued {
		b.flushLocked()
	}
	settling, err := s.batched.settling, s.batched.err
	b.mu.Unlock()
	if settling == nil {
		return err
	}
	<-settling
	return s.queuedError()
}

// queuedError is the error a failed queued send left, for the read that waits for
// an answer to it (none will come).
func (s *rawSocketConn) queuedError() error {
	if !s.batched.active.Load() {
		return nil
	}
	b := s.batched.b
	b.mu.Lock()
	defer b.mu.Unlock()
	return s.batched.err
}

// closeBatched marks s closed in the batch, so nothing more is queued for it, and
// flushes the batch if a send of s's waits in it: its descriptor is about to close.
func (s *rawSocketConn) closeBatched() {
	b := batch.Load()
	if b == nil {
		return
	}
	b.mu.Lock()
	s.batched.closed = true
	if s.batched.queued {
		b.flushLocked()
	}
	b.mu.Unlock()
}
