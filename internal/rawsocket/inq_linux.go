//go:build linux && !386 && !race

package rawsocket

import (
	"syscall"
	"unsafe"
)

// inqRead is ServeReads' read: recvmsg(2) with TCP_INQ, whose control message says
// what the socket still holds after the read — bytes not yet read, or a FIN (the
// kernel counts a FIN as one byte there). A read that leaves nothing means no read
// is needed until the poller reports more; a short read alone does not mean that,
// because a FIN that came with the last bytes, before the poller's readiness was
// reset, reports nothing again (a client that half-closes after its request would
// otherwise wait for its idle timeout, its EOF unseen).
type inqRead struct {
	tried, on bool // TCP_INQ asked for once per connection; on: the kernel took it
	msg       syscall.Msghdr
	iov       syscall.Iovec
	ctrl      [64]byte
}

// tcpInq is TCP_INQ (and TCP_CM_INQ, its control message's type), Linux 4.18.
const tcpInq = 36

// enable asks for TCP_INQ on the connection's socket, once.
func (r *inqRead) enable(rc syscall.RawConn) {
	if r.tried {
		return
	}
	r.tried = true
	one := int32(1)
	_ = rc.Control(func(fd uintptr) {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, tcpInq,
			uintptr(unsafe.Pointer(&one)), 4, 0)
		r.on = errno == 0
	})
}

// recv reads into p (len(p) > 0) with one system call. more is false only when the
// kernel said the socket holds nothing after the read; without TCP_INQ it is true.
func (r *inqRead) recv(fd uintptr, p []byte) (n int, errno syscall.Errno, more bool) {
	if !r.on {
		n, errno = recvfrom(fd, p)
		return n, errno, true
	}
	r.iov.Base = &p[0]
	r.iov.SetLen(len(p))
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
	r.msg.Control = &r.ctrl[0]
	r.msg.SetControllen(len(r.ctrl))
	r.msg.Flags = 0
	m, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), 0)
	r.iov.Base = nil // p is the caller's again
	more = true
	if e == 0 && int(r.msg.Controllen) >= syscall.CmsgLen(4) {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&r.ctrl[0]))
		if h.Level == syscall.SOL_TCP && h.Type == tcpInq {
			more = *(*int32)(unsafe.Pointer(&r.ctrl[syscall.CmsgLen(0)])) != 0
		}
	}
	return int(m), e, more
}
