package proxy

import (
	"sync"
	"time"
)

// clientWatch notices a client that leaves while its request waits, so that the
// pod's request is broken off (499) instead of running to its end. net/http reads
// in the background during every request for this; here the read starts only once
// a request has taken clientWatchAfter, which ordinary requests never do, so they
// pay for a timer reset and stop and nothing else.
type clientWatch struct {
	sc    *h1ServerConn
	timer *time.Timer
	// exited receives once for every time the timer fired, when its watch is over.
	exited chan struct{}

	armed bool // begin ran and end has not: end is safe to call twice

	mu       sync.Mutex
	body     *h1RequestBody // the request's body (nil: none)
	ended    bool           // the request is done: a late watch must not start
	watching bool           // a read is pending
	aborted  bool           // end broke the read off: its error means nothing
	gone     bool           // the read saw the client go
}

// clientWatchAfter is how long a request runs before its client is watched.
const clientWatchAfter = 100 * time.Millisecond

func (cw *clientWatch) init(sc *h1ServerConn) {
	cw.sc = sc
	cw.exited = make(chan struct{}, 1)
	cw.timer = time.AfterFunc(time.Hour, cw.run)
	cw.timer.Stop()
}

// begin arms the watch for a request.
func (cw *clientWatch) begin(body *h1RequestBody) {
	cw.mu.Lock()
	cw.body, cw.ended, cw.aborted, cw.gone = body, false, false, false
	cw.mu.Unlock()
	cw.armed = true
	cw.timer.Reset(clientWatchAfter)
}

// end disarms the watch, breaking off its read if one is pending, and reports
// whether the client went away.
func (cw *clientWatch) end() (gone bool) {
	if !cw.armed {
		// Already ended (a panic after end, recovered in serveRequest): a second
		// wait on exited would never return.
		return cw.gone
	}
	cw.armed = false
	if cw.timer.Stop() {
		return false
	}
	cw.mu.Lock()
	cw.ended = true
	if cw.watching {
		cw.aborted = true
		_ = cw.sc.c.SetReadDeadline(aLongTimeAgo)
	}
	cw.mu.Unlock()
	<-cw.exited
	cw.sc.deadline.forget() // moved by the watch: the next read re-arms it
	return cw.gone
}

// run is the timer's: it waits for a byte from the client. EOF or an error means the
// client has gone: the connection's context is cancelled, which breaks off the
// request to the pod. A byte (the next request, pipelined) ends the watch too.
func (cw *clientWatch) run() {
	defer func() { cw.exited <- struct{}{} }()
	cw.mu.Lock()
	if cw.ended || !cw.body.consumed() {
		cw.mu.Unlock()
		return // a handler still reading the body owns the reader
	}
	cw.watching = true
	// The idle deadline armed before the request must not end the watch.
	_ = cw.sc.c.SetReadDeadline(time.Time{})
	cw.mu.Unlock()

	_, err := cw.sc.br.Peek(1)

	cw.mu.Lock()
	cw.watching = false
	if err != nil && !cw.aborted {
		cw.gone = true
		cw.sc.cancel.fire()
	}
	cw.mu.Unlock()
}
