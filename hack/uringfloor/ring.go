//go:build linux

package main

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An io_uring of one loop's: a submission queue of operations to make and a
// completion queue of their results, both shared with the kernel in mapped memory,
// so that one io_uring_enter(2) submits every operation queued since the last and
// waits for results. The layouts are the kernel's (include/uapi/linux/io_uring.h).

const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	opAccept = 13
	opSend   = 26
	opRecv   = 27

	sqeCQESkipSuccess = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: no completion unless it failed

	setupCoopTaskrun  = 1 << 8  // results are run when the loop enters, no interrupt for them
	setupSingleIssuer = 1 << 12 // one thread submits
	setupDeferTaskrun = 1 << 13 // ... and the work of completing runs only when it waits

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
	opFlags     uint32 // msg_flags of a send or recv
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

type ring struct {
	fd int

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

func newRing(entries uint32) (*ring, error) {
	var p setupParams
	p.flags = setupCoopTaskrun | setupSingleIssuer | setupDeferTaskrun
	fd, _, errno := syscall.RawSyscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	if p.features&featSingleMmap == 0 {
		return nil, fmt.Errorf("io_uring: the kernel is older than 5.4")
	}
	size := max(p.sq.array+p.sqEntries*4, p.cq.cqes+p.cqEntries*uint32(unsafe.Sizeof(completion{})))
	mem, err := unix.Mmap(int(fd), offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, err
	}
	sqeMem, err := unix.Mmap(int(fd), offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(submission{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, err
	}
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r := &ring{
		fd:     int(fd),
		sqHead: at(p.sq.head), sqTail: at(p.sq.tail), sqArray: at(p.sq.array), sqMask: *at(p.sq.ringMask),
		sqes:   unsafe.Slice((*submission)(unsafe.Pointer(&sqeMem[0])), p.sqEntries),
		cqHead: at(p.cq.head), cqTail: at(p.cq.tail), cqMask: *at(p.cq.ringMask),
		cqes: unsafe.Slice((*completion)(unsafe.Pointer(&mem[p.cq.cqes])), p.cqEntries),
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	r.submitted = r.tail
	r.timeout = unix.NsecToTimespec(int64(10 * time.Millisecond))
	r.wait.ts = uint64(uintptr(unsafe.Pointer(&r.timeout)))
	return r, nil
}

// queue adds an operation; it is made at the next enter.
func (r *ring) queue(s submission) {
	if r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask { // full: hand it over now
		r.enter(false)
	}
	i := r.tail & r.sqMask
	r.sqes[i] = s
	*(*uint32)(unsafe.Add(unsafe.Pointer(r.sqArray), 4*uintptr(i))) = i
	r.tail++
	atomic.StoreUint32(r.sqTail, r.tail)
}

// enter submits what was queued and, with wait, waits up to 10 ms for a result.
// The call is a raw one and keeps the loop's P, as evfloor's epoll_wait does; the
// timeout bounds how long a collection's stop of the world could wait for it.
func (r *ring) enter(wait bool) {
	flags, minComplete := uintptr(0), uintptr(0)
	if wait {
		flags, minComplete = enterGetEvents|enterExtArg, 1
	}
	n, _, errno := syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(r.tail-r.submitted), minComplete,
		flags, uintptr(unsafe.Pointer(&r.wait)), unsafe.Sizeof(r.wait))
	if errno == 0 {
		r.submitted += uint32(n)
	}
}

// reap hands each result in the completion queue to f.
func (r *ring) reap(f func(userData uint64, res int32)) {
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := r.cqes[head&r.cqMask]
		f(c.userData, c.res)
	}
	atomic.StoreUint32(r.cqHead, head)
}
