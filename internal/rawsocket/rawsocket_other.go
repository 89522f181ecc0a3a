//go:build !linux || 386 || race

package rawsocket

import "net"

// Wrap leaves c as it is where raw socket calls are not used: off Linux, under the
// race detector (see the package documentation), and on linux/386, which reaches
// recvfrom and sendto only through socketcall(2).
func Wrap(c net.Conn) net.Conn { return c }

// ServeReads reports false: only raw sockets (Wrap's) serve reads so.
func ServeReads(c net.Conn, step func() (done bool)) (ok bool, err error) { return false, nil }

// PeerGone reports false: ServeReads never runs here.
func PeerGone(c net.Conn) bool { return false }

// BatchSends does nothing here: there are no raw sockets to batch the sends of.
func BatchSends() error { return nil }
