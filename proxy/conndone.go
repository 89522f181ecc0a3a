package proxy

import (
	"net"
	"net/http"
)

// connCounter is a listener that keeps count of its open connections: proxy/workers
// counts each worker's, to share new connections out evenly between the workers
// (the kernel's SO_REUSEPORT hash spreads them only on average). Serve calls its
// ConnDone once for every connection Accept returned, when the server is done with
// it: closed, or taken over by an upgrade (a WebSocket counts as done once
// upgraded, as http.Server forgets it then too).
type connCounter interface {
	net.Listener
	ConnDone()
}

// connDoneOf is ln's ConnDone, or a function that does nothing.
func connDoneOf(ln net.Listener) func() {
	if c, ok := ln.(connCounter); ok {
		return c.ConnDone
	}
	return func() {}
}

// connDoneOnState is the http.Server's ConnState hook: it calls done for each
// connection the fast path handed over, when net/http has closed or given it up.
func connDoneOnState(done func()) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			done()
		}
	}
}
