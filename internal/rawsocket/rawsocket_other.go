//go:build !linux || race

package rawsocket

import "net"

// Wrap leaves c as it is where raw socket calls are not used (see the package
// documentation).
func Wrap(c net.Conn) net.Conn { return c }
