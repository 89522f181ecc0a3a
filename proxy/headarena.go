package proxy

import "unsafe"

// headArena makes the strings that heads are parsed from — a request's on the
// client's connection, a response's on the pod's — out of one shared chunk per
// few heads, where string(b) made one allocation per head: with the response's,
// two of the proxy's allocations per request, ~2% of its CPU time under load,
// and most of its garbage. Each string has bytes of its own that nothing writes
// again (the free tail moves past them), so strings stay immutable, as
// unsafe.String requires; a chunk lives while any string of it does. A
// connection's arena is used by one goroutine at a time.
type headArena struct {
	free []byte // the current chunk's unused tail
}

// headArenaChunk: a few heads' worth; larger heads get their own allocation.
const headArenaChunk = 2 << 10

// string returns b as a string (a nil arena allocates, as string(b) does).
func (a *headArena) string(b []byte) string {
	if a == nil || len(b) == 0 || len(b) > headArenaChunk/4 {
		return string(b)
	}
	if len(b) > len(a.free) {
		a.free = make([]byte, headArenaChunk)
	}
	n := copy(a.free, b)
	s := unsafe.String(&a.free[0], n)
	a.free = a.free[n:]
	return s
}
