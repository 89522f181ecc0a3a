//go:build !linux

package proxy

// peerClosed cannot peek without blocking here: a connection closed by the pod is
// found by the request that uses it, which is then retried if it is replayable.
func peerClosed(*h1Conn) bool { return false }
