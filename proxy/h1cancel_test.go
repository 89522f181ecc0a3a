package proxy

import (
	"context"
	"testing"
)

// TestConnCancel: connCancel keeps context.AfterFunc's contract — abort runs once
// when the context is cancelled, at once when it already was, never after stop; stop
// reports whether it kept abort from running.
func TestConnCancel(t *testing.T) {
	var cc connCancel
	ctx := cc.init(context.Background())
	runs := 0
	abort := func() { runs++ }

	stop := cc.register(abort)
	if !stop() || runs != 0 {
		t.Fatalf("stop before cancellation: want true and no run (runs %d)", runs)
	}
	if stop() {
		t.Fatal("a second stop must report false")
	}
	cc.register(abort)
	cc.fire()
	if runs != 1 || ctx.Err() == nil {
		t.Fatalf("fire: runs %d, ctx.Err %v", runs, ctx.Err())
	}
	if cc.stop() {
		t.Fatal("stop after abort ran must report false")
	}
	if stop := cc.register(abort); runs != 2 || stop() {
		t.Fatalf("register after cancellation: runs %d, want 2 and stop false", runs)
	}
}

// TestAfterCancelUsesConnCancelOnlyForItsContext: a request context that something
// else can cancel (a derived WithCancel) gets context.AfterFunc, which sees that
// cancellation; the connection's own context gets connCancel.
func TestAfterCancelUsesConnCancelOnlyForItsContext(t *testing.T) {
	var cc connCancel
	connCtx := cc.init(context.Background())
	x := &exchange{conn: &connInfo{cancel: &cc}}
	reqCtx := context.WithValue(connCtx, exchangeKey{}, x)

	ran := false
	afterCancel(reqCtx, func() { ran = true })
	if cc.abort == nil {
		t.Fatal("the connection's own context: want the abort on connCancel")
	}
	cc.unregister()

	derived, cancel := context.WithCancel(reqCtx)
	done := make(chan struct{})
	afterCancel(derived, func() { close(done) })
	if cc.abort != nil {
		t.Fatal("a derived cancellable context must not use connCancel")
	}
	cancel()
	waitDone(t, done, "the abort of a derived context")
	if ran {
		t.Fatal("the unregistered abort ran")
	}
}
