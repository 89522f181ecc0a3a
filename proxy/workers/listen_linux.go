package workers

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenEach opens n listening sockets on addr with SO_REUSEPORT, one per worker, so
// that the kernel spreads new connections over the workers and no worker wakes for
// another's. A port of 0 is chosen by the first and shared by the rest. The sockets
// are returned as files, which the supervisor keeps: connections queued on a worker's
// socket wait there while that worker restarts.
func listenEach(addr string, n int) ([]*os.File, net.Addr, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	files := make([]*os.File, 0, n)
	fail := func(err error) ([]*os.File, net.Addr, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	var bound net.Addr
	for range n {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			return fail(err)
		}
		if bound == nil {
			bound = ln.Addr()
			addr = bound.String() // the port the first one got, when asked for 0
		}
		f, err := ln.(*net.TCPListener).File() // a duplicate: the socket outlives ln
		ln.Close()
		if err != nil {
			return fail(fmt.Errorf("listener %s: %w", addr, err))
		}
		files = append(files, f)
	}
	return files, bound, nil
}
