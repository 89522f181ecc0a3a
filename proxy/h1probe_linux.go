package proxy

import "syscall"

// peerClosed reports whether the pod has closed pc (or sent something unasked, which
// makes the connection unusable for the next response), by peeking at the socket
// without blocking. A pod that closes an idle keep-alive connection sends a FIN,
// which is found here instead of by a request that would then fail.
func peerClosed(pc *h1Conn) bool {
	if pc.raw == nil {
		return false
	}
	var buf [1]byte
	closed := false
	err := pc.raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil, n >= 0:
			closed = true // an error, EOF (0) or unsolicited bytes
		}
		return true // never wait for readiness
	})
	return closed || err != nil
}
