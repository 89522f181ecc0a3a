//go:build !linux || race

package proxy

import "net"

// rawSocket leaves c as it is where raw socket calls are not used
// (rawsocket_linux.go says why and where they are).
func rawSocket(c net.Conn) net.Conn { return c }
