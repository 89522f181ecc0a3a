package proxy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sticky-ingress/sticky-ingress/internal/rawsocket"
)

// clientWatch notices a client that leaves while its request waits, so that the
// pod's request is broken off (499) instead of running to its end. net/http reads
// in the background during every request for this; here the read starts only once
// a request has run clientWatchAfter, which ordinary requests never do.
//
// Requests are timed by the server's one watchdog goroutine (h1Server.watchClients),
// not a timer per connection: re-arming and stopping a runtime timer twice per
// request cost more than the rest of the watch. A request pays two atomic stores
// and, when it ends, one compare-and-swap.
type clientWatch struct {
	sc *h1ServerConn
	// state is watchIdle between requests, watchArmed during one, watchFired once
	// the watchdog started run for it.
	state atomic.Int32
	// seq counts requests, so that the watchdog can tell a long request from a
	// run of short ones.
	seq atomic.Uint64
	// seenSeq and seenTicks are the watchdog's own: the request it saw last and on
	// how many ticks in a row.
	seenSeq   uint64
	seenTicks int
	// peekGap and peekIn are the watchdog's too: a peeked request is peeked again
	// every peekGap ticks (doubling up to maxPeekGap), the next in peekIn; peeks
	// counts them (tests hold the schedule to it).
	peekGap, peekIn, peeks int
	// exited receives once for every run, when it is over.
	exited chan struct{}

	// inline: the request is served inline (rawsocket.ServeReads), whose reads
	// are the serve goroutine's: the watchdog peeks instead (peek).
	inline bool

	mu       sync.Mutex
	body     *h1RequestBody // the request's body (nil: none)
	ended    bool           // the request is done: a late watch must not start
	watching bool           // a read is pending
	aborted  bool           // end broke the read off: its error means nothing
	gone     bool           // the read (or a peek) saw the client go
}

const (
	watchIdle int32 = iota
	watchArmed
	watchFired
	watchPeeking // fired on a request served inline: peeked at every tick
)

// A request is watched once it has run clientWatchAfter, and at the latest
// clientWatchTick later.
const (
	clientWatchAfter = 100 * time.Millisecond
	clientWatchTick  = 50 * time.Millisecond
)

// maxPeekGap: a request served inline that runs on (a long poll, an event stream)
// is peeked at ever more rarely, down to once every 32 ticks (1.6 s): one system
// call a tick for each of thousands of open streams would add up, and a client
// that left such a request is as well found a second later.
const maxPeekGap = 32

func (cw *clientWatch) init(sc *h1ServerConn) {
	cw.sc = sc
	cw.exited = make(chan struct{}, 1)
}

// begin arms the watch for a request. The fields run reads are written before the
// state is: the watchdog's compare-and-swap orders them before run.
func (cw *clientWatch) begin(body *h1RequestBody, inline bool) {
	cw.body, cw.ended, cw.aborted, cw.gone = body, false, false, false
	cw.inline = inline
	cw.seq.Add(1)
	cw.state.Store(watchArmed)
}

// tick is the watchdog's, every clientWatchTick: a request armed on enough ticks in
// a row (and so running for at least clientWatchAfter) starts its watch.
func (cw *clientWatch) tick() {
	switch cw.state.Load() {
	case watchArmed:
	case watchPeeking:
		if cw.peekIn--; cw.peekIn <= 0 {
			cw.peekGap = min(2*cw.peekGap, maxPeekGap)
			cw.peekIn = cw.peekGap
			cw.peek()
		}
		return
	default:
		cw.seenTicks = 0
		return
	}
	if seq := cw.seq.Load(); seq != cw.seenSeq {
		cw.seenSeq, cw.seenTicks = seq, 1
		return
	}
	cw.seenTicks++
	if cw.seenTicks <= int(clientWatchAfter/clientWatchTick) {
		return
	}
	if cw.inline {
		if cw.state.CompareAndSwap(watchArmed, watchPeeking) {
			cw.peekGap, cw.peekIn = 1, 1
			cw.peek()
		}
	} else if cw.state.CompareAndSwap(watchArmed, watchFired) {
		go cw.run()
	}
}

// end disarms the watch, breaking off its read if one is pending, and reports
// whether the client went away. Calling it again (a panic after end, recovered in
// serveRequest) returns at once.
func (cw *clientWatch) end() (gone bool) {
	if cw.state.CompareAndSwap(watchArmed, watchIdle) || cw.state.Load() == watchIdle {
		return cw.gone
	}
	if cw.state.Load() == watchPeeking {
		cw.mu.Lock()
		cw.ended = true
		cw.state.Store(watchIdle) // under mu: a peek about to start finds it so
		cw.mu.Unlock()
		return cw.gone
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
	cw.state.Store(watchIdle)
	return cw.gone
}

// run waits for a byte from the client. EOF or an error means the client has gone:
// the connection's context is cancelled, which breaks off the request to the pod.
// A byte (the next request, pipelined) ends the watch too.
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

// peek is the watch of a request served inline, on the watchdog's goroutine, until
// the request ends: the serve goroutine holds the connection's reads
// (rawsocket.ServeReads), so the socket's state is asked instead (its FIN or RST
// has come), which reads nothing. The gaps between its looks double from one tick
// to maxPeekGap: a client gone is found within 50–100 ms of leaving early in the
// watch, within 1.6 s at the latest, not at once as run finds it; and found
// though it sent bytes before it left (a pipelined request, or TLS's
// close_notify), which end run's read.
func (cw *clientWatch) peek() {
	cw.peeks++
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.state.Load() == watchPeeking && !cw.gone && rawsocket.PeerGone(cw.sc.raw) {
		cw.gone = true
		cw.sc.cancel.fire()
	}
}
