package proxy

import (
	"sync/atomic"
	"unsafe"
)

// headArena makes the strings that heads are parsed from — a request's on the
// client's connection, a response's on the pod's — out of one shared chunk per
// few heads, where string(b) made one allocation per head: with the response's,
// two of the proxy's allocations per request, ~2% of its CPU time under load,
// and most of its garbage. Each string has bytes of its own that nothing writes
// again while it may be used, so strings stay immutable, as unsafe.String
// requires; a chunk lives while any string of it does. A connection's arena is
// used by one goroutine at a time.
//
// A client connection's arena also holds its exchanges' response heads (the lean
// forwarder asks the transport for that), so that everything one request parsed
// lives in one place, and is given back in one step: when the request is over
// and its handler has said that nothing holds its heads any more
// (h1ResponseWriter.releaseHeads), the connection rewinds the arena to where the
// request began, and the next request's heads take the same bytes. A connection
// then makes no garbage at all (TestLeanRequestMakesNoGarbage): under make bench's
// load, two workers that each collected about once a second collected once between
// them in 12 s. Anything the handler did not release is kept: the next heads go
// after it.
type headArena struct {
	chunk []byte
	used  int // chunk[:used] is taken
	kept  int // chunk[:kept] may still be in use: rewind never goes below it
}

// headArenaChunk: a few heads' worth; larger heads get their own allocation.
const headArenaChunk = 2 << 10

// poisonRewoundHeads makes rewind overwrite the bytes it gives back and move on to a
// new chunk rather than reuse them: the proxy's tests run with it, so that a string
// kept past the release of its request reads as garbage in every later assertion,
// where reuse would often write the same bytes again and hide it.
var poisonRewoundHeads atomic.Bool

// string returns b as a string (a nil arena allocates, as string(b) does).
func (a *headArena) string(b []byte) string {
	if a == nil || len(b) == 0 || len(b) > headArenaChunk/4 {
		return string(b)
	}
	if len(b) > len(a.chunk)-a.used {
		a.chunk, a.used, a.kept = make([]byte, headArenaChunk), 0, 0
	}
	n := copy(a.chunk[a.used:], b)
	s := unsafe.String(&a.chunk[a.used], n)
	a.used += n
	return s
}

// keep marks every string made so far as possibly still in use: rewind will not
// give their bytes back.
func (a *headArena) keep() { a.kept = a.used }

// rewind gives back the bytes of the strings made since the last keep or rewind,
// which nothing may use any more.
func (a *headArena) rewind() {
	if poisonRewoundHeads.Load() && a.used > a.kept {
		for i := a.kept; i < a.used; i++ {
			a.chunk[i] = 0xff // not a byte any head may hold
		}
		a.kept = a.used
		return
	}
	a.used = a.kept
}
