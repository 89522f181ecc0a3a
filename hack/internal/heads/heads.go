// Package heads is what the benchmark's minimal proxies (hack/gofloor, hack/evfloor)
// know of HTTP/1.1: where a head ends, and the Content-Length it gives. No more:
// they are measuring instruments, fed by the benchmark's own backends. Those
// backends (hack/demo-backend --stateless) find the end of a head with End too, but
// read Content-Length themselves: they get requests from real proxies, whose header
// names need not be canonical.
package heads

import (
	"bytes"
	"strconv"
)

// End is the blank line that ends a head.
var End = []byte("\r\n\r\n")

// ContentLength is the value of head's "Content-Length: " line, or 0 without one.
func ContentLength(head []byte) int {
	const key = "\r\nContent-Length: "
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return 0
	}
	v := head[i+len(key):]
	n, _ := strconv.Atoi(string(v[:bytes.IndexByte(v, '\r')]))
	return n
}
