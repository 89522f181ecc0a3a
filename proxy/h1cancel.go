package proxy

import (
	"context"
	"sync"
)

// connCancel is a fast-server connection's context cancellation, and the one abort
// function the request in flight may hang on it: h1Transport's, which moves its pod
// connection's deadline into the past when the client leaves. context.AfterFunc on
// the connection's context would cost two allocations and an insert and a delete
// in the context's map of children per request; this costs two uncontended locks.
//
// Only a connection's own context is cancelled this way (the client watch, and the
// connection's end), so a request whose context has that context's Done channel is
// cancelled exactly when fire runs.
type connCancel struct {
	done   <-chan struct{}
	cancel context.CancelFunc
	// stop is unregister as a func value, made once: each method value allocates.
	stop func() bool

	mu    sync.Mutex
	abort func()
	fired bool
}

// init makes ctx cancellable through cc.
func (cc *connCancel) init(ctx context.Context) context.Context {
	ctx, cc.cancel = context.WithCancel(ctx)
	cc.done = ctx.Done()
	cc.stop = cc.unregister
	return ctx
}

// fire cancels the connection's context and runs the abort registered, if any.
func (cc *connCancel) fire() {
	cc.cancel()
	cc.mu.Lock()
	cc.fired = true
	abort := cc.abort
	cc.abort = nil
	cc.mu.Unlock()
	if abort != nil {
		abort()
	}
}

// register arranges for abort to run when the context is cancelled, at once if it
// has been. The function returned is context.AfterFunc's stop: it reports whether
// it kept abort from running.
func (cc *connCancel) register(abort func()) (stop func() bool) {
	cc.mu.Lock()
	fired := cc.fired
	if !fired {
		cc.abort = abort
	}
	cc.mu.Unlock()
	if fired {
		abort()
	}
	return cc.stop
}

func (cc *connCancel) unregister() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	kept := cc.abort != nil
	cc.abort = nil
	return kept
}

// afterCancel runs abort when ctx is cancelled, as context.AfterFunc does, through
// the fast server's connCancel when ctx is cancelled by nothing else.
func afterCancel(ctx context.Context, abort func()) (stop func() bool) {
	if x := exchangeFrom(ctx); x != nil && x.conn != nil {
		if cc := x.conn.cancel; cc != nil && cc.done == ctx.Done() {
			return cc.register(abort)
		}
	}
	return context.AfterFunc(ctx, abort)
}
