//go:build linux && !386

// Package uring is an io_uring of the minimal kind: a submission queue of socket
// operations and a completion queue of their results, both shared with the kernel
// in mapped memory, so that one io_uring_enter(2) hands the kernel every operation
// queued since the last. The layouts are the kernel's (include/uapi/linux/io_uring.h).
//
// It serves internal/rawsocket's batched sends and hack/uringfloor. A Ring is not
// safe for concurrent use: its owner serialises the calls.
package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	sysSetup = 425
	sysEnter = 426

	opAccept = 13
	opSend   = 26
	opRecv   = 27

	// CQESkipSuccess (IOSQE_CQE_SKIP_SUCCESS): an operation that succeeds posts no result.
	CQESkipSuccess = 1 << 6

	// SetupCoopTaskrun: results are completed when the owner enters, without an
	// interrupt to tell it.
	SetupCoopTaskrun = 1 << 8
	// SetupSingleIssuer: the thread that makes the ring is the only one to submit.
	SetupSingleIssuer = 1 << 12
	// SetupDeferTaskrun: with SetupSingleIssuer, completing work runs only when
	// the owner waits for results.
	SetupDeferTaskrun = 1 << 13

	enterGetEvents = 1 << 0
	enterExtArg    = 1 << 3

	featSingleMmap = 1 << 0

	offSQRing = 0
	offSQEs   = 0x10000000
)

type submission struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // msg_flags of a send or recv, accept's flags
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

type completion struct {
	userData uint64
	res      int32
	flags    uint32
}

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type setupParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sq                                                                     sqOffsets
	cq                                                                     cqOffsets
}

// getEventsArg is io_uring_getevents_arg: the wait's timeout.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64 // *unix.Timespec
}

// Ring is one io_uring.
type Ring struct {
	fd       int
	mem, sqm []byte

	sqHead, sqTail, sqArray *uint32
	sqMask                  uint32
	sqes                    []submission
	tail, submitted         uint32 // ours: queued, and handed to the kernel

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []completion

	// The wait's timeout, where the kernel reads it: on the heap, which does not move.
	wait    getEventsArg
	timeout unix.Timespec
}

// New makes a ring of entries submissions (a power of two), with Setup… flags.
func New(entries, flags uint32) (*Ring, error) {
	var p setupParams
	p.flags = flags
	fd, _, errno := syscall.RawSyscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &Ring{fd: int(fd)}
	if p.features&featSingleMmap == 0 {
		r.Close()
		return nil, errors.New("io_uring: the kernel is older than 5.4")
	}
	size := max(p.sq.array+p.sqEntries*4, p.cq.cqes+p.cqEntries*uint32(unsafe.Sizeof(completion{})))
	var err error
	if r.mem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.Close()
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	if r.sqm, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(submission{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.Close()
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[off])) }
	r.sqHead, r.sqTail, r.sqArray, r.sqMask = at(p.sq.head), at(p.sq.tail), at(p.sq.array), *at(p.sq.ringMask)
	r.sqes = unsafe.Slice((*submission)(unsafe.Pointer(&r.sqm[0])), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = at(p.cq.head), at(p.cq.tail), *at(p.cq.ringMask)
	r.cqes = unsafe.Slice((*completion)(unsafe.Pointer(&r.mem[p.cq.cqes])), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	r.submitted = r.tail
	r.timeout = unix.NsecToTimespec(int64(10 * time.Millisecond))
	r.wait.ts = uint64(uintptr(unsafe.Pointer(&r.timeout)))
	return r, nil
}

// Close releases the ring. Operations it holds are cancelled.
func (r *Ring) Close() {
	if r.sqm != nil {
		_ = unix.Munmap(r.sqm)
	}
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
	}
	_ = unix.Close(r.fd)
}

// Room is how many more operations can be queued before the ring is full.
func (r *Ring) Room() int { return int(r.sqMask+1) - int(r.tail-atomic.LoadUint32(r.sqHead)) }

// Queued is how many queued operations the kernel has yet to be handed.
func (r *Ring) Queued() int { return int(r.tail - r.submitted) }

// queue adds an operation, made at the next Enter; a full ring is handed over first.
func (r *Ring) queue(s submission) {
	if r.Room() == 0 {
		r.Enter(false)
	}
	i := r.tail & r.sqMask
	r.sqes[i] = s
	*(*uint32)(unsafe.Add(unsafe.Pointer(r.sqArray), 4*uintptr(i))) = i
	r.tail++
	atomic.StoreUint32(r.sqTail, r.tail)
}

// Send queues a send(2) of b on fd. b must stay as it is, and alive, until the
// operation completes: with MSG_DONTWAIT in msgFlags, when the Enter that hands
// it over returns.
func (r *Ring) Send(fd int, b []byte, msgFlags uint32, flags uint8, userData uint64) {
	r.queue(submission{opcode: opSend, flags: flags, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&b[0]))),
		len: uint32(len(b)), opFlags: msgFlags, userData: userData})
}

// Recv queues a recv(2) into b from fd; b is the kernel's until its result.
func (r *Ring) Recv(fd int, b []byte, userData uint64) {
	r.queue(submission{opcode: opRecv, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&b[0]))),
		len: uint32(len(b)), userData: userData})
}

// Accept queues an accept4(2) on the listening socket fd, with SOCK_… flags.
func (r *Ring) Accept(fd int, flags uint32, userData uint64) {
	r.queue(submission{opcode: opAccept, fd: int32(fd), opFlags: flags, userData: userData})
}

// Enter hands the kernel every queued operation and, with wait, waits up to 10 ms
// for a result. It is a raw system call, which keeps the caller's P: a loop that
// waits in it holds up a collection's stop of the world at most that long. It
// reports the kernel's refusal, when it took none of the operations.
func (r *Ring) Enter(wait bool) error {
	for {
		flags, minComplete := uintptr(0), uintptr(0)
		if wait {
			flags, minComplete = enterGetEvents|enterExtArg, 1
		}
		n, _, errno := syscall.RawSyscall6(sysEnter, uintptr(r.fd), uintptr(r.tail-r.submitted), minComplete,
			flags, uintptr(unsafe.Pointer(&r.wait)), unsafe.Sizeof(r.wait))
		switch errno {
		case 0:
			r.submitted += uint32(n)
			return nil
		case syscall.EINTR:
			continue
		case syscall.ETIME:
			return nil
		}
		return fmt.Errorf("io_uring_enter: %w", errno)
	}
}

// Reap hands each result in the completion queue to f, in order.
func (r *Ring) Reap(f func(userData uint64, res int32)) {
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := r.cqes[head&r.cqMask]
		f(c.userData, c.res)
	}
	atomic.StoreUint32(r.cqHead, head)
}
