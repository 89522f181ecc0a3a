//go:build linux

// Package loops is what the benchmark's event-loop floors (hack/evfloor,
// hack/uringfloor) share: their command line, LISTEN BACKEND..., and the listening
// socket each of their loops has.
package loops

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Args is the command line's listening address and backends; a command line that
// has none, or a bad one, ends the process.
func Args(name string) (listen unix.SockaddrInet4, backends []unix.SockaddrInet4) {
	if len(os.Args) < 3 {
		fmt.Fprintf(os.Stderr, "usage: %s LISTEN BACKEND...\n", name)
		os.Exit(2)
	}
	addrs := make([]unix.SockaddrInet4, 0, len(os.Args)-1)
	for _, s := range os.Args[1:] {
		ap, err := netip.ParseAddrPort(s)
		if err != nil || !ap.Addr().Is4() {
			Fail(name, fmt.Errorf("%q: want IPv4 address:port", s))
		}
		addrs = append(addrs, unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())})
	}
	return addrs[0], addrs[1:]
}

// Fail ends the process with err.
func Fail(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

// Listen makes one of the loops' listeners on addr, with unix.SOCK_… flags:
// SO_REUSEPORT, so that the kernel spreads connections over the loops.
func Listen(addr unix.SockaddrInet4, flags int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|flags, 0)
	if err != nil {
		return -1, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &addr); err != nil {
		return -1, err
	}
	return fd, unix.Listen(fd, 1024)
}
